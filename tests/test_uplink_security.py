"""Refused certificates, refused topics, urgent sending and the signed downlink config."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_support import (
    Chain,
    Recorder,
    chain,
    fill_store,
    kill,
    readings,
    running,
    spawn_hub,
)
from waiting import wait_for

from hub.model import EventKind
from hub.testbed.pki import Identity
from hub.uplink.policy import Problem
from hub.wire import topics
from hub.wire.messages import DownlinkConfig, sign_message

pytestmark = pytest.mark.slow


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Chain]:
    with chain(tmp_path) as started:
        yield started


@pytest.mark.parametrize("which", ["none", "rogue", "expired", "revoked"])
def test_refused_certificates_are_reported_and_retried_slowly(
    c: Chain, tmp_path: Path, which: str
) -> None:
    ident: Identity | None = None if which == "none" else getattr(c.pki, which)
    cert, key = (ident.cert, ident.key) if ident else (None, None)
    events = Recorder()
    with c.hub_loop(
        "hub-a", tmp_path / "hub", listener=events, cert=cert, key=key, auth_retry_s=300.0
    ) as hub:
        with running(hub) as up:
            wait_for(lambda: up.problem is not Problem.NONE, "the failure to be reported")
            assert up.problem is Problem.AUTH, up.problem_detail
            assert up.stats.connect_attempts == 1
            assert up.stats.connections == 0
            assert up.retry_in >= 0.75 * 300.0  # no hammering: the next try is minutes away
        assert up.stats.connect_attempts == 1
    errors = [e for e in events.events if e.kind is EventKind.ERROR]
    assert errors and errors[0].details["problem"] is Problem.AUTH


def test_outage_is_retried_with_backoff_not_reported_as_auth(c: Chain, tmp_path: Path) -> None:
    assert c.broker is not None
    c.broker.stop()
    with (
        c.hub_loop("hub-a", tmp_path / "hub", backoff_base_s=0.05, backoff_max_s=0.2) as hub,
        running(hub) as up,
    ):
        wait_for(lambda: up.stats.connect_attempts >= 3, "repeated attempts during the outage")
        assert up.problem is Problem.OUTAGE
        assert up.retry_in <= 0.2
        c.broker.start()
        wait_for(lambda: up.stats.connections == 1, "the reconnection")
        assert up.problem is Problem.NONE


def test_window_is_capped_by_the_brokers_receive_maximum(c: Chain, tmp_path: Path) -> None:
    with c.hub_loop("hub-a", tmp_path / "hub", window=500) as hub:
        assert hub.uplink.window == 500
        with running(hub) as up:
            wait_for(lambda: up.stats.connections == 1, "the connection")
            # hub.testbed.broker sets max_inflight_messages 100; two stay free for the status
            assert up.window == 98


def test_publishing_into_another_hubs_topic_raises_0x87(c: Chain, tmp_path: Path) -> None:
    fill_store(tmp_path / "hub", readings(50))
    events = Recorder()
    # hub-a's certificate, configured as hub-b: every publish targets hub-b's topic
    ident = c.pki.hubs["hub-a"]
    with c.hub_loop(
        "hub-b", tmp_path / "hub", listener=events, cert=ident.cert, key=ident.key
    ) as hub:
        with running(hub) as up:
            wait_for(lambda: up.problem is Problem.NOT_AUTHORIZED, "the 0x87 alarm")
            assert up.stats.refusals["puback-0x87"] >= 1
            assert up.retry_in >= 0.75 * up.settings.auth_retry_s  # an alarm, not a retry loop
        assert hub.unacked() == 50  # nothing acknowledged
    alerts = [e for e in events.events if e.kind is EventKind.ALERT]
    assert alerts and "0x87" in alerts[0].message


def test_a_red_reading_is_sent_at_once(c: Chain, tmp_path: Path) -> None:
    red = readings(3, start=2)[0]  # i=2 → level red
    assert red.details["level"] == "red"
    with (
        c.receiver(tmp_path / "receiver.db") as receiver,
        c.hub_loop("hub-a", tmp_path / "hub", batch_max=10_000, batch_seconds=3600.0) as hub,
        running(hub) as up,
    ):
        wait_for(lambda: up.stats.connections == 1, "the connection")
        hub.add([red], urgent=True)
        wait_for(lambda: receiver.ingest.stored > 0, "the red reading at the hospital")
        wait_for(lambda: hub.unacked() == 0, "the red reading acknowledged")


def _config(version: int, patient: str = "pseudo-1") -> DownlinkConfig:
    return DownlinkConfig(
        hub="hub-a",
        version=version,
        patient=patient,
        pathway="copd",
        thresholds={"spo2": {"red_below": 88}},
        schedule=({"kind": "spo2-spot", "at": "08:00"},),
    )


def test_downlink_config_is_verified_and_handed_on(c: Chain, tmp_path: Path) -> None:
    listener = Recorder()
    with (
        c.receiver(tmp_path / "receiver.db") as receiver,
        c.hub_loop("hub-a", tmp_path / "hub", listener=listener) as hub,
    ):
        listener.follow = hub.uplink  # takes the patient pseudonym, as the daemon does
        with running(hub) as up:
            receiver.publish_config(_config(1))
            wait_for(lambda: len(listener.configs) == 1, "the first config")
            assert up.patient == "pseudo-1"
            # forged (signed by someone else) and stale configs are refused, v1 stays
            forged = sign_message(_config(5, "intruder").body(), Ed25519PrivateKey.generate())
            receiver.client.publish(topics.config("hub-a"), forged, qos=1, retain=True)
            wait_for(lambda: any("refused" in e.message for e in listener.events), "a refusal")
            receiver.publish_config(_config(1, "stale"))
            receiver.publish_config(_config(2, "pseudo-2"))
            wait_for(lambda: len(listener.configs) == 2, "version 2")
        assert listener.configs == [_config(1), _config(2, "pseudo-2")]
        assert sum("refused" in e.message for e in listener.events) == 2
    # After a restart the retained config, already applied, is not handed on again.
    again = Recorder()
    with (
        c.hub_loop("hub-a", tmp_path / "hub", listener=again, applied_config_version=2) as hub,
        running(hub) as up,
    ):
        wait_for(lambda: up.stats.connections == 1, "the connection")
        hub.add(readings(1))  # a round trip through the broker after the retained config
        wait_for(lambda: up.stats.batches_sent > 0, "a batch sent")
    assert again.configs == [] and again.events == []  # and nothing refused


@contextmanager
def _watching_status(c: Chain, client_id: str) -> Iterator[list[bytes]]:
    """Every payload seen on hub-a's status topic, the retained one first."""
    seen: list[bytes] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id, protocol=mqtt.MQTTv5)
    watcher.tls_set(str(c.pki.ca), str(c.pki.receiver.cert), str(c.pki.receiver.key))
    watcher.on_message = lambda _c, _u, msg: seen.append(msg.payload)
    watcher.on_connect = lambda cl, *_: cl.subscribe(topics.status("hub-a"), qos=1)
    watcher.connect("127.0.0.1", c.port)
    watcher.loop_start()
    try:
        yield seen
    finally:
        watcher.disconnect()
        watcher.loop_stop()


