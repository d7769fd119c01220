from pathlib import Path

import pytest
from store_support import PLENTY, open_store, readings, rows_by_state, stream_minute

from hub.model import EventKind, Kind
from hub.store import pressure
from hub.store.schema import ACKED

MB = 1024 * 1024


def acked_rows(path: Path) -> int:
    return rows_by_state(path).get(ACKED, 0)


def send_and_ack_all(store) -> set[str]:  # type: ignore[no-untyped-def]
    acked = set()
    while (batch := store.next_batch(100)) is not None:
        store.acknowledge(batch.id)
        acked |= {r.id for r in batch.readings}
    return acked


def test_under_the_floor_raw_streams_go_first_and_unacknowledged_rows_stay(
    tmp_path: Path,
) -> None:
    free = [PLENTY]
    with open_store(tmp_path, disk_floor_mb=256, free_bytes=lambda _p: free[0]) as store:
        store.add(readings(4) + readings(4, Kind.HEART_RATE), urgent=True)
        acked = send_and_ack_all(store)
        waiting_raw = readings(3, Kind.SPO2_CONTINUOUS)
        waiting_spot = readings(2, Kind.SPO2_SPOT)
        store.add(waiting_raw + waiting_spot, urgent=True)

        free[0] = 100 * MB
        new_spot = readings(3, Kind.BLOOD_PRESSURE)
        new_summary = readings(1, Kind.SUMMARY)
        new_raw = [
            *readings(5, Kind.HEART_RATE),
            *readings(2, Kind.SUMMARY, details={"samples": (0.1, 0.2)}),
            stream_minute(),
        ]
        store.add(new_spot + new_raw + new_summary)
        assert store.flush() == [r.id for r in new_spot + new_summary]

        stored = {r.id for r in store.readings().items}
        assert not stored & acked  # acknowledged rows purged early, retention or not
        assert stored == {r.id for r in waiting_raw + waiting_spot + new_spot + new_summary}
        status = store.status()
        assert (status.disk_low, status.shed) == (True, 8)
        low_events = [e for e in store.events().items if e.kind is EventKind.STATUS]
        assert len(low_events) == 1 and "raw waveforms" in low_events[0].message

        free[0] = PLENTY
        back = readings(2, Kind.HEART_RATE)
        store.add(back)
        assert store.flush() == [r.id for r in back]
        assert store.status().disk_low is False
        assert "above the floor" in store.events().items[-1].message


def test_purging_acknowledged_rows_comes_before_shedding_anything(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"

    def free_bytes(_path: Path) -> int:  # space comes back once acknowledged rows are gone
        return 10 * MB if acked_rows(db) else PLENTY

    with open_store(tmp_path, disk_floor_mb=256, free_bytes=free_bytes) as store:
        store.add(readings(5, Kind.HEART_RATE), urgent=True)
        send_and_ack_all(store)
        raw = readings(4, Kind.HEART_RATE)
        store.add(raw)
        assert store.flush() == [r.id for r in raw]
        assert acked_rows(db) == 0
        assert store.status().shed == 0


def test_sqlite_full_holds_readings_in_memory_and_recovers(tmp_path: Path) -> None:
    with open_store(tmp_path, max_db_bytes=300 * 1024, disk_floor_mb=0) as store:
        store.add(readings(400), urgent=True)
        acked = send_and_ack_all(store)
        committed: list[str] = []
        held: list[str] = []
        for _ in range(200):
            group = readings(50)
            store.add(group)
            done = store.flush()
            committed += done
            if not done:
                held = [r.id for r in group]
                break
        else:
            raise AssertionError("the size cap never made SQLite report full")
        status = store.status()
        # the full flush purged the acknowledged rows early to make room
        assert status.disk_full and status.buffered == 50
        assert store.queue_depth() == len(committed) + 50
        assert acked_rows(tmp_path / "hub.db") == 0
        assert store.flush() == held  # the retry fits in the pages the purge freed
        assert not store.status().disk_full
        stored = store.readings()
        assert stored.problems == ()
        assert {r.id for r in stored.items} == set(committed) | set(held)
        assert not {r.id for r in stored.items} & acked
        messages = [e.message for e in store.events().items]
        assert any("disk is full" in m for m in messages)
        assert any("room again" in m for m in messages)


def test_early_purges_are_bounded_steps_and_shedding_waits_for_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pressure, "EARLY_PURGE_ROWS", 3)
    free = [PLENTY]
    with open_store(tmp_path, disk_floor_mb=256, free_bytes=lambda _p: free[0]) as store:
        store.add(readings(8, Kind.HEART_RATE), urgent=True)
        send_and_ack_all(store)
        free[0] = 10 * MB  # stays under the floor whatever is purged
        left, shed = [], []
        for _ in range(4):
            group = readings(2, Kind.HEART_RATE)
            store.add(group)
            committed = store.flush()
            left.append(acked_rows(store.path))
            shed.append(store.status().shed)
            assert committed == ([] if shed[-1] else [r.id for r in group])
        assert left == [5, 2, 0, 0]
        assert shed == [0, 0, 2, 4]  # raw streams shed only once nothing was left to purge
