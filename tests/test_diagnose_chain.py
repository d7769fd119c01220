"""The connectivity diagnosis against a real Mosquitto (mutual TLS, CRL, per-hub ACL) and a
real receiver: every failure mode the technician can meet is named at the right step, and
the all-green path ends with the hospital's signed acknowledgement."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from diagnose_support import ServerCert, broker_with
from mqtt_support import Chain, chain, reading_ids, readings, running
from waiting import wait_for

from hub.diagnose.run import Limits, diagnose_all
from hub.diagnose.verdicts import Step, StepResult, Verdict
from hub.keyfiles import load_ed25519_private
from hub.testbed.broker import free_port

pytestmark = pytest.mark.slow

# Deadlines, not timings: how long a step may wait before it says what it waited for.
LIMITS = Limits(dns_s=30, connect_s=30, tls_s=30, confirm_s=30, ack_s=30)
QUICK_ACK = replace(LIMITS, ack_s=3)  # for the receiver that is known to be away

UP_TO_TLS = [(Step.DNS, Verdict.DNS_NOT_NEEDED), (Step.TCP, Verdict.TCP_OK)]
UP_TO_ACCESS = [*UP_TO_TLS, (Step.TLS, Verdict.TLS_OK), (Step.MQTT, Verdict.MQTT_OK)]
UP_TO_ACK = [*UP_TO_ACCESS, (Step.ACCESS, Verdict.ACCESS_OK)]


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with chain(tmp_path_factory.mktemp("diagnose")) as started:
        yield started


def run(c: Chain, limits: Limits = LIMITS, keys: Any = None, **overrides: Any) -> list[StepResult]:
    settings = c.hub_settings("hub-a", **overrides)
    return asyncio.run(diagnose_all(settings, keys or c.hub_keys("hub-a"), limits))


def steps(results: list[StepResult]) -> list[tuple[Step, Verdict]]:
    return [(r.step, r.verdict) for r in results]


def test_all_green_ends_with_the_hospitals_ack(c: Chain, tmp_path: Path) -> None:
    with c.receiver(tmp_path / "receiver.db") as receiver:
        results = run(c, host="localhost")  # a name the broker's certificate is made out to
        assert steps(results) == [
            (Step.DNS, Verdict.DNS_OK),
            *UP_TO_ACK[1:],
            (Step.ACK, Verdict.ACK_OK),
        ]
        assert all(r.ok and r.todo == "" for r in results)
        assert results[-1].said == "The hospital received a test message and confirmed it."
        # the probe is an empty batch: checked and acked, nothing stored
        assert receiver.ingest.refused == {}
        assert receiver.ingest.db.count() == 0


def test_beside_a_running_uplink_of_the_same_hub(c: Chain, tmp_path: Path) -> None:
    """What the daemon's test-uplink op does: the hub's own uplink keeps its connection and
    delivers its readings; the probe's ack finds no rows of the uplink's to delete."""
    with (
        c.receiver(tmp_path / "receiver.db") as receiver,
        c.hub_loop("hub-a", tmp_path / "hub") as hub_a,
        running(hub_a) as uplink,
    ):
        wait_for(lambda: uplink.stats.connections == 1, "the uplink to connect")
        batch = readings(30)
        hub_a.add(batch)
        results = run(c)
        wait_for(lambda: uplink.stats.acked_readings == 30, "30 acknowledged readings")
        assert steps(results) == [*UP_TO_ACK, (Step.ACK, Verdict.ACK_OK)]
        assert uplink.stats.connections == 1  # never taken over by the diagnosis
        assert uplink.stats.refusals == {}
        assert sorted(set(reading_ids(receiver.ingest.db))) == sorted(r.id for r in batch)
        wait_for(lambda: hub_a.unacked() == 0, "the outbox to empty")


def test_a_name_that_does_not_resolve(c: Chain) -> None:
    results = run(c, host="broker.invalid")
    assert steps(results) == [(Step.DNS, Verdict.NAME_NOT_FOUND)]
    assert results[0].said == "The broker's name broker.invalid does not exist."
    assert not results[0].ok and results[0].todo


def test_a_closed_port(c: Chain) -> None:
    results = run(c, port=free_port())
    assert steps(results) == [*UP_TO_TLS[:1], (Step.TCP, Verdict.PORT_CLOSED)]


def test_a_port_that_does_not_speak_tls(c: Chain) -> None:
    with socket.create_server(("127.0.0.1", 0)) as plain:
        port = plain.getsockname()[1]
        results = run(c, port=port, limits=replace(LIMITS, tls_s=2))
    # the listener never answers: the handshake times out
    assert steps(results) == [*UP_TO_TLS, (Step.TLS, Verdict.CONNECT_TIMEOUT)]


def test_the_wrong_ca(c: Chain) -> None:
    results = run(c, ca=c.pki.root / "rogue-ca.crt")
    assert steps(results) == [*UP_TO_TLS, (Step.TLS, Verdict.WRONG_CA)]


def test_the_hubs_expired_certificate_with_its_date(c: Chain) -> None:
    results = run(c, cert=c.pki.expired.cert, key=c.pki.expired.key)
    assert steps(results) == [*UP_TO_TLS, (Step.TLS, Verdict.HUB_CERT_EXPIRED)]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    assert results[-1].facts["date"] in (yesterday, datetime.now(UTC).strftime("%Y-%m-%d"))
    assert results[-1].said == f"This hub's certificate expired on {results[-1].facts['date']}."


def test_a_revoked_certificate(c: Chain) -> None:
    results = run(c, cert=c.pki.revoked.cert, key=c.pki.revoked.key)
    assert steps(results) == [*UP_TO_TLS, (Step.TLS, Verdict.HUB_CERT_REVOKED)]


def test_a_certificate_from_another_ca(c: Chain) -> None:
    results = run(c, cert=c.pki.rogue.cert, key=c.pki.rogue.key)
    assert steps(results) == [*UP_TO_TLS, (Step.TLS, Verdict.HUB_CERT_REFUSED)]


def test_the_acl_refuses_a_hub_id_its_certificate_does_not_name(c: Chain) -> None:
    hub_b = c.pki.hubs["hub-b"]
    results = run(c, cert=hub_b.cert, key=hub_b.key)
    assert steps(results) == [*UP_TO_ACCESS, (Step.ACCESS, Verdict.PUBLISH_NOT_AUTHORIZED)]
    assert results[-1].facts["reason"] == "Not authorized, 0x87"
    assert "certificate CN hub-b" in results[-1].detail


def test_no_receiver_ever_subscribed(tmp_path: Path) -> None:
    with chain(tmp_path) as fresh:
        results = run(fresh)
    assert steps(results) == [*UP_TO_ACK, (Step.ACK, Verdict.NO_RECEIVER)]


def test_a_receiver_that_does_not_acknowledge(tmp_path: Path) -> None:
    # A broker of its own: the away receiver's session would take a share of every uplink.
    with chain(tmp_path) as fresh:
        with fresh.receiver(tmp_path / "receiver.db"):
            pass  # its persistent session stays subscribed while it is away
        results = run(fresh, limits=QUICK_ACK)
    assert steps(results) == [*UP_TO_ACK, (Step.ACK, Verdict.NO_ACK)]
    assert results[-1].said == "The hospital did not confirm the test message within 3 seconds."


def test_a_hub_the_hospital_does_not_know(c: Chain, tmp_path: Path) -> None:
    keys = replace(c.hub_keys("hub-a"), signing=load_ed25519_private(c.pki.hub_sign_key("hub-b")))
    with c.receiver(tmp_path / "receiver.db"):
        results = run(c, keys=keys)
    assert steps(results) == [*UP_TO_ACK, (Step.ACK, Verdict.HUB_NOT_ENROLLED)]
    assert results[-1].facts["reason"] == "unknown-signing-key"


def test_an_ack_not_signed_by_the_hospital_the_hub_knows(c: Chain, tmp_path: Path) -> None:
    other = load_ed25519_private(c.pki.hub_sign_key("hub-b")).public_key()
    keys = replace(c.hub_keys("hub-a"), hospital_signing=other)
    with c.receiver(tmp_path / "receiver.db"):
        results = run(c, limits=QUICK_ACK, keys=keys)
    assert steps(results) == [*UP_TO_ACK, (Step.ACK, Verdict.ACK_UNVERIFIED)]


@pytest.mark.parametrize(
    ("spec", "verdict"),
    [
        (ServerCert(("broker.hospital.example",), -1, 400), Verdict.WRONG_HOST_NAME),
        (ServerCert(("127.0.0.1",), -400, -1), Verdict.SERVER_CERT_EXPIRED),
    ],
)
def test_the_brokers_own_certificate(
    c: Chain, tmp_path: Path, spec: ServerCert, verdict: Verdict
) -> None:
    with broker_with(c, tmp_path, spec) as odd:
        results = run(c, port=odd.port, ca=odd.ca_bundle)
    assert steps(results) == [*UP_TO_TLS, (Step.TLS, verdict)]
    if verdict is Verdict.SERVER_CERT_EXPIRED:
        yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
        assert results[-1].said == f"The broker's certificate expired on {yesterday}."
