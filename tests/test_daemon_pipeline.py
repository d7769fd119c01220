"""The daemon's pure parts: stable ids, stream summaries and triage, spot tagging."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub import config
from hub.daemon.pipeline import Pipeline
from hub.daemon.service import downlink_schedule, rules_of
from hub.daemon.stable_ids import record_key, stable_id, summary_id
from hub.ids import ReadingIds
from hub.model import Code, Kind, Level, Observation, Reading
from hub.signal.rules import PROFILES, Settings
from hub.wire.messages import DownlinkConfig

SECRET = bytes(range(32))
T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
CUFF = "C0:11:22:33:44:55"
OXI = "C0:11:22:33:44:66"
FAST = Settings(persist_k=6, persist_n=10, clear_k=5, min_valid=5, repeat_before_red=0)


def bp(systolic: float, at: datetime, rid: str | None = None) -> Reading:
    return Reading(
        id=rid or ReadingIds().new(),
        device=CUFF,
        kind=Kind.BLOOD_PRESSURE,
        device_time=at.replace(tzinfo=None),
        received=at + timedelta(seconds=3),
        observations=(
            Observation(Code.SYSTOLIC, systolic, "mm[Hg]"),
            Observation(Code.DIASTOLIC, 80.0, "mm[Hg]"),
        ),
    )


def spo2(value: float | None, at: datetime) -> Reading:
    obs = (
        Observation(Code.SPO2, value, "%")
        if value is not None
        else Observation(Code.SPO2, None, "%", special="nan")
    )
    return Reading(ReadingIds().new(), OXI, Kind.SPO2_CONTINUOUS, None, at, (obs,))


def test_a_resent_record_keeps_its_id_and_a_live_sample_does_not_count_as_one() -> None:
    first = Pipeline(PROFILES["news2"], FAST, SECRET).stable(bp(128, T0))
    again = Pipeline(PROFILES["news2"], FAST, SECRET).stable(bp(128, T0))  # after a restart
    assert first.id == again.id
    assert uuid.UUID(first.id).version == 7
    other = Pipeline(PROFILES["news2"], FAST, SECRET).stable(bp(129, T0))
    assert other.id != first.id
    assert Pipeline(PROFILES["news2"], FAST, bytes(32)).stable(bp(128, T0)).id != first.id
    live = spo2(97, T0)
    assert record_key(live) is None
    assert Pipeline(PROFILES["news2"], FAST, SECRET).stable(live).id == live.id


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)), st.binary())
def test_stable_ids_are_canonical_uuid7_sorting_by_time(when: datetime, key: bytes) -> None:
    aware = when.replace(tzinfo=UTC)
    value = stable_id(SECRET, CUFF, key, aware)
    parsed = uuid.UUID(value)
    assert str(parsed) == value and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == int(aware.timestamp() * 1000)
    assert summary_id(SECRET, OXI, Kind.SUMMARY, "59408-5", aware) == summary_id(
        SECRET, OXI, Kind.SUMMARY, "59408-5", aware
    )


def test_spot_reading_tagged_with_its_colour_and_red_is_urgent() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, SECRET)
    green = pipeline.reading(bp(128, T0), T0, clock_synced=True)
    assert [r.details["level"] for r in green.readings] == ["green"]
    assert green.readings[0].details["clock_sync"] == "synced"
    assert not green.urgent
    red = pipeline.reading(bp(230, T0 + timedelta(minutes=1)), T0, clock_synced=False)
    assert red.urgent and red.readings[0].details["level"] == "red"
    assert red.readings[0].details["clock_sync"] == "unsynced"
    assert pipeline.spot.level is Level.RED
    assert any(e.level is Level.RED for e in red.events)


def test_stream_turns_red_after_persistence_and_minutes_are_summarised() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, SECRET)
    events = []
    summaries = []
    values = [97.0] * 30 + [None] * 5 + [85.0] * 25  # one minute, a gap, a deterioration
    for i, value in enumerate(values):
        at = T0 + timedelta(seconds=i, milliseconds=300)
        out = pipeline.reading(spo2(value, at), at, clock_synced=True)
        assert len(out.readings) == 1  # the raw sample is stored too
        tick = pipeline.tick(at + timedelta(seconds=1))
        events += tick.events
        summaries += tick.readings
    final = pipeline.tick(T0 + timedelta(seconds=63), final=True)
    summaries += final.readings
    assert any(e.level is Level.RED for e in events + final.events)
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary.kind is Kind.SUMMARY
    valid = [v for v in values if v is not None]
    assert math.isclose(summary.value_of(Code.SPO2) or 0, sum(valid) / len(valid), abs_tol=0.01)
    assert summary.details["valid_s"] == len(valid)
    assert (summary.details["min"], summary.details["max"]) == (85.0, 97.0)
    assert summary.details["period_start"] == T0.isoformat()
    assert summary.id == summary_id(SECRET, OXI, Kind.SUMMARY, Code.SPO2.value, T0)


def test_heart_rate_band_minute_carries_hrv() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, SECRET)
    for i in range(60):
        at = T0 + timedelta(seconds=i)
        rr = (0.8, 0.82) if i % 2 else (0.79, 0.81)
        reading = Reading(
            ReadingIds().new(),
            OXI,
            Kind.HEART_RATE,
            None,
            at,
            (Observation(Code.HEART_RATE, 75.0, "/min"),),
            details={"rr_intervals_s": rr},
        )
        pipeline.reading(reading, at, clock_synced=True)
    summaries = pipeline.tick(T0 + timedelta(seconds=65)).readings
    assert len(summaries) == 1
    details = summaries[0].details
    assert details["rmssd_ms"] > 0 and details["sdnn_ms"] > 0
    assert summaries[0].value_of(Code.HEART_RATE) == 75.0


def test_a_long_silence_is_not_fed_second_by_second() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, SECRET)
    pipeline.reading(spo2(97, T0), T0, clock_synced=True)
    out = pipeline.tick(T0 + timedelta(days=30))
    assert [r.kind for r in out.readings] == [Kind.SUMMARY]
    stream = next(iter(pipeline.streams.values()))
    assert stream.next_s == int((T0 + timedelta(days=30)).timestamp()) - 2


def test_config_rules_schedule_and_their_refusals() -> None:
    text = """[hub]
