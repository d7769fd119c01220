"""How the uplink uses the outbox: counted once per connection, read on a wake, never on a
timer; batches sealed for the hospital with the patient pseudonym in force. Real store
(through its owner), real Mosquitto and receiver."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_support import HUBS, Chain, NoDevices, chain, fill_store, readings, running
from waiting import wait_for

from hub.keyfiles import load_enrollment, load_x25519_private
from hub.store import Batch
from hub.testbed.pki import make_pki
from hub.uplink.sealing import Sealer
from hub.wire.envelope import key_id, open_envelope


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Chain]:
    with chain(tmp_path) as started:
        yield started


@pytest.mark.slow
def test_an_idle_hub_leaves_its_outbox_alone(c: Chain, tmp_path: Path) -> None:
    """The outbox is counted once per connection; after that only a wake makes the uplink read
    it (no timer, whatever the store's size)."""
    fill_store(tmp_path / "hub", readings(30))
    with (
        c.receiver(tmp_path / "receiver.db") as receiver,
        c.hub_loop("hub-a", tmp_path / "hub", batch_seconds=0.0) as hub,
        running(hub) as up,
    ):
        wait_for(lambda: up.stats.acked_readings == 30, "the backlog acknowledged")
        assert receiver.ingest.stored > 0
        assert hub.outbox_calls == {"unacked_batches": 1, "unsent_count": 1,
                                    "next_batch": 1, "acknowledge": 1}  # fmt: skip
        hub.add(readings(2, start=100))
        wait_for(lambda: up.stats.acked_readings == 32, "the new readings acknowledged")
        assert hub.outbox_calls["unsent_count"] == 1  # still the one count at connect
        assert hub.outbox_calls["next_batch"] == 2  # read because of the wake


def test_a_sealed_batch_opens_at_the_hospital_with_the_patient_in_force(tmp_path: Path) -> None:
    c = Chain(tmp_path, make_pki(tmp_path / "pki", HUBS, now=datetime.now(UTC)), 1, None)
    keys = c.hub_keys("hub-a")
    sealer = Sealer(c.hub_settings("hub-a"), keys, NoDevices())
    batch = Batch("batch-1", 7, tuple(readings(3)))
    hospital = load_x25519_private(c.pki.hospital_enc_key)
    enrolled = load_enrollment(c.pki.enrollment)
    first, again = sealer.seal(batch, "pseudo-1"), sealer.seal(batch, "pseudo-2")
    assert (first.id, first.sequence, first.count) == ("batch-1", 7, 3)
    recipients = {key_id(hospital.public_key()): hospital}
    opened = [
        open_envelope(s.envelope, topic_hub="hub-a", hub_keys=enrolled, recipients=recipients)
        for s in (first, again)
    ]
    assert [o.header.batch for o in opened] == ["batch-1", "batch-1"]
    assert opened[0].header.ephemeral != opened[1].header.ephemeral  # a fresh key per seal
    assert b"pseudo-1" in opened[0].payload and b"pseudo-2" in opened[1].payload


@pytest.mark.slow
def test_a_lone_reading_still_in_the_group_commit_is_sent(c: Chain, tmp_path: Path) -> None:
    """A reading added (and its wake given) before the uplink connects, still buffered for
    the group commit when the uplink counts what is unsent at connect: it counts, and goes
    out without waiting for another reading's wake."""
    with (
        c.receiver(tmp_path / "receiver.db"),
        c.hub_loop("hub-a", tmp_path / "hub", batch_seconds=0.2) as hub,
    ):
        hub.add(readings(1, start=500))  # not urgent: buffered for the group commit
        with running(hub) as up:
            wait_for(lambda: up.stats.acked_readings == 1, "the lone reading acknowledged")
        assert hub.unacked() == 0
