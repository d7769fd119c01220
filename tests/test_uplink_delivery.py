"""Every reading arrives exactly once: two hubs, a crashing broker, a receiver that is away,
a hub process killed mid-upload. Real Mosquitto, real stores, real receiver."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_support import (
    Chain,
    chain,
    fill_store,
    kill,
    reading_ids,
    readings,
    running,
    spawn_hub,
    unacked_in,
    wait_for,
)

from hub.model import Reading
from hub.receiver.db import ReceiverDb

pytestmark = pytest.mark.slow


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Chain]:
    with chain(tmp_path) as started:
        yield started


def _exactly_once(db: ReceiverDb, expected: list[Reading]) -> None:
    """Every reading's Observations (panel, pulse, an irregular-pulse flag) each stored once."""
    identifiers = db.identifiers()
    assert len(identifiers) == len(set(identifiers))
    assert sorted(set(reading_ids(db))) == sorted(r.id for r in expected)


def test_two_hubs_10000_readings_arrive_exactly_once(c: Chain, tmp_path: Path) -> None:
    batches = {"hub-a": readings(5000), "hub-b": readings(5000, device="C0:11:22:33:44:66")}
    for hub, batch in batches.items():
        fill_store(tmp_path / hub, batch)
    with (
        c.receiver(tmp_path / "receiver.db") as receiver,
        c.hub_loop("hub-a", tmp_path / "hub-a") as a,
        c.hub_loop("hub-b", tmp_path / "hub-b") as b,
    ):
        with running(a) as up_a, running(b) as up_b:
            wait_for(lambda: up_a.stats.acked_readings + up_b.stats.acked_readings == 10_000,
                     "10,000 acknowledged readings")  # fmt: skip
        _exactly_once(receiver.ingest.db, batches["hub-a"] + batches["hub-b"])
        assert receiver.ingest.refused == {}
        assert a.unacked() == b.unacked() == 0


def test_broker_killed_and_restarted_mid_upload(c: Chain, tmp_path: Path) -> None:
    batch = readings(6000)
    fill_store(tmp_path / "hub", batch)
    assert c.broker is not None
    with (
        c.receiver(tmp_path / "receiver.db") as receiver,
        c.hub_loop("hub-a", tmp_path / "hub", batch_max=20) as hub,
    ):
        with running(hub) as up:
            wait_for(lambda: up.stats.acked_readings >= 500, "the upload to be under way")
            c.broker.kill()
            assert up.stats.acked_readings < len(batch)  # really mid-upload
            c.broker.start()
            wait_for(lambda: hub.unacked() == 0, "every reading acknowledged")
        assert up.stats.connections >= 2
        _exactly_once(receiver.ingest.db, batch)


def test_broker_crash_while_the_receiver_is_away_loses_nothing(c: Chain, tmp_path: Path) -> None:
    """The case that loses nearly everything when rows are deleted on PUBACK."""
    batch = readings(3000)
    fill_store(tmp_path / "hub", batch)
    assert c.broker is not None
    with c.receiver(tmp_path / "receiver.db"):
        pass  # its persistent shared subscription now exists; the consumer is away
    with c.hub_loop("hub-a", tmp_path / "hub", batch_max=100, window=8) as hub, running(hub) as up:
        wait_for(lambda: up.stats.batches_sent >= 8, "batches published while nobody consumes")
        c.broker.kill()
        c.broker.start()
        with c.receiver(tmp_path / "receiver.db") as receiver:
            wait_for(lambda: hub.unacked() == 0, "every reading acknowledged")
            _exactly_once(receiver.ingest.db, batch)


def test_receiver_stopped_for_a_while(c: Chain, tmp_path: Path) -> None:
    batch = readings(2000)
    fill_store(tmp_path / "hub", batch)
    db = tmp_path / "receiver.db"
    with (
        c.hub_loop("hub-a", tmp_path / "hub", ack_timeout_s=0.5, window=4) as hub,
        running(hub) as up,
    ):
        with c.receiver(db) as receiver:
            wait_for(lambda: receiver.ingest.stored > 0, "the first batches stored")
        # while the receiver is away the hub re-sends the same batches, and takes no more
        # new ones than its window allows
        wait_for(lambda: up.stats.resent >= 8, "re-sends after the ack timeout")
        new_batches = up.stats.batches_sent - up.stats.resent
        assert new_batches <= up.stats.acked_batches + 4
        assert hub.unacked() > 0
        with c.receiver(db) as receiver:
            wait_for(lambda: hub.unacked() == 0, "every reading acknowledged")
            _exactly_once(receiver.ingest.db, batch)
            assert receiver.ingest.duplicates > 0  # re-sent copies were recognised


def test_hub_process_killed_and_restarted(c: Chain, tmp_path: Path) -> None:
    batch = readings(4000)
    fill_store(tmp_path / "hub", batch)
    with c.receiver(tmp_path / "receiver.db") as receiver:
        first = spawn_hub(c, "hub-a", tmp_path / "hub")
        try:
            wait_for(lambda: receiver.ingest.stored >= 600, "the upload to be under way")
        finally:
            kill(first)
        assert unacked_in(tmp_path / "hub") > 0  # really mid-upload
        second = spawn_hub(c, "hub-a", tmp_path / "hub")
        try:
            wait_for(lambda: second.poll() is not None, "the hub to drain its outbox and exit")
        finally:
            kill(second)
        assert second.returncode == 0
        _exactly_once(receiver.ingest.db, batch)
    assert unacked_in(tmp_path / "hub") == 0
