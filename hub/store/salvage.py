"""Salvage: what a damaged database still holds, copied into the new one and counted.

The damaged file stays where `database.move_aside` put it, untouched; salvage works on a
scratch copy beside it (its WAL re-chained, see `walscan`), read through SQLite with
`keywalk` and, where that met damage, page by page with `pagescan`. Every row is
authenticated (AES-GCM, bound to its row) before it is copied, and copied verbatim:
unacknowledged readings go in as `new` with their ids, so they are sent again (the receiver
de-duplicates by id); events, devices, config history and the hospital's config in force
as they were. Acknowledged readings are already at the hospital and stay in the kept file.

What could not be salvaged is counted, never guessed away:
- `unreadable`: unacknowledged reading rows found whose payload fails authentication or
  decoding, and rows whose key was found but whose columns could not be read;
- `missing`: ids the outbox indexes (`readings_new`, `readings_sent`, other pages than the
  table's) still list but the table walk did not reach;
- `damaged_ranges`, `pages_missing` and `unknown_pages`: stretches of keys no seek could
  reach, pages the file's header counts that are not in the file, pages of no b-tree type —
  losses the indexes may not list, so when any is non-zero the loss count is a lower bound
  and `lost_at_most` estimates the upper one (see there), unless the caller knew how many
  unacknowledged readings there were (a store damaged while open: then the loss is that
  number less what was salvaged, exactly).
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.model import Kind
from hub.store.api import Damage, StoreError
from hub.store.crypto import AuthError
from hub.store.disk import DiskClass
from hub.store.keywalk import KEY_BYTES, KeyWalk, Row, readable_rows
from hub.store.pagescan import classify, page_rows
from hub.store.schema import ACKED, NEW, SENT
from hub.store.sealing import DEVICES, DOWNLINK, EVENTS, Seals, Table
from hub.store.session import Session
from hub.store.values import CodecError
from hub.store.walscan import rechain

_AUTH_FAILURES = (AuthError, CodecError)
_DEFAULT_PAGE = 4096
_LEAST_ROW = 16 + 12 + 16  # a reading row holds at least its id, its nonce and its tag
_KINDS = frozenset(kind.value for kind in Kind)


@dataclass(frozen=True)
class Salvaged:
    readings: int  # unacknowledged readings copied into the new database
    unreadable: int
    missing: int
    damaged_ranges: int
    pages_missing: int
    unknown_pages: int  # pages of no b-tree type, when pages were scanned (see `pagescan`)
    page_size: int  # the damaged file's (as its header says; SQLite's default if unreadable)
    row_bytes: int  # the smallest unacknowledged reading row found (0: none found)
    events: int
    devices: int
    configs: int
    stopped: str = ""  # why salvage stopped part way (a full disk, an I/O error), if it did


def salvage_file(kept: Path, target: Session) -> Salvaged:
    """Copy what `kept` (a damaged database moved aside, with its WAL) still holds into
    `target`, from a scratch copy removed afterwards."""
    truncation = _truncation(kept)
    prefix = f".{kept.name}.salvage-"
    try:
        with tempfile.TemporaryDirectory(prefix=prefix, dir=kept.parent) as scratch:
            copy = Path(scratch) / "salvage.db"
            shutil.copyfile(kept, copy)
            wal = kept.with_name(kept.name + "-wal")
            if wal.exists():
                copy.with_name(copy.name + "-wal").write_bytes(rechain(wal.read_bytes()))
            source = sqlite3.connect(copy, isolation_level=None)
            try:
                # Lets SQLite read a file shorter than its header says (as `.recover` does).
                source.execute("PRAGMA writable_schema = ON")
                found = _salvage(source, target, copy, truncation["page_size"])
            finally:
                source.close()
    except (OSError, sqlite3.Error, StoreError) as exc:
        return _stopped(kept, target, truncation["page_size"], exc)
    return Salvaged(**found, **truncation)


def _stopped(kept: Path, target: Session, page_size: int, exc: BaseException) -> Salvaged:
    """Salvage failed part way: what reached the new database counts as salvaged (it holds
    nothing else yet), every page of the kept file as possibly lost."""
    try:
        pages = kept.stat().st_size // page_size
    except OSError:
        pages = 0
    return dataclasses.replace(
        NOTHING,
        readings=target.counts[NEW],
        pages_missing=pages,
        page_size=page_size,
        stopped=f"{type(exc).__name__}: {exc}",
    )


def _truncation(path: Path) -> dict[str, int]:
    """The page size, and the pages the database header counts that are not in the file (a
    truncation): 0 when the header's count is not valid (its version-valid-for field
    disagrees) or cannot be read."""
    try:
        with path.open("rb") as f:
            header = f.read(100)
        size = path.stat().st_size
    except OSError:
        header, size = b"", 0
    page_size = _page_size(header)
    if page_size is None or header[24:28] != header[92:96]:
        return {"page_size": page_size or _DEFAULT_PAGE, "pages_missing": 0}
    missing = max(0, int.from_bytes(header[28:32], "big") - size // page_size)
    return {"page_size": page_size, "pages_missing": missing}


def _page_size(header: bytes) -> int | None:
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        return None
    size = int.from_bytes(header[16:18], "big")
    size = 65536 if size == 1 else size
    return size if size >= 512 else None


def lost_at_most(found: Salvaged) -> int:
    """An upper estimate of the unacknowledged readings on pages that could not be read, on
    top of those counted: as if each such page — missing from the file, of no b-tree type,
    or a damaged range no seek reached (at least a page) — were full of the smallest reading
    row found, each counted without the page's or the record's overheads."""
    pages = found.pages_missing + found.unknown_pages + found.damaged_ranges
    if not pages:
        return 0
    return pages * (found.page_size // (found.row_bytes or _LEAST_ROW))


class _Readings:
    """The unacknowledged readings salvaged so far, and those found but not salvageable."""

    def __init__(self, target: Session) -> None:
        self._target = target
        self.copied = 0
        self.row_bytes = 0  # the smallest reading row found (0: none yet)
        self.seen: set[bytes] = set()
        self.failed: set[bytes] = set()

    def take(self, rows: list[Row]) -> None:
        """Rows of (id, stream, kind, received_ms, disk_class, key_id, payload, state)."""
        good = []
        for row in rows:
            if row[-1] == ACKED or row[0] in self.seen:
                continue
            if _authentic_reading(self._target.seals, row):
                good.append(row[:-1])
            elif _looks_stored(row):
                self.failed.add(row[0])
            else:
                continue  # not a reading: garbage a damaged page decoded into
            self.seen.add(row[0])
            # Numbers as 1 byte, no record header: never more than the row takes on a page.
            size = sum(len(v) if isinstance(v, str | bytes) else 1 for v in row[:-1])
            self.row_bytes = min(self.row_bytes or size, size)
        self.copied += _insert_readings(self._target, good)


def _salvage(
    source: sqlite3.Connection, target: Session, copy: Path, page_size: int
) -> dict[str, int]:
    kept = str(int(DiskClass.KEPT))
    disk_class = "disk_class" if "disk_class" in _columns(source) else kept
    walk = KeyWalk(
        source, "readings", f"id, stream, kind, received_ms, {disk_class}, key_id, payload, state"
    )
    found = _Readings(target)
    for chunk in walk.chunks():
        found.take(chunk)
    listed = _listed_unacked(source)
    events = _copy_events(source, target)
    others = {
        "events": events.copied,
        "devices": _copy_small(
            source, target, DEVICES, "address, bond_state, last_seen_ms, key_id, payload"
        ),
        "configs": _copy_configs(source, target)
        + _copy_small(source, target, DOWNLINK, "name, key_id, payload"),
    }
    unknown_pages = 0
    if walk.damaged_ranges or walk.bad_keys:
        # Pages a seek could not reach may still be sound (see `pagescan`).
        pages = classify(copy, page_size)
        unknown_pages = pages.unknown
        selected = (
            f"id, stream, kind, received_ms, coalesce(disk_class, {kept}), key_id, payload, state"
        )
        try:
            for rows in page_rows(copy, pages.index, _columns(target.conn), selected):
                found.take(rows)
        except sqlite3.DatabaseError:
            pass  # the copy's schema cannot be written: the walk's rows are what there is
    failed = found.failed | (set(walk.bad_keys) - found.seen)
    # A flipped byte in a row's key shows the row under a key no index lists, and leaves the
    # listed key unfound: one reading, not two. Unlisted failures and listed keys not found
    # are paired, so what is counted once is not counted again.
    unlisted_failed = len(failed - listed)
    not_found = len(listed - found.seen - failed)
    return {
        "readings": found.copied,
        "unreadable": len(failed),
        "missing": max(0, not_found - unlisted_failed),
        "damaged_ranges": walk.damaged_ranges + events.damaged_ranges,
        "unknown_pages": unknown_pages,
        "row_bytes": found.row_bytes,
        **others,
    }


def _columns(conn: sqlite3.Connection) -> list[str]:
    """The readings table's columns in order (none when its schema cannot be read)."""
    try:
        return [row[1] for row in conn.execute("PRAGMA table_info(readings)")]
    except sqlite3.DatabaseError:
        return []


