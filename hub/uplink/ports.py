"""What the uplink needs from the rest of the hub, as Protocols: the outbox (the store's owner,
reached only through these async calls), the device directory, and whom to tell."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hub.model import DeviceInfo, Event, Reading
from hub.wire.messages import DownlinkConfig


class OutboxBatch(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def readings(self) -> tuple[Reading, ...]: ...


class AsyncOutbox(Protocol):
    """Implemented by `hub.store.owner.StoreOwner`."""

    async def next_batch(self, limit: int) -> OutboxBatch | None: ...
    async def unacked_batches(self, sent_before: datetime) -> Sequence[OutboxBatch]: ...
    async def acknowledge(self, batch_id: str) -> int: ...
    async def unsent_count(self) -> int: ...


class UplinkListener(Protocol):
    def uplink_event(self, event: Event) -> None:
        """Problems, alarms, "connected"."""

    def downlink_config(self, config: DownlinkConfig, raw: bytes) -> None:
        """A config whose signature verified, newer than the last one handed on."""


class DeviceDirectory(Protocol):
    def info(self, address: str) -> DeviceInfo | None: ...
