"""The receiver: refusals with reasons, de-duplication, transactional storage, FHIR export."""

import io
import json
import struct
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fhir.resources.R4B.bundle import Bundle
from mqtt_support import (
    T0,
    Chain,
    chain,
    fill_store,
    make_ingest,
    reading_ids,
    readings,
    running,
    wait_for,
)

from hub import cli
from hub.keyfiles import load_ed25519_private, load_ed25519_public, load_x25519_public
from hub.model import Reading
from hub.receiver.app import Options, export_fhir, serve
from hub.receiver.service import Ingest, ReceiverSettings
from hub.testbed.pki import Pki, make_pki
from hub.uplink.policy import Problem
from hub.wire import topics
from hub.wire.envelope import seal
from hub.wire.fhir import bundle_json
from hub.wire.messages import parse_ack

NOW = datetime(2026, 11, 21, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), ["hub-a", "hub-b"], now=NOW)


@pytest.fixture
def ingest(pki: Pki, tmp_path: Path) -> Iterator[Ingest]:
    ingest = make_ingest(pki, tmp_path / "receiver.db")
    yield ingest
    ingest.db.close()


def _envelope(
    pki: Pki,
    hub: str,
    batch: list[Reading],
    batch_id: str = "b-1",
    *,
    payload: bytes | None = None,
    count: int | None = None,
    signer: Ed25519PrivateKey | None = None,
) -> bytes:
    return seal(
        payload or bundle_json(batch_id, hub, "p", batch, T0).encode(),
        hub=hub,
        batch=batch_id,
        sequence=1,
        created=T0.isoformat(),
        count=len(batch) if count is None else count,
        signer=signer or load_ed25519_private(pki.hub_sign_key(hub)),
        recipient=load_x25519_public(pki.hospital_enc_pub),
        ephemeral=X25519PrivateKey.generate(),
    )


def test_stores_and_deduplicates(pki: Pki, ingest: Ingest) -> None:
    batch = readings(10)
    env = _envelope(pki, "hub-a", batch)
    (ack,) = ingest.handle([(topics.up("hub-a"), env)], NOW)
    # panel + pulse per reading, and reading 0's cuff-status bits (PhdBitsEnumerationObservation)
    assert (ack.ok, ack.batch, ack.stored, ack.duplicates) == (True, "b-1", 21, 0)
    # the same batch again (a re-send), and a new batch overlapping half of it
    again = _envelope(pki, "hub-a", batch)
    overlap = _envelope(pki, "hub-a", batch[5:] + readings(5, start=100), batch_id="b-2")
    acks = ingest.handle([(topics.up("hub-a"), again), (topics.up("hub-a"), overlap)], NOW)
    # (readings 0 and 104 also carry cuff-status bits: one more Observation each)
    assert [(a.stored, a.duplicates) for a in acks] == [(0, 21), (11, 10)]
    assert len(set(reading_ids(ingest.db))) == 15 and ingest.db.count() == 32


def test_refusals_name_the_reason(pki: Pki, ingest: Ingest) -> None:
    good = _envelope(pki, "hub-a", readings(4))
    tampered = bytearray(good)
    tampered[-80] ^= 0xFF
    header_len = struct.unpack_from(">H", good, 4)[0]
    wrong_key = _envelope(pki, "hub-a", readings(4), signer=Ed25519PrivateKey.generate())
    foreign = _envelope(pki, "hub-b", readings(2), payload=bundle_json(
        "b-1", "hub-a", "p", readings(2), T0).encode())  # fmt: skip
    miscounted = _envelope(pki, "hub-a", readings(4), count=9)
    relabelled = _envelope(pki, "hub-a", readings(2), payload=bundle_json(
        "b-other", "hub-a", "p", readings(2), T0).encode())  # fmt: skip
    not_json = _envelope(pki, "hub-a", [], payload=b"not json", count=0)
    cases = [
        ("hub-a", bytes(tampered), "bad-signature"),
        ("hub-a", good[: header_len + 30], "truncated"),
        ("hub-b", good, "replayed-from-another-hub"),
        ("hub-a", wrong_key, "unknown-signing-key"),
        ("hub-b", foreign, "bad-payload"),
        ("hub-a", miscounted, "bad-payload"),
        ("hub-a", relabelled, "bad-payload"),
        ("hub-a", not_json, "bad-payload"),
        ("hub-a", b"garbage", "malformed"),
    ]
    acks = ingest.handle([(topics.up(hub), data) for hub, data, _ in cases], NOW)
    assert [(a.ok, a.reason) for a in acks] == [(False, reason) for *_, reason in cases]
    assert acks[0].batch == "b-1"  # the clear header still names the batch for the hub's log
    assert acks[-1].batch is None
    assert ingest.db.count() == 0
    assert sum(ingest.refused.values()) == len(cases)


def test_a_failed_transaction_stores_nothing(pki: Pki, ingest: Ingest) -> None:
    ingest.db.conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON observations WHEN NEW.identifier LIKE '%8867-4' "
        "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
    )
    with pytest.raises(Exception, match="disk trouble"):
        ingest.handle([(topics.up("hub-a"), _envelope(pki, "hub-a", readings(3)))], NOW)
    assert ingest.db.count() == 0
    assert ingest.db.conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Chain]:
    with chain(tmp_path) as started:
        yield started


