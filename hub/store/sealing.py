"""Sealing stored rows: which columns bind a payload to its row, and the key ring in use.

Every sealed table keeps its payload as `nonce || AES-GCM ciphertext || tag` whose associated
data names the table, the row's primary key, its stream, its kind and the key id (see
`hub.store.crypto`), so a payload moved to another row or relabelled fails to open. The
database also holds a check value per key, so a wrong key file is refused before anything is
written with it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from hub.model import Kind, Reading
from hub.store.codec import decode_reading
from hub.store.crypto import NONCE_BYTES, AuthError, Sealer, associated_data
from hub.store.keys import KeyRing, KeySource, MissingKeyError, WrongKeyError
from hub.store.values import CodecError

_KEY_CHECK = b"hub-store key check"
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KINDS = {kind.value: kind for kind in Kind}


@dataclass(frozen=True)
class Table:
    """A table whose `payload` is sealed, and the columns that go into its associated data."""

    name: str
    pk: str
    stream: str
    kind: str


READINGS = Table("readings", "id", "stream", "kind")
EVENTS = Table("events", "id", "''", "kind")
DEVICES = Table("devices", "address", "''", "''")
DOWNLINK = Table("downlink_config", "name", "''", "''")
SEALED_TABLES = (READINGS, EVENTS, DEVICES, DOWNLINK)
TEXT_KEYED = (DEVICES, DOWNLINK)  # the others are keyed by 16-byte ids


def id_bytes(reading_id: str) -> bytes:
    """The 16 bytes of a canonical (lower-case, hyphenated) UUID string."""
    if not isinstance(reading_id, str) or not _CANONICAL_UUID.fullmatch(reading_id):
        raise ValueError(f"reading id {reading_id!r} is not a canonical lower-case UUID (hub.ids)")
    return bytes.fromhex(reading_id.replace("-", ""))


def row_label(pk: Any) -> str:
    """A primary key as text: a 16-byte id as its UUID string."""
    if isinstance(pk, bytes):
        if len(pk) != 16:
            return pk.hex()
        h = pk.hex()  # str(uuid.UUID(bytes=pk)), without its ~1 µs of object overhead
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(pk)


def _aad(table: Table, pk: Any, stream: str, kind: str, key_id: int) -> bytes:
    row = pk if isinstance(pk, bytes) else str(pk).encode()
    return associated_data(table.name, row, stream, kind, key_id)


class Seals:
    """Seals rows with the active key of a ring and opens them with any key of it."""

    def __init__(self, ring: KeyRing) -> None:
        self.install(ring)

    def install(self, ring: KeyRing) -> None:
        self.ring = ring
        self._sealer = Sealer(ring.keys)

    @property
    def active(self) -> int:
        return self.ring.active

    def seal(
        self,
        table: Table,
        pk: Any,
        stream: str,
        kind: str,
        plaintext: bytes,
        nonce: bytes | None = None,
    ) -> bytes:
        """Sealed under the active key; `nonce` defaults to 12 fresh bytes of the OS RNG."""
        key_id = self.ring.active
        aad = _aad(table, pk, stream, kind, key_id)
        return self._sealer.seal(key_id, nonce or os.urandom(NONCE_BYTES), plaintext, aad)

    def open(
        self, table: Table, pk: Any, stream: str, kind: str, key_id: int, payload: bytes
    ) -> bytes:
        """The plaintext, or AuthError (tampered, moved, or sealed with an unknown key)."""
        return self._sealer.open(key_id, payload, _aad(table, pk, stream, kind, key_id))

    def open_reading(
        self, pk: bytes, stream: str, kind: str, key_id: int, payload: bytes
    ) -> Reading:
        """A readings row back as a Reading; AuthError or CodecError when it cannot be."""
        plaintext = self.open(READINGS, pk, stream, kind, key_id, payload)
        kind_value = _KINDS.get(kind)
        if kind_value is None:
            raise CodecError(f"unknown kind {kind!r}")
        return decode_reading(plaintext, id=row_label(pk), device=stream, kind=kind_value)

    def register(self, conn: sqlite3.Connection) -> None:
        """Store a check value for each key of the ring the database does not know yet."""
        register_keys(conn, self.ring, self._sealer)


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


def used_key_ids(conn: sqlite3.Connection) -> set[int]:
    """Key ids some sealed row still uses."""
    return {
        row[0]
        for t in SEALED_TABLES
        for row in conn.execute(f"SELECT DISTINCT key_id FROM {t.name}")
    }


def load_ring(conn: sqlite3.Connection, source: KeySource) -> KeyRing:
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
    for key_id, check in registered.items():
        if key_id not in ring.keys:
            if key_id in used_key_ids(conn):  # only when the ring lacks a registered key
                raise MissingKeyError(
                    f"{source.describe()} lacks key id {key_id}, which rows of the database "
                    "still use; restore the key file that has it"
                )
            continue
        if not _opens_check(sealer, key_id, check):
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


def _opens_check(sealer: Sealer, key_id: int, check: bytes) -> bool:
    try:
        opened = sealer.open(key_id, check, associated_data("keys", b"", "", "", key_id))
    except AuthError:
        return False
    return opened == _KEY_CHECK
