"""Replayed answers on a real broker: the hospital's genuine ack of a batch already settled,
published again by another client while the receiver is down, a refusal naming no batch, and
the ack of a connectivity probe. None moves `last_ack` or a counter, raises an alert, or
hides the outage; each is logged once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_session import Session
from mqtt_support import Chain, Recorder, chain, readings, running
from waiting import wait_for

from hub.diagnose.probe import BATCH_PREFIX
from hub.keyfiles import load_ed25519_private
from hub.model import EventKind
from hub.uplink.policy import Problem
from hub.wire import topics
from hub.wire.messages import Ack, sign_message

pytestmark = pytest.mark.slow

UNEXPECTED = "ignored an unexpected"


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Chain]:
    with chain(tmp_path) as started:
        yield started


def _signed(c: Chain, ack: Ack) -> bytes:
    return sign_message(ack.body(), load_ed25519_private(c.pki.hospital_sign_key))


def test_replayed_answers_change_nothing_while_the_receiver_is_down(
    c: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.uplink")
    spy = Session(c.pki.ca, c.port, c.pki.hubs["hub-a"])  # sees the hub's acks as they go by
    replayer = Session(c.pki.ca, c.port, c.pki.receiver)  # anyone who may write the ack topic
    ack_topic = topics.ack("hub-a")
    events = Recorder()
    try:
        assert spy.subscribe(ack_topic) == 1
        with (
            c.hub_loop("hub-a", tmp_path / "hub", listener=events, batch_max=5,
                       ack_timeout_s=600.0) as hub,
            running(hub) as up,
        ):  # fmt: skip
            with c.receiver(tmp_path / "rx.db"):
                hub.add(readings(5))
                wait_for(lambda: up.stats.acked_readings == 5, "the first batch acknowledged")
                wait_for(lambda: len(spy.received) == 1, "the spy to see the genuine ack")
            # the receiver is down: the next batch waits, unacknowledged
            hub.add(readings(5, start=5))
            wait_for(lambda: up.stats.batches_sent == 2, "the second batch sent")
            before = (up.last_ack, up.stats.acked_batches, up.stats.acked_readings,
                      dict(up.stats.refusals), up.problem)  # fmt: skip
            genuine = spy.received[0][1]
            batchless = _signed(c, Ack("hub-a", None, False, reason="bad-envelope"))
            probe = _signed(c, Ack("hub-a", f"{BATCH_PREFIX}0f3a9c", True, stored=0))
            for payload in (genuine, batchless, genuine, batchless, probe):
                assert replayer.publish(ack_topic, payload) == 0  # the broker took each
            # answers on one topic arrive in order: once the probe's is logged, all were seen
            wait_for(lambda: f"batch {BATCH_PREFIX}0f3a9c" in caplog.text, "the probe's ack")
            after = (up.last_ack, up.stats.acked_batches, up.stats.acked_readings,
                     dict(up.stats.refusals), up.problem)  # fmt: skip
            assert after == before
            assert up.problem is Problem.NONE and up.stats.refusals == {}
            assert hub.unacked() == 5  # the outage stays visible: nothing settled
            assert not [e for e in events.events if e.kind is EventKind.ALERT]
            lines = [r.getMessage() for r in caplog.records if UNEXPECTED in r.getMessage()]
            assert len(lines) == 3  # the replayed ack, the batchless refusal, the probe: once
            assert sum("no batch id" in line for line in lines) == 1
    finally:
        spy.close()
        replayer.close()
