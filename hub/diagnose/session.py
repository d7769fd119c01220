"""A short-lived paho MQTT 5 session for the access and acknowledgement steps, awaited from
asyncio.

paho runs its own network thread (`loop_start`) for the seconds a diagnosis lasts: the
session is rare and brief, and the daemon's uplink connection is left alone (another client
id, a clean session, no will). What paho reports is posted to the caller's loop as typed
events; the caller awaits the one it needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class ConnAck:
    reason: int


@dataclass(frozen=True)
class SubAck:
    mid: int


@dataclass(frozen=True)
class PubAck:
    mid: int
    reason: int


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes


@dataclass(frozen=True)
class Lost:
    detail: str


Event = ConnAck | SubAck | PubAck | Message | Lost


class Session:
    def __init__(self, client_id: str, context: ssl.SSLContext) -> None:
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.tls_set_context(context)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._started = False

    async def connect(self, host: str, port: int, timeout: float) -> None:
        """Name lookup, TCP, TLS and CONNECT (blocking in paho: a worker thread); an OSError
        when any of them fails. The CONNACK comes as an event."""
        self._client.connect_timeout = timeout
        await asyncio.to_thread(self._client.connect, host, port, keepalive=30, clean_start=True)
        self._client.loop_start()
        self._started = True

    def subscribe(self, topic: str) -> int:
        _rc, mid = self._client.subscribe(topic, qos=1)
        return int(mid or 0)

    def publish(self, topic: str, payload: bytes) -> int:
        return self._client.publish(topic, payload, qos=1, retain=False).mid

    async def next_event(self, deadline: float) -> Event | None:
        """The next event, or None once the loop's clock passes `deadline`."""
        timeout = deadline - self._loop.time()
        if timeout <= 0:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await self._events.get()
        except TimeoutError:
            return None

    async def close(self) -> None:
        if self._started:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)
        with contextlib.suppress(OSError):
            sock = self._client.socket()
            if sock is not None:
                sock.close()

    # ---------------------------------------------------------------- paho's thread

    def _post(self, event: Event) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, event)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._post(ConnAck(int(reason.value)))

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _p: Any) -> None:
        self._post(SubAck(mid))

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        self._post(PubAck(mid, int(reason.value)))

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._post(Message(msg.topic, bytes(msg.payload)))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._post(Lost(str(reason)))
