"""How many reading rows are in each outbox state, kept in memory so asking costs nothing.

The uplink asks for the queue depth on every tick and the status repeats it; counting rows
would cost time proportional to the data (issue 10 measured 70 ms at a million rows). So the
store counts once when it opens — index-only counts over the partial indexes that hold only
new, sent or unreadable rows, never a walk of the readings table — and then records every
state change a transaction makes, applying the changes only when that transaction commits.

The counts are this connection's: exact while it is the only writer of reading states. The
one other writer a hub has, `hub store rotate-key` in a second process, can only mark rows
unreadable; the session recounts when it sees another process rotated the key.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from hub.store.schema import NEW, SENT, UNREADABLE

COUNTED = (NEW, SENT, UNREADABLE)
# Each answered by its own partial index (schema v1 `readings_new`, v4 `readings_sent` and
# `readings_unreadable`): see test_store_counts for the query plans.
COUNT_QUERIES = {state: f"SELECT count(*) FROM readings WHERE state = {state}" for state in COUNTED}


def count_states(conn: sqlite3.Connection) -> dict[int, int]:
    """Rows per counted state, by index-only counts."""
    return {state: conn.execute(query).fetchone()[0] for state, query in COUNT_QUERIES.items()}


class StateCounts:
    """Committed row counts per state, plus the changes of the open transaction."""

    def __init__(self, committed: dict[int, int]) -> None:
        self._committed = Counter(committed)
        self._open: Counter[int] = Counter()

    def __getitem__(self, state: int) -> int:
        return self._committed[state]

    def moved(self, source: int | None, target: int | None, rows: int = 1) -> None:
        """`rows` rows went from `source` to `target` state (None: inserted or deleted)."""
        if source is not None:
            self._open[source] -= rows
        if target is not None:
            self._open[target] += rows

    def commit(self) -> None:
        self._committed.update(self._open)
        self._open.clear()

    def rollback(self) -> None:
        self._open.clear()

    def reset(self, committed: dict[int, int]) -> None:
        self._committed = Counter(committed)
        self._open.clear()
