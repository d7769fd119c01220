"""Schema versions and forward migrations.

`MIGRATIONS[n - 1]` turns a version n-1 database into version n. Migrations are append only:
a released step is never edited, so a hub that skipped updates replays every step in order.
Each step and its `schema_version` row commit together.

Clear columns are only what queries need (ids, stream, kind, times, states, key ids); every
health value, device detail and event text sits in a sealed `payload`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.store.disk import RAW_KINDS, DiskClass

if TYPE_CHECKING:  # imported by `migrate` only when a step is due
    import sqlite_utils

# readings.state
NEW, SENT, ACKED, UNREADABLE = 0, 1, 2, 3


def _v1(db: sqlite_utils.Database) -> None:
    """Readings outbox, batches, devices, events, key checks."""
    db["schema_version"].create({"version": int, "applied_ms": int}, pk="version")
    # WITHOUT ROWID: the 16-byte UUIDv7 id is the only b-tree key, and ids grow with time,
    # so inserts append. `payload` is nonce || AES-GCM ciphertext || tag.
    db.execute(
        """CREATE TABLE readings (
            id BLOB PRIMARY KEY,
            stream TEXT NOT NULL,
            kind TEXT NOT NULL,
            received_ms INTEGER NOT NULL,
            state INTEGER NOT NULL,
            batch_seq INTEGER,
            key_id INTEGER NOT NULL,
            payload BLOB NOT NULL
        ) WITHOUT ROWID"""
    )
    # The outbox query walks only unsent rows, in id order.
    db.execute(f"CREATE INDEX readings_new ON readings(id) WHERE state = {NEW}")
    db.execute("CREATE INDEX readings_batch ON readings(batch_seq) WHERE batch_seq IS NOT NULL")
    # AUTOINCREMENT: a batch sequence number is never reused, even after batches are purged.
    db.execute(
        """CREATE TABLE batches (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            sent_ms INTEGER NOT NULL,
            acked_ms INTEGER
        )"""
    )
    db["keys"].create({"key_id": int, "check_blob": bytes, "created_ms": int}, pk="key_id")
    db["devices"].create(
        {
            "address": str,
            "bond_state": str,
            "last_seen_ms": int,
            "key_id": int,
            "payload": bytes,
        },
        pk="address",
        not_null=["bond_state", "key_id", "payload"],
    )
    db["events"].create(
        {"id": bytes, "time_ms": int, "kind": str, "key_id": int, "payload": bytes},
        pk="id",
        not_null=["time_ms", "kind", "key_id", "payload"],
    )
    db["events"].create_index(["time_ms"])


def _v2(db: sqlite_utils.Database) -> None:
    """Configuration history: which signed config version was applied, its hash, when."""
    db["config_history"].create(
        {"id": int, "version": str, "sha256": str, "applied_ms": int, "source": str},
        pk="id",
        not_null=["version", "sha256", "applied_ms"],
    )


def _v3(db: sqlite_utils.Database) -> None:
    """Disk class for the full-disk policy (raw waveform streams go first).

    Rows written before this version are classified by their clear `kind` only; a reading
    whose waveform sits in its encrypted details stays KEPT, the conservative side."""
    db["readings"].add_column("disk_class", int, not_null_default=int(DiskClass.KEPT))
    kinds = ", ".join(f"'{kind.value}'" for kind in sorted(RAW_KINDS))
    db.execute(f"UPDATE readings SET disk_class = {int(DiskClass.RAW)} WHERE kind IN ({kinds})")


def _v4(db: sqlite_utils.Database) -> None:
    """Indexes for a store that runs for years, and the retention log.

    `readings_new` (rebuilt with the state column), `readings_sent` and `readings_unreadable`
    hold only new, only sent and only unreadable rows and carry `state`, so the state counts at
    open are covering-index-only and proportional to what is waiting, never to the table;
    `readings_sent` also finds a batch's rows for re-sending and acknowledging.
    `readings_expiry` holds only acknowledged rows by receive time: retention deletes the
    oldest of them in bounded steps without walking the table. `readings_received` answers the
    measurement schedule's periodic question (when were spot measurements of some kinds taken
    over the last days) from the rows of that window only; it holds spot measurements and
    summaries (disk class KEPT), not the raw streams that are the bulk of the rows.
    `batches_unacked` holds only batches awaiting the hospital's ack, which the uplink re-reads
    at start (a batch every 30 s is a million rows a year). `purge_log` keeps the last purge
    run (one row). `downlink_config` keeps the hospital's last applied config as signed,
    sealed like every payload (it names the patient's pseudonym)."""
    db.execute("DROP INDEX readings_new")
    db.execute(f"CREATE INDEX readings_new ON readings(id, state) WHERE state = {NEW}")
    db.execute(f"CREATE INDEX readings_sent ON readings(batch_seq, state) WHERE state = {SENT}")
    db.execute(f"CREATE INDEX readings_unreadable ON readings(state) WHERE state = {UNREADABLE}")
    db.execute(
        f"CREATE INDEX readings_expiry ON readings(received_ms, state) WHERE state = {ACKED}"
    )
    db.execute(
        "CREATE INDEX readings_received ON readings(kind, received_ms, disk_class) "
        f"WHERE disk_class = {int(DiskClass.KEPT)}"
    )
    db.execute("CREATE INDEX batches_unacked ON batches(seq, sent_ms) WHERE acked_ms IS NULL")
    db.execute(
        """CREATE TABLE downlink_config (
            name TEXT PRIMARY KEY,
            key_id INTEGER NOT NULL,
            payload BLOB NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE purge_log (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            at_ms INTEGER NOT NULL,
            readings INTEGER NOT NULL,
            events INTEGER NOT NULL,
            finished INTEGER NOT NULL
        )"""
    )


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_v1, _v2, _v3, _v4)
LATEST = len(MIGRATIONS)


def version(conn: sqlite3.Connection) -> int:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if found is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> list[int]:
    """Apply the steps from the database's version up to `target`; returns the versions
    applied. A database newer than this code is refused rather than guessed at.

    sqlite-utils (with click, pluggy and dateutil, about 3 MiB resident) is imported only
    when a step is due: a hub that is up to date never loads it in its long-running daemon."""
    current = version(conn)
    if current > LATEST:
        raise RuntimeError(
            f"database schema version {current} is newer than this hub's ({LATEST}); "
            "refusing to touch it"
        )
    if current >= target:
        return []
    import sqlite_utils

    db = sqlite_utils.Database(conn, execute_plugins=False)
    applied = []
    for number in range(current + 1, target + 1):
        with db.atomic():
            MIGRATIONS[number - 1](db)
            db["schema_version"].insert({"version": number, "applied_ms": _now_ms()})
        applied.append(number)
    return applied


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
