"""Shared helpers for the store tests: realistic readings and a store in a temp dir."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.ids import ReadingIds
from hub.model import Code, Kind, Observation, Reading, SampleBlock
from hub.store import KeySource, Store, StoreOptions

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
CUFF = "C0:11:22:33:44:55"
BAND = "C0:11:22:33:44:57"
PLENTY = 10**12

_ids = ReadingIds()


def reading(
    kind: Kind = Kind.BLOOD_PRESSURE,
    *,
    device: str = CUFF,
    id: str | None = None,
    received: datetime = T0,
    value: float = 120.0,
    details: dict[str, Any] | None = None,
) -> Reading:
    code, unit = {
        Kind.BLOOD_PRESSURE: (Code.SYSTOLIC, "mm[Hg]"),
        Kind.HEART_RATE: (Code.HEART_RATE, "/min"),
        Kind.SPO2_SPOT: (Code.SPO2, "%"),
        Kind.SPO2_CONTINUOUS: (Code.SPO2, "%"),
        Kind.SUMMARY: (Code.HEART_RATE, "/min"),
    }[kind]
    extra = {"rr_s": (0.81, 0.79)} if kind is Kind.HEART_RATE else {}
    return Reading(
        id=id or _ids.new(),
        device=device,
        kind=kind,
        device_time=received - timedelta(seconds=2),
        received=received,
        observations=(Observation(code, value, unit),),
        flags=frozenset({"test"}),
        details=details if details is not None else extra,
    )


def stream_minute(start: datetime = T0, *, device: str = BAND, gaps: int = 3) -> Reading:
    """One device stream's minute of 1 Hz heart rate as a STREAM_BLOCK reading, the last
    `gaps` seconds missing."""
    values = [60.0 + i % 7 for i in range(60 - gaps)] + [math.nan] * gaps
    return Reading(
        id=_ids.new(),
        device=device,
        kind=Kind.STREAM_BLOCK,
        device_time=None,
        received=start + timedelta(minutes=1),
        observations=(),
        samples=SampleBlock(Code.HEART_RATE, start, 1.0, struct.pack("<60f", *values)),
    )


def readings(n: int, kind: Kind = Kind.BLOOD_PRESSURE, **kw: Any) -> list[Reading]:
    return [reading(kind, value=100.0 + i, **kw) for i in range(n)]


def open_store(directory: Path, **kw: Any) -> Store:
    """A store in `directory`: `StoreOptions` fields and `Store.open`'s keywords, plenty of
    free space unless told otherwise."""
    options = {name: kw.pop(name) for name in list(kw) if name in _OPTION_NAMES}
    kw.setdefault("free_bytes", lambda _path: PLENTY)
    return Store.open(
        directory / "hub.db", KeySource(directory / "data.key"), StoreOptions(**options), **kw
    )


_OPTION_NAMES = {f.name for f in dataclasses.fields(StoreOptions)}


def key(reading_id: str) -> bytes:
    """A reading id as its primary key in the readings table."""
    return bytes.fromhex(reading_id.replace("-", ""))


def flip_byte(path: Path, reading_id: str, at: int) -> None:
    """Tamper with a stored reading from another connection: one bit of its payload."""
    conn = sqlite3.connect(path)
    (payload,) = conn.execute("SELECT payload FROM readings WHERE id = ?", (key(reading_id),))
    data = bytearray(payload[0])
    data[at % len(data)] ^= 0x01
    conn.execute("UPDATE readings SET payload = ? WHERE id = ?", (bytes(data), key(reading_id)))
    conn.commit()
    conn.close()


def committed_rows(path: Path) -> int:
    """Rows another connection can see: what is really committed."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    finally:
        conn.close()


def rows_by_state(path: Path) -> dict[int, int]:
    """Reading rows per state, counted from another connection by walking the table."""
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT state, count(*) FROM readings GROUP BY state"))
    finally:
        conn.close()


WRITER = Path(__file__).with_name("store_writer.py")


class Writer:
    """The store_writer.py child process, and the ids it reported as committed."""

    def __init__(self, directory: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(directory / "hub.db"), str(directory / "data.key")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._pending = b""
        self.ids: list[str] = []

    def poll(self) -> int:
        """Read what is available; returns how many ids were reported so far."""
        assert self.proc.stdout is not None
        chunk = self.proc.stdout.read()
        if chunk:
            self._take(chunk)
        return len(self.ids)

    def wait_for(self, count: int, deadline_s: float = 60.0) -> None:
        end = time.monotonic() + deadline_s
        while self.poll() < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"writer exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > end:
                raise AssertionError(f"writer reported {len(self.ids)} ids, wanted {count}")
            time.sleep(0.005)

    def kill(self) -> list[str]:
        """SIGKILL, then every id the child completely reported before it died."""
        self.proc.send_signal(signal.SIGKILL)
        rest, _ = self.proc.communicate()
        self._take(rest or b"")
        return self.ids

    def _take(self, chunk: bytes) -> None:
        data = self._pending + chunk
        *lines, self._pending = data.split(b"\n")  # a torn last line was never reported
        self.ids += [line.decode() for line in lines]
