"""The encrypted offline store: a thin facade over its jobs, one module each.

- `sealing`: AES-GCM rows bound to their row by associated data, key checks (`crypto`, `keys`)
- `commit`: the buffer and its group commit; `codec`, `values`: what is sealed
- `outbox`: batches out, acknowledgements in; `counts`: O(1) queue depth
- `queries`, `records`: readings, devices, events and config history back
- `rotation`: key rotation; `retention`: bounded purges; `pressure`: the disk floor, full disk
- `session`: the open database they share (transactions, keys, error events); `schema`
- `database`: opening, damage checks; `salvage` (`keywalk`, `walscan`): a damaged file's
  rows copied into a new one and counted, at open and whenever an operation meets damage

Plain synchronous code, used by exactly one thread: in the daemon that is the worker of
`hub.store.owner.StoreOwner`, which also times the group commit; tests and tools may use a
`Store` directly from one thread, calling `flush` themselves. No lock, no thread of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from hub.model import DeviceInfo, Event, EventKind, Kind, Reading
from hub.store import queries, records, retention, rotation, schema
from hub.store.api import (
    Batch,
    ConfigRecord,
    Damage,
    DeviceRecord,
    Purged,
    ReadResult,
    Rotation,
    StoreError,
    StoreOptions,
    StoreStatus,
)
from hub.store.commit import GroupCommit
from hub.store.database import FileWatch, Opened, is_damage, open_checked, replace_damaged
from hub.store.disk import RAW_KINDS, DiskClass, disk_free
from hub.store.keys import KeySource
from hub.store.outbox import Outbox
from hub.store.pressure import DiskPressure
from hub.store.salvage import NOTHING, describe, report, salvage_file
from hub.store.schema import UNREADABLE
from hub.store.sealing import load_ring
from hub.store.session import Session

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _session(
    opened: Opened, path: Path, key_source: KeySource, clock: Callable[[], datetime]
) -> Session:
    conn = opened.conn
    try:
        schema.migrate(conn)
        return Session(conn, path, key_source, load_ring(conn, key_source), clock)
    except BaseException:
        conn.close()
        raise


def _replacing_damage(
    method: Callable[Concatenate[Store, P], R],
) -> Callable[Concatenate[Store, P], R]:
    """A store operation that meets a damaged database (the file changed under the store, or
    SQLite reports it corrupt) replaces it with salvage (`Store._replace_damaged`) and runs
    once more on the new one: what the store held in memory is kept."""

    @functools.wraps(method)
    def guarded(self: Store, *args: P.args, **kwargs: P.kwargs) -> R:
        problem = self._watch.problem()
        if problem is not None:
            self._replace_damaged(problem)
        try:
            result = method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            self._replace_damaged(str(exc))
            result = method(self, *args, **kwargs)
        self._watch.settle()
        return result

    return guarded


class Store:
    def __init__(
        self, session: Session, options: StoreOptions, free_bytes: Callable[[Path], int]
    ) -> None:
        self.path = session.path
        self._options = options
        self._free_bytes = free_bytes
        self._attach(session)
        self._retention = timedelta(days=options.retention_days)
        self._event_retention = timedelta(days=options.event_retention_days)
        self._closed = False
        self.damage: Damage | None = None  # the last damaged database replaced

    def _attach(self, session: Session, held: GroupCommit | None = None) -> None:
        """Work on `session`'s database; `held`: the commit buffer of a replaced one."""
        self._session = session
        self._pressure = DiskPressure(
            session, floor_mb=self._options.disk_floor_mb, free_bytes=self._free_bytes
        )
        self._commit = GroupCommit(session, self._pressure, flush_max=self._options.flush_max)
        if held is not None:
            self._commit.take_over(held)
        self._outbox = Outbox(session)
        self._watch = FileWatch(self.path)

    # ------------------------------------------------------------ opening and closing

    @classmethod
    def open(
        cls,
        path: Path,
        key_source: KeySource,
        options: StoreOptions | None = None,
        *,
        free_bytes: Callable[[Path], int] = disk_free,
        clock: Callable[[], datetime] = utc_now,
    ) -> Store:
        """Open (creating, migrating, or replacing a corrupt file as needed) the store.

        `free_bytes` measures free disk space and `clock` tells the time (both injectable so
        the full-disk policy and retention can be tested)."""
        path = Path(path)
        options = options or StoreOptions()
        opened = open_checked(path, clock(), max_db_bytes=options.max_db_bytes)
        store = cls(_session(opened, path, key_source, clock), options, free_bytes)
        if opened.problem is not None:
            store._salvage(opened, expected=None)
        return store

    def _replace_damaged(self, problem: str) -> None:
        """The open database is damaged: close it, keep it aside, start a new one with what
        it still holds salvaged into it, and go on holding what was buffered."""
        session = self._session
        expected = self._outbox.unacknowledged()
        with contextlib.suppress(sqlite3.Error):  # closing a damaged file may fail
            session.conn.close()
        opened = replace_damaged(
            self.path, session.clock(), problem, max_db_bytes=self._options.max_db_bytes
        )
        self._attach(_session(opened, self.path, session.source, session.clock), self._commit)
        self._salvage(opened, expected=expected)

    def _salvage(self, opened: Opened, *, expected: int | None) -> None:
        """Salvage the file `opened` moved aside; log, keep and record what happened."""
        kept = opened.moved_aside
        found = NOTHING if kept is None else salvage_file(kept, self._session)
        clock = self._session.clock
        problem = opened.problem or ""
        self.damage = report(problem, kept, found, clock().isoformat(), expected=expected)
        line = describe(self.damage)
        log.error("%s", line)
        details = dataclasses.asdict(self.damage)
        self.record_event(Event(EventKind.ERROR, clock(), line, details=details))

    def close(self) -> None:
        """Commit what is buffered and close. Safe to call twice."""
        if self._closed:
            return
        try:
            self.flush()  # a damaged database met here is replaced too: nothing held is lost
        finally:
            self._closed = True
            self._session.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writing readings

    @_replacing_damage
    def add(self, readings: Sequence[Reading], *, urgent: bool = False) -> int:
        """Buffer readings for the next group commit; commit at once when `urgent` or at
        `flush_max`. Returns how many readings and events are still held uncommitted.
        A reading the codec refuses raises ValueError and nothing is buffered."""
        if self._closed:
            raise StoreError("the store is closed")
        return self._commit.add(readings, urgent=urgent)

    @_replacing_damage
    def flush(self) -> list[str]:
        """Commit the buffer now; returns the ids committed (empty when the disk is full)."""
        return self._commit.flush()

    def held(self) -> int:
        """Readings and events buffered, not yet committed."""
        return self._commit.held()

    @_replacing_damage
    def amend(self, readings: Sequence[Reading]) -> int:
        """Replace readings not yet sent (buffered or `new`) by corrected versions with the
        same id, e.g. receive times corrected once the hub clock synchronised. Rows already
        sent are left as they went out; returns how many were replaced."""
        return self._commit.amend(readings)

    @_replacing_damage
    def purge_expired(self, now: datetime, *, batch_rows: int = 2000) -> Purged:
        """One bounded retention step (see `hub.store.retention`); call again while `more`."""
        return retention.purge_expired(
            self._session,
            now,
            retention=self._retention,
            event_retention=self._event_retention,
            batch_rows=batch_rows,
        )

    # ------------------------------------------------------------ outbox

    @_replacing_damage
    def next_batch(self, limit: int) -> Batch | None:
        """Commit the buffer, then the oldest `new` readings as a batch (see `Outbox`)."""
        self._commit.flush()
        return self._outbox.next_batch(limit)

    @_replacing_damage
    def unacked_batches(self, sent_before: datetime) -> list[Batch]:
        return self._outbox.unacked_batches(sent_before)

    @_replacing_damage
    def acknowledge(self, batch_id: str) -> int:
        return self._outbox.acknowledge(batch_id)

    def unsent_count(self) -> int:
        """Readings not yet in any batch: committed in state `new`, and buffered (the next
        `next_batch` commits those first). No query. Counting the buffered ones matters: the
        uplink asks right after a reading is added, before the group commit."""
        return self._outbox.unsent_count() + len(self._commit.buffer)

    def queue_depth(self) -> int:
        """Readings not yet acknowledged (buffered, new or sent); unreadable rows excluded.
        No query: maintained counts."""
        return self._outbox.unacknowledged() + len(self._commit.buffer)

    # ------------------------------------------------------------ reading back

    @_replacing_damage
    def known(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the store holds, committed or buffered (primary keys only)."""
        wanted = list(ids)
        return self._commit.buffered_ids(wanted) | queries.known(self._session.conn, wanted)

    @_replacing_damage
    def reading_ids(self, *, acknowledged: bool | None = None) -> set[str]:
        """Ids of stored readings: all, only acknowledged, or only not yet acknowledged
        (buffered ones included). Walks the table: for the demo and tests."""
        found = queries.reading_ids(self._session.conn, acknowledged)
        if acknowledged is not True:
            found |= {p.id for p in self._commit.buffer}
        return found

    @_replacing_damage
    def received_times(self, kinds: Iterable[Kind], since: datetime) -> dict[Kind, list[datetime]]:
        """Receive times of spot measurements and summaries of `kinds` since `since`, buffered
        ones included (clear columns, by index, nothing decrypted): what the measurement
        schedule asks. Raw stream kinds are not indexed by time: asking for one is an error."""
        wanted = [str(k) for k in kinds]
        raw = sorted(set(wanted) & {str(k) for k in RAW_KINDS})
        if raw:
            raise ValueError(f"receive times are kept for spot measurements, not {raw}")
        rows = queries.received_times(self._session.conn, wanted, since)
        buffered = [
            (p.kind, p.received_ms)
            for p in self._commit.buffer
            if p.kind in wanted and p.disk_class is DiskClass.KEPT
        ]
        return queries.by_kind([*rows, *buffered])

    @_replacing_damage
    def readings(self, ids: Iterable[str] | None = None) -> ReadResult[Reading]:
        """Committed readings in id order (all, or those of `ids` that exist), with a problem
        for each row that fails to open. Read only: marks nothing."""
        return queries.readings(self._session.conn, self._session.seals, ids)

    @_replacing_damage
    def events(self, since: datetime | None = None) -> ReadResult[Event]:
        return records.events(self._session, since)

    @_replacing_damage
    def devices(self) -> ReadResult[DeviceRecord]:
        return records.devices(self._session)

    @_replacing_damage
    def config_history(self) -> list[ConfigRecord]:
        return records.config_history(self._session)

    @_replacing_damage
    def status(self) -> StoreStatus:
        """Counts, disk state, key and last purge; costs the same whatever the store's age."""
        at, purged_rows, purged_events = retention.last_purge(self._session.conn)
        return StoreStatus(
            queue_depth=self.queue_depth(),
            buffered=len(self._commit.buffer),
            unreadable=self._session.counts[UNREADABLE],
            disk_low=self._pressure.low,
            disk_full=self._pressure.full,
            shed=self._pressure.shed,
            free_bytes=self._pressure.free(),
            active_key_id=self._session.seals.active,
            last_purge=None if at is None else at.isoformat(),
            last_purge_rows=purged_rows,
            last_purge_events=purged_events,
            damage=self.damage,
        )

    # ------------------------------------------------------------ devices, events, config

    @_replacing_damage
    def record_device(
        self,
        info: DeviceInfo,
        *,
        bond_state: str,
        last_seen: datetime | None = None,
        patient: str = "",
    ) -> None:
        """Insert or replace what the hub knows about a device."""
        records.record_device(self._session, info, bond_state, last_seen, patient)

    @_replacing_damage
    def record_event(self, event: Event, *, urgent: bool = True) -> int:
        """Store an event: now (with whatever readings are buffered) when urgent, else with
        the next group commit; held in memory and retried if the disk is full. Returns
        `held()`."""
        return self._commit.add_event(event, urgent=urgent)

    @_replacing_damage
    def record_config(self, version: str, sha256: str, applied: datetime, source: str = "") -> None:
        records.record_config(self._session, version, sha256, applied, source)

    @_replacing_damage
    def keep_downlink(self, signed: bytes) -> None:
        """Keep the hospital's config in force as signed, sealed (it names the patient)."""
        records.keep_downlink(self._session, signed)

    @_replacing_damage
    def kept_downlink(self) -> bytes | None:
        return records.kept_downlink(self._session)

    @_replacing_damage
    def rotate_key(self, *, chunk: int = 500) -> Rotation:
        """Make a fresh key active and re-encrypt every row (see `hub.store.rotation`)."""
        self._commit.flush()
        return rotation.rotate_key(self._session, chunk=chunk)
