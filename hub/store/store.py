"""The encrypted offline store: readings outbox, devices, events, configuration history.

Synchronous by design: the asyncio daemon calls it from a worker thread. Writes are group
committed: `add` buffers readings, and a small internal flusher thread commits the buffer
`flush_ms` after its oldest reading arrived (or at once when it reaches `flush_max` readings,
or for an urgent — red triage — reading). A thread rather than a caller-driven `tick()`: the
bound on how long a reading sits only in RAM then holds by itself, whatever the caller's loop
is busy with. One lock serialises every use of the single SQLite connection.

Rows that fail authentication (tampered, moved, wrong key) are reported with their row id and
skipped; a reading row found bad is marked unreadable and an error event is written — it is
never deleted, and never crashes a reader.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import sqlite_utils

from hub.gcpause import gc_paused
from hub.ids import ReadingIds
from hub.model import DeviceInfo, Event, EventKind, Kind, Level, Reading
from hub.store import schema
from hub.store.codec import CodecError, decode_reading, decode_value, encode_reading, encode_value
from hub.store.crypto import KEY_BYTES, NONCE_BYTES, AuthError, Sealer, associated_data
from hub.store.database import open_checked
from hub.store.disk import DiskClass, disk_class, disk_free
from hub.store.keys import KeyRing, KeySource, MissingKeyError, WrongKeyError
from hub.store.schema import ACKED, NEW, SENT, UNREADABLE

log = logging.getLogger(__name__)

T = TypeVar("T")
_SQLITE_FULL = 13
_KEY_CHECK = b"hub-store key check"
_IN_CHUNK = 500
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class StoreError(Exception):
    """The store cannot do what was asked; the message says why."""


class StoreFullError(StoreError):
    """SQLite reported the disk (or the configured size cap) full."""


@dataclass(frozen=True)
class Batch:
    id: str
    sequence: int
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class Problem:
    """A stored row that could not be read back."""

    table: str
    row_id: str
    reason: str


@dataclass(frozen=True)
class ReadResult(Generic[T]):
    items: tuple[T, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class DeviceRecord:
    info: DeviceInfo
    bond_state: str
    last_seen: datetime | None
    patient: str


@dataclass(frozen=True)
class ConfigRecord:
    version: str
    sha256: str
    applied: datetime
    source: str


@dataclass(frozen=True)
class StoreStatus:
    queue_depth: int  # readings not yet acknowledged, buffered ones included
    buffered: int
    unreadable: int  # reading rows that failed authentication (kept, never sent)
    disk_low: bool  # free space under the floor: raw streams are not being kept
    disk_full: bool  # SQLite reported full: readings are held in memory
    shed: int  # raw-stream readings not kept because of the floor, since open
    free_bytes: int
    active_key_id: int


@dataclass(frozen=True)
class StoreOptions:
    flush_max: int = 500
    disk_floor_mb: int = 256
    retention_days: int = 7
    event_retention_days: int = 90
    max_db_bytes: int | None = None


@dataclass(frozen=True)
class Purged:
    readings: int
    events: int
    more: bool


@dataclass(frozen=True)
class Rotation:
    key_id: int
    re_encrypted: int
    removed_key_ids: tuple[int, ...]
    kept_key_ids: tuple[int, ...]  # still used by unreadable rows


@dataclass(frozen=True)
class _Table:
    """A table whose `payload` is sealed, and the columns that go into its associated data."""

    name: str
    pk: str
    stream: str
    kind: str


_READINGS = _Table("readings", "id", "stream", "kind")
_EVENTS = _Table("events", "id", "''", "kind")
_DEVICES = _Table("devices", "address", "''", "''")
_SEALED_TABLES = (_READINGS, _EVENTS, _DEVICES)


@dataclass(frozen=True)
class _Pending:
    id: str
    key: bytes
    stream: str
    kind: str
    received_ms: int
    plaintext: bytes
    disk_class: DiskClass


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _id_bytes(reading_id: str) -> bytes:
    """The 16 bytes of a canonical (lower-case, hyphenated) UUID string."""
    if not isinstance(reading_id, str) or not _CANONICAL_UUID.fullmatch(reading_id):
        raise ValueError(f"reading id {reading_id!r} is not a canonical lower-case UUID (hub.ids)")
    return bytes.fromhex(reading_id.replace("-", ""))


def _row_label(pk: Any) -> str:
    if isinstance(pk, bytes):
        if len(pk) != 16:
            return pk.hex()
        h = pk.hex()  # str(uuid.UUID(bytes=pk)), without its ~1 µs of object overhead
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(pk)


_KINDS = {kind.value: kind for kind in Kind}


def _aad(table: _Table, pk: Any, stream: str, kind: str, key_id: int) -> bytes:
    row = pk if isinstance(pk, bytes) else str(pk).encode()
    return associated_data(table.name, row, stream, kind, key_id)


class Store:
    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        source: KeySource,
        ring: KeyRing,
        *,
        flush_ms: int,
        flush_max: int,
        disk_floor_mb: int,
        retention_days: int,
        free_bytes: Callable[[Path], int],
        clock: Callable[[], datetime],
    ) -> None:
        self._conn = conn
        self.path = path
        self._source = source
        self._ring = ring
        self._sealer = Sealer(ring.keys)
        self._flush_s = flush_ms / 1000
        self._flush_max = flush_max
        self._floor = disk_floor_mb * 1024 * 1024
        self._retention = timedelta(days=retention_days)
        self._free_bytes = free_bytes
        self._clock = clock
        self._ids = ReadingIds()
        self._cond = threading.Condition(threading.RLock())
        self._buffer: list[_Pending] = []
        self._events: list[Event] = []
        self._first_at: float | None = None
        self._closed = False
        self._disk_low = False
        self._disk_full = False
        self._shed = 0
        self._flusher = threading.Thread(target=self._run_flusher, name="store-flush", daemon=True)

    # ------------------------------------------------------------ opening and closing

    @classmethod
    def open(
        cls,
        path: Path,
        key_source: KeySource,
        options: StoreOptions | None = None,
        *,
        flush_ms: int = 500,
        flush_max: int = 500,
        disk_floor_mb: int = 256,
        retention_days: int = 7,
        free_bytes: Callable[[Path], int] = disk_free,
        clock: Callable[[], datetime] = _utc_now,
        max_db_bytes: int | None = None,
    ) -> Store:
        """Open (creating, migrating, or replacing a corrupt file as needed) the store.

        `free_bytes` measures free disk space (injectable so the full-disk policy can be
        tested); `max_db_bytes` caps the database file, beyond which SQLite reports full."""
        path = Path(path)
        # Transitional: the keyword options go once callers pass StoreOptions.
        options = options or StoreOptions(
            flush_max=flush_max,
            disk_floor_mb=disk_floor_mb,
            retention_days=retention_days,
            max_db_bytes=max_db_bytes,
        )
        opened = open_checked(path, clock(), max_db_bytes=options.max_db_bytes)
        conn = opened.conn
        try:
            schema.migrate(sqlite_utils.Database(conn, execute_plugins=False))
            ring = _load_ring(conn, key_source)
        except BaseException:
            conn.close()
            raise
        store = cls(
            conn,
            path,
            key_source,
            ring,
            flush_ms=flush_ms,
            flush_max=options.flush_max,
            disk_floor_mb=options.disk_floor_mb,
            retention_days=options.retention_days,
            free_bytes=free_bytes,
            clock=clock,
        )
        if opened.moved_aside is not None:
            store.record_event(
                Event(
                    EventKind.ERROR,
                    clock(),
                    f"the database failed its integrity check and was moved aside to "
                    f"{opened.moved_aside}; a new one was started",
                    details={"moved_to": str(opened.moved_aside), "problem": opened.problem},
                )
            )
        store._flusher.start()
        return store

    def close(self) -> None:
        """Commit what is buffered and close. Safe to call twice."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if self._flusher.is_alive():
            self._flusher.join()
        with self._cond:
            try:
                self._flush_locked()
            finally:
                self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writing readings

    def add(self, readings: Sequence[Reading], *, urgent: bool = False) -> int:
        """Buffer readings for the next group commit; commit at once when `urgent`.

        Every reading is encoded before any is buffered, so a bad one (a non-UUID id, a
        detail value the codec cannot hold) raises ValueError and buffers nothing."""
        pending = [self._prepare(r) for r in readings]
        with self._cond:
            if self._closed:
                raise StoreError("the store is closed")
            self._buffer.extend(pending)
            if self._first_at is None and self._buffer:
                self._first_at = time.monotonic()
            if urgent or len(self._buffer) >= self._flush_max:
                self._flush_locked()
            else:
                self._cond.notify_all()
            return self.held()

    def held(self) -> int:
        with self._cond:
            return len(self._buffer) + len(self._events)

    def known(self, ids: Sequence[str]) -> set[str]:
        with self._cond:
            found = {p.id for p in self._buffer} & set(ids)
            rows = self._select(_READINGS, "id", [_id_bytes(i) for i in ids])
            return found | {_row_label(r[0]) for r in rows}

    def unsent_count(self) -> int:
        with self._cond:
            return self._conn.execute(
                f"SELECT count(*) FROM readings WHERE state = {NEW}"
            ).fetchone()[0]

    def purge_expired(self, now: datetime, *, batch_rows: int = 2000) -> Purged:
        return Purged(self.purge(now), 0, False)

    def flush(self) -> list[str]:
        """Commit the buffer now; returns the ids committed (empty when the disk is full)."""
        with self._cond:
            return self._flush_locked()

    def _prepare(self, reading: Reading) -> _Pending:
        return _Pending(
            id=reading.id,
            key=_id_bytes(reading.id),
            stream=reading.device,
            kind=str(reading.kind),
            received_ms=_ms(reading.received),
            plaintext=encode_reading(reading),
            disk_class=disk_class(reading),
        )

    def _run_flusher(self) -> None:
        with self._cond:
            while not self._closed:
                if self._first_at is None:
                    self._cond.wait()
                    continue
                remaining = self._first_at + self._flush_s - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                try:
                    self._flush_locked()
                except Exception:
                    log.exception("group commit failed; the readings stay buffered")
                    self._first_at = time.monotonic()

    def _flush_locked(self) -> list[str]:
        if not self._buffer and not self._events:
            return []
        self._apply_disk_floor()
        pending = self._buffer
        try:
            with self._transaction():
                key_id = self._ring.active
                seal = self._sealer.seal
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
                        seal(
                            key_id,
                            nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES],
                            p.plaintext,
                            _aad(_READINGS, p.key, p.stream, p.kind, key_id),
                        ),
                        int(p.disk_class),
                    )
                    for i, p in enumerate(pending)
                ]
                self._conn.executemany(
                    "INSERT OR IGNORE INTO readings (id, stream, kind, received_ms, state, "
                    "key_id, payload, disk_class) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                if self._disk_full:
                    self._events.append(self._event_disk_recovered())
                for event in self._events:
                    self._insert_event(event)
        except StoreFullError:
            self._on_full()
            return []
        self._disk_full = False
        self._buffer = []
        self._events = []
        self._first_at = None
        return [p.id for p in pending]

    # ------------------------------------------------------------ outbox

    def next_batch(self, limit: int) -> Batch | None:
        """The oldest `new` readings (id order, so per stream too), marked `sent` under a new
        batch id and the next sequence number; None when nothing is new."""
        with self._cond:
            self._flush_locked()
            with self._transaction():
                good: list[Reading] = []
                after = b""
                while len(good) < limit:
                    rows = self._conn.execute(
                        f"SELECT id, stream, kind, key_id, payload FROM readings "
                        f"WHERE state = {NEW} AND id > ? ORDER BY id LIMIT ?",
                        (after, limit - len(good)),
                    ).fetchall()
                    if not rows:
                        break
                    after = rows[-1][0]
                    good += self._open_readings(rows)
                if not good:
                    return None
                batch_id = self._ids.new()
                cur = self._conn.execute(
                    "INSERT INTO batches (id, sent_ms) VALUES (?, ?)",
                    (batch_id, _ms(self._clock())),
                )
                seq = cur.lastrowid
                # The good rows are exactly the new ones up to the last row read: the rest
                # in that range were just marked unreadable. One statement, not one per row.
                self._conn.execute(
                    f"UPDATE readings SET state = {SENT}, batch_seq = ? "
                    f"WHERE state = {NEW} AND id <= ?",
                    (seq, after),
                )
            return Batch(batch_id, seq, tuple(good))

    def unacked_batches(self, sent_before: datetime) -> list[Batch]:
        """Batches sent before `sent_before` and not acknowledged, with their original id and
        sequence, for re-sending. Returning a batch counts as re-sending it now (its sent time
        moves), so calling this with `now - ack_timeout` re-sends each at most once per timeout."""
        with self._cond, self._transaction():
            now_ms = _ms(self._clock())
            found = self._conn.execute(
                "SELECT seq, id FROM batches WHERE acked_ms IS NULL AND sent_ms < ? ORDER BY seq",
                (_ms(sent_before),),
            ).fetchall()
            batches = []
            for seq, batch_id in found:
                rows = self._conn.execute(
                    f"SELECT id, stream, kind, key_id, payload FROM readings "
                    f"WHERE batch_seq = ? AND state = {SENT} ORDER BY id",
                    (seq,),
                ).fetchall()
                readings = tuple(self._open_readings(rows))
                batches.append(Batch(batch_id, seq, readings))
            self._conn.executemany(
                "UPDATE batches SET sent_ms = ? WHERE seq = ?", [(now_ms, s) for s, _ in found]
            )
            return batches

    def acknowledge(self, batch_id: str) -> int:
        """Mark the rows of a batch acknowledged; an unknown or already acknowledged id → 0."""
        with self._cond, self._transaction():
            row = self._conn.execute(
                "SELECT seq FROM batches WHERE id = ? AND acked_ms IS NULL", (batch_id,)
            ).fetchone()
            if row is None:
                return 0
            self._conn.execute(
                "UPDATE batches SET acked_ms = ? WHERE seq = ?", (_ms(self._clock()), row[0])
            )
            return self._conn.execute(
                f"UPDATE readings SET state = {ACKED} WHERE batch_seq = ? AND state = {SENT}",
                (row[0],),
            ).rowcount

    def purge(self, now: datetime) -> int:
        """Delete acknowledged readings whose batch was acknowledged more than the retention
        ago. Only acknowledged rows are ever deleted."""
        cutoff = _ms(now - self._retention)
        with self._cond, self._transaction():
            deleted = self._conn.execute(
                f"DELETE FROM readings WHERE state = {ACKED} AND batch_seq IN "
                "(SELECT seq FROM batches WHERE acked_ms IS NOT NULL AND acked_ms <= ?)",
                (cutoff,),
            ).rowcount
            self._drop_empty_batches()
        return deleted

    def amend(self, readings: Sequence[Reading]) -> int:
        """Replace readings not yet sent (buffered or `new`) by corrected versions with the
        same id, e.g. receive times corrected once the hub clock synchronised. Rows already
        sent are left as they went out; returns how many were replaced."""
        prepared = {p.id: p for p in (self._prepare(r) for r in readings)}
        with self._cond:
            in_buffer = {p.id for p in self._buffer} & prepared.keys()
            self._buffer = [prepared[p.id] if p.id in in_buffer else p for p in self._buffer]
            with self._transaction():
                key_id = self._ring.active
                changed = 0
                for p in prepared.values():
                    if p.id in in_buffer:
                        continue
                    sealed = self._seal(_READINGS, p.key, p.stream, p.kind, p.plaintext)
                    changed += self._conn.execute(
                        f"UPDATE readings SET payload = ?, key_id = ?, received_ms = ? "
                        f"WHERE id = ? AND state = {NEW}",
                        (sealed, key_id, p.received_ms, p.key),
                    ).rowcount
            return changed + len(in_buffer)

    def received_times(self, kinds: Iterable[Kind], since: datetime) -> dict[Kind, list[datetime]]:
        """Receive times of stored readings of `kinds` since `since` (clear columns only,
        nothing decrypted): what the measurement schedule needs after a restart."""
        wanted = [str(k) for k in kinds]
        with self._cond:
            rows = self._conn.execute(
                f"SELECT kind, received_ms FROM readings WHERE received_ms >= ? AND kind IN "
                f"({', '.join('?' * len(wanted))}) ORDER BY received_ms",
                (_ms(since), *wanted),
            ).fetchall()
            buffered = [(p.kind, p.received_ms) for p in self._buffer if p.kind in wanted]
        found: dict[Kind, list[datetime]] = {}
        for kind, ms in [*rows, *buffered]:
            found.setdefault(Kind(kind), []).append(_from_ms(ms))
        return found

    def reading_ids(self, *, acknowledged: bool | None = None) -> set[str]:
        """Ids of stored readings: all, only acknowledged, or only not yet acknowledged
        (buffered ones included). Clear columns only, nothing decrypted."""
        where = {None: "", True: f"WHERE state = {ACKED}", False: f"WHERE state != {ACKED}"}
        with self._cond:
            rows = self._conn.execute(f"SELECT id FROM readings {where[acknowledged]}")
            found = {_row_label(row[0]) for row in rows}
            if acknowledged is not True:
                found.update(p.id for p in self._buffer)
            return found

    def queue_depth(self) -> int:
        """Readings not yet acknowledged (buffered, new or sent); unreadable rows excluded."""
        with self._cond:
            row = self._conn.execute(
                f"SELECT count(*) FROM readings WHERE state IN ({NEW}, {SENT})"
            ).fetchone()
            return row[0] + len(self._buffer)

    def status(self) -> StoreStatus:
        with self._cond:
            counts = dict(self._conn.execute("SELECT state, count(*) FROM readings GROUP BY state"))
            return StoreStatus(
                queue_depth=counts.get(NEW, 0) + counts.get(SENT, 0) + len(self._buffer),
                buffered=len(self._buffer),
                unreadable=counts.get(UNREADABLE, 0),
                disk_low=self._disk_low,
                disk_full=self._disk_full,
                shed=self._shed,
                free_bytes=self._free_bytes(self.path.parent),
                active_key_id=self._ring.active,
            )

    # ------------------------------------------------------------ reading back

    def readings(self, ids: Iterable[str] | None = None) -> ReadResult[Reading]:
        """Stored readings in id order (all, or those of `ids` that exist), with a problem
        for each row that fails to open. Read only: marks nothing."""
        with self._cond:
            rows = self._select(
                _READINGS,
                "id, stream, kind, key_id, payload",
                None if ids is None else [_id_bytes(i) for i in ids],
            )
            items, problems = [], []
            for pk, stream, kind, key_id, payload in rows:
                try:
                    items.append(self._decode_reading(pk, stream, kind, key_id, payload))
                except (AuthError, CodecError) as exc:
                    problems.append(Problem("readings", _row_label(pk), str(exc)))
            return ReadResult(tuple(items), tuple(problems))

    def events(self) -> ReadResult[Event]:
        with self._cond:
            rows = self._conn.execute(
                "SELECT id, kind, key_id, payload FROM events ORDER BY time_ms, id"
            ).fetchall()
        items, problems = [], []
        for pk, kind, key_id, payload in rows:
            try:
                body = decode_value(self._open(_EVENTS, pk, "", kind, key_id, payload))
                items.append(
                    Event(
                        kind=EventKind(kind),
                        time=body["time"],
                        message=body["message"],
                        device=body["device"],
                        level=Level(body["level"]) if body["level"] else None,
                        details=body["details"],
                    )
                )
            except (AuthError, CodecError, KeyError, TypeError, ValueError) as exc:
                problems.append(Problem("events", _row_label(pk), str(exc)))
        return ReadResult(tuple(items), tuple(problems))

    def devices(self) -> ReadResult[DeviceRecord]:
        with self._cond:
            rows = self._conn.execute(
                "SELECT address, bond_state, last_seen_ms, key_id, payload FROM devices "
                "ORDER BY address"
            ).fetchall()
        items, problems = [], []
        for address, bond_state, last_seen_ms, key_id, payload in rows:
            try:
                body = decode_value(self._open(_DEVICES, address, "", "", key_id, payload))
                items.append(
                    DeviceRecord(
                        info=DeviceInfo(**body["info"]),
                        bond_state=bond_state,
                        last_seen=None if last_seen_ms is None else _from_ms(last_seen_ms),
                        patient=body["patient"],
                    )
                )
            except (AuthError, CodecError, KeyError, TypeError) as exc:
                problems.append(Problem("devices", address, str(exc)))
        return ReadResult(tuple(items), tuple(problems))

    def config_history(self) -> list[ConfigRecord]:
        with self._cond:
            rows = self._conn.execute(
                "SELECT version, sha256, applied_ms, source FROM config_history ORDER BY id"
            ).fetchall()
        return [ConfigRecord(v, h, _from_ms(t), s or "") for v, h, t, s in rows]

    # ------------------------------------------------------------ devices, events, config

    def record_device(
        self,
        info: DeviceInfo,
        *,
        bond_state: str,
        last_seen: datetime | None = None,
        patient: str = "",
    ) -> None:
        """Insert or replace what the hub knows about a device."""
        plaintext = encode_value({"info": dataclasses.asdict(info), "patient": patient})
        with self._cond, self._transaction():
            key_id = self._ring.active
            self._conn.execute(
                "INSERT OR REPLACE INTO devices (address, bond_state, last_seen_ms, key_id, "
                "payload) VALUES (?, ?, ?, ?, ?)",
                (
                    info.address,
                    bond_state,
                    None if last_seen is None else _ms(last_seen),
                    key_id,
                    self._seal(_DEVICES, info.address, "", "", plaintext),
                ),
            )

    def record_event(self, event: Event) -> None:
        """Store an event now (with whatever readings are buffered); held in memory and
        retried if the disk is full."""
        with self._cond:
            self._events.append(event)
            self._flush_locked()

    def record_config(self, version: str, sha256: str, applied: datetime, source: str = "") -> None:
        with self._cond, self._transaction():
            self._conn.execute(
                "INSERT INTO config_history (version, sha256, applied_ms, source) "
                "VALUES (?, ?, ?, ?)",
                (version, sha256, _ms(applied), source),
            )

    # ------------------------------------------------------------ key rotation

    def rotate_key(self, *, chunk: int = 500) -> Rotation:
        """Make a fresh key active, re-encrypt every row sealed with an older key in
        transactions of `chunk` rows (writers carry on in between), then drop old keys that
        no row uses any more. Other processes with the store open switch to the new key at
        their next write (they compare the highest registered key id inside each write)."""
        with self._cond:
            self._flush_locked()
            current = self._source.load()
            if current is None:
                raise MissingKeyError(f"{self._source.describe()} has disappeared")
            ring = current.with_new_key(os.urandom(KEY_BYTES))
            self._source.save(ring)
            with self._transaction():
                self._install(ring)
        total = 0
        while (done := self._reencrypt_pass(chunk)) > 0:
            total += done
        removed, kept = self._drop_unused_keys()
        return Rotation(ring.active, total, removed, kept)

    def _reencrypt_pass(self, chunk: int) -> int:
        done = 0
        for table in _SEALED_TABLES:
            after: Any = b"" if table is not _DEVICES else ""
            skip_bad = f"AND state != {UNREADABLE}" if table is _READINGS else ""
            while True:
                with self._cond, self._transaction():
                    rows = self._conn.execute(
                        f"SELECT {table.pk}, {table.stream}, {table.kind}, key_id, payload "
                        f"FROM {table.name} WHERE key_id != ? AND {table.pk} > ? {skip_bad} "
                        f"ORDER BY {table.pk} LIMIT ?",
                        (self._ring.active, after, chunk),
                    ).fetchall()
                    if not rows:
                        break
                    after = rows[-1][0]
                    updates = []
                    for pk, stream, kind, key_id, payload in rows:
                        try:
                            plaintext = self._open(table, pk, stream, kind, key_id, payload)
                        except AuthError as exc:
                            self._report_bad(table, pk, str(exc))
                            continue
                        sealed = self._seal(table, pk, stream, kind, plaintext)
                        updates.append((self._ring.active, sealed, pk))
                    self._conn.executemany(
                        f"UPDATE {table.name} SET key_id = ?, payload = ? WHERE {table.pk} = ?",
                        updates,
                    )
                    done += len(updates)
        return done

    def _drop_unused_keys(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        with self._cond:
            with self._transaction():
                used = {
                    row[0]
                    for t in _SEALED_TABLES
                    for row in self._conn.execute(f"SELECT DISTINCT key_id FROM {t.name}")
                }
                unused = set(self._ring.keys) - used - {self._ring.active}
                self._conn.executemany(
                    "DELETE FROM keys WHERE key_id = ?", [(k,) for k in sorted(unused)]
                )
            if unused:
                ring = self._ring.without(unused)
                self._source.save(ring)
                self._ring = ring
                self._sealer = Sealer(ring.keys)
            kept = tuple(sorted(set(self._ring.keys) - {self._ring.active}))
            return tuple(sorted(unused)), kept

    # ------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; SQLITE_FULL becomes StoreFullError. Also makes sure this
        connection seals with the newest registered key (another process may have rotated)."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._follow_rotation()
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
                raise StoreFullError(str(exc)) from exc
            raise

    def _follow_rotation(self) -> None:
        newest = self._conn.execute("SELECT max(key_id) FROM keys").fetchone()[0]
        if newest is None or newest == self._ring.active:
            return
        ring = self._source.load()
        if ring is None or newest not in ring.keys:
            log.error("key id %s is registered but %s lacks it", newest, self._source.describe())
            return
        self._install(ring)

    def _install(self, ring: KeyRing) -> None:
        """Use `ring` from now on, registering a check value for any key the database lacks."""
        self._ring = ring
        self._sealer = Sealer(ring.keys)
        register_keys(self._conn, ring, self._sealer)

    def _seal(self, table: _Table, pk: Any, stream: str, kind: str, plaintext: bytes) -> bytes:
        key_id = self._ring.active
        aad = _aad(table, pk, stream, kind, key_id)
        return self._sealer.seal(key_id, os.urandom(NONCE_BYTES), plaintext, aad)

    def _open(
        self, table: _Table, pk: Any, stream: str, kind: str, key_id: int, payload: bytes
    ) -> bytes:
        return self._sealer.open(key_id, payload, _aad(table, pk, stream, kind, key_id))

    def _decode_reading(
        self, pk: bytes, stream: str, kind: str, key_id: int, payload: bytes
    ) -> Reading:
        plaintext = self._open(_READINGS, pk, stream, kind, key_id, payload)
        kind_value = _KINDS.get(kind)
        if kind_value is None:
            raise CodecError(f"unknown kind {kind!r}")
        return decode_reading(plaintext, id=_row_label(pk), device=stream, kind=kind_value)

    def _open_readings(self, rows: list[tuple[Any, ...]]) -> list[Reading]:
        """Decode rows inside a write transaction; bad ones are marked unreadable and
        reported as error events, the rest returned."""
        good = []
        with gc_paused():  # hundreds of acyclic Readings: see hub.gcpause
            for pk, stream, kind, key_id, payload in rows:
                try:
                    good.append(self._decode_reading(pk, stream, kind, key_id, payload))
                except (AuthError, CodecError) as exc:
                    self._report_bad(_READINGS, pk, str(exc))
        return good

    def _report_bad(self, table: _Table, pk: Any, reason: str) -> None:
        label = _row_label(pk)
        log.error("%s row %s cannot be read: %s", table.name, label, reason)
        if table is _READINGS:
            self._conn.execute(f"UPDATE readings SET state = {UNREADABLE} WHERE id = ?", (pk,))
        self._insert_event(
            Event(
                EventKind.ERROR,
                self._clock(),
                f"stored {table.name} row {label} failed authentication and was kept aside",
                details={"table": table.name, "row_id": label, "reason": reason},
            )
        )

    def _insert_event(self, event: Event) -> None:
        key = uuid.UUID(self._ids.new()).bytes
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
        self._conn.execute(
            "INSERT INTO events (id, time_ms, kind, key_id, payload) VALUES (?, ?, ?, ?, ?)",
            (
                key,
                _ms(event.time),
                kind,
                self._ring.active,
                self._seal(_EVENTS, key, "", kind, plaintext),
            ),
        )

    def _select(self, table: _Table, columns: str, keys: Iterable[Any] | None) -> list[Any]:
        if keys is None:
            return self._conn.execute(
                f"SELECT {columns} FROM {table.name} ORDER BY {table.pk}"
            ).fetchall()
        wanted = list(keys)
        rows: list[Any] = []
        for i in range(0, len(wanted), _IN_CHUNK):
            part = wanted[i : i + _IN_CHUNK]
            rows += self._conn.execute(
                f"SELECT {columns} FROM {table.name} WHERE {table.pk} IN "
                f"({', '.join('?' * len(part))})",
                part,
            ).fetchall()
        return sorted(rows, key=lambda row: row[0])

    def _drop_empty_batches(self) -> None:
        self._conn.execute(
            "DELETE FROM batches WHERE acked_ms IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM readings WHERE readings.batch_seq = batches.seq)"
        )

    # ------------------------------------------------------------ full disk

    def _apply_disk_floor(self) -> None:
        """Under the floor: purge acknowledged rows early (raw streams first); if still under
        it, stop keeping raw streams. Raises a status event when crossing the floor."""
        free = self._free_bytes(self.path.parent)
        if free >= self._floor:
            if self._disk_low:
                self._disk_low = False
                self._events.append(
                    Event(EventKind.STATUS, self._clock(), "disk space is above the floor again")
                )
            return
        purged = self._purge_acked_early(DiskClass.RAW)
        if self._free_bytes(self.path.parent) < self._floor:
            purged += self._purge_acked_early(None)
        free = self._free_bytes(self.path.parent)
        low = free < self._floor
        shed = self._shed_raw() if low else 0
        if low and not self._disk_low:
            self._events.append(
                Event(
                    EventKind.STATUS,
                    self._clock(),
                    f"disk space low ({free // 2**20} MB free, floor {self._floor // 2**20} MB):"
                    " raw waveforms are no longer kept; spot measurements and summaries are",
                    details={"free_bytes": free, "purged_early": purged, "shed": shed},
                )
            )
        self._disk_low = low

    def _purge_acked_early(self, only: DiskClass | None) -> int:
        where = "" if only is None else f"AND disk_class = {int(only)}"
        try:
            with self._transaction():
                n = self._conn.execute(
                    f"DELETE FROM readings WHERE state = {ACKED} {where}"
                ).rowcount
                self._drop_empty_batches()
        except StoreFullError:
            log.error("the disk is too full even to purge acknowledged readings")
            return 0
        if n:
            # Give the freed pages back to the file system (auto_vacuum = INCREMENTAL).
            self._conn.execute("PRAGMA incremental_vacuum")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    def _shed_raw(self) -> int:
        kept = [p for p in self._buffer if p.disk_class is not DiskClass.RAW]
        shed = len(self._buffer) - len(kept)
        self._buffer = kept
        self._shed += shed
        if not kept and not self._events:
            self._first_at = None
        return shed

    def _on_full(self) -> None:
        if not self._disk_full:
            log.error("the database is full: %d readings held in memory", len(self._buffer))
            self._events.append(
                Event(
                    EventKind.ERROR,
                    self._clock(),
                    "the disk is full: new readings are held in memory until space is freed",
                )
            )
        self._disk_full = True
        self._shed_raw()
        self._purge_acked_early(None)
        self._first_at = time.monotonic()  # retry after another flush period

    def _event_disk_recovered(self) -> Event:
        return Event(
            EventKind.STATUS,
            self._clock(),
            "the disk has room again: readings held in memory are stored",
        )


def _key_check(sealer: Sealer, key_id: int, nonce: bytes) -> bytes:
    return sealer.seal(key_id, nonce, _KEY_CHECK, associated_data("keys", b"", "", "", key_id))


def register_keys(conn: sqlite3.Connection, ring: KeyRing, sealer: Sealer) -> None:
    """Store a check value for each key of `ring` the database does not know yet."""
    conn.executemany(
        "INSERT OR IGNORE INTO keys (key_id, check_blob, created_ms) VALUES (?, ?, ?)",
        [
            (k, _key_check(sealer, k, os.urandom(NONCE_BYTES)), time.time_ns() // 1_000_000)
            for k in ring.keys
        ],
    )


def _load_ring(conn: sqlite3.Connection, source: KeySource) -> KeyRing:
    """The key ring for this database: created on first use, otherwise checked against the
    database's key check values so a wrong key is refused before anything is written."""
    registered = dict(conn.execute("SELECT key_id, check_blob FROM keys"))
    ring = source.load()
    if ring is None:
        if registered:
            raise MissingKeyError(
                f"{source.describe()} is missing, but the database was encrypted with key ids "
                f"{sorted(registered)}; restore the key file, or erase the store "
                "(`hub store erase`) to start over"
            )
        ring = source.create()
    sealer = Sealer(ring.keys)
    used = {
        row[0]
        for t in _SEALED_TABLES
        for row in conn.execute(f"SELECT DISTINCT key_id FROM {t.name}")
    }
    for key_id, check in registered.items():
        if key_id not in ring.keys:
            if key_id in used:
                raise MissingKeyError(
                    f"{source.describe()} lacks key id {key_id}, which rows of the database "
                    "still use; restore the key file that has it"
                )
            continue
        try:
            opened = sealer.open(key_id, check, associated_data("keys", b"", "", "", key_id))
        except AuthError:
            opened = b""
        if opened != _KEY_CHECK:
            raise WrongKeyError(
                f"key id {key_id} in {source.describe()} does not open this database: it was "
                "encrypted with another key; restore the right key file, or erase the store "
                "(`hub store erase`) to start over"
            )
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "DELETE FROM keys WHERE key_id = ?",
            [(k,) for k in registered if k not in ring.keys],
        )
        register_keys(conn, ring, sealer)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return ring