def _looks_stored(row: Row) -> bool:
    """A row that fails authentication but has the shape of a stored reading (a 16-byte id,
    a kind the hub knows): a damaged reading, counted as lost. Garbage over a page can parse
    as cells too; those are not readings and are not counted."""
    pk, stream, kind = row[:3]
    return (
        isinstance(pk, bytes)
        and len(pk) == KEY_BYTES
        and isinstance(stream, str)
        and kind in _KINDS
    )


def _authentic_reading(seals: Seals, row: Row) -> bool:
    pk, stream, kind, received_ms, _disk, key_id, payload, _state = row
    if not (
        isinstance(pk, bytes)
        and isinstance(stream, str)
        and isinstance(kind, str)
        and isinstance(received_ms, int)
        and isinstance(key_id, int)
    ):
        return False
    try:
        seals.open_reading(pk, stream, kind, key_id, payload)
    except _AUTH_FAILURES:
        return False
    return True


def _insert_readings(target: Session, rows: list[Row]) -> int:
    with target.transaction():
        inserted = target.conn.executemany(
            "INSERT OR IGNORE INTO readings (id, stream, kind, received_ms, disk_class, key_id, "
            f"payload, state) VALUES (?, ?, ?, ?, ?, ?, ?, {NEW})",
            rows,
        ).rowcount
        target.counts.moved(None, NEW, inserted)
    return inserted


