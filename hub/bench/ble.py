"""`hub bench ble`: notifications per second from simulated devices into readings.

The hub path is the whole of it: a simulated heart-rate band notifies as fast as Bumble
delivers, through the Bumble-backed bleak backend, the device manager and the decoder, into
`Reading`s on the manager's queue. The ceiling, measured in the same run, is the same band
notifying a bare Bumble central (no bleak, no decoding). Memory per connected device is the
traced allocation growth while the manager connects to several devices, divided by their
number; it includes the simulated peripheral's side of each link, so it is an upper bound.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc

from bumble.core import UUID
from bumble.device import Peer

from hub.bench import BenchResult, Target
from hub.ble.manager import DeviceManager
from hub.ble.profiles import heart_rate
from hub.config import BleSection, Config, DeviceEntry, HubSection
from hub.ids import IdMinter
from hub.model import Reading
from hub.sim.air import VirtualAir
from hub.sim.backend import bleak_backend, hub_adapter
from hub.sim.peripheral import SimDevice, simulated

NOTIFICATIONS = 3000
REPEATS = 3
MEMORY_DEVICES = 6
_BAND = "C0:00:00:00:B0:01"
_FRAME = heart_rate.encode_measurement(72, rr_intervals_s=[0.83])


def _config(addresses: list[str]) -> Config:
    return Config(
        hub=HubSection(id="bench"),
        ble=BleSection(max_connections=len(addresses), scan_mode="active"),
        devices=tuple(DeviceEntry(address=a, kind="heart-rate") for a in addresses),
    )


async def _band(air: VirtualAir, address: str = _BAND) -> SimDevice:
    band = simulated(air, "heart-rate", address)
    for _ in range(NOTIFICATIONS):
        band.measure(_FRAME)
    await band.start()
    return band


async def _hub_rate() -> float:
    air = VirtualAir()
    await _band(air)
    manager = DeviceManager(
        _config([_BAND]),
        backend=bleak_backend(await hub_adapter(air)),
        clock_synced=lambda: False,
        ids=IdMinter(bytes(32)),
    )
    async with manager:
        first = None
        count = 0
        while count < NOTIFICATIONS:
            if isinstance(await manager.output.get(), Reading):
                count += 1
                first = first or time.perf_counter()
        assert first is not None
        return (count - 1) / (time.perf_counter() - first)


async def _bumble_rate() -> float:
    air = VirtualAir()
    band = await _band(air)
    central = air.device("central", "F0:0B:00:00:00:02")
    await central.power_on()
    done = asyncio.get_running_loop().create_future()
    stamps: list[float] = []

    def on_value(_value: bytes) -> None:
        stamps.append(time.perf_counter())
        if len(stamps) == NOTIFICATIONS and not done.done():
            done.set_result(None)

    connection = await central.connect(band.device.random_address)
    peer = Peer(connection)
    await peer.discover_services()
    await peer.discover_characteristics()
    (characteristic,) = peer.get_characteristics_by_uuid(UUID.from_16_bits(0x2A37))
    await peer.subscribe(characteristic, on_value)
    await asyncio.wait_for(done, 60)
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


async def _memory_per_device() -> float:
    air = VirtualAir()
    addresses = [f"C0:00:00:00:B1:{i:02X}" for i in range(MEMORY_DEVICES)]
    for address in addresses:
        await simulated(air, "heart-rate", address).start()
    adapter = await hub_adapter(air)
    manager = DeviceManager(
        _config(addresses),
        backend=bleak_backend(adapter),
        clock_synced=lambda: False,
        ids=IdMinter(bytes(32)),
    )
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    async with manager:
        while manager.connected < MEMORY_DEVICES or any(
            manager.stats(a).connects == 0 for a in addresses
        ):
            await asyncio.sleep(0.01)
        after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / MEMORY_DEVICES / 1024


async def _run() -> BenchResult:
    hub = max([await _hub_rate() for _ in range(REPEATS)])
    bumble = max([await _bumble_rate() for _ in range(REPEATS)])
    memory = await _memory_per_device()
    result = BenchResult("ble")
    result.figures["hub_notifications_per_s"] = hub
    result.figures["bumble_notifications_per_s"] = bumble
    result.figures["vs_bumble"] = hub / bumble
    result.figures["kib_per_connected_device"] = memory
    result.targets["vs_bumble"] = Target(hub / bumble, 0.5)
    return result


def run() -> BenchResult:
    return asyncio.run(_run())