@pytest.mark.slow
def test_bad_envelopes_over_mqtt_get_a_signed_refusal(c: Chain, tmp_path: Path) -> None:
    answers: list[bytes] = []
    hub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "raw-hub-a", protocol=mqtt.MQTTv5)
    ident = c.pki.hubs["hub-a"]
    hub.tls_set(str(c.pki.ca), str(ident.cert), str(ident.key))
    hub.on_message = lambda _c, _u, msg: answers.append(msg.payload)
    subscribed = threading.Event()
    hub.on_subscribe = lambda *_: subscribed.set()
    hub.on_connect = lambda cl, *_: cl.subscribe(topics.ack("hub-a"), qos=1)
    with c.receiver(tmp_path / "receiver.db") as receiver:
        hub.connect("127.0.0.1", c.port)
        hub.loop_start()
        try:
            wait_for(subscribed.is_set, "the ack subscription")
            good = _envelope(c.pki, "hub-a", readings(3))
            other = _envelope(c.pki, "hub-b", readings(3), batch_id="b-9")
            tampered = good.replace(b'"seq":1', b'"seq":2')
            for data in (tampered, good[:-10], other, good):
                hub.publish(topics.up("hub-a"), data, qos=1)
            wait_for(lambda: len(answers) == 4, "four answers")
        finally:
            hub.disconnect()
            hub.loop_stop()
        key = load_ed25519_public(c.pki.hospital_sign_pub)
        acks = sorted((parse_ack(a, key, "hub-a") for a in answers), key=lambda a: a.reason)
        assert [(a.ok, a.reason) for a in acks] == [
            (True, ""),
            (False, "bad-signature"),
            (False, "replayed-from-another-hub"),
            (False, "truncated"),
        ]
        assert receiver.ingest.db.count() == 7  # 3 readings × 2, and reading 0's status bits


@pytest.mark.slow
def test_the_hub_logs_a_refusal(c: Chain, tmp_path: Path) -> None:
    fill_store(tmp_path / "hub", readings(20))
    # a hub whose signing key the hospital never enrolled
    keys = replace(c.hub_keys("hub-a"), signing=Ed25519PrivateKey.generate())
    with (
        c.receiver(tmp_path / "receiver.db"),
        c.hub_loop("hub-a", tmp_path / "hub", keys=keys) as hub,
    ):
        with running(hub) as up:
            wait_for(lambda: up.problem is Problem.REFUSED, "the refusal")
        assert up.stats.refusals["unknown-signing-key"] >= 1
        assert "unknown-signing-key" in up.problem_detail
        assert hub.unacked() == 20  # refused batches stay in the outbox


@pytest.mark.slow
def test_shared_subscription_splits_the_load_and_export_validates(c: Chain, tmp_path: Path) -> None:
    batch = readings(1000)
    fill_store(tmp_path / "hub", batch)
    db = tmp_path / "receiver.db"
    with c.receiver(db, "receiver-1") as one, c.receiver(db, "receiver-2") as two:
        with c.hub_loop("hub-a", tmp_path / "hub", batch_max=20) as hub, running(hub):
            wait_for(lambda: hub.unacked() == 0, "every reading acknowledged")
        assert one.ingest.stored > 0 and two.ingest.stored > 0
        stored = one.ingest.stored + two.ingest.stored
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["receiver", "export", "--fhir", "--db", str(db)]) == 0
    exported = json.loads(out.getvalue())
    bundle = Bundle.model_validate(exported)
    resources = [e.resource for e in bundle.entry]
    observations = [r for r in resources if r.__resource_type__ == "Observation"]
    identifiers = {o.identifier[0].value for o in observations}
    assert len(identifiers) == len(observations) == stored  # each stored once, by one of them
    assert len(observations) >= 2 * len(batch)  # the panel and the pulse, and status bits
    assert {i.split("/")[1] for i in identifiers} == {r.id for r in batch}
    panel = next(o for o in observations if o.code.coding[0].code == "85354-9")
    components = {comp.code.coding[0].code for comp in panel.component}
    assert components == {"8480-6", "8462-4", "8478-0"}
    by_url = {e.fullUrl: e.resource for e in bundle.entry}
    patient = by_url[panel.subject.reference]  # the pseudonym's Patient, in the Bundle
    assert patient.__resource_type__ == "Patient"
    assert [i.value for i in patient.identifier] == ["patient-hub-a"]
    devices = [r for r in resources if r.__resource_type__ == "Device"]
    assert len(devices) == 2  # the hub as the gateway (PhgDevice), and the cuff (PhdDevice)


@pytest.mark.slow
def test_serve_runs_until_stopped(c: Chain, tmp_path: Path) -> None:
    fill_store(tmp_path / "hub", readings(40))
    stop = threading.Event()
    settings = ReceiverSettings("127.0.0.1", c.port, c.pki.ca, c.pki.receiver.cert,
                                c.pki.receiver.key, tmp_path / "served.db")  # fmt: skip
    options = Options(settings, c.pki.enrollment, (c.pki.hospital_enc_key,),
                      c.pki.hospital_sign_key)  # fmt: skip
    server = threading.Thread(target=serve, args=(options, stop))
    server.start()
    try:
        with c.hub_loop("hub-a", tmp_path / "hub") as hub, running(hub):
            wait_for(lambda: hub.unacked() == 0, "every reading acknowledged")
    finally:
        stop.set()
        server.join(timeout=30)
    exported = export_fhir(tmp_path / "served.db")
    # gateway, patient and cuff; panel + pulse per reading; status bits of readings 0, 13, 26, 39
    assert len(exported["entry"]) == 3 + 80 + 4
