"""One MQTT connection (paho-mqtt 2.x, MQTT v5) driven by the caller's asyncio loop.

A new paho client per connection attempt, with a persistent broker session (clean_start=False,
a session expiry): paho never replays a stale packet of its own; what was in flight is re-sent
by the core with the same batch id. paho's external-loop API does the rest: the socket is
registered with `loop.add_reader` (→ `loop_read`) and, while paho has bytes queued,
`loop.add_writer` (→ `loop_write`); `loop_misc` runs every few seconds for the keepalive.
What paho reports becomes core inputs, handed to the owner tagged with this connection, so
the owner can ignore a connection it has already given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.uplink.core import STATUS_SLOTS
from hub.uplink.events import (
    Closed,
    Connected,
    ConnectFailed,
    Input,
    PubAck,
    Publish,
    Received,
    Refused,
    SocketOpened,
)
from hub.uplink.policy import Problem
from hub.uplink.settings import UplinkSettings
from hub.uplink.status import OFFLINE
from hub.wire import topics

log = logging.getLogger(__name__)

MISC_S = 5.0  # loop_misc: keepalive pings are due every keepalive_s (60 s); cheap when idle


class ConnectionOwner(Protocol):
    def connection_input(self, connection: MqttConnection, event: Input) -> None: ...


class MqttConnection:
    def __init__(self, settings: UplinkSettings, owner: ConnectionOwner) -> None:
        self._settings = settings
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._client: mqtt.Client | None = None
        self._refs: dict[int, str] = {}  # paho message id → the core's ref (a batch id)
        self._last_error = ""
        self._abandoned = False  # given up while the connect was still under way
        self._misc: asyncio.TimerHandle | None = None
        self.closed = asyncio.Event()

    def socket(self) -> Any:
        """The connection's socket while open (for measuring its traffic), else None."""
        return self._client.socket() if self._client is not None else None

    # ---------------------------------------------------------------- opening

    async def open(self) -> None:
        s = self._settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"hub-{s.hub}", protocol=mqtt.MQTTv5
        )
        try:
            context = ssl.create_default_context(cafile=str(s.ca))
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if s.cert is not None and s.key is not None:
                context.load_cert_chain(str(s.cert), str(s.key))
        except (OSError, ssl.SSLError) as exc:
            return self._failed(Problem.AUTH, f"certificate files unusable: {exc}")
        client.tls_set_context(context)
        client.connect_timeout = s.connect_timeout_s
        client.max_inflight_messages_set(s.window + STATUS_SLOTS)  # the core keeps the limit
        client.will_set(topics.status(s.hub), OFFLINE, qos=1, retain=True)
        client.on_log = self._on_log  # only records the last error: harmless from the thread
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        try:
            # paho's connect() resolves the name, connects and does the TLS handshake with
            # blocking calls, and paho has no non-blocking variant: it runs in a worker thread
            # so the loop keeps serving devices meanwhile (up to connect_timeout_s on a dead
            # network). paho writes CONNECT from there too. No callback that reaches the core
            # is set until it returns; from then on only the loop touches this client.
            await asyncio.to_thread(
                client.connect,
                s.host,
                s.port,
                keepalive=s.keepalive_s,
                clean_start=False,
                properties=props,
            )
        except ssl.SSLError as exc:
            return self._failed(Problem.AUTH, f"TLS handshake failed: {exc}")
        except OSError as exc:
            return self._failed(Problem.OUTAGE, f"cannot reach {s.host}:{s.port}: {exc}")
        if client.socket() is None:  # TLS 1.3: a refused certificate ends the first write
            detail = self._last_error or "closed during the TLS handshake"
            return self._failed(Problem.AUTH, detail)
        self._client = client
        if self._abandoned:
            return self.abort()
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        sock = client.socket()
        self._loop.add_reader(sock, self._read)
        if client.want_write():  # CONNECT did not fit in one write
            self._loop.add_writer(sock, self._write)
        self._misc = self._loop.call_later(MISC_S, self._keepalive)
        self._emit(SocketOpened(time.monotonic()))

    def _failed(self, problem: Problem, detail: str) -> None:
        self.closed.set()
        self._emit(ConnectFailed(time.monotonic(), problem, detail))

    # ---------------------------------------------------------------- what the core asks

    def publish(self, message: Publish) -> None:
        if self._client is None:
            return
        info = self._client.publish(message.topic, message.payload, message.qos, message.retain)
        if message.ref is not None:
            self._refs[info.mid] = message.ref

    def subscribe(self, names: tuple[str, ...], qos: int) -> None:
        if self._client is not None:
            self._client.subscribe([(name, qos) for name in names])

    def disconnect(self) -> None:
        """Send what is queued, then DISCONNECT; paho closes the socket once it is written."""
        if self._client is None:
            self._abandoned = True  # still connecting: closed as soon as the socket is up
        else:
            self._client.disconnect()

    async def wait_closed(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.closed.wait()
        self.abort()

    def abort(self) -> None:
        """Close the socket at once, whatever is queued."""
        sock = self.socket()
        if sock is not None:
            self._on_socket_close(self._client, None, sock)
            sock.close()
        self.closed.set()

    # ---------------------------------------------------------------- the loop drives paho

    def _read(self) -> None:
        client = self._client
        assert client is not None
        rc = client.loop_read()
        # TLS may hold decrypted bytes the kernel no longer reports as readable.
        while rc == mqtt.MQTT_ERR_SUCCESS and (sock := client.socket()) and sock.pending():
            rc = client.loop_read()

    def _write(self) -> None:
        if self._client is not None:
            self._client.loop_write()

    def _keepalive(self) -> None:
        if self._client is not None and self._client.socket() is not None:
            self._client.loop_misc()
            self._misc = self._loop.call_later(MISC_S, self._keepalive)

    def _on_register_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.add_writer(sock, self._write)

    def _on_unregister_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)

    def _on_socket_close(self, _c: Any, _u: Any, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        if self._misc is not None:
            self._misc.cancel()
        self.closed.set()

    # ---------------------------------------------------------------- what paho reports

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, props: Any) -> None:
        now = time.monotonic()
        if reason.is_failure:
            return self._emit(Refused(now, int(reason.value)))
        receive_max = getattr(props, "ReceiveMaximum", 65_535) if props is not None else 65_535
        self._emit(Connected(now, receive_max))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        ref = self._refs.pop(mid, None)
        if ref is not None:
            self._emit(PubAck(time.monotonic(), ref, int(reason.value)))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._emit(Received(time.monotonic(), datetime.now(UTC), msg.topic, msg.payload))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._emit(Closed(time.monotonic(), self._last_error or str(reason)))

    def _on_log(self, _c: mqtt.Client, _u: Any, level: int, message: str) -> None:
        if level == mqtt.MQTT_LOG_ERR:
            self._last_error = message

    def _emit(self, event: Input) -> None:
        self._owner.connection_input(self, event)
