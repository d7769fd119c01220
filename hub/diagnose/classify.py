"""Pure decisions of the diagnosis: exceptions, reason codes and certificate dates in,
verdicts out. No I/O and no clock: the caller passes the time and what it caught."""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Sequence
from datetime import datetime

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from hub.diagnose.verdicts import Verdict
from hub.wire.envelope import Refusal
from hub.wire.messages import Ack

NOT_AUTHORIZED = 0x87
NO_MATCHING_SUBSCRIBERS = 0x10

_NAME_UNKNOWN = frozenset(
    code
    for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
    if code is not None
)
_UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})

# OpenSSL's X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code carries them
_NOT_YET_VALID = 9
_EXPIRED = 10
_UNTRUSTED = frozenset({2, 7, 18, 19, 20, 21, 24})  # issuer unknown, bad signature, self-signed
_NAME_MISMATCH = frozenset({62, 64})  # host name, IP address

# Read instead of an MQTT answer: the broker speaks something else than TLS on this port
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"})

_MQTT_NOT_AUTHORIZED = frozenset({0x85, 0x86, 0x87, 0x8C})  # client id, credentials, auth
_MQTT_BUSY = frozenset({0x88, 0x89, 0x97, 0x9F})  # unavailable, busy, quota, rate
_MQTT_BANNED = 0x8A


def dns_verdict(error: OSError) -> Verdict:
    """A failed name lookup: the name does not exist, or nobody could be asked."""
    if isinstance(error, socket.gaierror) and error.errno in _NAME_UNKNOWN:
        return Verdict.NAME_NOT_FOUND
    return Verdict.DNS_UNAVAILABLE


def connect_verdict(errors: Sequence[OSError]) -> Verdict:
    """Every address of the broker failed; the most telling failure decides."""
    if any(isinstance(e, ConnectionRefusedError) for e in errors):
        return Verdict.PORT_CLOSED
    if any(e.errno in _UNREACHABLE for e in errors):
        return Verdict.NETWORK_UNREACHABLE
    if errors and all(isinstance(e, TimeoutError) for e in errors):
        return Verdict.CONNECT_TIMEOUT
    return Verdict.CONNECT_FAILED


def certificate_dates_verdict(
    not_before: datetime, not_after: datetime, now: datetime, *, hub: bool
) -> Verdict | None:
    """None while `now` lies in the certificate's validity, else what is wrong (the hub's
    own certificate, or with `hub` False the broker's)."""
    if now > not_after:
        return Verdict.HUB_CERT_EXPIRED if hub else Verdict.SERVER_CERT_EXPIRED
    if now < not_before:
        return Verdict.HUB_CERT_NOT_YET_VALID if hub else Verdict.SERVER_CERT_NOT_YET_VALID
    return None


def tls_verdict(error: OSError, *, handshake_done: bool) -> Verdict:
    """What went wrong during the handshake or, once it was done, in the broker's first
    answer.

    With TLS 1.3 the broker judges the hub's certificate after the client's side of the
    handshake is done: a refusal arrives as an alert on the first read, or the broker just
    hangs up (Mosquitto does, for an expired or unknown certificate)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        if code in _UNTRUSTED:
            return Verdict.WRONG_CA
        if code == _EXPIRED:
            return Verdict.SERVER_CERT_EXPIRED
        if code == _NOT_YET_VALID:
            return Verdict.SERVER_CERT_NOT_YET_VALID
        if code in _NAME_MISMATCH:
            return Verdict.WRONG_HOST_NAME
        return Verdict.TLS_FAILED
    if isinstance(error, TimeoutError):
        return Verdict.BROKER_SILENT if handshake_done else Verdict.CONNECT_TIMEOUT
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError | ConnectionError):
        return Verdict.BROKER_HUNG_UP
    if isinstance(error, ssl.SSLError):
        reason = error.reason or ""
        if reason in _NOT_TLS:
            return Verdict.NOT_TLS
        if reason.endswith("ALERT_CERTIFICATE_REVOKED"):
            return Verdict.HUB_CERT_REVOKED
        if ("_ALERT_" in reason and "CERTIFICATE" in reason) or reason.endswith("_UNKNOWN_CA"):
            return Verdict.HUB_CERT_REFUSED
    return Verdict.TLS_FAILED


def connack_verdict(reason: int) -> Verdict:
    if reason < 0x80:
        return Verdict.MQTT_OK
    if reason in _MQTT_NOT_AUTHORIZED:
        return Verdict.MQTT_NOT_AUTHORIZED
    if reason == _MQTT_BANNED:
        return Verdict.MQTT_BANNED
    if reason in _MQTT_BUSY:
        return Verdict.BROKER_BUSY
    return Verdict.MQTT_REFUSED


def access_verdict(reason: int) -> Verdict:
    """The PUBACK of the publish on the hub's own status topic."""
    if reason < 0x80:
        return Verdict.ACCESS_OK
    return Verdict.PUBLISH_NOT_AUTHORIZED if reason == NOT_AUTHORIZED else Verdict.PUBLISH_REFUSED


def probe_puback_verdict(reason: int) -> Verdict | None:
    """The PUBACK of the probe batch on the uplink topic: None when the hospital's ack is
    worth waiting for. "No matching subscribers" means no receiver will ever see it."""
    if reason == NO_MATCHING_SUBSCRIBERS:
        return Verdict.NO_RECEIVER
    return None if reason < 0x80 else access_verdict(reason)


def ack_verdict(ack: Ack) -> Verdict:
    if ack.ok:
        return Verdict.ACK_OK
    if ack.reason in (Refusal.UNKNOWN_HUB, Refusal.UNKNOWN_SIGNING_KEY):
        return Verdict.HUB_NOT_ENROLLED
    if ack.reason == Refusal.REVOKED_HUB:
        return Verdict.HUB_REVOKED_BY_HOSPITAL
    return Verdict.HOSPITAL_REFUSED


def reason_name(packet: int, code: int) -> str:
    """An MQTT 5 reason code as the specification names it, with its number."""
    try:
        name = ReasonCode(packet, identifier=code).getName()
    except KeyError:
        name = "unknown reason"
    return f"{name}, 0x{code:02X}"


def connack_name(code: int) -> str:
    return reason_name(PacketTypes.CONNACK, code)


def puback_name(code: int) -> str:
    return reason_name(PacketTypes.PUBACK, code)
