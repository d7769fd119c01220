"""Opening the SQLite file: pragmas, integrity check, and moving a corrupt file aside."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True)
class Opened:
    conn: sqlite3.Connection
    moved_aside: Path | None  # where a corrupt database was kept, if one was found
    problem: str | None  # what integrity_check (or opening) reported


def connect(path: Path, *, max_db_bytes: int | None = None) -> sqlite3.Connection:
    """A connection with the store's pragmas. Transactions are explicit (BEGIN IMMEDIATE)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    try:
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            # Only settable before the first table: lets a full-disk purge give pages back.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        # synchronous=FULL: in WAL mode NORMAL may lose the last commits on power loss (they
        # are durable only at the next checkpoint). Readings a device has handed over and we
        # reported as committed must survive a pulled plug, and group commit already turns
        # hundreds of readings into one fsync, so FULL costs one fsync per group, not per row.
        conn.execute("PRAGMA synchronous = FULL")
        # Cap the WAL file left behind after a checkpoint, so it does not stay at its peak.
        conn.execute("PRAGMA journal_size_limit = 4194304")
        if max_db_bytes is not None:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {max(1, max_db_bytes // page)}")
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


def open_checked(path: Path, now: datetime, *, max_db_bytes: int | None = None) -> Opened:
    """Open `path`; if it is not a database or `integrity_check` fails, move it (with its WAL)
    aside under a `.corrupt-<time>` name — kept, never deleted — and start a new one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    problem: str | None
    try:
        conn = connect(path, max_db_bytes=max_db_bytes)
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        problem = None if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:5])
    except sqlite3.DatabaseError as exc:
        conn = None
        problem = str(exc)
    if problem is None and conn is not None:
        return Opened(conn, None, None)
    if conn is not None:
        conn.close()
    moved = move_aside(path, now)
    return Opened(connect(path, max_db_bytes=max_db_bytes), moved, problem)


def move_aside(path: Path, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    fsync_dir(path.parent)
    return target


def fsync_dir(directory: Path) -> None:
    """Make renames and removals in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def database_files(path: Path) -> list[Path]:
    """The database, its WAL and shared-memory files, and any corrupt copies kept aside."""
    files = [path, *(path.with_name(path.name + s) for s in _SIDE_FILES)]
    files += sorted(path.parent.glob(f"{path.name}.corrupt-*"))
    return [f for f in files if f.exists()]
