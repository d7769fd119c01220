"""Reading stored readings back: by id, by kind and time, and which ids exist.

Read only: nothing here marks a row. `known` and `received_times` use clear columns and
primary keys only; nothing is decrypted. The committed rows are answered here; the store adds
what is still buffered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from hub.model import Kind, Reading
from hub.store.api import Problem, ReadResult
from hub.store.crypto import AuthError
from hub.store.disk import DiskClass
from hub.store.schema import ACKED
from hub.store.sealing import Seals, id_bytes, row_label
from hub.store.session import from_ms, ms
from hub.store.values import CodecError

_IN_CHUNK = 500


def select_by_key(
    conn: sqlite3.Connection, table: str, pk: str, columns: str, keys: Sequence[object]
) -> list[tuple[object, ...]]:
    """Rows of `table` whose primary key is among `keys` (looked up by key, in chunks)."""
    rows: list[tuple[object, ...]] = []
    for i in range(0, len(keys), _IN_CHUNK):
        part = keys[i : i + _IN_CHUNK]
        rows += conn.execute(
            f"SELECT {columns} FROM {table} WHERE {pk} IN ({', '.join('?' * len(part))})", part
        ).fetchall()
    return rows


def readings(
    conn: sqlite3.Connection, seals: Seals, ids: Iterable[str] | None
) -> ReadResult[Reading]:
    """Stored readings in id order (all, or those of `ids` that exist), with a problem for
    each row that fails to open."""
    columns = "id, stream, kind, key_id, payload"
    if ids is None:
        rows = conn.execute(f"SELECT {columns} FROM readings ORDER BY id").fetchall()
    else:
        found = select_by_key(conn, "readings", "id", columns, [id_bytes(i) for i in ids])
        rows = sorted(found, key=lambda row: row[0])  # type: ignore[arg-type,return-value]
    items, problems = [], []
    for pk, stream, kind, key_id, payload in rows:
        try:
            items.append(seals.open_reading(pk, stream, kind, key_id, payload))
        except (AuthError, CodecError) as exc:
            problems.append(Problem("readings", row_label(pk), str(exc)))
    return ReadResult(tuple(items), tuple(problems))


def known(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    """Which of `ids` have a row (any state), by primary-key lookup."""
    rows = select_by_key(conn, "readings", "id", "id", [id_bytes(i) for i in ids])
    return {row_label(row[0]) for row in rows}


def reading_ids(conn: sqlite3.Connection, acknowledged: bool | None) -> set[str]:
    """Ids of rows: all, only acknowledged, or only not acknowledged. Walks the table (the
    demo and the tests ask; nothing periodic does)."""
    where = {None: "", True: f"WHERE state = {ACKED}", False: f"WHERE state != {ACKED}"}
    return {
        row_label(row[0]) for row in conn.execute(f"SELECT id FROM readings {where[acknowledged]}")
    }


def received_times(
    conn: sqlite3.Connection, kinds: Sequence[str], since: datetime
) -> list[tuple[str, int]]:
    """(kind, receive time in ms) of spot measurements and summaries (disk class KEPT) of
    `kinds` received since `since`: a covering search of the partial index
    `readings_received`, proportional to the rows of the window."""
    return conn.execute(
        f"SELECT kind, received_ms FROM readings WHERE disk_class = {int(DiskClass.KEPT)} "
        f"AND received_ms >= ? AND kind IN ({', '.join('?' * len(kinds))}) "
        "ORDER BY received_ms",
        (ms(since), *kinds),
    ).fetchall()


def by_kind(rows: Iterable[tuple[str, int]]) -> dict[Kind, list[datetime]]:
    found: dict[Kind, list[datetime]] = {}
    for kind, received_ms in rows:
        found.setdefault(Kind(kind), []).append(from_ms(received_ms))
    return found