def test_status_is_retained_with_an_offline_last_will(c: Chain, tmp_path: Path) -> None:
    with _watching_status(c, "watcher") as seen:
        with c.hub_loop("hub-a", tmp_path / "hub") as hub, running(hub) as up:
            wait_for(lambda: b'{"state":"online"}' in seen, "online status")
            up.publish_status(b'{"state":"online","queue":"ok"}')
            wait_for(lambda: seen[-1] == b'{"state":"online","queue":"ok"}', "the status")
        wait_for(lambda: seen[-1] == b'{"state":"offline"}', "offline status on a clean stop")
    # A later subscriber gets the retained status; a hub killed outright says nothing itself,
    # so the "offline" after it is the broker publishing its last will.
    fill_store(tmp_path / "killed", readings(20))  # no receiver: the hub keeps waiting
    with _watching_status(c, "watcher-2") as seen:
        wait_for(lambda: seen == [b'{"state":"offline"}'], "the retained offline status")
        hub = spawn_hub(c, "hub-a", tmp_path / "killed")
        try:
            wait_for(lambda: seen[-1] == b'{"state":"online"}', "online status")
        finally:
            kill(hub)
        wait_for(lambda: seen[-1] == b'{"state":"offline"}', "the last will")


def test_a_hanging_connect_does_not_hold_up_the_loop(c: Chain, tmp_path: Path) -> None:
    """A broker that accepts TCP and never answers the TLS handshake: the blocking connect
    runs in a worker thread, so the loop still stores readings and takes wakes meanwhile."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts into its backlog, says nothing
    port = silent.getsockname()[1]
    try:
        with (
            c.hub_loop("hub-a", tmp_path / "hub", port=port, connect_timeout_s=600.0) as hub,
            running(hub) as up,
        ):
            wait_for(lambda: up.stats.connect_attempts == 1, "the connection attempt")
            hub.add(readings(3))  # the loop is free: this returns while the handshake hangs
            assert hub.unacked() == 3 and up.stats.connections == 0
            silent.close()  # the pending connection is reset: the attempt fails at once
            wait_for(lambda: up.problem is Problem.OUTAGE, "the failed attempt reported")
    finally:
        silent.close()
