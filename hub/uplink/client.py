"""The hub's MQTT client (paho-mqtt 2.x, MQTT v5): outbox → envelopes → broker → acks.

One thread owns the paho client and the outbox calls, so no MQTT or SQLite state is shared
between threads; `wake()` and `stop()` are the only calls meant for other threads. A new
paho client is made for every connection attempt (with a persistent broker session), so paho
never replays a stale packet of its own: what was in flight is re-sent by us, with the same
batch id, and the receiver's de-duplication makes the copy harmless.

Rows leave the outbox only when the hospital's signed ack for their batch arrives — a PUBACK
says only that the broker holds the message.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.model import DeviceInfo, Event, EventKind, Reading
from hub.uplink.policy import NOT_AUTHORIZED, Problem, batch_due, connack_problem, retry_delay
from hub.wire import topics
from hub.wire.envelope import seal
from hub.wire.fhir import bundle_json
from hub.wire.messages import DownlinkConfig, MessageError, parse_ack, parse_config

log = logging.getLogger(__name__)


class OutboxBatch(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def readings(self) -> tuple[Reading, ...]: ...


class Outbox(Protocol):
    """What the uplink needs of `hub.store.Store`."""

    def next_batch(self, limit: int) -> OutboxBatch | None: ...
    def unacked_batches(self, sent_before: datetime) -> Sequence[OutboxBatch]: ...
    def acknowledge(self, batch_id: str) -> int: ...
    def queue_depth(self) -> int: ...


@dataclass(frozen=True)
class UplinkSettings:
    hub: str
    host: str
    port: int
    ca: Path
    cert: Path | None
    key: Path | None
    patient: str = ""
    batch_max: int = 200
    batch_seconds: float = 30.0
    ack_timeout_s: float = 60.0
    window: int = 16  # batches sent and not yet acknowledged; capped by Receive Maximum
    backoff_base_s: float = 0.5
    backoff_max_s: float = 300.0
    auth_retry_s: float = 600.0  # after a refused certificate or a 0x87
    keepalive_s: int = 60
    connect_timeout_s: float = 10.0
    compress_level: int = 3  # zlib-ng: ~65 bytes/reading at ~0.9 µs; 4 is ~62 at ~1.6 µs
    config_file: Path | None = None  # last good downlink config (signed, as received)


@dataclass(frozen=True)
class UplinkKeys:
    signing: Ed25519PrivateKey  # the hub's
    hospital: X25519PublicKey  # envelopes are encrypted to it
    hospital_signing: Ed25519PublicKey  # acks and configs are signed with it


@dataclass(frozen=True, slots=True)
class _Sealed:
    """A batch as sealed: sent again as is until its ack, so its Readings need not stay alive
    (holding them kept tens of thousands of objects for the cyclic GC to walk). After a
    restart the outbox's unacknowledged batches are read and sealed afresh."""

    id: str
    sequence: int
    count: int
    envelope: bytes


@dataclass
class _Sent:
    sealed: _Sealed
    at: float  # monotonic time of the last send


@dataclass
class UplinkStats:
    connect_attempts: int = 0
    connections: int = 0
    batches_sent: int = 0
    resent: int = 0
    acked_batches: int = 0
    acked_readings: int = 0
    refusals: collections.Counter[str] = field(default_factory=collections.Counter)
    envelope_bytes: int = 0


_TICK = 0.1


