"""`hub bench store`: encrypted, group-committed writes against the plain-insert ceiling.

Figures, all from the same run on the same file system:
- `readings_per_s`: readings through `Store.add` — codec, AES-256-GCM with a fresh nonce per
  row, group commit every 500 readings with synchronous=FULL.
- `ceiling_readings_per_s`: the same readings stored unencrypted — turned into the same rows
  (same codec, plaintext payload) and inserted with one `executemany` in one transaction.
  The target `vs_ceiling` >= 0.5 is measured against this.
- `insert_only_readings_per_s`: the bare `executemany` of those rows built beforehand, for
  reference: the gap to it is mostly the pure-Python codec, which both paths need.
- bytes written per reading: the WAL (a reader pinned to the starting snapshot keeps every
  frame in the WAL file) plus the database growth once those frames are checkpointed — what
  an SD card actually absorbs.
- `stream_block_bytes_vs_per_sample_rows`: those bytes for an hour of one 1 Hz stream stored
  as one STREAM_BLOCK reading per minute, against the same hour as one row per sample.
- `status_us_full_vs_empty`: one `status()` (queue depth included) on the store holding the
  run's readings, against the same call on an empty store: flat when nothing counts rows.
"""

from __future__ import annotations

import math
import sqlite3
import statistics
import struct
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.bench import BenchResult, Target
from hub.ids import uuid7_from
from hub.model import Code, Kind, Observation, Reading, SampleBlock
from hub.store import KeySource, Store, StoreOptions
from hub.store.codec import encode_reading
from hub.store.database import connect
from hub.store.disk import disk_class
from hub.store.schema import NEW, migrate

READINGS = 20_000
REPEATS = 3
GROUP = 500
_CUFF = "C0:11:22:33:44:55"
_OXIMETER = "C0:11:22:33:44:56"
_BAND = "C0:11:22:33:44:57"
_NO_FLOOR = StoreOptions(disk_floor_mb=0)


def realistic_readings(n: int, start: datetime) -> list[Reading]:
    """A day's mix: mostly heart-rate notifications with RR intervals (one a second), some
    continuous SpO2, and the occasional blood-pressure and spot SpO2 measurement."""
    out = []
    for i in range(n):
        when = start + timedelta(milliseconds=250 * i)
        rid = str(uuid7_from(int(when.timestamp() * 1000), i & 0xFFF, i * 7919))
        slot = i % 20
        if slot == 0:
            out.append(_bp(rid, when, i))
        elif slot == 10:
            out.append(_spo2(rid, when, i, Kind.SPO2_SPOT, _OXIMETER))
        elif slot % 3 == 0:
            out.append(_spo2(rid, when, i, Kind.SPO2_CONTINUOUS, _OXIMETER))
        else:
            out.append(_hr(rid, when, i))
    return out


def _bp(rid: str, when: datetime, i: int) -> Reading:
    sys_, dia = 118.0 + i % 17, 76.0 + i % 9
    return Reading(
        rid,
        _CUFF,
        Kind.BLOOD_PRESSURE,
        when - timedelta(seconds=3),
        when,
        (
            Observation(Code.SYSTOLIC, sys_, "mm[Hg]"),
            Observation(Code.DIASTOLIC, dia, "mm[Hg]"),
            Observation(Code.MEAN_ARTERIAL, round((sys_ + 2 * dia) / 3, 1), "mm[Hg]"),
            Observation(Code.HEART_RATE, 64.0 + i % 11, "/min"),
        ),
        frozenset({"irregular-pulse"} if i % 7 == 0 else ()),
        {"user": 1, "cuff_fit": True},
    )


def _spo2(rid: str, when: datetime, i: int, kind: Kind, device: str) -> Reading:
    return Reading(
        rid,
        device,
        kind,
        None,
        when,
        (
            Observation(Code.SPO2, 94.0 + i % 5, "%"),
            Observation(Code.HEART_RATE, 70.0 + i % 13, "/min"),
            Observation(Code.PULSE_AMPLITUDE_INDEX, 2.5 + (i % 10) / 10, "%"),
        ),
        frozenset({"finger-detected"}),
        {},
    )


def _hr(rid: str, when: datetime, i: int) -> Reading:
    rr = tuple(0.8 + ((i + k) % 9) / 100 for k in range(1 + i % 3))
    return Reading(
        rid,
        _BAND,
        Kind.HEART_RATE,
        None,
        when,
        (Observation(Code.HEART_RATE, round(60 / rr[0], 1), "/min"),),
        frozenset({"contact"}),
        {"rr_s": rr, "energy_kj": None},
    )


def _timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _encrypted_rate(directory: Path, readings: list[Reading], run: int) -> float:
    path = directory / f"enc-{run}.db"
    # Groups are cut by size here (flush_max), as on a busy hub; the floor is off.
    store = Store.open(path, KeySource(directory / "data.key"), _NO_FLOOR)
    try:

        def work() -> None:
            for i in range(0, len(readings), 25):  # readings arrive a few at a time
                store.add(readings[i : i + 25])
            store.flush()

        return len(readings) / _timed(work)
    finally:
        store.close()


def _plain_rows(readings: list[Reading]) -> list[tuple[object, ...]]:
    return [
        (
            uuid.UUID(r.id).bytes,
            r.device,
            str(r.kind),
            int(r.received.timestamp() * 1000),
            NEW,
            0,
            encode_reading(r),
            int(disk_class(r)),
        )
        for r in readings
    ]


