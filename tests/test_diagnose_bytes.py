"""The MQTT 5 CONNECT, CONNACK and DISCONNECT the diagnosis's TLS step writes and reads."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from waiting import DEADLINE_S

from hub.diagnose.mqtt_bytes import DISCONNECT, Connack, NotConnack, connect, first_answer, varint


def _decode_varint(data: bytes) -> tuple[int, int]:
    value = 0
    for i, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise ValueError("cut short")


@given(st.integers(0, (1 << 28) - 1))
def test_varint_round_trips(n: int) -> None:
    encoded = varint(n)
    assert _decode_varint(encoded) == (n, len(encoded))
    assert len(encoded) <= 4


def test_varint_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        varint(1 << 28)


@given(st.text(min_size=1, max_size=300), st.integers(0, 65_535))
def test_connect_is_well_formed(client_id: str, keepalive: int) -> None:
    packet = connect(client_id, keepalive)
    length, used = _decode_varint(packet[1:])
    body = packet[1 + used :]
    assert packet[0] == 0x10 and len(body) == length
    assert body[:7] == b"\x00\x04MQTT\x05"
    assert body[7] == 0x02  # clean start, no will, no user name
    assert int.from_bytes(body[8:10], "big") == keepalive
    assert body[10] == 0  # no properties
    name = client_id.encode()
    assert body[11:13] == len(name).to_bytes(2, "big") and body[13:] == name


def test_connect_matches_paho() -> None:
    """What paho itself writes for the same CONNECT, caught by a plain loopback listener."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub-a-diagnosis",
                             protocol=mqtt.MQTTv5)  # fmt: skip
        client.connect("127.0.0.1", server.getsockname()[1], keepalive=30, clean_start=True)
        expected = connect("hub-a-diagnosis", 30)
        peer, _address = server.accept()
        with peer:
            peer.settimeout(DEADLINE_S)
            received = b""
            while len(received) < len(expected) and (chunk := peer.recv(4096)):
                received += chunk
        client.socket().close()
    assert received == expected


CONNACK_OK = bytes([0x20, 0x03, 0x00, 0x00, 0x00])
CONNACK_LONG = bytes([0x20, 0x0E, 0x00, 0x87]) + bytes(12)  # the reason, then properties


@pytest.mark.parametrize(("packet", "reason"), [(CONNACK_OK, 0x00), (CONNACK_LONG, 0x87)])
def test_first_answer_waits_for_the_whole_reason(packet: bytes, reason: int) -> None:
    for cut in range(4):
        assert first_answer(packet[:cut]) is None
    assert first_answer(packet) == Connack(reason)


def test_first_answer_that_is_not_a_connack() -> None:
    assert first_answer(b"HTTP/1.1 400") == NotConnack(ord("H"))
    assert first_answer(bytes([0x20, 0x01, 0x00])) == NotConnack(0x20)  # too short a CONNACK
    assert first_answer(bytes([0x20, 0xFF, 0xFF, 0xFF, 0xFF])) == NotConnack(0x20)


@given(st.binary(max_size=40))
def test_first_answer_never_raises(data: bytes) -> None:
    answer = first_answer(data)
    assert answer is None or isinstance(answer, Connack | NotConnack)
    if isinstance(answer, Connack):
        assert data[0] == 0x20


def test_disconnect_is_normal_and_short() -> None:
    assert DISCONNECT == b"\xe0\x00"
