"""The store's public values and errors: what its callers get back and hand in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from hub.model import DeviceInfo, Reading

T = TypeVar("T")


class StoreError(Exception):
    """The store cannot do what was asked; the message says why."""


class StoreFullError(StoreError):
    """SQLite reported the disk (or the configured size cap) full."""


@dataclass(frozen=True)
class StoreOptions:
    """How a store behaves once open (the `[store]` section of the configuration, mostly)."""

    flush_max: int = 500  # buffered readings that trigger a commit at once
    disk_floor_mb: int = 256  # under this much free space raw streams are not kept
    retention_days: int = 7  # acknowledged readings are kept this long after receipt
    event_retention_days: int = 90
    max_db_bytes: int | None = None  # a cap on the database file (SQLite reports full)


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
class Damage:
    """A damaged database found (at open or while open), replaced, and what was salvaged.

    Counts of rows only, never their contents: this goes into the log and the status."""

    at: str  # ISO time it was found
    problem: str  # what SQLite (or the WAL check) reported
    kept_aside: str  # where the damaged file was kept for analysis
    salvaged: int  # unacknowledged readings copied into the new database, to be sent again
    lost: int  # unacknowledged readings found damaged, or listed but not found: at least
    lost_at_most: int  # equal to `lost` when exact; else an upper estimate (see salvage)
    damaged_ranges: int  # stretches of rows no read could reach
    pages_missing: int  # pages the file's header counts that are not in it (truncation)
    events: int  # events, devices and configs (history and the one in force) salvaged
    devices: int
    configs: int


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
    last_purge: str | None = None  # ISO time of the last retention purge step, if any
    last_purge_rows: int = 0  # readings that purge run deleted (so far, if it goes on)
    last_purge_events: int = 0
    damage: Damage | None = None  # the last damaged database this store replaced, if any


@dataclass(frozen=True)
class Purged:
    """One bounded retention step: what it deleted and whether expired rows remain."""

    readings: int
    events: int
    more: bool


@dataclass(frozen=True)
class Rotation:
    key_id: int
    re_encrypted: int
    removed_key_ids: tuple[int, ...]
    kept_key_ids: tuple[int, ...]  # still used by unreadable rows
