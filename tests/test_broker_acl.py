"""The broker's access rules (hub.hospital.broker) on a real Mosquitto: a hub certificate is
refused at SUBACK for anything but its own ack and config topics, above all the receivers'
share group, and a live hub keeps delivering every envelope while a hostile one tries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_session import Session
from mqtt_support import Chain, chain, reading_ids, readings, running
from waiting import wait_for

from hub.wire import topics

pytestmark = pytest.mark.slow

NOT_AUTHORIZED = 0x87


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Chain]:
    with chain(tmp_path) as started:
        yield started


HOSTILE = [
    topics.shared_up(),  # the receivers' own group
    f"$share/{topics.SHARE_GROUP}/#",
    f"$share/other/{topics.ROOT}/+/up",
    f"{topics.ROOT}/+/up",
    topics.up("hub-a"),
    topics.ack("hub-a"),
    topics.config("hub-a"),
    f"{topics.ROOT}/+/ack",
    f"{topics.ROOT}/hub-b/#",
    "#",
    "$CONTROL/dynamic-security/#",
]


def test_a_hub_is_refused_at_suback_for_all_but_its_own_ack_and_config(c: Chain) -> None:
    hostile = Session(c, c.pki.hubs["hub-b"])
    try:
        refused = {topic: hostile.subscribe(topic) for topic in HOSTILE}
        assert refused == dict.fromkeys(HOSTILE, NOT_AUTHORIZED)
        own = [hostile.subscribe(topics.ack("hub-b")), hostile.subscribe(topics.config("hub-b"))]
        assert own == [1, 1]  # granted QoS 1
    finally:
        hostile.close()


def test_only_the_receiver_may_join_the_share_group(c: Chain) -> None:
    receiver = Session(c, c.pki.receiver)
    try:
        assert receiver.subscribe(topics.shared_up()) == 1
        assert receiver.subscribe(f"{topics.ROOT}/+/status") == 1
        assert receiver.subscribe("#") == NOT_AUTHORIZED
    finally:
        receiver.close()


def test_a_live_hub_delivers_every_envelope_while_a_hostile_hub_tries_the_group(
    c: Chain, tmp_path: Path
) -> None:
    """Before the subscription rules, the hostile hub took its turn in the group and the
    broker dropped it: half the envelopes never reached the receiver. With a long ack timeout
    nothing is re-sent during the test, so each envelope must arrive the first time."""
    hostile = Session(c, c.pki.hubs["hub-b"])
    with c.receiver(tmp_path / "rx.db") as rx:
        try:
            assert hostile.subscribe(topics.shared_up()) == NOT_AUTHORIZED
            with (
                c.hub_loop("hub-a", tmp_path / "hub", batch_max=5, ack_timeout_s=600.0) as hub,
                running(hub) as up,
            ):
                for n in range(20):
                    hub.add(readings(5, start=5 * n))
                wait_for(lambda: up.stats.acked_readings == 100, "every reading acknowledged")
                assert up.stats.resent == 0
                assert up.stats.acked_batches == up.stats.batches_sent
                assert hub.unacked() == 0
            assert len(set(reading_ids(rx.ingest.db))) == 100
            assert hostile.received == []
        finally:
            hostile.close()
