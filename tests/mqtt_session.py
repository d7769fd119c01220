"""One MQTT v5 connection to the test broker with a given certificate, for tests that act as
another client (a hostile hub, a replaying one): SUBACK and PUBACK reason codes as values."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from waiting import wait_for

from hub.testbed.pki import Identity


class Session:
    def __init__(self, ca: Path, port: int, ident: Identity) -> None:
        self.codes: dict[int, int] = {}  # message id → SUBACK or PUBACK reason code
        self.received: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"session-{time.monotonic_ns()}")  # fmt: skip
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.load_cert_chain(str(ident.cert), str(ident.key))
        self.client.tls_set_context(ctx)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.connected.is_set, "the session's CONNACK")

    def subscribe(self, topic: str) -> int:
        """The SUBACK's reason code (the granted QoS, or ≥ 0x80 when refused)."""
        _rc, mid = self.client.subscribe(topic, qos=1)
        return self._answer(mid, f"the SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes) -> int:
        """The PUBACK's reason code (0 success, ≥ 0x80 refused)."""
        return self._answer(self.client.publish(topic, payload, qos=1).mid, f"PUBACK on {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _answer(self, mid: int, what: str) -> int:
        wait_for(lambda: mid in self.codes, what)
        return self.codes[mid]

    def _on_connect(self, _c: object, _u: object, _f: object, _r: object, _p: object) -> None:
        self.connected.set()

    def _on_subscribe(self, _c: object, _u: object, mid: int, codes: list, _p: object) -> None:
        self.codes[mid] = codes[0].value

    def _on_publish(self, _c: object, _u: object, mid: int, reason: object, _p: object) -> None:
        self.codes[mid] = reason.value  # type: ignore[attr-defined]

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        self.received.append((message.topic, message.payload))
