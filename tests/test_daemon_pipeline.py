"""The daemon's pipeline: spot tagging and triage once, stream triage, minute summaries and
blocks of raw samples."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hub.daemon.pipeline import Pipeline
from hub.ids import IdMinter, ReadingIds
from hub.model import Code, Kind, Level, Observation, Reading
from hub.signal import triage
from hub.signal.rules import PROFILES, Settings

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


def test_spot_reading_tagged_with_its_colour_and_red_is_urgent() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, IdMinter(SECRET))
    green = pipeline.reading(bp(128, T0), T0, clock_synced=True)
    assert [r.details["level"] for r in green.readings] == ["green"]
    assert green.readings[0].details["clock_sync"] == "synced"
    assert not green.urgent
    red = pipeline.reading(bp(230, T0 + timedelta(minutes=1)), T0, clock_synced=False)
    assert red.urgent and red.readings[0].details["level"] == "red"
    assert red.readings[0].details["clock_sync"] == "unsynced"
    assert pipeline.spot.level is Level.RED
    assert any(e.level is Level.RED for e in red.events)


def test_stream_turns_red_after_persistence_and_a_minute_is_a_summary_and_one_block() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, IdMinter(SECRET))
    events, stored = [], []
    values = [97.0] * 30 + [None] * 5 + [85.0] * 25  # one minute, a gap, a deterioration
    for i, value in enumerate(values):
        at = T0 + timedelta(seconds=i, milliseconds=300)
        out = pipeline.reading(spo2(value, at), at, clock_synced=True)
        assert out.readings == []  # a raw sample is not a row of its own
        tick = pipeline.tick(at + timedelta(seconds=1), clock_synced=True)
        events += tick.events
        stored += tick.readings
    final = pipeline.tick(T0 + timedelta(seconds=63), clock_synced=True, final=True)
    stored += final.readings
    assert any(e.level is Level.RED for e in events + final.events)
    summary, block = stored
    assert (summary.kind, block.kind) == (Kind.SUMMARY, Kind.STREAM_BLOCK)
    valid = [v for v in values if v is not None]
    assert math.isclose(summary.value_of(Code.SPO2) or 0, sum(valid) / len(valid), abs_tol=0.01)
    assert summary.details["valid_s"] == len(valid)
    assert (summary.details["min"], summary.details["max"]) == (85.0, 97.0)
    assert summary.details["period_start"] == T0.isoformat()
    minter = IdMinter(SECRET)
    assert summary.id == minter.for_period(OXI, Kind.SUMMARY, Code.SPO2, T0)
    assert block.id == minter.for_period(OXI, Kind.STREAM_BLOCK, Code.SPO2, T0)
    assert block.samples is not None
    assert (block.samples.code, block.samples.start, block.samples.period_s) == (Code.SPO2, T0, 1.0)
    samples = np.frombuffer(block.samples.values, "<f4")
    expected = np.array([np.nan if v is None else v for v in values], dtype="<f4")
    np.testing.assert_array_equal(samples, expected)  # the gap kept as NaN, in place
    assert block.details["level"] == "red"


def test_a_minute_with_a_missing_second_keeps_the_gap_in_its_block() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, IdMinter(SECRET))
    for i in [s for s in range(60) if s != 17]:
        at = T0 + timedelta(seconds=i)
        pipeline.reading(spo2(96.0, at), at, clock_synced=False)
    (summary, block) = pipeline.tick(T0 + timedelta(seconds=65), clock_synced=False).readings
    assert block.samples is not None and block.samples.count == 60
    samples = np.frombuffer(block.samples.values, "<f4")
    assert np.isnan(samples[17]) and np.count_nonzero(np.isnan(samples)) == 1
    assert summary.details["valid_s"] == 59
    assert block.details["clock_sync"] == summary.details["clock_sync"] == "unsynced"


def test_a_spot_reading_is_assessed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = triage.assess

    def counting(reading: Reading, profile: object) -> triage.Assessment:
        calls.append(reading.id)
        return real(reading, profile)  # type: ignore[arg-type]

    monkeypatch.setattr(triage, "assess", counting)
    pipeline = Pipeline(PROFILES["news2"], FAST, IdMinter(SECRET))
    reading = bp(230, T0)
    out = pipeline.reading(reading, T0, clock_synced=True)
    assert calls == [reading.id]
    assert out.readings[0].details["level"] == "red"


def test_heart_rate_band_minute_carries_hrv() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, IdMinter(SECRET))
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
    summary, block = pipeline.tick(T0 + timedelta(seconds=65), clock_synced=True).readings
    details = summary.details
    assert details["rmssd_ms"] > 0 and details["sdnn_ms"] > 0
    assert summary.value_of(Code.HEART_RATE) == 75.0
    assert block.samples is not None and block.samples.code is Code.HEART_RATE


def test_a_long_silence_is_not_fed_second_by_second() -> None:
    pipeline = Pipeline(PROFILES["news2"], FAST, IdMinter(SECRET))
    pipeline.reading(spo2(97, T0), T0, clock_synced=True)
    out = pipeline.tick(T0 + timedelta(days=30), clock_synced=True)
    assert [r.kind for r in out.readings] == [Kind.SUMMARY, Kind.STREAM_BLOCK]
    stream = next(iter(pipeline.streams.values()))
    assert stream.next_s == int((T0 + timedelta(days=30)).timestamp()) - 2
