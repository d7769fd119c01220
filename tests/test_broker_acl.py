"""The broker's access rules (hub.hospital.broker) on a real Mosquitto: a hub certificate is
refused at SUBACK for anything but its own ack and config topics, above all the receivers'
share group, and a live hub keeps delivering every envelope while a hostile one tries. The
test broker (hub.testbed.broker) writes the hospital's own rules; the last test runs the
config `hub hospital init` wrote with the rules `hub hospital enroll` wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrollment_support import give_identity, hospital_with_broker, write_hub_config
from mqtt_session import Session
from mqtt_support import Chain, chain, reading_ids, readings, running
from waiting import wait_for

from hub.hospital.layout import OPS, RECEIVER
from hub.testbed.pki import Identity
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
    hostile = Session(c.pki.ca, c.port, c.pki.hubs["hub-b"])
    try:
        refused = {topic: hostile.subscribe(topic) for topic in HOSTILE}
        assert refused == dict.fromkeys(HOSTILE, NOT_AUTHORIZED)
        own = [hostile.subscribe(topics.ack("hub-b")), hostile.subscribe(topics.config("hub-b"))]
        assert own == [1, 1]  # granted QoS 1
    finally:
        hostile.close()


def test_only_the_receiver_may_join_the_share_group(c: Chain) -> None:
    receiver = Session(c.pki.ca, c.port, c.pki.receiver)
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
    hostile = Session(c.pki.ca, c.port, c.pki.hubs["hub-b"])
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


def test_the_hospitals_own_broker_refuses_an_enrolled_hub_the_share_group(tmp_path: Path) -> None:
    """The enrollment reaches the running broker's subscription rules at once (no restart;
    tests/test_broker_live_access.py follows enrollment and revocation further)."""
    hub_toml = write_hub_config(tmp_path / "hub-a", "hub-a")
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place = broker.place
        give_identity(place, hub_toml)
        current = tmp_path / "hub-a" / "data" / "identity" / "current"
        identities = {
            "hub-a": Identity(current / "hub.crt", current / "tls.key"),
            OPS: Identity(*place.service(OPS)),
            RECEIVER: Identity(*place.service(RECEIVER)),
        }
        asked = {
            "hub-a": [topics.shared_up(), f"{topics.ROOT}/+/up", topics.ack("hub-a")],
            OPS: [topics.shared_up(), f"{topics.ROOT}/+/status"],
            RECEIVER: [topics.shared_up(), "#"],
        }
        answers = {}
        for name, ident in identities.items():
            session = Session(place.ca, broker.port, ident)
            try:
                answers[name] = [session.subscribe(topic) for topic in asked[name]]
            finally:
                session.close()
        assert answers == {
            "hub-a": [NOT_AUTHORIZED, NOT_AUTHORIZED, 1],
            OPS: [NOT_AUTHORIZED, 1],
            RECEIVER: [1, NOT_AUTHORIZED],
        }
