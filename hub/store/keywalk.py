"""Reading a damaged table row by row through SQLite, stepping over the parts that fail.

Why not `sqlite3 .recover`: it needs the `sqlite_dbpage` virtual table, which Debian's (and
so Raspberry Pi OS's) SQLite is built without — the CLI there answers "SQL logic error" even
on a sound file — and hand-parsing b-tree pages would be a second SQLite to maintain. So the
store reads the damaged file through SQLite itself: a table keyed by 16-byte ids is walked in
key order in chunks; where a read fails (`SQLITE_CORRUPT`: a page truncated away, zeroed or
overwritten) the walk goes on one row at a time up to the failing row, then finds the next key
it can reach: first by asking for the next key alone (a row whose key is readable but whose
columns are not is counted as a bad key and stepped over), else by galloping and bisecting
over the 128-bit key space for the smallest key a seek can reach. Each skipped stretch is one
damaged range: its rows are unknown, which the caller counts from what the indexes still list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

KEY_BYTES = 16
_TOP = 1 << (8 * KEY_BYTES)
CHUNK = 2000

Row = tuple[Any, ...]


def key_int(key: bytes) -> int:
    """A key as an integer of the 128-bit key space (its first 16 bytes)."""
    return int.from_bytes(key[:KEY_BYTES].ljust(KEY_BYTES, b"\0"), "big")


def key_bytes(value: int) -> bytes:
    return value.to_bytes(KEY_BYTES, "big")


class KeyWalk:
    """The rows of `source` (a table, possibly `INDEXED BY` an index) whose first column is
    a 16-byte `id`, in id order, `where` (an SQL condition ending in AND) applied."""

    def __init__(self, conn: sqlite3.Connection, source: str, columns: str, where: str = ""):
        self._conn = conn
        self._rows_sql = f"SELECT {columns} FROM {source} WHERE {where}id >= ? ORDER BY id LIMIT ?"
        self._probe_sql = f"SELECT id FROM {source} WHERE {where}id >= ? ORDER BY id LIMIT 1"
        self.damaged_ranges = 0  # stretches of keys that could not be reached
        self.bad_keys: list[bytes] = []  # rows whose key was readable but whose columns were not

    def chunks(self) -> Iterator[list[Row]]:
        """Chunks of rows, each key a blob greater than the last: a damaged page can make a
        seek return a key out of order (or no blob at all), which counts as a failed read, so
        the walk always moves forward and ends."""
        cursor: int | None = 0
        while cursor is not None and cursor < _TOP:
            try:
                fetched = self._fetch(cursor, CHUNK)
            except sqlite3.DatabaseError:
                fetched = None
            if fetched == []:
                return
            if fetched is None:
                rows, after = self._one_by_one(cursor)
            else:
                rows, after = _in_order(fetched, cursor)
            if rows:
                yield rows
            clean = fetched is not None and len(rows) == len(fetched)
            cursor = after if clean else self._restart(after)

    def _fetch(self, cursor: int, limit: int) -> list[Row]:
        return self._conn.execute(self._rows_sql, (key_bytes(cursor), limit)).fetchall()

    def _one_by_one(self, cursor: int) -> tuple[list[Row], int]:
        """The rows up to the failing one; the cursor just after the last row read."""
        got: list[Row] = []
        while True:
            try:
                fetched = self._fetch(cursor, 1)
            except sqlite3.DatabaseError:
                return got, cursor
            row, after = _in_order(fetched, cursor)
            if not row:
                return got, cursor
            got += row
            cursor = after

    def _probe(self, cursor: int) -> tuple[bool, object]:
        """Whether a seek to `cursor` works, and the first key it reaches."""
        try:
            row = self._conn.execute(self._probe_sql, (key_bytes(cursor),)).fetchone()
        except sqlite3.DatabaseError:
            return False, None
        return True, None if row is None else row[0]

    def _restart(self, cursor: int) -> int | None:
        """Where the walk goes on after a read from `cursor` failed; None: nowhere."""
        reachable, first = self._probe(cursor)
        if reachable and first is None:
            return None
        if isinstance(first, bytes) and key_int(first) >= cursor:
            self.bad_keys.append(first)  # its key is there, its row is not readable
            return key_int(first) + 1
        self.damaged_ranges += 1
        step = 1
        while not self._probe(min(cursor + step, _TOP - 1))[0]:
            if cursor + step >= _TOP - 1:
                return None
            step *= 2
        low, high = cursor + step // 2, min(cursor + step, _TOP - 1)
        while high - low > 1:  # `low` fails (or is the failing cursor), `high` works
            middle = (low + high) // 2
            if self._probe(middle)[0]:
                high = middle
            else:
                low = middle
        return high


def _in_order(rows: list[Row], cursor: int) -> tuple[list[Row], int]:
    """The leading rows whose keys are blobs rising from `cursor`, and the cursor after them."""
    for i, row in enumerate(rows):
        key = row[0]
        if not isinstance(key, bytes) or key_int(key) < cursor:
            return rows[:i], cursor
        cursor = key_int(key) + 1
    return rows, cursor


def readable_rows(conn: sqlite3.Connection, sql: str) -> list[Row]:
    """The rows `sql` gives before a read fails (all of them when none does)."""
    rows: list[Row] = []
    try:
        for row in conn.execute(sql):
            rows.append(row)
    except sqlite3.DatabaseError:
        pass
    return rows