id = "hub-a"
timezone = "{tz}"
[triage]
persist_k = {k}
[[schedule]]
kind = "blood-pressure"
times = ["08:00", "20:30"]
weekdays = [0, 2]
"""
    rules = rules_of(config.loads(text.format(tz="Europe/Oslo", k=50), "f"), "f")
    (item,) = rules.items
    assert item.kind == "blood-pressure" and item.weekdays == frozenset({0, 2})
    assert [t.isoformat() for t in item.times] == ["08:00:00", "20:30:00"]
    with pytest.raises(config.ConfigError, match=r"hub\.timezone"):
        rules_of(config.loads(text.format(tz="Mars/Olympus", k=50), "f"), "f")
    with pytest.raises(config.ConfigError, match="triage"):
        rules_of(config.loads(text.format(tz="UTC", k=20), "f"), "f")  # k + clear_k <= n
    with pytest.raises(config.ConfigError, match=r"schedule\[0\]\.times\[0\]"):
        config.loads(text.format(tz="UTC", k=50).replace('"08:00"', '"8 am"'), "f")


def test_downlink_schedule_is_checked_as_the_file_schedule_is() -> None:
    downlink = DownlinkConfig(
        hub="hub-a",
        version=4,
        patient="p",
        pathway="copd",
        schedule=(
            {"kind": "weight", "times": ["07:30"], "weekdays": [0]},
            {"kind": "not-a-kind", "times": ["08:00"]},  # once stopped the daemon's tick
            {"kind": "weight", "times": ["25:00"]},
        ),
    )
    items, refused = downlink_schedule(downlink)
    (item,) = items
    assert (item.kind, item.weekdays, item.window_minutes) == ("weight", frozenset({0}), 60)
    assert [t.isoformat() for t in item.times] == ["07:30:00"]
    assert [e.key for e in refused] == ["schedule[1].kind", "schedule[2].times[0]"]
    assert all("downlink config version 4" in str(e) for e in refused)
