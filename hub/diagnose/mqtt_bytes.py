"""The three MQTT 5 packets the TLS step writes and reads by hand, pure.

With TLS 1.3 the broker judges the client certificate after the handshake has already
succeeded on the client's side, and says so only in the first record it sends back. So the
TLS step writes a CONNECT and reads the first answer itself: a TLS alert (the certificate
was refused), nothing (the broker hung up), or a CONNACK, whose reason code is then the
MQTT step's verdict. Everything after that goes through paho.
"""

from __future__ import annotations

from dataclasses import dataclass

CONNECT = 0x10
CONNACK = 0x20
DISCONNECT = bytes([0xE0, 0x00])  # reason 0x00, normal disconnection, no properties
_PROTOCOL = b"\x00\x04MQTT\x05"
_CLEAN_START = 0x02


def varint(n: int) -> bytes:
    """MQTT's Variable Byte Integer (0 … 268,435,455)."""
    if not 0 <= n < 1 << 28:
        raise ValueError(f"{n} does not fit a variable byte integer")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect(client_id: str, keepalive_s: int) -> bytes:
    """CONNECT, MQTT 5, clean start, no will, no user name (the certificate is the identity),
    no properties: the session ends with the connection."""
    name = client_id.encode()
    body = (
        _PROTOCOL
        + bytes([_CLEAN_START])
        + keepalive_s.to_bytes(2, "big")
        + b"\x00"  # properties length
        + len(name).to_bytes(2, "big")
        + name
    )
    return bytes([CONNECT]) + varint(len(body)) + body


@dataclass(frozen=True)
class Connack:
    reason: int


@dataclass(frozen=True)
class NotConnack:
    """The first packet the broker sent was something else (or not MQTT at all)."""

    first_byte: int


def first_answer(data: bytes) -> Connack | NotConnack | None:
    """What the first bytes from the broker say, or None while the CONNACK is incomplete."""
    if not data:
        return None
    if data[0] != CONNACK:
        return NotConnack(data[0])
    length, used = 0, 0
    for shift, byte in enumerate(data[1:5]):
        length |= (byte & 0x7F) << (7 * shift)
        used = shift + 1
        if not byte & 0x80:
            break
    else:
        return None if len(data) < 5 else NotConnack(data[0])  # a length of 5 bytes
    if length < 2:
        return NotConnack(data[0])  # MQTT 5 CONNACK: flags and reason at least
    start = 1 + used
    if len(data) < start + 2:
        return None
    return Connack(data[start + 1])
