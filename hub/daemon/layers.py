"""The configuration in force: three layers, laid one over the other, validated whole.

1. The local file (`/etc/hub/hub.toml`): the image's and the technician's settings, and the
   fallback for everything the hospital has not (yet) said.
2. The hospital's signed downlink config, once one was verified: it *replaces* the file's
   patient (pseudonym and pathway), `[[thresholds]]`, `[[schedule]]` and `[[devices]]` — it is
   the hospital's whole statement about this patient, not a patch.
3. The technician's control-socket assignments (`assignments.json`): laid over the result, so
   a device assigned or unassigned on site counts until the technician changes it again.

Everything the hospital sends is checked with the same schema as the file (`config.build`),
so one wrong entry refuses the whole downlink config with a message naming it, and the config
in force stays. Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub import schedule
from hub.config import (
    Config,
    ConfigError,
    DeviceEntry,
    PatientSection,
    ScheduleEntry,
    ThresholdEntry,
    build,
)
from hub.daemon.assignments import Assignments
from hub.model import Code
from hub.signal.rules import PROFILES, Band, Profile, Settings
from hub.wire.messages import DownlinkConfig


@dataclass(frozen=True)
class Rules:
    """What the configuration in force says about triage and the schedule, checked."""

    profile: Profile  # the pathway's, with the per-patient thresholds laid over its bands
    settings: Settings
    items: tuple[schedule.ScheduleItem, ...]
    tz: ZoneInfo


@dataclass(frozen=True)
class Layers:
    file: Config
    file_source: str
    downlink: DownlinkConfig | None = None
    assignments: Assignments = field(default_factory=Assignments)
    file_digest: str = ""  # SHA-256 of the file's bytes, for the config history

    def effective(self) -> Config:
        """The config in force; ConfigError naming the layer and key of the first problem."""
        cfg = self.file
        if self.downlink is not None:
            cfg = hospital_over(cfg, self.downlink)
        return self.assignments.apply(cfg)

    def rules(self) -> Rules:
        return rules_of(self.effective(), self.source)

    @property
    def source(self) -> str:
        if self.downlink is None:
            return self.file_source
        return f"{self.file_source} with downlink config version {self.downlink.version}"


def hospital_over(cfg: Config, downlink: DownlinkConfig) -> Config:
    """`cfg` with the hospital's patient, thresholds, schedule and devices in place of its
    own, each entry checked as the file's are."""
    source = f"downlink config version {downlink.version}"
    patient: PatientSection = build(
        PatientSection,
        {"id": downlink.patient, "pathway": downlink.pathway},
        source,
        "patient",
    )
    thresholds = tuple(
        build(ThresholdEntry, _threshold(code, band, source), source, f"thresholds.{code}")
        for code, band in downlink.thresholds.items()
    )
    schedule_entries = tuple(
        build(ScheduleEntry, dict(raw), source, f"schedule[{i}]")
        for i, raw in enumerate(downlink.schedule)
    )
    devices = tuple(
        build(DeviceEntry, dict(raw), source, f"devices[{i}]")
        for i, raw in enumerate(downlink.devices)
    )
    _no_repeats([d.address for d in devices], source, "devices")
    return dataclasses.replace(
        cfg, patient=patient, thresholds=thresholds, schedule=schedule_entries, devices=devices
    )


def rules_of(cfg: Config, source: str) -> Rules:
    """Triage and schedule rules of a config in force; ConfigError naming the key if bad."""
    try:
        settings = Settings(**vars(cfg.triage))
    except ValueError as exc:
        raise ConfigError(source, "triage", str(exc)) from exc
    try:
        tz = ZoneInfo(cfg.hub.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            source, "hub.timezone", f"unknown time zone {cfg.hub.timezone!r}"
        ) from exc
    _no_repeats([t.code for t in cfg.thresholds], source, "thresholds")
    items = tuple(schedule_item(entry) for entry in cfg.schedule)
    return Rules(profile_of(cfg), settings, items, tz)


def profile_of(cfg: Config) -> Profile:
    """The pathway's profile with the config's thresholds replacing its bands code by code."""
    base = PROFILES[cfg.patient.pathway]
    bands: dict[Code, Band] = dict(base.bands)
    for t in cfg.thresholds:
        bands[Code(t.code)] = Band(t.red_low, t.yellow_low, t.yellow_high, t.red_high)
    return dataclasses.replace(base, bands=MappingProxyType(bands))


def schedule_item(entry: ScheduleEntry) -> schedule.ScheduleItem:
    """A validated `[[schedule]]` entry (the file's or the hospital's) as a slot rule."""
    return schedule.ScheduleItem(
        kind=entry.kind,
        times=tuple(datetime.strptime(t, "%H:%M").time() for t in entry.times),
        window_minutes=entry.window_minutes,
        early_minutes=entry.early_minutes,
        weekdays=frozenset(entry.weekdays),
    )


def _threshold(code: str, band: Any, source: str) -> dict[str, Any]:
    if not isinstance(band, Mapping) or "code" in band:
        raise ConfigError(source, f"thresholds.{code}", "expected a table of bounds")
    return {**band, "code": code}


def _no_repeats(keys: list[str], source: str, section: str) -> None:
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key in seen:
            raise ConfigError(source, f"{section}[{i}]", f"{key!r} appears twice")
        seen.add(key)
