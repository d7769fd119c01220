"""Retention: acknowledged readings and old events are deleted in short, bounded steps.

Each `purge_expired` call is one short transaction deleting at most `batch_rows` readings and
`batch_rows` events, found through partial indexes (`readings_expiry` holds only acknowledged
rows, by receive time; events are indexed by time), so a step costs the same on a store of any
age and the daemon's daily job can loop over steps, yielding between them, without holding up
intake. Unacknowledged rows (new, sent, unreadable) are never touched. A batch whose rows are
all gone is dropped.

The last purge run is recorded in `purge_log` (one row): when its latest step ran and what the
run deleted so far. A step after a run that finished (`more` false) starts a new run.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from hub.store.api import Purged
from hub.store.disk import DiskClass
from hub.store.schema import ACKED
from hub.store.session import Session, from_ms, ms


def purge_expired(
    session: Session,
    now: datetime,
    *,
    retention: timedelta,
    event_retention: timedelta,
    batch_rows: int,
) -> Purged:
    conn = session.conn
    with session.transaction():
        readings = delete_acked(conn, limit=batch_rows, received_before=now - retention)
        events = conn.execute(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ms < ? "
            "ORDER BY time_ms LIMIT ?)",
            (ms(now - event_retention), batch_rows),
        ).rowcount
        done = Purged(readings, events, more=max(readings, events) >= batch_rows)
        _log_step(conn, now, done)
    return done


def delete_acked(
    conn: sqlite3.Connection,
    *,
    limit: int,
    received_before: datetime | None = None,
    only: DiskClass | None = None,
) -> int:
    """Inside a transaction: delete up to `limit` acknowledged readings, the earliest received
    first (of those received before `received_before`, of disk class `only`, when given), and
    the batches they leave empty. Returns how many readings went."""
    where = f"state = {ACKED}"
    params: list[object] = []
    if received_before is not None:
        where += " AND received_ms < ?"
        params.append(ms(received_before))
    if only is not None:
        where += f" AND disk_class = {int(only)}"
    seqs = conn.execute(
        f"DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE {where} "
        "ORDER BY received_ms LIMIT ?) RETURNING batch_seq",
        (*params, limit),
    ).fetchall()
    conn.executemany(
        "DELETE FROM batches WHERE seq = ? AND acked_ms IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM readings WHERE readings.batch_seq = batches.seq)",
        {(seq,) for (seq,) in seqs if seq is not None},
    )
    return len(seqs)


def _log_step(conn: sqlite3.Connection, now: datetime, step: Purged) -> None:
    """Record the step: a new run after a finished one, otherwise added to the run."""
    conn.execute(
        "INSERT INTO purge_log (id, at_ms, readings, events, finished) VALUES (1, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms, "
        "readings = excluded.readings + CASE WHEN finished THEN 0 ELSE readings END, "
        "events = excluded.events + CASE WHEN finished THEN 0 ELSE events END, "
        "finished = excluded.finished",
        (ms(now), step.readings, step.events, not step.more),
    )


def last_purge(conn: sqlite3.Connection) -> tuple[datetime | None, int, int]:
    """When the last purge step ran, and the readings and events its run deleted."""
    row = conn.execute("SELECT at_ms, readings, events FROM purge_log WHERE id = 1").fetchone()
    if row is None:
        return None, 0, 0
    return from_ms(row[0]), row[1], row[2]