def _listed_unacked(source: sqlite3.Connection) -> set[bytes]:
    """Ids the outbox indexes list as new or sent, as far as their pages can be read."""
    listed: set[bytes] = set()
    new = KeyWalk(source, "readings INDEXED BY readings_new", "id", f"state = {NEW} AND ")
    for chunk in new.chunks():
        listed.update(row[0] for row in chunk)
    try:
        for (pk,) in source.execute(
            f"SELECT id FROM readings INDEXED BY readings_sent WHERE state = {SENT}"
        ):
            listed.add(pk)
    except sqlite3.DatabaseError:
        pass  # what was read before the failure is kept; the rest is a damaged range
    return listed


@dataclass(frozen=True)
class _Copied:
    copied: int
    damaged_ranges: int


def _copy_events(source: sqlite3.Connection, target: Session) -> _Copied:
    walk = KeyWalk(source, "events", "id, time_ms, kind, key_id, payload")
    copied = 0
    for chunk in walk.chunks():
        good = [row for row in chunk if _opens(target.seals, EVENTS, row[0], row[2], *row[3:])]
        with target.transaction():
            copied += target.conn.executemany(
                "INSERT OR IGNORE INTO events (id, time_ms, kind, key_id, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                good,
            ).rowcount
    return _Copied(copied, walk.damaged_ranges)


def _copy_small(source: sqlite3.Connection, target: Session, table: Table, columns: str) -> int:
    """A table of a handful of text-keyed rows (`columns`: its key first, its key id and
    payload last): read whole, or as far as it can be, and copied where it authenticates."""
    rows = readable_rows(source, f"SELECT {columns} FROM {table.name}")
    good = [row for row in rows if _opens(target.seals, table, row[0], "", *row[-2:])]
    with target.transaction():
        return target.conn.executemany(
            f"INSERT OR IGNORE INTO {table.name} ({columns}) "
            f"VALUES ({', '.join('?' * len(columns.split(',')))})",
            good,
        ).rowcount


def _copy_configs(source: sqlite3.Connection, target: Session) -> int:
    rows = readable_rows(
        source, "SELECT version, sha256, applied_ms, source FROM config_history ORDER BY id"
    )
    with target.transaction():
        return target.conn.executemany(
            "INSERT INTO config_history (version, sha256, applied_ms, source) VALUES (?, ?, ?, ?)",
            [row for row in rows if all(isinstance(v, str) for v in row[:2])],
        ).rowcount


def _opens(seals: Seals, table: Table, pk: Any, kind: Any, key_id: Any, payload: Any) -> bool:
    if not isinstance(key_id, int) or not isinstance(kind, str):
        return False
    try:
        seals.open(table, pk, "", kind, key_id, payload)
    except (AuthError, TypeError, AttributeError):
        return False
    return True


def report(
    problem: str,
    kept: Path | None,
    found: Salvaged,
    at: str,
    *,
    expected: int | None,
) -> Damage:
    """The damage as the status shows it. `expected`: the unacknowledged readings the store
    knew it held when the damage showed (None at open, when nobody knows)."""
    lost = found.unreadable + found.missing
    at_most = lost + lost_at_most(found)
    if expected is not None:
        lost = at_most = max(lost, expected - found.readings)
    return Damage(
        at=at,
        problem=f"{problem}; salvage stopped: {found.stopped}" if found.stopped else problem,
        kept_aside=str(kept) if kept is not None else "",
        salvaged=found.readings,
        lost=lost,
        lost_at_most=at_most,
        damaged_ranges=found.damaged_ranges,
        pages_missing=found.pages_missing,
        events=found.events,
        devices=found.devices,
        configs=found.configs,
    )


def describe(damage: Damage) -> str:
    """One log line: counts and the kept file, nothing from inside the rows."""
    lost = (
        f"{damage.lost}"
        if damage.lost == damage.lost_at_most
        else f"{damage.lost} to {damage.lost_at_most} (estimated)"
    )
    return (
        f"the store's database was damaged ({damage.problem}): {damage.salvaged} unacknowledged "
        f"readings salvaged into a new database to be sent again, {lost} lost; the damaged "
        f"file is kept at {damage.kept_aside or '(nothing left to keep)'}"
    )


NOTHING = Salvaged(
    readings=0,
    unreadable=0,
    missing=0,
    damaged_ranges=0,
    pages_missing=0,
    unknown_pages=0,
    page_size=_DEFAULT_PAGE,
    row_bytes=0,
    events=0,
    devices=0,
    configs=0,
)
