"""The operations console's own MQTT connection (certificate CN `ops`): publish a retained
message and wait for the broker's verdict, or read what is retained under a topic filter.

MQTT v5, so a publish the ACL refuses comes back as a failed PUBACK instead of silence.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.hospital.layout import OPS, HospitalDir, HospitalError


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def ops(cls, place: HospitalDir) -> Endpoint:
        settings = place.load_settings()
        cert, key = place.service(OPS)
        return cls(settings.broker_host, settings.broker_port, place.ca, cert, key)


def tls_client(endpoint: Endpoint, client_id: str, identity: str) -> mqtt.Client:
    """An MQTT v5 client holding `endpoint`'s certificate (`identity` names it in errors);
    the caller sets its callbacks, then `start`s it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id=client_id)
    try:
        ctx = ssl.create_default_context(cafile=str(endpoint.ca))
        ctx.load_cert_chain(str(endpoint.cert), str(endpoint.key))
    except (OSError, ssl.SSLError) as exc:
        raise HospitalError(f"{identity} certificate unusable: {exc}") from None
    client.tls_set_context(ctx)
    return client


def start(client: mqtt.Client, endpoint: Endpoint) -> None:
    """Connect and run paho's network thread; HospitalError when the broker is unreachable."""
    try:
        client.connect(endpoint.host, endpoint.port)
    except (OSError, ssl.SSLError) as exc:
        raise HospitalError(f"cannot reach the broker {endpoint.host}:{endpoint.port}: "
                            f"{exc}") from None  # fmt: skip
    client.loop_start()


class _Session:
    """One connection; paho's network thread runs while it is open and reports here."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.timeout = timeout
        self.connected = threading.Event()
        self.granted = threading.Event()
        self.published = threading.Event()
        self.failure = ""
        self.verdict: Any = None
        self.lock = threading.Lock()
        self.found: dict[str, bytes] = {}
        self.last_activity = time.monotonic()
        self.client = tls_client(endpoint, f"ops-{time.monotonic_ns()}", "operations")
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        start(self.client, endpoint)
        if not self.connected.wait(timeout) or self.failure:
            self.close()
            raise HospitalError(f"broker {endpoint.host}:{endpoint.port} did not accept the "
                                f"operations identity {self.failure}".rstrip())  # fmt: skip

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.failure = f"({reason})"
        self.connected.set()

    def _on_publish(self, _c: mqtt.Client, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        self.verdict = reason
        self.published.set()

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _m: int, _codes: Any, _p: Any) -> None:
        with self.lock:
            self.last_activity = time.monotonic()
        self.granted.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            with self.lock:
                self.found[msg.topic] = msg.payload
                self.last_activity = time.monotonic()

    def idle_s(self) -> float:
        with self.lock:
            return time.monotonic() - self.last_activity

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_retained(endpoint: Endpoint, topic: str, payload: bytes, timeout: float = 10.0) -> None:
    """Publish retained at QoS 1; returns once the broker accepted it, else HospitalError."""
    session = _Session(endpoint, timeout)
    try:
        session.client.publish(topic, payload, qos=1, retain=True)
        if not session.published.wait(timeout):
            raise HospitalError(f"no answer from the broker within {timeout:.0f} s for {topic}")
        if session.verdict.is_failure:
            raise HospitalError(f"the broker refused the publish on {topic}: {session.verdict}")
    finally:
        session.close()


def retained(endpoint: Endpoint, topic_filter: str, quiet_s: float = 0.5,
             timeout: float = 10.0) -> dict[str, bytes]:  # fmt: skip
    """The retained messages under `topic_filter`: collected until none arrived for
    `quiet_s` after the subscription was granted (the broker sends them right after)."""
    session = _Session(endpoint, timeout)
    try:
        session.client.subscribe(topic_filter, qos=1)
        if not session.granted.wait(timeout):
            raise HospitalError(f"the broker did not answer the subscription to {topic_filter}")
        while (idle := session.idle_s()) < quiet_s:
            time.sleep(quiet_s - idle)
        with session.lock:
            return dict(session.found)
    finally:
        session.close()
