"""Disk pressure: the free-space floor, shedding raw streams, and a full disk.

Under the floor the store first purges acknowledged rows early (raw streams first, the
earliest received first, a bounded step per commit so intake goes on); once a step finds
nothing left to take and space is still short, it stops keeping raw streams (`DiskClass.RAW`:
continuous SpO2, heart rate, stream-minute blocks); spot measurements and summaries are kept.
When SQLite reports the disk full, readings are held in memory and retried. Nothing
unacknowledged is ever deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from hub.model import Event, EventKind
from hub.store.api import StoreFullError
from hub.store.disk import DiskClass
from hub.store.retention import delete_acked
from hub.store.session import Session

log = logging.getLogger(__name__)

# Acknowledged rows purged early per commit under the floor: a short transaction, so intake
# goes on; the next commit purges the next step.
EARLY_PURGE_ROWS = 5000


class Classified(Protocol):
    @property
    def disk_class(self) -> DiskClass: ...


C = TypeVar("C", bound=Classified)


class DiskPressure:
    def __init__(
        self, session: Session, *, floor_mb: int, free_bytes: Callable[[Path], int]
    ) -> None:
        self._session = session
        self._floor = floor_mb * 1024 * 1024
        self._free_bytes = free_bytes
        self.low = False  # under the floor: raw streams are not kept
        self.full = False  # SQLite reported full: readings are held in memory
        self.shed = 0  # raw-stream readings not kept, since open

    def free(self) -> int:
        return self._free_bytes(self._session.path.parent)

    def check(self) -> list[Event]:
        """Before a commit: under the floor, purge acknowledged rows early (raw streams
        first); still under it, stop keeping raw streams. Events for crossing the floor."""
        free = self.free()
        if free >= self._floor:
            if not self.low:
                return []
            self.low = False
            return [
                Event(
                    EventKind.STATUS, self._session.clock(), "disk space is above the floor again"
                )
            ]
        purged = self._purge_acked_early(DiskClass.RAW)
        if purged < EARLY_PURGE_ROWS and self.free() < self._floor:
            purged += self._purge_acked_early(None)
        free = self.free()
        # While whole steps are purged, the next commit frees more before anything is shed.
        was_low = self.low
        self.low = free < self._floor and purged < EARLY_PURGE_ROWS
        if not self.low or was_low:
            return []
        return [
            Event(
                EventKind.STATUS,
                self._session.clock(),
                f"disk space low ({free // 2**20} MB free, floor {self._floor // 2**20} MB):"
                " raw waveforms are no longer kept; spot measurements and summaries are",
                details={"free_bytes": free, "purged_early": purged},
            )
        ]

    def keep(self, pending: Sequence[C]) -> list[C]:
        """What of `pending` may be written now: raw streams are shed while low or full."""
        if not (self.low or self.full):
            return list(pending)
        kept = [p for p in pending if p.disk_class is not DiskClass.RAW]
        self.shed += len(pending) - len(kept)
        return kept

    def refused(self, held: int) -> list[Event]:
        """SQLite reported full: free what acknowledged rows hold; an event the first time."""
        events = []
        if not self.full:
            log.error("the database is full: %d readings held in memory", held)
            events.append(
                Event(
                    EventKind.ERROR,
                    self._session.clock(),
                    "the disk is full: new readings are held in memory until space is freed",
                )
            )
        self.full = True
        self._purge_acked_early(None)
        return events

    def recovered(self) -> list[Event]:
        """The event to commit with the first group written after the disk was full."""
        if not self.full:
            return []
        return [
            Event(
                EventKind.STATUS,
                self._session.clock(),
                "the disk has room again: readings held in memory are stored",
            )
        ]

    def _purge_acked_early(self, only: DiskClass | None) -> int:
        """One bounded step: the earliest received acknowledged rows (of class `only`)."""
        conn = self._session.conn
        try:
            with self._session.transaction():
                n = delete_acked(conn, limit=EARLY_PURGE_ROWS, only=only)
        except StoreFullError:
            log.error("the disk is too full even to purge acknowledged readings")
            return 0
        if n:
            # Give the freed pages back to the file system (auto_vacuum = INCREMENTAL).
            conn.execute("PRAGMA incremental_vacuum")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n