class Uplink:
    def __init__(
        self,
        settings: UplinkSettings,
        outbox: Outbox,
        keys: UplinkKeys,
        *,
        devices: Callable[[str], DeviceInfo | None] = lambda _address: None,
        on_event: Callable[[Event], None] = lambda _event: None,
        on_config: Callable[[DownlinkConfig], None] = lambda _config: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.keys = keys
        self.devices = devices
        self.on_event = on_event
        self.on_config = on_config
        self.clock = clock
        self.stats = UplinkStats()
        self.problem = Problem.NONE
        self.problem_detail = ""
        self.retry_in = 0.0  # seconds the last failure made us wait before the next attempt
        self.patient = settings.patient
        self.config: DownlinkConfig | None = None
        self._config_raw: bytes | None = None
        self._stop = threading.Event()
        self._urgent = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._connected = False
        self._connack: int | None = None
        self._drop: Problem | None = None  # a refusal that ends this connection
        self._last_error = ""
        self._window = settings.window
        self._attempt = 0
        self._next_attempt = 0.0
        self._pending: collections.deque[_Sealed] = collections.deque()
        self._unacked: dict[str, _Sent] = {}
        self._again: set[str] = set()  # ids queued for a second (or later) send
        self._mids: dict[int, str] = {}
        self._waiting_since: float | None = None
        self._depth = 0
        self._depth_at = -1.0
        self._startup_resend = True
        self._status: bytes | None = None  # to publish on the status topic
        self._status_last: bytes | None = None  # published last: again after a reconnect
        self.last_ack: str | None = None  # when the hospital last acknowledged a batch
        self._load_config()

    # ---------------------------------------------------------------- other threads

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"uplink-{self.settings.hub}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def window(self) -> int:
        """Batches allowed in flight: the configured window, capped by the broker's Receive
        Maximum once connected (paho itself does not respect it)."""
        return self._window

    def socket(self) -> Any:
        """The current connection's socket (None when not connected), for measuring traffic."""
        client = self._client
        return client.socket() if client is not None else None

    def wake(self, *, urgent: bool = False) -> None:
        """New readings are in the outbox; `urgent` (a red result) closes a batch at once."""
        if urgent:
            self._urgent.set()
        self._depth_at = -1.0

    def publish_status(self, payload: bytes) -> None:
        """Publish `payload` retained on the status topic: at once when connected, else
        after the next connection. Only the latest one waits."""
        self._status = payload

    # ---------------------------------------------------------------- the uplink thread

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._client is None:
                    if now >= self._next_attempt:
                        self._connect()
                    else:
                        self._stop.wait(min(_TICK, self._next_attempt - now))
                    continue
                try:
                    self._pump(now)
                    self._send_status()
                    rc = self._client.loop(timeout=_TICK)
                except Exception as exc:  # the outbox or a callback failed: report, go on
                    log.exception("uplink: %s", exc)
                    self._event(EventKind.ERROR, f"uplink error: {exc}")
                    self._stop.wait(1.0)
                    continue
                if self._drop is not None:
                    self._lost(self._drop, self.problem_detail)
                elif rc != mqtt.MQTT_ERR_SUCCESS:
                    self._lost(Problem.OUTAGE, f"connection lost ({rc.name})")
        finally:
            self._close_client(graceful=True)

    def _connect(self) -> None:
        s = self.settings
        self.stats.connect_attempts += 1
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"hub-{s.hub}", protocol=mqtt.MQTTv5
        )
        try:
            ctx = ssl.create_default_context(cafile=str(s.ca))
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if s.cert is not None and s.key is not None:
                ctx.load_cert_chain(str(s.cert), str(s.key))
        except (OSError, ssl.SSLError) as exc:
            self._failed(Problem.AUTH, f"certificate files unusable: {exc}")
            return
        client.tls_set_context(ctx)
        client.connect_timeout = s.connect_timeout_s
        client.max_inflight_messages_set(self._window)
        client.will_set(topics.status(s.hub), b'{"state":"offline"}', qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_log = self._on_log
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 86_400  # acks wait in the broker while we are away
        self._connack = None
        self._last_error = ""
        try:
            client.connect(
                s.host, s.port, keepalive=s.keepalive_s, clean_start=False, properties=props
            )
        except ssl.SSLError as exc:
            self._failed(Problem.AUTH, f"TLS handshake failed: {exc}")
            return
        except OSError as exc:
            self._failed(Problem.OUTAGE, f"cannot reach {s.host}:{s.port}: {exc}")
            return
        self._client = client
        deadline = time.monotonic() + s.connect_timeout_s
        while self._connack is None and time.monotonic() < deadline and not self._stop.is_set():
            if client.loop(timeout=_TICK) != mqtt.MQTT_ERR_SUCCESS:
                break
        if self._connack == 0:
            return
        self._close_client(graceful=False)
        if self._stop.is_set():
            return
        if self._connack is not None:
            self._failed(
                connack_problem(self._connack), f"broker refused: CONNACK {self._connack:#x}"
            )
        elif self._last_error or time.monotonic() < deadline:
            # With TLS 1.3 the broker's refusal of our certificate arrives as an alert on the
            # first read: the connection drops before any CONNACK.
            self._failed(Problem.AUTH, self._last_error or "connection closed before CONNACK")
        else:
            self._failed(Problem.OUTAGE, "no CONNACK within the connect timeout")

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, props: Any) -> None:
        self._connack = int(reason.value)
        if reason.is_failure:
            return
        receive_max = getattr(props, "ReceiveMaximum", 65535) if props is not None else 65535
        self._window = max(1, min(self.settings.window, receive_max))
        self._connected = True
        self._attempt = 0
        self.stats.connections += 1
        self._set_problem(Problem.NONE, "")
        hub = self.settings.hub
        client.subscribe([(topics.ack(hub), 1), (topics.config(hub), 1)])
        client.publish(topics.status(hub), b'{"state":"online"}', qos=1, retain=True)
        if self._status is None:
            self._status = self._status_last  # the full status again, after "online"
        # What was in flight on the last connection is sent again, same batch ids.
        for sent in sorted(self._unacked.values(), key=lambda x: x.sealed.sequence, reverse=True):
            self._pending.appendleft(sent.sealed)
            self._again.add(sent.sealed.id)
        self._unacked.clear()
        self._mids.clear()

    def _on_log(self, _c: mqtt.Client, _u: Any, level: int, message: str) -> None:
        if level == mqtt.MQTT_LOG_ERR:
            self._last_error = message

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        batch_id = self._mids.pop(mid, None)
        if not reason.is_failure or batch_id is None:
            return
        code = int(reason.value)
        self.stats.refusals[f"puback-{code:#x}"] += 1
        if code == NOT_AUTHORIZED:
            self._alarm(
                Problem.NOT_AUTHORIZED,
                f"broker refused publishing to {topics.up(self.settings.hub)} (0x87 not "
                "authorized): the certificate does not match this hub id or the ACL is wrong",
            )
            self._drop = Problem.NOT_AUTHORIZED  # disconnected once paho's loop returns
        else:
            log.warning(
                "uplink: PUBACK %s for batch %s, re-sent after the timeout", reason, batch_id
            )

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        hub = self.settings.hub
        if msg.topic == topics.ack(hub):
            self._handle_ack(msg.payload)
        elif msg.topic == topics.config(hub):
            self._handle_config(msg.payload)

    def _handle_ack(self, payload: bytes) -> None:
        try:
            ack = parse_ack(payload, self.keys.hospital_signing, self.settings.hub)
        except MessageError as exc:
            log.warning("uplink: ignored an ack that does not verify: %s", exc)
            return
        if ack.batch is None:
            self.stats.refusals[ack.reason] += 1
            self._alarm(Problem.REFUSED, f"hospital refused an envelope: {ack.reason} {ack.detail}")
            return
        sent = self._unacked.pop(ack.batch, None)
        if ack.ok:
            self.last_ack = self.clock().isoformat()
            self.stats.acked_readings += self.outbox.acknowledge(ack.batch)
            self.stats.acked_batches += 1
            if sent is None and any(b.id == ack.batch for b in self._pending):
                self._pending = collections.deque(b for b in self._pending if b.id != ack.batch)
                self._again.discard(ack.batch)
            if self.problem is Problem.REFUSED:
                self._set_problem(Problem.NONE, "")
            return
        # Refused: the rows stay in the outbox and are offered again after the ack timeout.
        self.stats.refusals[ack.reason] += 1
        if sent is not None:
            self._unacked[ack.batch] = sent
        self._alarm(
            Problem.REFUSED, f"hospital refused batch {ack.batch}: {ack.reason} {ack.detail}"
        )

    def _handle_config(self, payload: bytes) -> None:
        current = self.config.version if self.config else None
        try:
            config = parse_config(payload, self.keys.hospital_signing, self.settings.hub, current)
        except MessageError as exc:
            if payload != self._config_raw:
                self._event(EventKind.ERROR, f"downlink config refused, kept the last good: {exc}")
            return
        self._apply_config(config, payload)
        if self.settings.config_file is not None:
            tmp = self.settings.config_file.with_suffix(".tmp")
            tmp.write_bytes(payload)
            os.replace(tmp, self.settings.config_file)
        self._event(EventKind.STATUS, f"applied downlink config version {config.version}")

    def _apply_config(self, config: DownlinkConfig, raw: bytes) -> None:
        self.config, self._config_raw = config, raw
        if config.patient:
            self.patient = config.patient
        self.on_config(config)

    def _load_config(self) -> None:
        path = self.settings.config_file
        if path is None or not path.exists():
            return
        raw = path.read_bytes()
        try:
            config = parse_config(raw, self.keys.hospital_signing, self.settings.hub, None)
        except MessageError as exc:
            log.error("uplink: stored config %s does not verify (%s); ignored", path, exc)
            return
        self._apply_config(config, raw)

    # ---------------------------------------------------------------- sending

    def _pump(self, now: float) -> None:
        """Re-send what timed out, then close and send batches while the window has room.
        With the window full the caller waits on the socket, where the acks arrive."""
        if not self._connected or self._client is None:
            return
        if self._startup_resend:
            self._startup_resend = False
            earlier = self.outbox.unacked_batches(sent_before=self.clock())
            self._pending.extend(self._seal(b) for b in earlier)
            self._again.update(b.id for b in earlier)
        timeout = self.settings.ack_timeout_s
        for batch_id, sent in list(self._unacked.items()):
            if now - sent.at >= timeout:
                del self._unacked[batch_id]
                self._pending.append(sent.sealed)
                self._again.add(batch_id)
        while len(self._unacked) < self._window:
            sealed = self._pending.popleft() if self._pending else self._take(now)
            if sealed is None:
                return
            self._send(sealed, now)

    def _send_status(self) -> None:
        payload = self._status
        if payload is None or not self._connected or self._client is None:
            return
        self._status = None
        self._client.publish(topics.status(self.settings.hub), payload, qos=1, retain=True)
        self._status_last = payload

    def _take(self, now: float) -> _Sealed | None:
        s = self.settings
        stale = now - self._depth_at >= _TICK and self._depth < s.batch_max
        if stale or self._urgent.is_set():
            # queue_depth counts every unacknowledged row (a scan of the table); ours in
            # flight are not new. While a full batch is known to be waiting, more rows would
            # change nothing: it is counted again only when the estimate runs low.
            held = sum(x.sealed.count for x in self._unacked.values())
            held += sum(b.count for b in self._pending)
            self._depth = self.outbox.queue_depth() - held
            self._depth_at = now
        if self._depth <= 0:
            self._waiting_since = None
            return None
        if self._waiting_since is None:
            self._waiting_since = now
        urgent = self._urgent.is_set()
        if not batch_due(
            self._depth,
            now - self._waiting_since,
            batch_max=s.batch_max,
            batch_seconds=s.batch_seconds,
            urgent=urgent,
        ):
            return None
        self._urgent.clear()
        batch = self.outbox.next_batch(s.batch_max)
        if batch is None:
            self._depth = 0
            return None
        self._depth = max(0, self._depth - len(batch.readings))
        self._waiting_since = None if self._depth == 0 else now
        return self._seal(batch)

    def _send(self, sealed: _Sealed, now: float) -> None:
        assert self._client is not None
        info = self._client.publish(topics.up(self.settings.hub), sealed.envelope, qos=1)
        self._mids[info.mid] = sealed.id
        if sealed.id in self._again:
            self._again.discard(sealed.id)
            self.stats.resent += 1
        self.stats.batches_sent += 1
        self.stats.envelope_bytes += len(sealed.envelope)
        self._unacked[sealed.id] = _Sent(sealed, now)

    def _seal(self, batch: OutboxBatch) -> _Sealed:
        s = self.settings
        created = self.clock()
        bundle = bundle_json(batch.id, s.hub, self.patient, batch.readings, created, self.devices)
        envelope = seal(
            bundle.encode(),
            hub=s.hub,
            batch=batch.id,
            sequence=batch.sequence,
            created=created.isoformat(),
            count=len(batch.readings),
            signer=self.keys.signing,
            recipient=self.keys.hospital,
            ephemeral=X25519PrivateKey.generate(),
            level=s.compress_level,
        )
        return _Sealed(batch.id, batch.sequence, len(batch.readings), envelope)

    # ---------------------------------------------------------------- state

    def _failed(self, problem: Problem, detail: str) -> None:
        """A connection attempt failed: report, and schedule the next one."""
        self._attempt += 1
        s = self.settings
        self.retry_in = retry_delay(
            problem,
            self._attempt,
            base=s.backoff_base_s,
            cap=s.backoff_max_s,
            slow=s.auth_retry_s,
            rand=random.random(),
        )
        self._next_attempt = time.monotonic() + self.retry_in
        self._set_problem(problem, detail)

    def _lost(self, problem: Problem, detail: str) -> None:
        self._close_client(graceful=False)
        self._failed(problem, detail)

    def _close_client(self, *, graceful: bool) -> None:
        client, self._client = self._client, None
        self._connected = False
        self._drop = None
        if client is None:
            return
        if graceful:
            client.publish(topics.status(self.settings.hub), b'{"state":"offline"}', 1, True)
            client.loop(timeout=_TICK)
        client.disconnect()
        client.loop(timeout=0.0)

    def _set_problem(self, problem: Problem, detail: str) -> None:
        changed = (problem, detail) != (self.problem, self.problem_detail)
        self.problem, self.problem_detail = problem, detail
        if changed and problem is not Problem.NONE:
            self._event(EventKind.ERROR, f"uplink {problem.value}: {detail}", problem=problem)
        elif changed:
            self._event(EventKind.STATUS, "uplink connected", problem=problem)

    def _alarm(self, problem: Problem, detail: str) -> None:
        self.problem, self.problem_detail = problem, detail
        self._event(EventKind.ALERT, detail, problem=problem)

    def _event(self, kind: EventKind, message: str, **details: Any) -> None:
        (log.warning if kind in (EventKind.ERROR, EventKind.ALERT) else log.info)(message)
        self.on_event(Event(kind, self.clock(), message, details=details))
