"""Retention purges only acknowledged readings older than the window, in bounded steps that
intake can run between, plus events older than their own window; the last purge is kept."""

import sqlite3
from datetime import timedelta
from pathlib import Path

from store_support import T0, flip_byte, open_store, readings

from hub.model import Event, EventKind
from hub.store import Purged, Store

DAY = timedelta(days=1)


def batch_seqs(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT seq FROM batches")}
    finally:
        conn.close()


def send_and_ack(store: Store, limit: int) -> set[str]:
    batch = store.next_batch(limit)
    assert batch is not None
    store.acknowledge(batch.id)
    return {r.id for r in batch.readings}


def test_only_acknowledged_rows_older_than_the_window_go_in_batches_while_intake_goes_on(
    tmp_path: Path,
) -> None:
    with open_store(tmp_path, retention_days=7, event_retention_days=30, clock=lambda: T0) as store:
        old = readings(9, received=T0)
        store.add(old, urgent=True)
        old_acked = send_and_ack(store, 6)  # old[0:6] acknowledged
        flip_byte(tmp_path / "hub.db", old[6].id, 20)
        sent = store.next_batch(1)  # old[6] found bad (unreadable), old[7] sent, old[8] new
        assert sent is not None and [r.id for r in sent.readings] == [old[7].id]
        store.record_event(Event(EventKind.STATUS, T0, "old"))
        recent = readings(3, received=T0 + 9 * DAY)
        store.add(recent, urgent=True)
        store.record_event(Event(EventKind.STATUS, T0 + 9 * DAY, "recent"))

        now = T0 + 10 * DAY
        steps, intake = [], []
        while True:
            step = store.purge_expired(now, batch_rows=2)
            steps.append(step)
            more = readings(2, received=now)  # intake carries on between steps
            store.add(more, urgent=True)
            intake += more
            if not step.more:
                break
        assert [s.readings for s in steps] == [2, 2, 2, 0]
        assert sum(s.events for s in steps) == 0  # 10 days old: within the 30-day window

        readable = store.readings()
        left = {r.id for r in readable.items} | {p.row_id for p in readable.problems}
        assert left == {r.id for r in old[6:] + recent + intake}
        assert old_acked == {r.id for r in old[:6]}
        status = store.status()
        assert status.last_purge == now.isoformat() and status.last_purge_rows == 6
        assert (status.unreadable, store.unsent_count()) == (1, 1 + 3 + len(intake))

        much_later = store.purge_expired(T0 + 38 * DAY, batch_rows=100)
        # the "old" event and the error event for old[6], both at T0
        assert much_later == Purged(readings=0, events=2, more=False)
        assert [e.message for e in store.events().items if e.kind is EventKind.STATUS] == ["recent"]
        assert len(store.readings().items) + 1 == len(left)  # + the unreadable row


def test_a_batch_whose_rows_are_all_purged_is_dropped(tmp_path: Path) -> None:
    with open_store(tmp_path, retention_days=1) as store:
        store.add(readings(4, received=T0), urgent=True)
        send_and_ack(store, 2)
        send_and_ack(store, 1)
        store.next_batch(1)  # sent, not acknowledged: its batch stays
        first, second, unacked = sorted(batch_seqs(store.path))
        assert store.purge_expired(T0 + 2 * DAY, batch_rows=1) == Purged(1, 0, more=True)
        assert batch_seqs(store.path) == {first, second, unacked}  # one row of `first` left
        store.purge_expired(T0 + 2 * DAY, batch_rows=1)
        assert batch_seqs(store.path) == {second, unacked}
        assert store.purge_expired(T0 + 2 * DAY, batch_rows=1) == Purged(1, 0, more=True)
        assert store.purge_expired(T0 + 2 * DAY, batch_rows=1) == Purged(0, 0, more=False)
        assert batch_seqs(store.path) == {unacked}
        assert store.queue_depth() == 1


def test_the_last_purge_survives_reopening_and_a_new_run_starts_after_a_finished_one(
    tmp_path: Path,
) -> None:
    with open_store(tmp_path, retention_days=1) as store:
        assert (store.status().last_purge, store.status().last_purge_rows) == (None, 0)
        store.add(readings(5, received=T0), urgent=True)
        send_and_ack(store, 5)
        store.purge_expired(T0 + 2 * DAY, batch_rows=2)
        store.purge_expired(T0 + 3 * DAY, batch_rows=2)
    with open_store(tmp_path, retention_days=1) as store:
        status = store.status()
        assert (status.last_purge, status.last_purge_rows) == ((T0 + 3 * DAY).isoformat(), 4)
        store.purge_expired(T0 + 4 * DAY, batch_rows=2)  # the last row: this run ends
        assert store.status().last_purge_rows == 5
        store.purge_expired(T0 + 5 * DAY, batch_rows=2)  # a new run, nothing to do
        status = store.status()
        assert (status.last_purge, status.last_purge_rows) == ((T0 + 5 * DAY).isoformat(), 0)


def test_a_purge_step_never_walks_the_readings_table(tmp_path: Path) -> None:
    with open_store(tmp_path, retention_days=1) as store:
        store.add(readings(6, received=T0), urgent=True)
        send_and_ack(store, 3)
        statements: list[str] = []
        store._session.conn.set_trace_callback(statements.append)
        store.purge_expired(T0 + 2 * DAY, batch_rows=2)
        store._session.conn.set_trace_callback(None)
        conn = sqlite3.connect(store.path)
        plans = [
            row[3]
            for sql in statements
            if sql.startswith(("DELETE", "SELECT", "INSERT"))
            for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")
        ]
        conn.close()
        assert plans
        assert [p for p in plans if p.startswith("SCAN") and "readings" in p] == []
