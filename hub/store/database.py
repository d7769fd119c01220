"""Opening the SQLite file: pragmas, damage checks, and moving a damaged file aside.

Damage at open is what `integrity_check` reports, a file SQLite cannot read, or a WAL whose
checksum chain breaks with commits behind the break (which SQLite would drop silently, see
`walscan`). While open, damage shows as SQLite refusing a read or a commit (`SQLITE_CORRUPT`,
`SQLITE_NOTADB`), or as the file shrinking or being replaced under the store: `FileWatch`
looks before each operation (one `stat`, whatever the database's size).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hub.files import fsync_dir
from hub.store.api import StoreError
from hub.store.walscan import scan

_SIDE_FILES = ("-wal", "-shm")
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


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
    """Open `path`; if it is damaged (see the module), move it (with its WAL) aside under a
    `.corrupt-<time>` name — kept, never deleted — and start a new one. A path that exists
    but is not a regular file is refused (StoreError), never moved."""
    refuse_non_regular(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    problem = wal_problem(path)
    conn = None
    if problem is None:
        try:
            conn = connect(path, max_db_bytes=max_db_bytes)
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            problem = None if rows == [("ok",)] else one_line(" ".join(str(r[0]) for r in rows))
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
    if problem is None and conn is not None:
        return Opened(conn, None, None)
    if conn is not None:
        conn.close()
    return replace_damaged(path, now, problem or "damaged", max_db_bytes=max_db_bytes)


def one_line(text: str, limit: int = 200) -> str:
    """A report for one log line: lines joined, cut at `limit` characters."""
    joined = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def replace_damaged(
    path: Path, now: datetime, problem: str, *, max_db_bytes: int | None = None
) -> Opened:
    """Move the (closed) damaged database aside and open a new one in its place."""
    moved = move_aside(path, now) if path.exists() else None
    return Opened(connect(path, max_db_bytes=max_db_bytes), moved, problem)


def refuse_non_regular(path: Path) -> None:
    """StoreError when `path` exists and is not a regular file (a directory, FIFO, device,
    socket): opening one would hang or fail, and moving it aside would be worse."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"store path {path} cannot be examined: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        raise StoreError(f"store path {path} is {_file_kind(mode)}, not a database file")


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")


def wal_problem(path: Path) -> str | None:
    """Read before SQLite opens the file: a WAL SQLite would stop replaying part way, with
    commits behind the break, is damage (those commits would vanish without a word)."""
    wal = path.with_name(path.name + "-wal")
    try:
        data = wal.read_bytes()
        found = scan(data)
        # Read while another process was writing it (a store tool beside the daemon), the
        # copy may mix two moments; that process's SQLite keeps the WAL's index, not us.
        if found.damaged and wal.read_bytes() != data:
            return None
    except FileNotFoundError:
        return None
    if not found.damaged:
        return None
    return (
        f"the WAL's checksums break after frame {found.replayed} of {found.frames}: "
        f"{found.dropped_commits} later commits would be dropped"
    )


def is_damage(exc: BaseException) -> bool:
    """SQLite said the file is not a (sound) database."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


class FileWatch:
    """The database file as the store last left it: the same file, no shorter.

    SQLite serves most reads from its page cache, so a file truncated or replaced under an
    open store can go unnoticed for long; this look before each operation bounds that to the
    next operation. The store calls `settle` after each of its own operations (a purge may
    shrink the file on purpose). It only `stat`s: opening and closing the database file in
    the process that has it open would drop SQLite's POSIX locks on it (see "How To Corrupt
    An SQLite Database File", 2.2), so an overwritten header is left to SQLite to find."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._inode, self._size = self._look()

    def _look(self) -> tuple[int, int]:
        info = self._path.stat()
        return info.st_ino, info.st_size

    def settle(self) -> None:
        with contextlib.suppress(OSError):  # if it fails, the next `problem` says why
            self._inode, self._size = self._look()

    def problem(self) -> str | None:
        """What is wrong with the file since the store's last operation, or None."""
        try:
            inode, size = self._look()
        except OSError as exc:
            return f"the database file cannot be read: {exc.strerror}"
        if inode != self._inode:
            return "the database file was replaced under the store"
        if size < self._size:
            return f"the database file shrank under the store ({self._size} to {size} bytes)"
        return None


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


def database_files(path: Path) -> list[Path]:
    """The database, its WAL and shared-memory files, and any corrupt copies kept aside."""
    files = [path, *(path.with_name(path.name + s) for s in _SIDE_FILES)]
    files += sorted(path.parent.glob(f"{path.name}.corrupt-*"))
    return [f for f in files if f.exists()]
