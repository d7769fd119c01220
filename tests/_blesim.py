"""Shared set-up for the full-stack BLE tests: virtual air, the hub's adapter, the manager."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from hub.ble.manager import DeviceManager
from hub.ble.pairing import Pairer
from hub.ble.session import SessionOptions
from hub.config import BleSection, Config, DeviceEntry, HubSection
from hub.ids import IdMinter
from hub.model import DeviceInfo, Event, EventKind, Reading
from hub.sim.air import VirtualAir
from hub.sim.backend import bleak_backend, hub_adapter


def config(*entries: tuple[str, str], max_connections: int = 6) -> Config:
    return Config(
        hub=HubSection(id="hub-test"),
        ble=BleSection(max_connections=max_connections, connect_timeout_s=5.0, reconnect_max_s=1.0),
        devices=tuple(DeviceEntry(address=a, kind=k) for a, k in entries),  # type: ignore[arg-type]
    )


@dataclass
class Collected:
    readings: list[Reading] = field(default_factory=list)
    infos: list[DeviceInfo] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def errors(self) -> list[Event]:
        return [e for e in self.events if e.kind is EventKind.ERROR]


async def drain(manager: DeviceManager, into: Collected) -> None:
    """Sort everything the manager puts out into `into`, until cancelled."""
    while True:
        item = await manager.output.get()
        if isinstance(item, Reading):
            into.readings.append(item)
        elif isinstance(item, DeviceInfo):
            into.infos.append(item)
        else:
            into.events.append(item)


@contextlib.asynccontextmanager
async def running(
    air: VirtualAir,
    cfg: Config,
    *,
    keystore: Path | None = None,
    pairer: Pairer | None = None,
    clock_synced: Callable[[], bool] = lambda: False,
    idle_s: float = 0.5,
) -> AsyncIterator[tuple[DeviceManager, Collected]]:
    """A manager on the simulation, with its output collected; stopped on exit."""
    adapter = await hub_adapter(air, keystore=keystore, pairer=pairer)
    manager = DeviceManager(
        cfg,
        backend=bleak_backend(adapter),
        clock_synced=clock_synced,
        ids=IdMinter(bytes(32)),
        session_options=SessionOptions(idle_s=idle_s, racp_timeout_s=10.0, gatt_timeout_s=5.0),
        backoff_base_s=0.05,
    )
    collected = Collected()
    drainer = asyncio.create_task(drain(manager, collected))
    try:
        async with manager:
            yield manager, collected
    finally:
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
        air.remove(adapter.device)
