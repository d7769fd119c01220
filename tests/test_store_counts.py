"""Queue depth is O(1): maintained counts, exact through every state change and reopen, and
recounted at open through covering partial indexes that hold no acknowledged row."""

import re
import shutil
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from store_support import T0, flip_byte, open_store, readings, rows_by_state

from hub.store import Store
from hub.store.counts import COUNT_QUERIES
from hub.store.schema import ACKED, NEW, SENT, UNREADABLE


def every_state(directory: Path) -> Store:
    """A store holding new, sent, acknowledged and unreadable rows, and some buffered."""
    store = open_store(directory)
    rs = readings(12)
    store.add(rs, urgent=True)
    flip_byte(directory / "hub.db", rs[1].id, 20)
    acked = store.next_batch(4)  # rs[0], rs[2], rs[3], rs[4]; rs[1] now unreadable
    assert acked is not None
    store.acknowledge(acked.id)
    store.next_batch(3)
    store.add(readings(2))
    return store


def test_the_counts_at_open_read_only_covering_partial_indexes(tmp_path: Path) -> None:
    every_state(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "hub.db")
    try:
        partial = dict(
            conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall()
        )
        for state, query in COUNT_QUERIES.items():
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}")]
            assert len(plan) == 1, plan
            (index,) = [name for name in partial if f" INDEX {name}" in plan[0]]
            assert "USING COVERING INDEX" in plan[0], plan
            # the index holds rows of that state only: never an acknowledged one
            assert partial[index].endswith(f"WHERE state = {state}")
            assert state != ACKED
    finally:
        conn.close()


def test_status_and_counts_send_no_query_to_the_readings_table(tmp_path: Path) -> None:
    with every_state(tmp_path) as store:
        statements: list[str] = []
        store._session.conn.set_trace_callback(statements.append)
        status = store.status()
        depth, unsent = store.queue_depth(), store.unsent_count()
        store._session.conn.set_trace_callback(None)
        assert statements  # the trace works: status reads the purge log
        assert not [s for s in statements if re.search(r"(FROM|UPDATE|INTO)\s+readings\b", s)]
        assert (depth, unsent, status.unreadable) == (4 + 3 + 2, 4 + 2, 1)  # + 2 buffered
        assert status.queue_depth == depth and status.buffered == 2


def expected(path: Path, store: Store) -> tuple[int, int, int]:
    """(queue depth, unsent, unreadable) as a walk of the table from another connection
    sees them, with the store's buffer."""
    states = rows_by_state(path)
    return (
        states.get(NEW, 0) + states.get(SENT, 0) + store.status().buffered,
        states.get(NEW, 0) + store.status().buffered,
        states.get(UNREADABLE, 0),
    )


class CountsStayExact(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="hub-counts-"))
        self.store = open_store(self.directory, retention_days=1)
        self.now = T0
        self.committed: list[str] = []

    @rule(n=st.integers(1, 6), urgent=st.booleans())
    def add(self, n: int, urgent: bool) -> None:
        self.store.add(readings(n, received=self.now), urgent=urgent)

    @rule()
    def flush(self) -> None:
        self.committed += self.store.flush()

    @rule(limit=st.integers(1, 5))
    def send(self, limit: int) -> None:
        self.store.next_batch(limit)

    @rule(share=st.floats(0, 1))
    def acknowledge_some(self, share: float) -> None:
        due = self.store.unacked_batches(self.now + timedelta(days=365))
        for batch in due[: round(len(due) * share)]:
            self.store.acknowledge(batch.id)

    @rule(rows=st.integers(1, 4))
    def purge(self, rows: int) -> None:
        self.now += timedelta(days=2)
        self.store.purge_expired(self.now, batch_rows=rows)

    @precondition(lambda self: self.committed)
    @rule(pick=st.integers(0, 10**6))
    def tamper(self, pick: int) -> None:
        reading_id = self.committed[pick % len(self.committed)]
        if self.store.known([reading_id]) and self.store.readings([reading_id]).items:
            flip_byte(self.directory / "hub.db", reading_id, pick)

    @rule()
    def rotate_key(self) -> None:
        self.store.rotate_key(chunk=3)

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = open_store(self.directory, retention_days=1)

    @invariant()
    def counts_match_the_table(self) -> None:
        store = self.store
        got = (store.queue_depth(), store.unsent_count(), store.status().unreadable)
        assert got == expected(self.directory / "hub.db", store)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory)


CountsStayExact.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_counts_stay_exact_through_every_state_change = CountsStayExact.TestCase


def test_counts_follow_a_rotation_done_by_another_process(tmp_path: Path) -> None:
    """`hub store rotate-key` runs beside the daemon and may mark rows unreadable."""
    daemon = open_store(tmp_path)
    try:
        rs = readings(6)
        daemon.add(rs, urgent=True)
        flip_byte(tmp_path / "hub.db", rs[3].id, 20)
        with open_store(tmp_path) as operator:
            assert operator.rotate_key().kept_key_ids == (1,)
        assert daemon.queue_depth() == 6  # not seen yet: the next transaction looks
        daemon.add(readings(1), urgent=True)
        assert (daemon.queue_depth(), daemon.unsent_count()) == (6, 6)
        assert daemon.status().unreadable == 1
        assert daemon.status().active_key_id == 2
    finally:
        daemon.close()


def test_the_uplinks_start_reads_only_unacknowledged_batches(tmp_path: Path) -> None:
    with open_store(tmp_path):
        pass
    conn = sqlite3.connect(tmp_path / "hub.db")
    try:
        plan = " ".join(
            row[3]
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT seq, id FROM batches "
                "WHERE acked_ms IS NULL AND sent_ms < ? ORDER BY seq",
                (0,),
            )
        )
    finally:
        conn.close()
    assert plan == "SCAN batches USING INDEX batches_unacked"  # a walk of the waiting ones only
