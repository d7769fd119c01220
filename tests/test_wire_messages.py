import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from hub.wire import topics
from hub.wire.messages import (
    Ack,
    DownlinkConfig,
    MessageError,
    parse_ack,
    parse_config,
    sign_message,
    verify_message,
)

HOSPITAL = Ed25519PrivateKey.generate()
PUB = HOSPITAL.public_key()
CONFIG = DownlinkConfig(
    hub="hub-a",
    version=3,
    patient="pseudo-42",
    pathway="copd",
    thresholds={"spo2": {"red_below": 88}},
    schedule=({"kind": "spo2-spot", "at": "08:00"},),
    devices=({"address": "C0:11:22:33:44:55", "kind": "pulse-oximeter"},),
)


def test_ack_round_trip() -> None:
    ack = Ack("hub-a", "b-1", True, stored=400, duplicates=0)
    assert parse_ack(sign_message(ack.body(), HOSPITAL), PUB, "hub-a") == ack
    nack = Ack("hub-a", None, False, reason="truncated", detail="10 of 99 bytes")
    assert parse_ack(sign_message(nack.body(), HOSPITAL), PUB, "hub-a") == nack


def test_forged_or_misdirected_acks_are_refused() -> None:
    body = Ack("hub-a", "b-1", True, 1).body()
    with pytest.raises(MessageError, match="bad signature"):
        parse_ack(sign_message(body, Ed25519PrivateKey.generate()), PUB, "hub-a")
    with pytest.raises(MessageError, match="not for this hub"):
        parse_ack(sign_message(body, HOSPITAL), PUB, "hub-b")
    with pytest.raises(MessageError, match="not a ack"):
        parse_ack(sign_message(CONFIG.body(), HOSPITAL), PUB, "hub-a")
    with pytest.raises(MessageError, match="stored must be int"):
        parse_ack(sign_message(body | {"stored": "1"}, HOSPITAL), PUB, "hub-a")
    with pytest.raises(MessageError, match="without"):
        parse_ack(sign_message({"type": "ack"}, HOSPITAL), PUB, "hub-a")


def test_config_round_trip_and_version_rule() -> None:
    data = sign_message(CONFIG.body(), HOSPITAL)
    assert parse_config(data, PUB, "hub-a", None) == CONFIG
    assert parse_config(data, PUB, "hub-a", 2) == CONFIG
    for current in (3, 4):
        with pytest.raises(MessageError, match="not newer"):
            parse_config(data, PUB, "hub-a", current)
    with pytest.raises(MessageError, match="not for this hub"):
        parse_config(data, PUB, "hub-b", None)
    with pytest.raises(MessageError, match="list of tables"):
        parse_config(sign_message(CONFIG.body() | {"schedule": [1]}, HOSPITAL), PUB, "hub-a", None)


def test_tampered_config_is_refused() -> None:
    data = bytearray(sign_message(CONFIG.body(), HOSPITAL))
    data[-5] ^= 1
    with pytest.raises(MessageError):
        parse_config(bytes(data), PUB, "hub-a", None)


@given(st.binary(max_size=200))
def test_fuzz_verify_message(data: bytes) -> None:
    with pytest.raises(MessageError):
        verify_message(data, PUB, "ack")


def test_topics() -> None:
    assert topics.up("hub-a") == "dho/v1/hubs/hub-a/up"
    assert topics.ack("hub-a") == "dho/v1/hubs/hub-a/ack"
    assert topics.status("hub-a") == "dho/v1/hubs/hub-a/status"
    assert topics.config("hub-a") == "dho/v1/hubs/hub-a/config"
    assert topics.shared_up() == "$share/receivers/dho/v1/hubs/+/up"
    assert topics.hub_of("dho/v1/hubs/hub-a/up") == "hub-a"
    for bad in ("dho/v1/hubs//up", "dho/v1/hubs/a/b/up", "other/hub-a/up", "dho/v1/hubs/x"):
        assert topics.hub_of(bad) is None
