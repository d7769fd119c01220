import random
from datetime import timedelta
from pathlib import Path

import pytest
from store_support import (
    BAND,
    CUFF,
    T0,
    committed_rows,
    open_store,
    reading,
    readings,
    stream_minute,
)

from hub.model import DeviceInfo, Event, EventKind, Kind, Level
from hub.store import Purged, Store, StoreError


def test_states_new_sent_acknowledged_purged(tmp_path: Path) -> None:
    with open_store(tmp_path, retention_days=7) as store:
        batch_in = readings(5)
        store.add(batch_in)
        assert store.queue_depth() == 5
        assert store.flush() == [r.id for r in batch_in]
        batch = store.next_batch(3)
        assert batch is not None and batch.readings == tuple(batch_in[:3])
        assert store.acknowledge(batch.id) == 3
        assert store.acknowledge(batch.id) == 0
        assert store.acknowledge("no-such-batch") == 0
        assert store.queue_depth() == 2
        now = T0 + timedelta(days=1)
        # received a day ago: kept for the retention
        assert store.purge_expired(now) == Purged(0, 0, more=False)
        assert store.purge_expired(now + timedelta(days=400)) == Purged(3, 0, more=False)
        assert [r.id for r in store.readings().items] == [r.id for r in batch_in[3:]]


def test_batches_come_out_in_id_order_per_stream(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        cuff = readings(6, device=CUFF)
        band = readings(6, Kind.HEART_RATE, device=BAND)
        mixed = cuff + band
        random.Random(7).shuffle(mixed)
        store.add(mixed, urgent=True)
        out = []
        while (batch := store.next_batch(4)) is not None:
            out += batch.readings
        assert [r for r in out if r.device == CUFF] == cuff
        assert [r for r in out if r.device == BAND] == band
        assert store.next_batch(4) is None


def test_stream_minute_blocks_go_out_as_they_came_in(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        minutes = [stream_minute(T0 + timedelta(minutes=m)) for m in range(3)]
        store.add([*minutes, reading()], urgent=True)
        batch = store.next_batch(10)
        assert batch is not None and batch.readings[:3] == tuple(minutes)
        assert batch.readings[0].samples == minutes[0].samples
        assert store.readings([minutes[1].id]).items == (minutes[1],)


def test_unacknowledged_batch_is_resent_with_the_same_id_and_sequence(tmp_path: Path) -> None:
    clock = [T0]
    with open_store(tmp_path, clock=lambda: clock[0]) as store:
        store.add(readings(4), urgent=True)
        first = store.next_batch(2)
        second = store.next_batch(2)
        assert first and second and second.sequence == first.sequence + 1
        assert first.id != second.id
        assert store.unacked_batches(T0) == []  # nothing sent before T0
        clock[0] = T0 + timedelta(minutes=1)
        again = store.unacked_batches(T0 + timedelta(seconds=1))
        assert again == [first, second]
        # returning them counts as re-sent now; not again until that time has passed
        assert store.unacked_batches(T0 + timedelta(seconds=30)) == []
        store.acknowledge(first.id)
        assert store.unacked_batches(T0 + timedelta(minutes=2)) == [second]


def test_sequence_numbers_keep_rising_across_purges_and_reopening(tmp_path: Path) -> None:
    seqs = []
    for _ in range(3):
        with open_store(tmp_path, retention_days=0) as store:
            store.add(readings(2), urgent=True)
            batch = store.next_batch(10)
            assert batch is not None
            seqs.append(batch.sequence)
            store.acknowledge(batch.id)
            store.purge_expired(T0 + timedelta(days=3650))
    assert seqs == sorted(set(seqs)) and len(seqs) == 3


def test_urgent_readings_are_committed_at_once(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.add(readings(2))
        assert committed_rows(store.path) == 0
        store.add([reading(value=220.0)], urgent=True)  # a red triage result
        assert committed_rows(store.path) == 3


def test_group_commit_at_flush_max(tmp_path: Path) -> None:
    with open_store(tmp_path, flush_max=10) as store:
        store.add(readings(9))
        assert committed_rows(store.path) == 0
        store.add(readings(1))
        assert committed_rows(store.path) == 10


def test_nothing_unacknowledged_is_ever_purged(tmp_path: Path) -> None:
    rng = random.Random(3)
    clock = [T0]
    with open_store(tmp_path, retention_days=1, clock=lambda: clock[0]) as store:
        acked: set[str] = set()
        all_ids: set[str] = set()
        for _ in range(40):
            action = rng.choice(["add", "send", "ack", "purge"])
            clock[0] += timedelta(hours=rng.choice([1, 12, 48]))
            if action == "add":
                new = readings(rng.randint(1, 5))
                all_ids |= {r.id for r in new}
                store.add(new, urgent=rng.random() < 0.5)
            elif action == "send":
                store.next_batch(rng.randint(1, 4))
            elif action == "ack":
                for batch in store.unacked_batches(clock[0] + timedelta(days=1)):
                    if rng.random() < 0.5:
                        store.acknowledge(batch.id)
                        acked |= {r.id for r in batch.readings}
            else:
                while store.purge_expired(clock[0], batch_rows=2).more:
                    pass
        while store.purge_expired(clock[0] + timedelta(days=3650), batch_rows=3).more:
            pass
        left = {r.id for r in store.readings().items} | set(store.flush())
        assert left == all_ids - acked
        assert store.queue_depth() == len(all_ids - acked)


def test_bad_reading_ids_are_refused_and_nothing_is_buffered(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        with pytest.raises(ValueError, match="UUID"):
            store.add([reading(), reading(id="r1")])
        with pytest.raises(ValueError, match="UUID"):
            store.add([reading(id=reading().id.upper())])
        assert store.queue_depth() == 0


def test_devices_events_and_config_history_round_trip(tmp_path: Path) -> None:
    info = DeviceInfo("C0:11:22:33:44:55", "blood-pressure", "Acme", "BP-1", "SN9", firmware="2.1")
    event = Event(EventKind.ALERT, T0, "systolic 182", CUFF, Level.RED, {"value": 182.0})
    with open_store(tmp_path) as store:
        store.record_device(info, bond_state="bonded", last_seen=T0, patient="p-17")
        store.record_device(info, bond_state="bonded", last_seen=T0 + timedelta(hours=1))
        store.record_event(event)
        store.record_config("v3", "ab" * 32, T0, "hospital")
    with open_store(tmp_path) as store:
        devices = store.devices()
        assert devices.problems == ()
        (device,) = devices.items
        assert (device.info, device.bond_state, device.patient) == (info, "bonded", "")
        assert device.last_seen == T0 + timedelta(hours=1)
        assert store.events().items == (event,)
        (config,) = store.config_history()
        assert (config.version, config.sha256, config.applied) == ("v3", "ab" * 32, T0)
    raw = (tmp_path / "hub.db").read_bytes()
    assert b"systolic" not in raw and b"p-17" not in raw and b"BP-1" not in raw


def test_health_values_are_not_stored_in_clear(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.add([reading(details={"note": "dizzy-after-lunch"})], urgent=True)
    for path in tmp_path.glob("hub.db*"):
        assert b"dizzy-after-lunch" not in path.read_bytes()


def test_closed_store_refuses_new_readings(tmp_path: Path) -> None:
    store: Store = open_store(tmp_path)
    store.add(readings(2))
    store.close()
    store.close()
    assert committed_rows(tmp_path / "hub.db") == 2
    with pytest.raises(StoreError, match="closed"):
        store.add(readings(1))