def _ceiling_rates(directory: Path, readings: list[Reading], run: int) -> tuple[float, float]:
    """(readings → plain rows → one executemany in one transaction, the insert alone)."""
    rates = []
    for name, prebuilt in (("plain", None), ("insert", _plain_rows(readings))):
        conn = connect(directory / f"{name}-{run}.db")
        migrate(conn)

        def work(conn: sqlite3.Connection = conn, rows: object = prebuilt) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO readings (id, stream, kind, received_ms, state, key_id, payload, "
                "disk_class) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows if rows is not None else _plain_rows(readings),
            )
            conn.execute("COMMIT")

        try:
            rates.append(len(readings) / _timed(work))
        finally:
            conn.close()
    return rates[0], rates[1]


def _stream_hour(start: datetime) -> tuple[list[Reading], list[Reading]]:
    """An hour of one 1 Hz heart-rate stream: (a row per sample, a block per minute)."""
    seconds = [start + timedelta(seconds=i) for i in range(3600)]
    samples = [
        _hr(str(uuid7_from(int(when.timestamp() * 1000), i & 0xFFF, i)), when, i)
        for i, when in enumerate(seconds)
    ]
    blocks = []
    for minute in range(60):
        when = start + timedelta(minutes=minute)
        rates = [r.value_of(Code.HEART_RATE) for r in samples[minute * 60 : minute * 60 + 60]]
        values = [math.nan if v is None else v for v in rates]
        blocks.append(
            Reading(
                str(uuid7_from(int(when.timestamp() * 1000), minute, minute)),
                _BAND,
                Kind.STREAM_BLOCK,
                None,
                when + timedelta(minutes=1),
                (),
                samples=SampleBlock(Code.HEART_RATE, when, 1.0, struct.pack("<60f", *values)),
            )
        )
    return samples, blocks


def _status_us(path: Path, key: Path) -> float:
    """Median time of one `status()` on the store at `path`."""
    store = Store.open(path, KeySource(key), _NO_FLOOR)
    try:
        times = []
        for _ in range(200):
            start = time.perf_counter()
            store.status()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e6
    finally:
        store.close()


def _bytes_written(
    directory: Path, readings: list[Reading], name: str = "wear"
) -> tuple[float, float, float]:
    """(WAL bytes, database growth, total) per reading for the encrypted, grouped path."""
    path = directory / f"{name}.db"
    Store.open(path, KeySource(directory / "data.key"), _NO_FLOOR).close()
    base_size = path.stat().st_size
    pin = sqlite3.connect(path, isolation_level=None)
    pin.execute("BEGIN")
    pin.execute("SELECT count(*) FROM readings").fetchone()  # holds the starting snapshot
    store = Store.open(path, KeySource(directory / "data.key"), _NO_FLOOR)
    try:
        for i in range(0, len(readings), 25):
            store.add(readings[i : i + 25])
        store.flush()
        wal = path.with_name(path.name + "-wal").stat().st_size
    finally:
        store.close()
        pin.execute("COMMIT")
    pin.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pin.close()
    growth = path.stat().st_size - base_size
    n = len(readings)
    return wal / n, growth / n, (wal + growth) / n


def run() -> BenchResult:
    readings = realistic_readings(READINGS, datetime(2026, 11, 21, 8, tzinfo=UTC))
    with tempfile.TemporaryDirectory(prefix="hub-bench-store-") as tmp:
        directory = Path(tmp)
        encrypted = max(_encrypted_rate(directory, readings, i) for i in range(REPEATS))
        ceilings = [_ceiling_rates(directory, readings, i) for i in range(REPEATS)]
        ceiling = max(c[0] for c in ceilings)
        insert_only = max(c[1] for c in ceilings)
        wal, growth, total = _bytes_written(directory, readings)
        per_sample, per_minute = _stream_hour(datetime(2026, 11, 21, 22, tzinfo=UTC))
        sample_rows = _bytes_written(directory, per_sample, "samples")[2] * len(per_sample)
        block_rows = _bytes_written(directory, per_minute, "blocks")[2] * len(per_minute)
        key = directory / "data.key"
        status_full = _status_us(directory / "enc-0.db", key)
        status_empty = _status_us(directory / "empty.db", key)
    plain = sum(len(encode_reading(r)) for r in readings) / len(readings)
    result = BenchResult("store")
    result.figures.update(
        {
            "readings_per_s": encrypted,
            "ceiling_readings_per_s": ceiling,
            "vs_ceiling": encrypted / ceiling,
            "insert_only_readings_per_s": insert_only,
            "vs_insert_only": encrypted / insert_only,
            "plain_payload_bytes_per_reading": plain,
            "wal_bytes_per_reading": wal,
            "db_growth_bytes_per_reading": growth,
            "disk_bytes_per_reading": total,
            "stream_hour_bytes_per_sample_rows": sample_rows,
            "stream_hour_bytes_minute_blocks": block_rows,
            "stream_block_bytes_vs_per_sample_rows": block_rows / sample_rows,
            "status_us_full": status_full,
            "status_us_empty": status_empty,
            "status_us_full_vs_empty": status_full / status_empty,
        }
    )
    result.targets["vs_ceiling"] = Target(encrypted / ceiling, 0.5)
    return result
