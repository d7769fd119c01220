"""The outbox: new readings leave in numbered batches and stay until the hospital acks them.

States: a committed reading is `new`; `next_batch` marks the oldest new ones `sent` under a
fresh batch id and the next sequence number; `acknowledge` marks a batch's rows `acked`
(only retention deletes them, later). A batch not acknowledged in time comes back from
`unacked_batches` with its original id and sequence, so the receiver can de-duplicate.
A row that fails to open on the way out is marked `unreadable` and reported, never sent.
"""

from __future__ import annotations

from datetime import datetime

from hub.model import Reading
from hub.store.api import Batch
from hub.store.schema import ACKED, NEW, SENT
from hub.store.session import Session, ms


class Outbox:
    def __init__(self, session: Session) -> None:
        self._session = session

    def next_batch(self, limit: int) -> Batch | None:
        """The oldest committed `new` readings (id order, so per stream too), marked `sent`
        under a new batch id and the next sequence number; None when nothing is new."""
        session, conn = self._session, self._session.conn
        with session.transaction():
            good: list[Reading] = []
            after = b""
            while len(good) < limit:
                rows = conn.execute(
                    f"SELECT id, stream, kind, key_id, payload FROM readings "
                    f"WHERE state = {NEW} AND id > ? ORDER BY id LIMIT ?",
                    (after, limit - len(good)),
                ).fetchall()
                if not rows:
                    break
                after = rows[-1][0]
                good += session.open_readings(rows)
            if not good:
                return None
            batch_id = session.ids.new()
            seq = conn.execute(
                "INSERT INTO batches (id, sent_ms) VALUES (?, ?)", (batch_id, ms(session.clock()))
            ).lastrowid
            # The good rows are exactly the new ones up to the last row read: the rest in
            # that range were just marked unreadable. One statement, not one per row.
            moved = conn.execute(
                f"UPDATE readings SET state = {SENT}, batch_seq = ? "
                f"WHERE state = {NEW} AND id <= ?",
                (seq, after),
            ).rowcount
            session.counts.moved(NEW, SENT, moved)
        assert seq is not None
        return Batch(batch_id, seq, tuple(good))

    def unacked_batches(self, sent_before: datetime) -> list[Batch]:
        """Batches sent before `sent_before` and not acknowledged, with their original id and
        sequence, for re-sending. Returning a batch counts as re-sending it now (its sent time
        moves), so calling this with `now - ack_timeout` re-sends each at most once per timeout."""
        session, conn = self._session, self._session.conn
        with session.transaction():
            now_ms = ms(session.clock())
            found = conn.execute(
                "SELECT seq, id FROM batches WHERE acked_ms IS NULL AND sent_ms < ? ORDER BY seq",
                (ms(sent_before),),
            ).fetchall()
            batches = []
            for seq, batch_id in found:
                rows = conn.execute(
                    f"SELECT id, stream, kind, key_id, payload FROM readings "
                    f"WHERE batch_seq = ? AND state = {SENT} ORDER BY id",
                    (seq,),
                ).fetchall()
                batches.append(Batch(batch_id, seq, tuple(session.open_readings(rows))))
            conn.executemany(
                "UPDATE batches SET sent_ms = ? WHERE seq = ?", [(now_ms, s) for s, _ in found]
            )
        return batches

    def acknowledge(self, batch_id: str) -> int:
        """Mark the rows of a batch acknowledged; an unknown or already acknowledged id → 0."""
        session, conn = self._session, self._session.conn
        with session.transaction():
            row = conn.execute(
                "SELECT seq FROM batches WHERE id = ? AND acked_ms IS NULL", (batch_id,)
            ).fetchone()
            if row is None:
                return 0
            conn.execute(
                "UPDATE batches SET acked_ms = ? WHERE seq = ?", (ms(session.clock()), row[0])
            )
            acked = conn.execute(
                f"UPDATE readings SET state = {ACKED} WHERE batch_seq = ? AND state = {SENT}",
                (row[0],),
            ).rowcount
            session.counts.moved(SENT, ACKED, acked)
        return acked

    def unsent_count(self) -> int:
        """Committed rows in state `new` (not yet in any batch); no query."""
        return self._session.counts[NEW]

    def unacknowledged(self) -> int:
        """Committed rows `new` or `sent`; no query."""
        return self._session.counts[NEW] + self._session.counts[SENT]
