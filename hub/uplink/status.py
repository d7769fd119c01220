"""What goes on the hub's retained status topic (pure; part of the core): "online" at each
connection, then the latest status the daemon gave, published again after every reconnect so
the retained copy is never older than the connection. Only the latest one waits."""

from __future__ import annotations

from hub.uplink.events import Publish

ONLINE = b'{"state":"online"}'
OFFLINE = b'{"state":"offline"}'  # our last will, and what a clean stop publishes


class StatusBoard:
    def __init__(self, topic: str) -> None:
        self._topic = topic
        self._waiting: bytes | None = None  # given while disconnected
        self._published: bytes | None = None  # published last

    def update(self, payload: bytes, *, connected: bool) -> list[Publish]:
        """Published now when connected; else it waits for the connection."""
        if not connected:
            self._waiting = payload
            return []
        self._published = payload
        return [self._publish(payload)]

    def connected(self) -> list[Publish]:
        """What to publish on a new connection, in order."""
        latest = self._waiting if self._waiting is not None else self._published
        self._waiting, self._published = None, latest
        return [self._publish(p) for p in (ONLINE, latest) if p is not None]

    def offline(self) -> Publish:
        return self._publish(OFFLINE)

    def _publish(self, payload: bytes) -> Publish:
        return Publish(self._topic, payload, retain=True)
