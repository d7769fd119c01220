"""`hub hospital config HUB`: the hub's next downlink config, its difference from the one
published before, and its publication (signed, retained on `dho/v1/hubs/<hub>/config`).

The pure part builds the next `DownlinkConfig` from the previous one and what the operator
gave (a TOML or JSON file with `patient`, `pathway`, `thresholds`, `[[schedule]]`,
`[[devices]]`, and flags that override it); anything not given stays as it was. The version
is the previous one plus one. Every published config is kept in `configs/<hub>/<n>.json`.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.hospital.layout import HospitalDir, HospitalError
from hub.hospital.mqtt import Endpoint, publish_retained
from hub.keyfiles import load_ed25519_private, write_atomic
from hub.wire import topics
from hub.wire.messages import DownlinkConfig, sign_message

_FIELDS = ("patient", "pathway", "thresholds", "schedule", "devices")


@dataclass(frozen=True)
class Change:
    config: DownlinkConfig
    diff: list[str]  # unified diff of the bodies; empty when nothing changed


def next_config(hub: str, previous: Mapping[str, Any] | None, given: Mapping[str, Any]) -> Change:
    """The config that follows `previous` (a published body, or None) with `given` applied."""
    unknown = sorted(set(given) - set(_FIELDS))
    if unknown:
        raise HospitalError(f"unknown config field {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    base = dict(previous or {"patient": "", "pathway": "general", "thresholds": {},
                             "schedule": [], "devices": [], "version": 0})  # fmt: skip
    merged = {name: given.get(name, base[name]) for name in _FIELDS}
    for name, kind in (("patient", str), ("pathway", str), ("thresholds", dict)):
        if not isinstance(merged[name], kind):
            raise HospitalError(f"{name} must be {'a table' if kind is dict else 'text'}")
    for name in ("schedule", "devices"):
        items = merged[name]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise HospitalError(f"{name} must be a list of tables")
    if not merged["patient"]:
        raise HospitalError("the config needs a patient (the pseudonymous patient id)")
    config = DownlinkConfig(
        hub=hub,
        version=int(base["version"]) + 1,
        patient=merged["patient"],
        pathway=merged["pathway"],
        thresholds=merged["thresholds"],
        schedule=tuple(merged["schedule"]),
        devices=tuple(merged["devices"]),
    )
    return Change(config, body_diff(previous, config.body()))


def body_diff(previous: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Lines of a unified diff, ignoring the version; empty when the content is the same."""

    def lines(body: Mapping[str, Any] | None) -> list[str]:
        if body is None:
            return []
        shown = {k: v for k, v in body.items() if k not in ("version", "type")}
        return json.dumps(shown, indent=1, sort_keys=True).splitlines()

    old_lines, new_lines = lines(previous), lines(new)
    if old_lines == new_lines:
        return []
    old_name = f"version {previous['version']}" if previous else "(none)"
    return list(difflib.unified_diff(old_lines, new_lines, old_name,
                                     f"version {new['version']}", lineterm=""))  # fmt: skip


def read_source(path: Path) -> dict[str, Any]:
    """A config source file: TOML, or JSON when the name ends in .json."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise HospitalError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise HospitalError(f"{path}: expected a table")
    return data


def previous_config(place: HospitalDir, hub: str) -> dict[str, Any] | None:
    published = sorted(place.configs(hub).glob("*.json"), key=lambda p: int(p.stem))
    return json.loads(published[-1].read_text()) if published else None


def publish(place: HospitalDir, config: DownlinkConfig, endpoint: Endpoint | None = None) -> str:
    """Sign with the hospital's key, publish retained, then record it; a line saying so."""
    body = config.body()
    data = sign_message(body, load_ed25519_private(place.key("hospital.sign.key")))
    publish_retained(endpoint or Endpoint.ops(place), topics.config(config.hub), data)
    directory = place.configs(config.hub)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / f"{config.version}.json", (json.dumps(body, indent=1) + "\n").encode())
    return f"config version {config.version} published to {config.hub} (retained, signed)"
