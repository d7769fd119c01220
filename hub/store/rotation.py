"""Key rotation: a fresh active key, every row re-encrypted in short transactions, old keys
dropped once no row uses them (rows that fail authentication keep theirs, and say so).

Safe while another process has the store open: it switches to the new key at its next write
(each transaction compares the highest registered key id, `Session.transaction`).
"""

from __future__ import annotations

import os
from typing import Any

from hub.store.api import Rotation
from hub.store.crypto import KEY_BYTES, AuthError
from hub.store.keys import MissingKeyError
from hub.store.schema import UNREADABLE
from hub.store.sealing import READINGS, SEALED_TABLES, TEXT_KEYED, Table, used_key_ids
from hub.store.session import Session


def rotate_key(session: Session, *, chunk: int) -> Rotation:
    """Make a fresh key active, re-encrypt every row sealed with an older key in transactions
    of `chunk` rows (writers carry on in between), then drop old keys no row uses any more.
    The caller commits buffered readings first."""
    current = session.source.load()
    if current is None:
        raise MissingKeyError(f"{session.source.describe()} has disappeared")
    ring = current.with_new_key(os.urandom(KEY_BYTES))
    session.source.save(ring)
    with session.transaction():
        session.install(ring)
    total = 0
    while (done := _reencrypt_pass(session, chunk)) > 0:
        total += done
    removed, kept = _drop_unused_keys(session)
    return Rotation(ring.active, total, removed, kept)


def _reencrypt_pass(session: Session, chunk: int) -> int:
    done = 0
    for table in SEALED_TABLES:
        after: Any = "" if table in TEXT_KEYED else b""
        while (rows := _reencrypt_chunk(session, table, after, chunk)) is not None:
            after, changed = rows
            done += changed
    return done


def _reencrypt_chunk(
    session: Session, table: Table, after: Any, chunk: int
) -> tuple[Any, int] | None:
    """Re-seal up to `chunk` rows after `after` in one transaction: (last key, rows re-sealed),
    or None when no row is left to do."""
    skip_bad = f"AND state != {UNREADABLE}" if table is READINGS else ""
    seals = session.seals
    with session.transaction():
        rows = session.conn.execute(
            f"SELECT {table.pk}, {table.stream}, {table.kind}, key_id, payload "
            f"FROM {table.name} WHERE key_id != ? AND {table.pk} > ? {skip_bad} "
            f"ORDER BY {table.pk} LIMIT ?",
            (seals.active, after, chunk),
        ).fetchall()
        if not rows:
            return None
        updates = []
        for pk, stream, kind, key_id, payload in rows:
            try:
                plaintext = seals.open(table, pk, stream, kind, key_id, payload)
            except AuthError as exc:
                session.report_bad(table, pk, str(exc))
                continue
            updates.append((seals.active, seals.seal(table, pk, stream, kind, plaintext), pk))
        session.conn.executemany(
            f"UPDATE {table.name} SET key_id = ?, payload = ? WHERE {table.pk} = ?", updates
        )
    return rows[-1][0], len(updates)


def _drop_unused_keys(session: Session) -> tuple[tuple[int, ...], tuple[int, ...]]:
    seals = session.seals
    with session.transaction():
        unused = set(seals.ring.keys) - used_key_ids(session.conn) - {seals.active}
        session.conn.executemany(
            "DELETE FROM keys WHERE key_id = ?", [(k,) for k in sorted(unused)]
        )
    if unused:
        ring = seals.ring.without(unused)
        session.source.save(ring)
        seals.install(ring)
    kept = tuple(sorted(set(seals.ring.keys) - {seals.active}))
    return tuple(sorted(unused)), kept
