"""`hub bench soak`'s parts on tiny sizes: the aging writes what it claims, in the states it
claims, through the store's own API; the disk figure's commits hold what they say; the RSS
run stores what the streams close. Values only: the timings live in the bench."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from hub.bench.soak import Ager, retention_budget, soak_config
from hub.bench.soak_age import NIGHT_MINUTES, Plan
from hub.bench.soak_disk import DbSize, block_commits, per_sample_commits
from hub.bench.soak_rss import stream
from hub.config import load
from hub.ids import uuid7_time_ms
from hub.model import Kind
from hub.store import admin

# A minute after midnight: the aged span holds whole nights and whole days of spot readings.
END = datetime(2026, 11, 30, 0, 1, tzinfo=UTC)


@pytest.fixture
def ager(tmp_path: Path) -> Ager:
    return Ager(soak_config(tmp_path / "hub", keep_a_year=True))


def test_aging_writes_two_streams_a_night_and_four_spot_readings_a_day(ager: Ager) -> None:
    aged = ager.age(Plan(END, 2, pending_hours=6.0))
    # Nights from 22:00 to 06:00: the end of the one before the span, the span's two.
    assert len(aged.nights) == 3
    first_night = 2 * 6 * 60  # two streams, 00:00 to 06:00 of the night before the span
    last_night = 2 * 2 * 60  # 22:00 to 23:59, the minutes closed before 00:01
    assert aged.blocks == first_night + 2 * NIGHT_MINUTES + last_night
    assert aged.summaries == aged.blocks
    assert aged.spots == 2 * 4
    assert aged.events >= aged.spots  # one measurement-due event each, and triage's
    assert aged.readings == aged.blocks + aged.summaries + aged.spots

    with admin.open_store(ager.cfg) as store:
        stored = store.readings().items
        acked = store.reading_ids(acknowledged=True)
        pending = store.reading_ids(acknowledged=False)
        events = store.events().items
        assert store.queue_depth() == aged.pending == len(pending)
    assert len(stored) == aged.readings
    assert len(acked) == aged.acknowledged
    assert len(events) == aged.events
    cutoff_ms = int((END - timedelta(hours=6)).timestamp() * 1000)
    assert all(uuid7_time_ms(i) < cutoff_ms for i in acked)
    assert all(uuid7_time_ms(i) >= cutoff_ms for i in pending)
    # The last six hours: the evening's two spot readings and the night's first two hours.
    assert aged.pending == 2 + 2 * last_night
    assert {r.kind for r in stored if r.id in pending} == {
        Kind.BLOOD_PRESSURE,
        Kind.SPO2_SPOT,
        Kind.SUMMARY,
        Kind.STREAM_BLOCK,
    }

    blocks = [r for r in stored if r.kind is Kind.STREAM_BLOCK]
    summary_starts = {
        (r.device, r.details["period_start"]) for r in stored if r.kind is Kind.SUMMARY
    }
    for block in blocks:
        assert block.samples is not None
        assert block.samples.count == 60 and block.samples.period_s == 1.0
        start = block.samples.start
        assert start.second == 0 and (start.time() >= time(22) or start.time() < time(6))
        assert (block.device, start.isoformat()) in summary_starts


def test_aging_in_steps_acknowledges_all_but_the_last_hours(ager: Ager) -> None:
    aged, sizes = ager.age_in_steps(END, (1, 3))
    assert sorted(sizes) == [1, 3]
    assert sizes[3].file_bytes > sizes[1].file_bytes > 0
    with admin.open_store(ager.cfg) as store:
        assert store.queue_depth() == aged.pending
        acked = store.reading_ids(acknowledged=True)
    assert len(acked) == aged.acknowledged == aged.readings - aged.pending
    first_step_ms = int((END - timedelta(days=2)).timestamp() * 1000)
    assert len([i for i in acked if uuid7_time_ms(i) < first_step_ms]) > 0
    assert aged.pending == 2 + 2 * 2 * 2 * 60  # as in the test above: the last six hours


def test_aging_with_the_daily_purge_keeps_only_the_window(tmp_path: Path) -> None:
    config = soak_config(tmp_path / "hub", keep_a_year=False)
    text = config.read_text().replace("disk_floor_mb = 0", "disk_floor_mb = 0\nretention_days = 1")
    config.write_text(text)
    ager = Ager(config)
    aged = ager.age(Plan(END, 4, pending_hours=6.0, purge=True))
    assert aged.purged > 0
    with admin.open_store(ager.cfg) as store:
        stored = store.readings().items
        assert store.queue_depth() == aged.pending  # unacknowledged rows are never purged
    assert len(stored) == aged.readings - aged.purged
    last_midnight = datetime.combine(END.date(), time(), UTC)
    oldest_kept = last_midnight - timedelta(days=1)
    assert min(r.received for r in stored) >= oldest_kept


def test_retention_budget_is_the_window_and_a_day_at_the_year_s_bytes_per_day(
    tmp_path: Path,
) -> None:
    cfg = load(soak_config(tmp_path / "hub", keep_a_year=False))  # 7 days, events 90
    year = {1: DbSize(1_000, 1_000, 10, 3), 365: DbSize(365_000, 0, 10, 3)}
    budget = retention_budget(DbSize(100, 100, 10, 3), year, 10.0, cfg, aged_days=21)
    # The empty store, 7 + 1 days, 14 days of events kept longer, 2 pages for each b-tree.
    assert budget == pytest.approx(100 + 1_000 * 8 + 10.0 * 14 + 2 * 3 * 10)


def test_disk_figure_commits(ager: Ager) -> None:
    minutes = [END + timedelta(minutes=i) for i in range(3)]
    by_minute = list(block_commits(ager.days, minutes))
    assert [sorted(r.kind for r in c) for c in by_minute] == [
        sorted([Kind.SUMMARY, Kind.SUMMARY, Kind.STREAM_BLOCK, Kind.STREAM_BLOCK])
    ] * 3
    by_second = list(per_sample_commits(ager.days, ager.ids, minutes, 1))
    assert len(by_second) == 3 * 60
    assert all(len(c) == 2 for i, c in enumerate(by_second) if i % 60 != 59)
    assert all(
        sorted(r.kind for r in c)
        == sorted([Kind.SPO2_CONTINUOUS, Kind.HEART_RATE, Kind.SUMMARY, Kind.SUMMARY])
        for c in by_second[59::60]
    )
    grouped = list(per_sample_commits(ager.days, ager.ids, minutes, 60))
    assert [len(c) for c in grouped] == [122] * 3


def test_rss_run_stores_each_closed_stream_minute(tmp_path: Path) -> None:
    config = soak_config(tmp_path / "rss", keep_a_year=True)
    found = asyncio.run(stream(config, 60, 600))
    # The oximeter's SpO2 and pulse rate and the band's heart rate: a summary and a block
    # each per closed minute; the minute in progress at the end is not closed.
    assert found["stored"] == 3 * 2 * 10
    assert len(found["rss_kib_hourly"]) == 1  # type: ignore[arg-type]


def test_spot_readings_follow_the_schedule_in_the_hub_s_zone(tmp_path: Path) -> None:
    config = soak_config(tmp_path / "hub", keep_a_year=True)
    config.write_text(config.read_text().replace('timezone = "UTC"', 'timezone = "Europe/Oslo"'))
    ager = Ager(config)
    aged = ager.age(Plan(END, 3, pending_hours=0.0))
    assert aged.spots == 3 * 4  # each slot once, though local days straddle the UTC ones
    with admin.open_store(ager.cfg) as store:
        spots = [r for r in store.readings().items if r.device_time is not None]
    # 08:00 and 20:00 in Oslo (UTC+1 in November), measured four minutes after.
    assert sorted({(r.device_time.hour, r.device_time.minute) for r in spots}) == [
        (8, 4),
        (20, 4),
    ]
    assert {r.received.hour for r in spots} == {7, 19}
