"""The open database as every store job uses it: transactions, keys, counts, error events.

Plain synchronous code for exactly one thread (the store's owner, `hub.store.owner`); nothing
here locks. A row that fails authentication is reported as an error event with its row id
and, for a reading, marked unreadable: never deleted, never sent, never a crash.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.gcpause import gc_paused
from hub.ids import ReadingIds
from hub.model import Event, EventKind, Reading
from hub.store.api import StoreFullError
from hub.store.counts import StateCounts, count_states
from hub.store.crypto import AuthError
from hub.store.keys import KeyRing, KeySource
from hub.store.schema import UNREADABLE
from hub.store.sealing import EVENTS, READINGS, Seals, Table, row_label
from hub.store.values import CodecError, encode_value

log = logging.getLogger(__name__)

_SQLITE_FULL = 13


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


class Session:
    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        source: KeySource,
        ring: KeyRing,
        clock: Callable[[], datetime],
    ) -> None:
        self.conn = conn
        self.path = path
        self.source = source
        self.seals = Seals(ring)
        self.clock = clock
        self.ids = ReadingIds()
        self.counts = StateCounts(count_states(conn))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; SQLITE_FULL becomes StoreFullError. Also makes sure this
        connection seals with the newest registered key (another process may have rotated),
        and applies the transaction's state counts only once it committed."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._follow_rotation()
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self.counts.rollback()
                raise
            self.counts.commit()
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
                raise StoreFullError(str(exc)) from exc
            raise

    def install(self, ring: KeyRing) -> None:
        """Use `ring` from now on, registering a check value for any key the database lacks."""
        self.seals.install(ring)
        self.seals.register(self.conn)

    def _follow_rotation(self) -> None:
        newest = self.conn.execute("SELECT max(key_id) FROM keys").fetchone()[0]
        if newest is None or newest == self.seals.active:
            return
        ring = self.source.load()
        if ring is None or newest not in ring.keys:
            log.error("key id %s is registered but %s lacks it", newest, self.source.describe())
            return
        self.install(ring)
        # The rotating process may have marked rows it could not open unreadable.
        self.counts.reset(count_states(self.conn))

    def open_readings(self, rows: list[tuple[Any, ...]]) -> list[Reading]:
        """Decode (id, stream, kind, key_id, payload) rows inside a write transaction; bad
        ones are marked unreadable and reported as error events, the rest returned."""
        good = []
        open_reading = self.seals.open_reading
        with gc_paused():  # hundreds of acyclic Readings: see hub.gcpause
            for pk, stream, kind, key_id, payload in rows:
                try:
                    good.append(open_reading(pk, stream, kind, key_id, payload))
                except (AuthError, CodecError) as exc:
                    self.report_bad(READINGS, pk, str(exc))
        return good

    def report_bad(self, table: Table, pk: Any, reason: str) -> None:
        """Inside a write transaction: keep the row aside and say so in an error event."""
        label = row_label(pk)
        log.error("%s row %s cannot be read: %s", table.name, label, reason)
        if table is READINGS:
            row = self.conn.execute("SELECT state FROM readings WHERE id = ?", (pk,)).fetchone()
            if row is not None and row[0] != UNREADABLE:
                self.conn.execute(f"UPDATE readings SET state = {UNREADABLE} WHERE id = ?", (pk,))
                self.counts.moved(row[0], UNREADABLE)
        self.insert_event(
            Event(
                EventKind.ERROR,
                self.clock(),
                f"stored {table.name} row {label} failed authentication and was kept aside",
                details={"table": table.name, "row_id": label, "reason": reason},
            )
        )

    def insert_event(self, event: Event) -> None:
        """Inside a write transaction: one sealed events row."""
        key = uuid.UUID(self.ids.new()).bytes
        plaintext = encode_value(
            {
                "time": event.time,
                "message": event.message,
                "device": event.device,
                "level": str(event.level) if event.level else None,
                "details": dict(event.details),
            }
        )
        kind = str(event.kind)
        self.conn.execute(
            "INSERT INTO events (id, time_ms, kind, key_id, payload) VALUES (?, ?, ?, ?, ?)",
            (
                key,
                ms(event.time),
                kind,
                self.seals.active,
                self.seals.seal(EVENTS, key, "", kind, plaintext),
            ),
        )
