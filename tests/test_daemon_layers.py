"""The config in force: file ← hospital downlink ← technician's assignments, validated whole."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub import config
from hub.daemon.assignments import Assignments
from hub.daemon.configs import LEGACY_DOWNLINK_FILE, InForce, take_legacy_downlink
from hub.daemon.layers import Layers, rules_of
from hub.model import Code, Kind, Level, Observation, Reading
from hub.signal import triage
from hub.wire.messages import DownlinkConfig

FILE = """[hub]
id = "hub-a"
timezone = "{tz}"
[patient]
pathway = "general"
[triage]
persist_k = {k}
[[devices]]
address = "C0:11:22:33:44:55"
kind = "blood-pressure"
[[schedule]]
kind = "blood-pressure"
times = ["08:00", "20:30"]
weekdays = [0, 2]
"""
OXIMETER = {"address": "C0:11:22:33:44:66", "kind": "pulse-oximeter"}


def file_config(tz: str = "Europe/Oslo", k: int = 50) -> config.Config:
    return config.loads(FILE.format(tz=tz, k=k), "hub.toml")


def downlink(version: int = 3, **changes: Any) -> DownlinkConfig:
    fields: dict[str, Any] = {
        "hub": "hub-a",
        "version": version,
        "patient": "p-123",
        "pathway": "copd",
        "thresholds": {"59408-5": {"red_low": 85, "yellow_low": 90}},
        "schedule": ({"kind": "spo2-spot", "times": ["09:00"]},),
        "devices": (OXIMETER,),
    }
    return DownlinkConfig(**{**fields, **changes})


def spo2(value: float) -> Reading:
    obs = (Observation(Code.SPO2, value, "%"), Observation(Code.HEART_RATE, 70.0, "/min"))
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return Reading(
        "0190d5a2-0000-7000-8000-000000000001", "C0:11:22:33:44:66", Kind.SPO2_SPOT, at, at, obs
    )


def test_file_rules_schedule_and_their_refusals() -> None:
    rules = rules_of(file_config(), "f")
    (item,) = rules.items
    assert item.kind == "blood-pressure" and item.weekdays == frozenset({0, 2})
    assert [t.isoformat() for t in item.times] == ["08:00:00", "20:30:00"]
    assert rules.profile.pathway == "general"
    with pytest.raises(config.ConfigError, match=r"hub\.timezone"):
        rules_of(file_config(tz="Mars/Olympus"), "f")
    with pytest.raises(config.ConfigError, match="triage"):
        rules_of(file_config(tz="UTC", k=20), "f")  # k + clear_k <= n


def test_the_hospitals_config_replaces_patient_thresholds_schedule_and_devices() -> None:
    base = InForce.of(Layers(file_config(), "hub.toml"))
    new = base.with_downlink(downlink())
    assert (new.cfg.patient.id, new.cfg.patient.pathway) == ("p-123", "copd")
    assert [d.address for d in new.cfg.devices] == ["C0:11:22:33:44:66"]
    assert [i.kind for i in new.rules.items] == ["spo2-spot"]
    assert new.rules.profile.pathway == "copd"
    band = new.rules.profile.bands[Code.SPO2]
    assert (band.red_low, band.yellow_low) == (85, 90)
    # codes the hospital did not override keep the pathway's bands
    assert (
        new.rules.profile.bands[Code.SYSTOLIC]
        == base.with_downlink(downlink(thresholds={})).rules.profile.bands[Code.SYSTOLIC]
    )
    assert new.downlink_version == 3 and base.downlink_version is None


def test_a_moved_threshold_turns_a_formerly_green_reading_yellow() -> None:
    base = InForce.of(Layers(file_config(), "hub.toml")).with_downlink(
        downlink(thresholds={"59408-5": {"red_low": 85, "yellow_low": 88}})
    )
    assert triage.assess(spo2(89), base.rules.profile).level is Level.GREEN
    moved = base.with_downlink(
        downlink(4, thresholds={"59408-5": {"red_low": 85, "yellow_low": 90}})
    )
    assert triage.assess(spo2(89), moved.rules.profile).level is Level.YELLOW


def test_the_technicians_assignments_are_laid_over_the_hospitals_devices() -> None:
    cuff = config.build(
        config.DeviceEntry, {"address": "C0:11:22:33:44:77", "kind": "blood-pressure"}, "s", "d"
    )
    laid = Assignments().assign(cuff).unassign("C0:11:22:33:44:66")
    new = InForce.of(Layers(file_config(), "hub.toml", downlink(), laid))
    assert [d.address for d in new.cfg.devices] == ["C0:11:22:33:44:77"]


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"pathway": "astrology"}, "patient.pathway"),
        (
            {"thresholds": {"59408-5": {"red_low": 95, "yellow_low": 90}}},
            "thresholds.59408-5.yellow_low",
        ),
        ({"thresholds": {"59408-5": {"red_lo": 85}}}, "thresholds.59408-5.red_lo"),
        ({"thresholds": {"12345-6": {"red_low": 1}}}, "thresholds.12345-6.code"),
        ({"thresholds": {"59408-5": 85}}, "thresholds.59408-5"),
        ({"thresholds": {"59408-5": {"red_low": "85"}}}, "thresholds.59408-5.red_low"),
        (
            {
                "schedule": (
                    {"kind": "weight", "times": ["07:30"]},
                    {"kind": "not-a-kind", "times": ["08:00"]},
                )
            },
            "schedule[1].kind",
        ),
        ({"schedule": ({"kind": "weight", "times": ["25:00"]},)}, "schedule[0].times[0]"),
        ({"devices": ({"address": "nope", "kind": "blood-pressure"},)}, "devices[0].address"),
        ({"devices": (OXIMETER, OXIMETER)}, "devices[1]"),
    ],
)
def test_a_bad_downlink_config_is_refused_whole_naming_the_key(
    changes: dict[str, Any], key: str
) -> None:
    base = InForce.of(Layers(file_config(), "hub.toml")).with_downlink(downlink(2))
    with pytest.raises(config.ConfigError) as refused:
        base.with_downlink(downlink(3, **changes))
    assert refused.value.key == key
    assert "downlink config version 3" in str(refused.value)
    # nothing of it was applied: what was in force stays
    assert base.downlink_version == 2 and base.cfg.patient.pathway == "copd"


def test_file_thresholds_are_the_fallback_until_the_hospital_speaks() -> None:
    text = (
        FILE.format(tz="UTC", k=50)
        + '[[thresholds]]\ncode = "59408-5"\nred_low = 80\nyellow_low = 84\n'
    )
    in_force = InForce.of(Layers(config.loads(text, "hub.toml"), "hub.toml"))
    assert in_force.rules.profile.bands[Code.SPO2].yellow_low == 84
    assert in_force.with_downlink(downlink()).rules.profile.bands[Code.SPO2].yellow_low == 90


def test_a_downlink_config_an_older_hub_kept_in_clear_is_taken_once(tmp_path: Path) -> None:
    signed = b"DHOS-signed-config-bytes"
    (tmp_path / LEGACY_DOWNLINK_FILE).write_bytes(signed)
    assert take_legacy_downlink(tmp_path) == signed
    assert not (tmp_path / LEGACY_DOWNLINK_FILE).exists()  # the store keeps it sealed now
    assert take_legacy_downlink(tmp_path) is None
