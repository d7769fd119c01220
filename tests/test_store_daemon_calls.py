"""The store calls the daemon uses: amend unsent readings, receive times by kind, ids."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta
from pathlib import Path

from store_support import T0, open_store, reading

from hub.model import Kind


def test_amend_replaces_unsent_readings_only(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        sent, new, buffered = reading(), reading(), reading()
        store.add([sent, new])
        store.flush()
        batch = store.next_batch(1)
        assert batch is not None and [r.id for r in batch.readings] == [sent.id]
        store.add([buffered])  # still in the group-commit buffer
        later = timedelta(hours=1)
        fixed = [
            dataclasses.replace(
                r, received=r.received + later, flags=frozenset({"hub-clock-corrected"})
            )
            for r in (sent, new, buffered)
        ]
        assert store.amend(fixed) == 2
        store.flush()
        by_id = {r.id: r for r in store.readings().items}
        assert by_id[sent.id].received == sent.received  # already sent: left as it went out
        assert by_id[new.id].received == new.received + later
        assert by_id[buffered.id].received == buffered.received + later
        assert "hub-clock-corrected" in by_id[new.id].flags
    finally:
        store.close()


def test_received_times_and_reading_ids(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        bp = reading(received=T0)
        old = reading(received=T0 - timedelta(days=3))
        hr = reading(Kind.HEART_RATE, received=T0)
        store.add([bp, old, hr])
        store.flush()
        buffered = reading(received=T0 + timedelta(minutes=5))
        store.add([buffered])
        times = store.received_times([Kind.BLOOD_PRESSURE], T0 - timedelta(days=1))
        assert times == {Kind.BLOOD_PRESSURE: [T0, T0 + timedelta(minutes=5)]}
        assert store.reading_ids() == {bp.id, old.id, hr.id, buffered.id}
        batch = store.next_batch(10)
        assert batch is not None
        store.acknowledge(batch.id)
        acked = {r.id for r in batch.readings}
        assert store.reading_ids(acknowledged=True) == acked
        assert store.reading_ids(acknowledged=False) == {bp.id, old.id, hr.id, buffered.id} - acked
    finally:
        store.close()


def test_received_times_searches_the_window_by_index_never_the_table(tmp_path: Path) -> None:
    """The schedule asks this periodically: its cost follows the window, not the store's age."""
    with open_store(tmp_path) as store:
        store.add([reading(received=T0 - timedelta(days=d)) for d in range(5)], urgent=True)
        statements: list[str] = []
        store._session.conn.set_trace_callback(statements.append)
        times = store.received_times([Kind.BLOOD_PRESSURE, Kind.SPO2_SPOT], T0 - timedelta(days=2))
        store._session.conn.set_trace_callback(None)
        assert times == {Kind.BLOOD_PRESSURE: [T0 - timedelta(days=d) for d in (2, 1, 0)]}
        (query,) = statements
        conn = sqlite3.connect(store.path)
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}")]
        conn.close()
        assert any("SEARCH readings USING COVERING INDEX readings_received" in p for p in plan)
        assert not [p for p in plan if p.startswith("SCAN readings")]
