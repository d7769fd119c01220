"""The connectivity diagnosis, step by step: DNS, TCP, TLS, MQTT authentication, access
control, the hospital's acknowledgement. The I/O edge: each step does its blocking part in a
worker thread with a timeout, asks `classify` what it means, and is yielded as it ends;
the first failure ends the diagnosis.

    async for result in diagnose(settings, keys):
        show(result.step, result.ok, result.said, result.todo); log(result.detail)

`settings` and `keys` are the uplink's (`hub.uplink.setup.settings_from`, `keys_from`); any
objects with the same attributes do.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.x509.oid import NameOID

from hub.diagnose import classify, mqtt_bytes, sockets
from hub.diagnose.probe import BATCH_PREFIX, STATUS_PROBE, probe_batch
from hub.diagnose.session import ConnAck, Lost, Message, PubAck, Session, SubAck
from hub.diagnose.verdicts import Step, StepResult, Verdict
from hub.wire import topics
from hub.wire.messages import MessageError, parse_ack


class BrokerSettings(Protocol):
    @property
    def hub(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def ca(self) -> Path: ...
    @property
    def cert(self) -> Path | None: ...
    @property
    def key(self) -> Path | None: ...
    @property
    def patient(self) -> str: ...


class HubKeys(Protocol):
    @property
    def signing(self) -> Ed25519PrivateKey: ...
    @property
    def hospital(self) -> X25519PublicKey: ...
    @property
    def hospital_signing(self) -> Ed25519PublicKey: ...


@dataclass(frozen=True)
class Limits:
    """Seconds each wait may take; a step that waits longer fails, naming what it waited for."""

    dns_s: float = 10.0
    connect_s: float = 10.0
    tls_s: float = 10.0
    confirm_s: float = 10.0  # the CONNACK, SUBACK and PUBACKs of the paho session
    ack_s: float = 30.0  # the hospital's acknowledgement


async def diagnose(
    settings: BrokerSettings, keys: HubKeys, limits: Limits | None = None
) -> AsyncIterator[StepResult]:
    """Each step's result as it ends, up to and including the first failure."""
    run = _Diagnosis(settings, keys, limits or Limits())
    try:
        for step in Step:
            result = await run.step(step)
            yield result
            if not result.ok:
                return
    finally:
        await run.close()


async def diagnose_all(
    settings: BrokerSettings, keys: HubKeys, limits: Limits | None = None
) -> list[StepResult]:
    return [result async for result in diagnose(settings, keys, limits)]


