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


class _Session:
    """One connection; paho's network thread runs while it is open."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.timeout = timeout
        self.connected = threading.Event()
        self.failure = ""
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"ops-{time.monotonic_ns()}")  # fmt: skip
        try:
            ctx = ssl.create_default_context(cafile=str(endpoint.ca))
            ctx.load_cert_chain(str(endpoint.cert), str(endpoint.key))
        except (OSError, ssl.SSLError) as exc:
            raise HospitalError(f"operations certificate unusable: {exc}") from None
        self.client.tls_set_context(ctx)
        self.client.on_connect = self._on_connect
        try:
            self.client.connect(endpoint.host, endpoint.port)
        except (OSError, ssl.SSLError) as exc:
            raise HospitalError(f"cannot reach the broker {endpoint.host}:{endpoint.port}: "
                                f"{exc}") from None  # fmt: skip
        self.client.loop_start()
        if not self.connected.wait(timeout) or self.failure:
            self.close()
            raise HospitalError(f"broker {endpoint.host}:{endpoint.port} did not accept the "
                                f"operations identity {self.failure}".rstrip())  # fmt: skip

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.failure = f"({reason})"
        self.connected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_retained(endpoint: Endpoint, topic: str, payload: bytes, timeout: float = 10.0) -> None:
    """Publish retained at QoS 1; returns once the broker accepted it, else HospitalError."""
    session = _Session(endpoint, timeout)
    done = threading.Event()
    verdict: list[Any] = []

    def on_publish(_c: mqtt.Client, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        verdict.append(reason)
        done.set()

    session.client.on_publish = on_publish
    try:
        session.client.publish(topic, payload, qos=1, retain=True)
        if not done.wait(timeout):
            raise HospitalError(f"no answer from the broker within {timeout:.0f} s for {topic}")
        if verdict[0].is_failure:
            raise HospitalError(f"the broker refused the publish on {topic}: {verdict[0]}")
    finally:
        session.close()


def retained(endpoint: Endpoint, topic_filter: str, quiet_s: float = 0.5,
             timeout: float = 10.0) -> dict[str, bytes]:  # fmt: skip
    """The retained messages under `topic_filter`: collected until none arrived for
    `quiet_s` after the subscription was granted (the broker sends them right after)."""
    session = _Session(endpoint, timeout)
    found: dict[str, bytes] = {}
    granted = threading.Event()
    last = [time.monotonic()]

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            with session.lock:
                found[msg.topic] = msg.payload
                last[0] = time.monotonic()

    def on_subscribe(_c: mqtt.Client, _u: Any, _m: int, codes: list[Any], _p: Any) -> None:
        last[0] = time.monotonic()
        granted.set()

    session.client.on_message = on_message
    session.client.on_subscribe = on_subscribe
    try:
        session.client.subscribe(topic_filter, qos=1)
        if not granted.wait(timeout):
            raise HospitalError(f"the broker did not answer the subscription to {topic_filter}")
        while True:
            with session.lock:
                idle = time.monotonic() - last[0]
            if idle >= quiet_s:
                break
            time.sleep(quiet_s - idle)
        with session.lock:
            return dict(found)
    finally:
        session.close()
