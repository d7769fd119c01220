"""Bytes written to disk for one stream-day: stream-minute blocks against one row per sample.

A stream-day is one device stream over the patient's eight-hour night: 28,800 1 Hz samples.
Both designs are written to the same store, one after the other, both with their minute
summaries, through `Store.add` and `Store.flush` committed as the daemon's group commit would
commit them (`[store] flush_ms`, 500 ms by default, after the first buffered reading):

- blocks: the stream tick closes both streams' minute together, so one commit a minute holds
  the two summaries and the two blocks;
- one row per sample: the two streams' samples of each second arrive together and are
  committed `flush_ms` later, before the next second's; a minute's summaries go with the
  samples of the second that closed it.
- and, as a figure, the per-sample rows committed once a minute like the blocks, which
  separates the row format from the commit cadence.

Bytes written are the WAL frames (a reader pinned to the starting snapshot keeps every frame in
the WAL file) plus the database's growth once they are checkpointed, as in `hub bench store`.
The per-sample design is measured over a shorter span and scaled to the night (each second
costs the same); bytes are divided by the two streams.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hub.bench.soak_age import NIGHT_MINUTES, PatientDays, live_second
from hub.ids import IdMinter
from hub.model import Reading
from hub.store import KeySource, Store, StoreOptions

STREAMS = 2
PER_SAMPLE_MINUTES = 30  # measured span of the per-sample design, scaled to the night
_OPTIONS = StoreOptions(disk_floor_mb=0, retention_days=400)


@dataclass(frozen=True)
class StreamDayBytes:
    blocks: float  # bytes per stream-day, blocks and summaries, committed once a minute
    per_sample: float  # one row per sample, committed a second at a time
    per_sample_by_minute: float  # one row per sample, committed once a minute
    blocks_rows: int  # rows per stream-day
    per_sample_rows: int


@dataclass(frozen=True)
class DbSize:
    file_bytes: int  # the database and its WAL, as the SD card holds them
    live_bytes: int  # pages in use (free pages left out)
    page_bytes: int
    btrees: int  # tables and indexes


def db_size(path: Path) -> DbSize:
    """Sizes of a database no connection has open (read by a connection of its own)."""
    files = [path, path.with_name(path.name + "-wal")]
    with _read_only(path) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        btrees = conn.execute("SELECT count(*) FROM sqlite_schema WHERE rootpage > 0").fetchone()
    on_disk = sum(f.stat().st_size for f in files if f.exists())
    return DbSize(on_disk, (pages - free) * page, page, btrees[0])


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat)."""
    with _read_only(path) as conn:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    return dict(rows)


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def stream_day_bytes(
    directory: Path, days: PatientDays, ids: IdMinter, start: datetime
) -> StreamDayBytes:
    path = directory / "stream-day.db"
    keys = KeySource(directory / "stream-day.key")
    night = [start + timedelta(minutes=i) for i in range(NIGHT_MINUTES)]
    span = night[:PER_SAMPLE_MINUTES]
    scale = NIGHT_MINUTES / PER_SAMPLE_MINUTES / STREAMS
    later = timedelta(days=1)
    blocks = _written(path, keys, block_commits(days, night))
    by_second = _written(path, keys, per_sample_commits(days, ids, [m + later for m in span], 1))
    by_minute = _written(
        path, keys, per_sample_commits(days, ids, [m + 2 * later for m in span], 60)
    )
    return StreamDayBytes(
        blocks=blocks / STREAMS,
        per_sample=by_second * scale,
        per_sample_by_minute=by_minute * scale,
        blocks_rows=2 * NIGHT_MINUTES,
        per_sample_rows=60 * NIGHT_MINUTES + NIGHT_MINUTES,
    )


def block_commits(days: PatientDays, minutes: list[datetime]) -> Iterator[list[Reading]]:
    """Each minute's summaries and blocks of both streams: one commit each."""
    readings = days.stream_minutes(minutes)
    by_minute: dict[datetime, list[Reading]] = {}
    for reading in readings:
        by_minute.setdefault(reading.received, []).append(reading)
    yield from by_minute.values()


def per_sample_commits(
    days: PatientDays, ids: IdMinter, minutes: list[datetime], seconds_per_commit: int
) -> Iterator[list[Reading]]:
    """Both streams' samples, one row each, with each minute's summaries (no blocks), in
    commits of `seconds_per_commit` seconds of samples."""
    group: list[Reading] = []
    for minute in minutes:
        for second in range(60):
            group += live_second(ids, minute + timedelta(seconds=second))
            if second == 59:
                group += [r for r in days.stream_minutes([minute]) if r.samples is None]
            if (second + 1) % seconds_per_commit == 0:
                yield group
                group = []


def _written(path: Path, keys: KeySource, commits: Iterator[list[Reading]]) -> int:
    """Bytes the commits write: WAL frames, then the database's growth at the checkpoint."""
    Store.open(path, keys, _OPTIONS).close()
    base = path.stat().st_size
    pin = sqlite3.connect(path, isolation_level=None)
    pin.execute("BEGIN")
    pin.execute("SELECT count(*) FROM readings").fetchone()  # holds the starting snapshot
    try:
        with Store.open(path, keys, _OPTIONS) as store:
            for readings in commits:
                store.add(readings)
                store.flush()
            wal = path.with_name(path.name + "-wal").stat().st_size
    finally:
        pin.execute("COMMIT")
    pin.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pin.close()
    return wal + path.stat().st_size - base