class _Diagnosis:
    def __init__(self, settings: BrokerSettings, keys: HubKeys, limits: Limits) -> None:
        self.s = settings
        self.keys = keys
        self.limits = limits
        self.client_id = f"hub-{settings.hub}-diagnosis"
        self.addresses: list[sockets.Address] = []
        self.sock: socket.socket | None = None
        self.context: ssl.SSLContext | None = None
        self.cert_cn = ""
        self.connack: mqtt_bytes.Connack | None = None
        self.session: Session | None = None
        self.facts = {"host": settings.host, "port": str(settings.port), "hub": settings.hub}

    async def step(self, step: Step) -> StepResult:
        match step:
            case Step.DNS:
                return await self.dns()
            case Step.TCP:
                return await self.tcp()
            case Step.TLS:
                return await self.tls()
            case Step.MQTT:
                return self.mqtt()
            case Step.ACCESS:
                return await self.access()
            case Step.ACK:
                return await self.ack()

    def result(self, step: Step, verdict: Verdict, detail: str, **facts: str) -> StepResult:
        return StepResult(step, verdict, {**self.facts, **facts}, detail)

    # ---------------------------------------------------------------- DNS, TCP

    async def dns(self) -> StepResult:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.limits.dns_s):
                found = await loop.getaddrinfo(self.s.host, self.s.port, type=socket.SOCK_STREAM)
        except TimeoutError:
            return self.result(Step.DNS, Verdict.DNS_UNAVAILABLE, "no answer in time")
        except OSError as exc:
            return self.result(Step.DNS, classify.dns_verdict(exc), f"getaddrinfo: {exc}")
        self.addresses = [(f, t, p, a) for f, t, p, _name, a in found]
        names = ", ".join(dict.fromkeys(str(a[0]) for *_rest, a in self.addresses))
        verdict = Verdict.DNS_NOT_NEEDED if _is_ip(self.s.host) else Verdict.DNS_OK
        return self.result(Step.DNS, verdict, f"{self.s.host} → {names}")

    async def tcp(self) -> StepResult:
        self.sock, errors = await asyncio.to_thread(
            sockets.connect_any, self.addresses, self.limits.connect_s
        )
        if self.sock is None:
            detail = "; ".join(f"{type(e).__name__}: {e}" for e in errors)
            return self.result(Step.TCP, classify.connect_verdict(errors), detail)
        peer = self.sock.getpeername()
        return self.result(Step.TCP, Verdict.TCP_OK, f"connected to {peer[0]} port {peer[1]}")

    # ---------------------------------------------------------------- TLS, MQTT

    async def tls(self) -> StepResult:
        assert self.sock is not None
        sock, self.sock = self.sock, None
        local = self.local_files()
        if local is not None:
            sock.close()
            return local
        assert self.context is not None
        hello = mqtt_bytes.connect(self.client_id, keepalive_s=30)
        first = await asyncio.to_thread(
            sockets.first_answer, sock, self.context, self.s.host, hello, self.limits.tls_s
        )
        if first.error is not None:
            verdict = classify.tls_verdict(first.error, handshake_done=first.handshake_done)
            detail = f"{type(first.error).__name__}: {first.error}"
            if verdict in (Verdict.SERVER_CERT_EXPIRED, Verdict.SERVER_CERT_NOT_YET_VALID):
                return self.result(Step.TLS, verdict, detail, date=await self.server_date(verdict))
            return self.result(Step.TLS, verdict, detail)
        if not isinstance(first.answer, mqtt_bytes.Connack):
            detail = f"first byte from the broker: {first.answer}"
            return self.result(Step.TLS, Verdict.NOT_MQTT, detail)
        self.connack = first.answer
        return self.result(
            Step.TLS, Verdict.TLS_OK, f"{first.version}, certificate CN {self.cert_cn}"
        )

    def local_files(self) -> StepResult | None:
        """The hub's own certificate, key and CA files, before any of them goes on the wire:
        None when they are usable and the certificate is valid now; sets `context`."""
        s = self.s
        if s.cert is None or s.key is None:
            return self.result(Step.TLS, Verdict.HUB_CERT_UNUSABLE, "no certificate configured")
        try:
            cert = x509.load_pem_x509_certificate(s.cert.read_bytes())
            context = ssl.create_default_context(cafile=str(s.ca))
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(s.cert), str(s.key))
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            return self.result(Step.TLS, Verdict.HUB_CERT_UNUSABLE, str(exc))
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        self.cert_cn = str(cns[0].value) if cns else ""
        before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
        verdict = classify.certificate_dates_verdict(before, after, datetime.now(UTC), hub=True)
        if verdict is not None:
            when = after if verdict is Verdict.HUB_CERT_EXPIRED else before
            detail = f"{s.cert}: valid {before.isoformat()} to {after.isoformat()}"
            return self.result(Step.TLS, verdict, detail, date=_date(when))
        self.context = context
        return None

    async def server_date(self, verdict: Verdict) -> str:
        """The broker's certificate date that is wrong, read without verifying it."""
        assert self.context is not None and self.s.cert is not None and self.s.key is not None
        der = await asyncio.to_thread(
            sockets.peer_certificate, self.addresses, self.s.host, self.s.cert, self.s.key,
            self.limits.tls_s,
        )  # fmt: skip
        if der is None:
            return "?"
        cert = x509.load_der_x509_certificate(der)
        expired = verdict is Verdict.SERVER_CERT_EXPIRED
        return _date(cert.not_valid_after_utc if expired else cert.not_valid_before_utc)

    def mqtt(self) -> StepResult:
        assert self.connack is not None
        reason = classify.connack_name(self.connack.reason)
        verdict = classify.connack_verdict(self.connack.reason)
        return self.result(Step.MQTT, verdict, f"CONNACK {reason}", reason=reason)

    # ---------------------------------------------------------------- paho: access, ack

    async def access(self) -> StepResult:
        assert self.context is not None
        session = self.session = Session(self.client_id, self.context)
        try:
            await session.connect(self.s.host, self.s.port, self.limits.connect_s)
        except OSError as exc:
            return self.result(Step.ACCESS, Verdict.CONNECTION_LOST, f"paho connect: {exc}")
        connack = await self.wait(Step.ACCESS, "CONNACK")
        if isinstance(connack, StepResult):
            return connack
        assert isinstance(connack, ConnAck)
        if connack.reason >= 0x80:
            reason = classify.connack_name(connack.reason)
            verdict = classify.connack_verdict(connack.reason)
            return self.result(Step.ACCESS, verdict, f"CONNACK {reason}", reason=reason)
        subscribed = await self.wait(
            Step.ACCESS, "SUBACK", session.subscribe(topics.ack(self.s.hub))
        )
        if isinstance(subscribed, StepResult):
            return subscribed
        status = topics.status(self.s.hub)
        puback = await self.wait(Step.ACCESS, "PUBACK", session.publish(status, STATUS_PROBE))
        if isinstance(puback, StepResult):
            return puback
        assert isinstance(puback, PubAck)
        reason = classify.puback_name(puback.reason)
        detail = f"PUBACK {reason} on {status}; certificate CN {self.cert_cn}"
        return self.result(
            Step.ACCESS, classify.access_verdict(puback.reason), detail, reason=reason
        )

    async def ack(self) -> StepResult:
        assert self.session is not None
        batch = f"{BATCH_PREFIX}{uuid.uuid4().hex}"
        envelope = probe_batch(
            hub=self.s.hub, patient=self.s.patient, batch=batch, created=datetime.now(UTC),
            signer=self.keys.signing, recipient=self.keys.hospital,
            ephemeral=X25519PrivateKey.generate(),
        )  # fmt: skip
        up = topics.up(self.s.hub)
        puback = await self.wait(Step.ACK, "PUBACK", self.session.publish(up, envelope))
        if isinstance(puback, StepResult):
            return puback
        assert isinstance(puback, PubAck)
        reason = classify.puback_name(puback.reason)
        verdict = classify.probe_puback_verdict(puback.reason)
        if verdict is not None:
            return self.result(Step.ACK, verdict, f"PUBACK {reason} on {up}", reason=reason)
        return await self.hospital_ack(batch)

    async def hospital_ack(self, batch: str) -> StepResult:
        """The receiver's signed ack of `batch`; acks of the hub's other batches (a running
        daemon's) pass by."""
        assert self.session is not None
        seconds = f"{self.limits.ack_s:g}"
        deadline = asyncio.get_running_loop().time() + self.limits.ack_s
        unverified = ""
        while True:
            event = await self.session.next_event(deadline)
            match event:
                case None if unverified:
                    return self.result(Step.ACK, Verdict.ACK_UNVERIFIED, unverified)
                case None:
                    detail = f"no ack for {batch} within {seconds} s"
                    return self.result(Step.ACK, Verdict.NO_ACK, detail, seconds=seconds)
                case Lost(detail=why):
                    return self.result(Step.ACK, Verdict.CONNECTION_LOST, why)
                case Message(payload=payload):
                    try:
                        ack = parse_ack(payload, self.keys.hospital_signing, self.s.hub)
                    except MessageError as exc:
                        unverified = f"an ack that does not verify: {exc}"
                        continue
                    if ack.batch != batch:
                        continue
                    detail = f"ack of {batch}: ok={ack.ok} {ack.reason} {ack.detail}".strip()
                    verdict = classify.ack_verdict(ack)
                    return self.result(Step.ACK, verdict, detail, reason=ack.reason)

    async def wait(
        self, step: Step, what: str, mid: int | None = None
    ) -> ConnAck | SubAck | PubAck | StepResult:
        """The CONNACK (`mid` None), or the SUBACK or PUBACK of `mid`; else the step's failure."""
        assert self.session is not None
        deadline = asyncio.get_running_loop().time() + self.limits.confirm_s
        while True:
            event = await self.session.next_event(deadline)
            match event:
                case None:
                    detail = f"no {what} within {self.limits.confirm_s:g} s"
                    return self.result(step, Verdict.NOT_CONFIRMED, detail)
                case Lost(detail=why):
                    return self.result(step, Verdict.CONNECTION_LOST, f"waiting for {what}: {why}")
                case ConnAck() if mid is None:
                    return event
                case SubAck(mid=m) | PubAck(mid=m) if m == mid:
                    return event

    async def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.session is not None:
            await self.session.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _date(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")
