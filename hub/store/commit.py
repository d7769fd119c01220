"""Group commit: readings are buffered and written many to one transaction (one fsync).

`add` encodes every reading before buffering any, so a bad one (a non-UUID id, a detail value
the codec cannot hold) raises ValueError and buffers nothing. The buffer is committed when a
reading is urgent, when it reaches `flush_max`, or when the caller says so (`flush`): the
caller owns the clock — `hub.store.owner` commits `flush_ms` after the first buffered
reading. Events recorded meanwhile go into the same transaction. On a full disk everything
stays buffered (raw streams shed) until a later commit succeeds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub.model import Event, Reading
from hub.store.api import StoreFullError
from hub.store.codec import encode_reading
from hub.store.crypto import NONCE_BYTES
from hub.store.disk import DiskClass, disk_class
from hub.store.pressure import DiskPressure
from hub.store.schema import NEW
from hub.store.sealing import READINGS, id_bytes
from hub.store.session import Session, ms


@dataclass(frozen=True)
class Pending:
    """A reading encoded and waiting for the next commit."""

    id: str
    key: bytes
    stream: str
    kind: str
    received_ms: int
    plaintext: bytes
    disk_class: DiskClass


def prepare(reading: Reading) -> Pending:
    return Pending(
        id=reading.id,
        key=id_bytes(reading.id),
        stream=reading.device,
        kind=str(reading.kind),
        received_ms=ms(reading.received),
        plaintext=encode_reading(reading),
        disk_class=disk_class(reading),
    )


class GroupCommit:
    def __init__(self, session: Session, pressure: DiskPressure, *, flush_max: int) -> None:
        self._session = session
        self._pressure = pressure
        self._flush_max = flush_max
        self.buffer: list[Pending] = []
        self._events: list[Event] = []

    def held(self) -> int:
        """Readings and events waiting for a commit."""
        return len(self.buffer) + len(self._events)

    def take_over(self, other: GroupCommit) -> None:
        """Hold what `other` still held: its database was damaged and replaced."""
        self.buffer = [*other.buffer, *self.buffer]
        self._events = [*other._events, *self._events]

    def add(self, readings: Sequence[Reading], *, urgent: bool = False) -> int:
        """Buffer readings; commit at once when urgent or at `flush_max`. Returns `held()`."""
        self.buffer += [prepare(r) for r in readings]
        if urgent or len(self.buffer) >= self._flush_max:
            self.flush()
        return self.held()

    def add_event(self, event: Event, *, urgent: bool = True) -> int:
        """Buffer an event; commit it now, with whatever readings are buffered, when urgent.
        Returns `held()`."""
        self._events.append(event)
        if urgent or self.held() >= self._flush_max:
            self.flush()
        return self.held()

    def amend(self, readings: Sequence[Reading]) -> int:
        """Replace buffered or committed-but-unsent (`new`) readings by corrected versions
        with the same id; returns how many were replaced."""
        prepared = {p.id: p for p in (prepare(r) for r in readings)}
        replaced = {p.id for p in self.buffer} & prepared.keys()
        self.buffer = [prepared.get(p.id, p) for p in self.buffer]
        session, seals = self._session, self._session.seals
        changed = 0
        with session.transaction():
            for p in prepared.values():
                if p.id in replaced:
                    continue
                changed += session.conn.execute(
                    f"UPDATE readings SET payload = ?, key_id = ?, received_ms = ? "
                    f"WHERE id = ? AND state = {NEW}",
                    (
                        seals.seal(READINGS, p.key, p.stream, p.kind, p.plaintext),
                        seals.active,
                        p.received_ms,
                        p.key,
                    ),
                ).rowcount
        return changed + len(replaced)

    def buffered_ids(self, wanted: Iterable[str]) -> set[str]:
        return {p.id for p in self.buffer} & set(wanted)

    def flush(self) -> list[str]:
        """Commit the buffer; returns the ids committed (empty when the disk is full)."""
        if not self.buffer and not self._events:
            return []
        self._events += self._pressure.check()
        self.buffer = self._pressure.keep(self.buffer)
        pending = self.buffer
        try:
            with self._session.transaction():
                self._insert(pending)
                for event in [*self._events, *self._pressure.recovered()]:
                    self._session.insert_event(event)
        except StoreFullError:
            self._events += self._pressure.refused(len(pending))
            self.buffer = self._pressure.keep(self.buffer)
            return []
        self._pressure.full = False
        self.buffer = []
        self._events = []
        return [p.id for p in pending]

    def _insert(self, pending: list[Pending]) -> None:
        seals = self._session.seals
        key_id = seals.active
        # One read of the OS RNG for the whole group, a distinct 96-bit slice per row.
        nonces = os.urandom(NONCE_BYTES * len(pending))
        rows = [
            (
                p.key,
                p.stream,
                p.kind,
                p.received_ms,
                NEW,
                key_id,
                seals.seal(
                    READINGS,
                    p.key,
                    p.stream,
                    p.kind,
                    p.plaintext,
                    nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES],
                ),
                int(p.disk_class),
            )
            for i, p in enumerate(pending)
        ]
        inserted = self._session.conn.executemany(
            "INSERT OR IGNORE INTO readings (id, stream, kind, received_ms, state, "
            "key_id, payload, disk_class) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        ).rowcount
        self._session.counts.moved(None, NEW, inserted)
