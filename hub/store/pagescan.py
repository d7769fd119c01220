"""Every index b-tree page of a damaged file read as a b-tree of its own, by SQLite itself.

A seek reaches a leaf only through the interior pages above it: one damaged interior page
hides every leaf below it from `keywalk`, sound as they are. This reaches them the way
SQLite's recovery does without its `sqlite_dbpage` table (which Debian's build lacks): on a
scratch copy, with `writable_schema`, a throw-away table is declared over each index b-tree
page (types 0x0A leaf and 0x02 interior: a WITHOUT ROWID table keeps whole rows in both)
with the readings table's columns in their order, and read with a plain SELECT. SQLite
decodes the cells; only the page type byte is read here. A page of another b-tree decodes
into rows that do not authenticate and are dropped by the caller: nothing here knows which
page is whose.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.store.keywalk import Row, readable_rows

_INDEX_PAGES = frozenset((0x02, 0x0A))
_TABLE_PAGES = frozenset((0x05, 0x0D))
_PER_SCHEMA = 500  # throw-away tables declared at once (the schema is parsed whole)


@dataclass(frozen=True)
class Pages:
    index: list[int]  # index b-tree pages, by their type byte (page 1, the schema's, skipped)
    unknown: int  # pages of no b-tree type: damaged, or overflow, free or pointer-map pages


def classify(path: Path, page_size: int) -> Pages:
    """Each page's type byte, the only byte of a page read here."""
    index, unknown = [], 0
    with path.open("rb") as f:
        number = 2
        while True:
            f.seek((number - 1) * page_size)
            kind = f.read(1)
            if not kind:
                return Pages(index, unknown)
            if kind[0] in _INDEX_PAGES:
                index.append(number)
            elif kind[0] not in _TABLE_PAGES:
                unknown += 1
            number += 1


def page_rows(
    path: Path, pages: Sequence[int], declared: Sequence[str], selected: str
) -> Iterator[list[Row]]:
    """The rows under each of `pages` of `path` (a scratch copy: its schema is written), read
    as a WITHOUT ROWID table of the `declared` columns (its key first), `selected` selected;
    as far as each can be read. Raises sqlite3.DatabaseError when the copy's schema cannot
    be written."""
    columns = f"{declared[0]} PRIMARY KEY, {', '.join(declared[1:])}"
    for start in range(0, len(pages), _PER_SCHEMA):
        batch = pages[start : start + _PER_SCHEMA]
        _declare(path, [(f"salvage_page_{p}", p) for p in batch], columns)
        conn = _connect(path)
        try:
            for page in batch:
                # As far as it reads: an interior page's child may be damaged.
                yield readable_rows(conn, f"SELECT {selected} FROM salvage_page_{page}")
        finally:
            conn.close()
        _declare(path, [], columns)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA writable_schema = ON")
    return conn


def _declare(path: Path, tables: list[tuple[str, int]], columns: str) -> None:
    """Replace the throw-away tables of the schema by `tables` (name, root page); the schema
    cookie moves on so the next connection reads the new schema."""
    conn = _connect(path)
    try:
        conn.execute("BEGIN")
        conn.execute("DELETE FROM sqlite_master WHERE name LIKE 'salvage_page_%'")
        conn.executemany(
            "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) "
            "VALUES ('table', ?, ?, ?, ?)",
            [
                (name, name, page, f"CREATE TABLE {name} ({columns}) WITHOUT ROWID")
                for name, page in tables
            ],
        )
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        conn.execute(f"PRAGMA schema_version = {version + 1}")
        conn.execute("COMMIT")
    finally:
        conn.close()
