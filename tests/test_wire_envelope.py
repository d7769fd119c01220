import json
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.wire.envelope import (
    MAGIC,
    EnvelopeError,
    Opened,
    Refusal,
    key_id,
    open_envelope,
    seal,
)

HUB_KEYS = {"hub-a": Ed25519PrivateKey.generate(), "hub-b": Ed25519PrivateKey.generate()}
HOSPITAL = X25519PrivateKey.generate()
ENROLLED = {hub: k.public_key() for hub, k in HUB_KEYS.items()}
RECIPIENTS = {key_id(HOSPITAL.public_key()): HOSPITAL}
PAYLOAD = json.dumps({"resourceType": "Bundle", "entry": [{"n": i} for i in range(50)]}).encode()


def _seal(hub: str = "hub-a", payload: bytes = PAYLOAD, **kw: object) -> bytes:
    args = {
        "hub": hub,
        "batch": "0192f0e8-7d2a-7000-8000-00000000000a",
        "sequence": 7,
        "created": "2026-11-21T08:00:00+00:00",
        "count": 50,
        "signer": HUB_KEYS[hub],
        "recipient": HOSPITAL.public_key(),
        "ephemeral": X25519PrivateKey.generate(),
    } | kw
    return seal(payload, **args)  # type: ignore[arg-type]


def _open(data: bytes, topic_hub: str = "hub-a", **kw: object) -> Opened:
    args = {"topic_hub": topic_hub, "hub_keys": ENROLLED, "recipients": RECIPIENTS} | kw
    return open_envelope(data, **args)  # type: ignore[arg-type]


def _refusal(data: bytes, **kw: object) -> Refusal:
    with pytest.raises(EnvelopeError) as info:
        _open(data, **kw)
    return info.value.refusal


ENVELOPE = _seal()


def test_round_trip_keeps_header_and_payload() -> None:
    opened = _open(ENVELOPE)
    h = opened.header
    assert (h.hub, h.batch, h.sequence, h.count) == (
        "hub-a",
        "0192f0e8-7d2a-7000-8000-00000000000a",
        7,
        50,
    )
    assert h.key_id == key_id(ENROLLED["hub-a"])
    assert h.recipient_key_id == key_id(HOSPITAL.public_key())
    assert opened.payload == PAYLOAD
    assert len(opened.compressed) < len(PAYLOAD)


def test_payload_is_not_readable_on_the_wire() -> None:
    assert b"resourceType" not in ENVELOPE
    assert b"hub-a" in ENVELOPE  # the header is clear text (and authenticated)


def test_a_fresh_ephemeral_key_each_time() -> None:
    assert _seal() != _seal()


def test_tampered_header_or_ciphertext_or_signature_is_refused() -> None:
    header_len = struct.unpack_from(">H", ENVELOPE, 4)[0]
    # change the sequence number in the clear header, keeping it valid JSON
    forged = ENVELOPE.replace(b'"seq":7', b'"seq":8')
    assert len(forged) == len(ENVELOPE) and forged != ENVELOPE
    assert _refusal(forged) is Refusal.BAD_SIGNATURE
    for offset in (6 + header_len + 3, len(ENVELOPE) - 70, len(ENVELOPE) - 1):
        flipped = bytearray(ENVELOPE)
        flipped[offset] ^= 0x01
        assert _refusal(bytes(flipped)) is Refusal.BAD_SIGNATURE


def test_truncated_envelopes_are_refused_as_truncated() -> None:
    for cut in (0, 3, 5, 20, len(ENVELOPE) // 2, len(ENVELOPE) - 1):
        assert _refusal(ENVELOPE[:cut]) is Refusal.TRUNCATED, cut
    assert _refusal(ENVELOPE + b"x") is Refusal.MALFORMED


def test_replayed_on_another_hubs_topic_is_refused() -> None:
    assert _refusal(ENVELOPE, topic_hub="hub-b") is Refusal.OTHER_HUB


def test_unknown_hub_and_unknown_keys_are_refused() -> None:
    assert _refusal(ENVELOPE, hub_keys={"hub-b": ENROLLED["hub-b"]}) is Refusal.UNKNOWN_HUB
    rekeyed = {"hub-a": Ed25519PrivateKey.generate().public_key()}
    assert _refusal(ENVELOPE, hub_keys=rekeyed) is Refusal.UNKNOWN_SIGNING_KEY
    other = X25519PrivateKey.generate()
    assert (
        _refusal(ENVELOPE, recipients={key_id(other.public_key()): other})
        is Refusal.UNKNOWN_RECIPIENT_KEY
    )


def test_signed_by_the_hub_but_not_decryptable_is_refused() -> None:
    # a hub that encrypted to the wrong key id mapping: key ids match, the key does not
    impostor = X25519PrivateKey.generate()
    assert (
        _refusal(ENVELOPE, recipients={key_id(HOSPITAL.public_key()): impostor})
        is Refusal.DECRYPT_FAILED
    )


def test_other_versions_are_refused_by_name() -> None:
    data = ENVELOPE.replace(b'"v":1', b'"v":2')
    assert _refusal(data) is Refusal.UNSUPPORTED_VERSION
    assert _refusal(b"XXXX" + ENVELOPE[4:]) is Refusal.MALFORMED


def _frame(header: dict) -> bytes:
    raw = json.dumps(header).encode()
    return MAGIC + struct.pack(">H", len(raw)) + raw + b"\0" * 200


def test_malformed_headers_are_refused() -> None:
    good = json.loads(ENVELOPE[6 : 6 + struct.unpack_from(">H", ENVELOPE, 4)[0]])
    cases = [
        {k: v for k, v in good.items() if k != "batch"},
        good | {"seq": "7"},
        good | {"epk": "***"},
        good | {"epk": "AAAA"},
        good | {"len": 3},
        good | {"v": True},
        good | {"z": "lzma"},
    ]
    refusals = []
    for header in cases:
        with pytest.raises(EnvelopeError) as info:
            _open(_frame(header))
        refusals.append(info.value.refusal)
    assert refusals == [Refusal.MALFORMED] * 5 + [Refusal.UNSUPPORTED_VERSION] * 2
    for raw in (b"[1,2]", b"\xff\xfe", b"[" * 5000 + b"]" * 5000):
        data = MAGIC + struct.pack(">H", len(raw)) + raw
        assert _refusal(data) is Refusal.MALFORMED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_give_a_specific_refusal(data: bytes) -> None:
    with pytest.raises(EnvelopeError) as info:
        _open(data)
    assert isinstance(info.value.refusal, Refusal)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_envelopes_never_crash(data: st.DataObject) -> None:
    envelope = bytearray(ENVELOPE)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(envelope) - 1)))
        if action == "flip" and envelope:
            envelope[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del envelope[pos:]
        else:
            envelope[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    if bytes(envelope) == ENVELOPE:  # mutations that undid each other
        assert _open(ENVELOPE).payload == PAYLOAD
        return
    with pytest.raises(EnvelopeError) as info:
        _open(bytes(envelope))
    assert isinstance(info.value.refusal, Refusal)
