"""The receiver's SQLite store: each batch's Bundle (compressed, as it arrived) and one row
per Observation identifier, the de-duplication key. The first arrival of an identifier wins;
a re-sent batch or a replayed envelope adds nothing."""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT NOT NULL,
    hub TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    created TEXT NOT NULL,
    received TEXT NOT NULL,
    count INTEGER NOT NULL,
    bundle BLOB NOT NULL,  -- zlib-compressed Bundle JSON
    PRIMARY KEY (hub, id)  -- batch ids are the hub's: one hub cannot shadow another's
);
CREATE TABLE IF NOT EXISTS observations (
    identifier TEXT PRIMARY KEY,  -- <hub>/<reading id>/<LOINC>
    hub TEXT NOT NULL,
    batch TEXT NOT NULL,  -- with hub: the batches row holding the Bundle
    entry INTEGER NOT NULL  -- index in the batch Bundle's entries
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class IncomingBatch:
    """A verified, decrypted batch and the Observation keys found in it."""

    id: str
    hub: str
    sequence: int
    created: str
    count: int
    compressed: bytes
    keys: Sequence[tuple[str, int]]  # (identifier, entry index)


@dataclass(frozen=True)
class Outcome:
    batch: IncomingBatch
    stored: int
    duplicates: int


class ReceiverDb:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")  # an ack promises the data is durable
        self.conn.executescript(SCHEMA)

    def store(self, batches: Sequence[IncomingBatch], received: str) -> list[Outcome]:
        """Store several batches in one transaction; returns what each added."""
        outcomes: list[Outcome] = []
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for batch in batches:
                cur.execute(
                    "INSERT OR IGNORE INTO batches (id, hub, sequence, created, received, "
                    "count, bundle) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        batch.id,
                        batch.hub,
                        batch.sequence,
                        batch.created,
                        received,
                        batch.count,
                        batch.compressed,
                    ),
                )
                before = self.conn.total_changes
                cur.executemany(
                    "INSERT OR IGNORE INTO observations VALUES (?, ?, ?, ?)",
                    [(ident, batch.hub, batch.id, entry) for ident, entry in batch.keys],
                )
                stored = self.conn.total_changes - before
                outcomes.append(Outcome(batch, stored, len(batch.keys) - stored))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return outcomes

    def identifiers(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT identifier FROM observations")]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM observations").fetchone()[0])

    def export_bundle(self) -> dict[str, Any]:
        """A FHIR `collection` Bundle of every stored Observation and the Devices they use."""
        entries: list[dict[str, Any]] = []
        devices: set[str] = set()
        for bundle, wanted in self.stored_entries():
            all_entries = bundle["entry"]
            for entry in all_entries:
                url = entry.get("fullUrl")
                if url and url not in devices:
                    devices.add(url)
                    entries.append({"fullUrl": url, "resource": entry["resource"]})
            entries.extend({"resource": all_entries[i]["resource"]} for i in wanted)
        return {"resourceType": "Bundle", "type": "collection", "entry": entries}

    def stored_entries(self) -> Iterator[tuple[dict[str, Any], list[int]]]:
        rows = self.conn.execute(
            "SELECT b.bundle, group_concat(o.entry) FROM observations o "
            "JOIN batches b ON b.hub = o.hub AND b.id = o.batch "
            "GROUP BY o.hub, o.batch ORDER BY min(o.identifier)"
        )
        for compressed, entries in rows:
            yield json.loads(zlib.decompress(compressed)), [int(e) for e in entries.split(",")]

    def close(self) -> None:
        self.conn.close()
