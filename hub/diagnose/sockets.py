"""The blocking socket work of the DNS-to-MQTT steps, run in worker threads by
`hub.diagnose.run`: every call has a timeout and closes what it opened."""

from __future__ import annotations

import select
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from hub.diagnose import mqtt_bytes

TICKET_WAIT_S = 3.0  # for the broker's verdict on the hub's certificate (TLS 1.3)
Address = tuple[int, int, int, tuple]  # family, type, proto, sockaddr (from getaddrinfo)


@dataclass(frozen=True)
class FirstAnswer:
    """What the TLS step's own connection learnt."""

    answer: mqtt_bytes.Connack | mqtt_bytes.NotConnack | None = None
    error: OSError | None = None
    handshake_done: bool = False
    version: str = ""


def connect_any(
    addresses: list[Address], timeout: float
) -> tuple[socket.socket | None, list[OSError]]:
    """The first address that accepts a TCP connection, and what the others said."""
    errors: list[OSError] = []
    for family, kind, proto, address in addresses:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        return sock, errors
    return None, errors


def first_answer(
    sock: socket.socket, context: ssl.SSLContext, host: str, hello: bytes, timeout: float
) -> FirstAnswer:
    """Handshake, send `hello` (a CONNECT) and read the broker's first answer; DISCONNECT
    after a CONNACK. Closes the socket."""
    sock.settimeout(timeout)
    try:
        tls = context.wrap_socket(sock, server_hostname=host)
    except OSError as exc:
        sock.close()
        return FirstAnswer(error=exc)
    with tls:
        try:
            data = _verdict_on_our_certificate(tls, timeout) if tls.version() == "TLSv1.3" else b""
            tls.sendall(hello)
            while (answer := mqtt_bytes.first_answer(data)) is None:
                chunk = tls.recv(4096)
                if not chunk:
                    raise ConnectionResetError("the broker closed the connection")
                data += chunk
            if isinstance(answer, mqtt_bytes.Connack):
                tls.sendall(mqtt_bytes.DISCONNECT)
        except OSError as exc:
            return FirstAnswer(error=exc, handshake_done=True)
        return FirstAnswer(answer, handshake_done=True, version=tls.version() or "")


def _verdict_on_our_certificate(tls: ssl.SSLSocket, timeout: float) -> bytes:
    """With TLS 1.3 the broker judges the hub's certificate after the handshake: it answers
    with session tickets (accepted) or an alert (refused), then maybe hangs up. Written to
    before that answer is read, a refusing broker's reset can swallow the alert, so wait up
    to TICKET_WAIT_S for it first. An alert raises here; what else was read is returned. A
    broker that sends no tickets costs the wait, then the CONNECT goes out anyway."""
    readable, _w, _x = select.select([tls], [], [], min(timeout, TICKET_WAIT_S))
    if not readable:
        return b""
    tls.settimeout(0.0)
    try:
        data = tls.recv(4096)
    except ssl.SSLWantReadError:  # only tickets: the certificate was accepted
        return b""
    finally:
        tls.settimeout(timeout)
    if not data:
        raise ConnectionResetError("the broker closed the connection")
    return data


def peer_certificate(
    addresses: list[Address], host: str, cert: Path, key: Path, timeout: float
) -> bytes | None:
    """The broker's own certificate (DER), unverified; None when it cannot be had."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(str(cert), str(key))
    sock, _errors = connect_any(addresses, timeout)
    if sock is None:
        return None
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)
    except OSError:
        return None
    finally:
        sock.close()
