"""The hospital-side ingest service.

Subscribes to every hub's uplink through a shared subscription, so several instances split
the load. For each envelope: verify the hub's signature (enrollment directory), decrypt,
check the Bundle's identifiers belong to that hub, then store — several envelopes per SQLite
transaction — and only after the commit publish a signed ack. An envelope that fails any
check gets a signed refusal naming the reason, which the hub logs.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.receiver.bundle import bundle_keys
from hub.receiver.db import IncomingBatch, ReceiverDb
from hub.receiver.enrolled import EnrollmentDir
from hub.wire import topics
from hub.wire.envelope import EnvelopeError, Refusal, header_batch, key_id, open_envelope
from hub.wire.messages import Ack, DownlinkConfig, sign_message

log = logging.getLogger(__name__)

_GROUP = 64  # envelopes per transaction at most


@dataclass(frozen=True)
class ReceiverSettings:
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path
    db: Path
    client_id: str = "receiver-1"


class Ingest:
    """Verify, decrypt, de-duplicate and store envelopes; no MQTT here, so tests and the
    benchmark can drive it directly."""

    def __init__(
        self,
        db: ReceiverDb,
        hub_keys: Mapping[str, Ed25519PublicKey],
        encryption_keys: list[X25519PrivateKey],
    ) -> None:
        self.db = db
        self.hub_keys = dict(hub_keys)
        self.revoked: frozenset[str] = frozenset()
        self.recipients = {key_id(k.public_key()): k for k in encryption_keys}
        self.refused: Counter[str] = Counter()
        self.stored = 0
        self.duplicates = 0

    def handle(self, messages: list[tuple[str, bytes]], now: datetime) -> list[Ack]:
        """Acks for (topic, payload) pairs, in order; stored batches are committed first."""
        acks: list[Ack | None] = []
        good: list[IncomingBatch] = []
        for topic, payload in messages:
            hub = topics.hub_of(topic)
            if hub is None:
                continue
            try:
                if hub in self.revoked:
                    raise EnvelopeError(Refusal.REVOKED_HUB, f"{hub} was revoked by the hospital")
                good.append(self._open(hub, payload))
                acks.append(None)
            except EnvelopeError as exc:
                self.refused[exc.refusal.value] += 1
                log.warning("refused an envelope on %s: %s", topic, exc)
                acks.append(Ack(hub, header_batch(payload), False, reason=exc.refusal.value,
                                detail=exc.detail))  # fmt: skip
        outcomes = iter(self.db.store(good, now.isoformat()) if good else ())
        result: list[Ack] = []
        for ack in acks:
            if ack is None:
                out = next(outcomes)
                self.stored += out.stored
                self.duplicates += out.duplicates
                ack = Ack(out.batch.hub, out.batch.id, True, out.stored, out.duplicates)
            result.append(ack)
        return result

    def update_enrollment(self, enrolled: EnrollmentDir) -> None:
        """Take the hubs enrolled and revoked since (`hub hospital enroll`, `revoke`)."""
        self.hub_keys = dict(enrolled.keys)
        self.revoked = enrolled.revoked

    def _open(self, hub: str, payload: bytes) -> IncomingBatch:
        opened = open_envelope(
            payload, topic_hub=hub, hub_keys=self.hub_keys, recipients=self.recipients
        )
        header = opened.header
        return IncomingBatch(
            header.batch,
            hub,
            header.sequence,
            header.created,
            header.count,
            opened.compressed,
            bundle_keys(opened.payload, hub, header.batch, header.count),
        )


class Receiver:
    """The MQTT edge around `Ingest`: one paho network thread, one worker thread."""

    def __init__(
        self,
        settings: ReceiverSettings,
        ingest: Ingest,
        signing_key: Ed25519PrivateKey,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        enrolled: EnrollmentDir | None = None,
    ) -> None:
        self.settings = settings
        self.enrolled = enrolled  # re-read before each group when given
        self.ingest = ingest
        self.signing_key = signing_key
        self.clock = clock
        self.inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.tls_set(
            ca_certs=str(settings.ca),
            certfile=str(settings.cert),
            keyfile=str(settings.key),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(0.2, 5)
        self._worker = threading.Thread(target=self._work, name="receiver-ingest", daemon=True)

    def start(self) -> None:
        # A persistent session: what arrives while this instance is down waits in the broker.
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self._worker.start()
        self.client.connect_async(
            self.settings.host, self.settings.port, clean_start=False, properties=props
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.inbox.put(None)
        self._worker.join(timeout=30)

    def publish_config(self, config: DownlinkConfig) -> None:
        """Publish a signed, retained configuration for one hub."""
        data = sign_message(config.body(), self.signing_key)
        self.client.publish(topics.config(config.hub), data, qos=1, retain=True)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.error("receiver: broker refused the connection: %s", rc)
            return
        client.subscribe(topics.shared_up(), qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _m: int, codes: list, _p: object) -> None:
        if any(code.is_failure for code in codes):
            log.error("receiver: subscription refused: %s", codes)
            return
        log.info("receiver: subscribed to %s", topics.shared_up())
        self.connected.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: object, _p: object
    ) -> None:
        self.connected.clear()
        log.warning("receiver: disconnected (%s)", rc)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put((msg.topic, msg.payload))

    def _work(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                return
            group = [item]
            while len(group) < _GROUP:
                try:
                    more = self.inbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.inbox.put(None)
                    break
                group.append(more)
            if self.enrolled is not None and self.enrolled.refresh():
                self.ingest.update_enrollment(self.enrolled)
            try:
                acks = self.ingest.handle(group, self.clock())
            except sqlite3.Error as exc:
                # Nothing acked: the hubs send these batches again after their ack timeout.
                log.error("receiver: could not store %d envelopes: %s", len(group), exc)
                continue
            for ack in acks:
                data = sign_message(ack.body(), self.signing_key)
                self.client.publish(topics.ack(ack.hub), data, qos=1)
