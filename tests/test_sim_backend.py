"""The Bumble-backed bleak backend through bleak's own public API."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError, BleakGATTProtocolError

from hub.ble import uuids
from hub.ble.profiles import heart_rate
from hub.sim.air import VirtualAir
from hub.sim.backend import BumbleClient, BumbleScanner, hub_adapter
from hub.sim.peripheral import simulated
from hub.sim.profiles import Security

BAND = "C0:00:00:00:30:01"
CUFF = "C0:00:00:00:30:02"


def test_scan_filters_by_service_and_reports_the_advertisement() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        adapter = await hub_adapter(air)
        band = simulated(air, "heart-rate", BAND, name="band")
        stranger = simulated(air, "pulse-oximeter", "C0:00:00:00:30:09")
        await band.start()
        await stranger.start()
        seen: dict[str, AdvertisementData] = {}
        found = asyncio.Event()

        def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
            seen[device.address] = adv
            found.set()

        scanner = BleakScanner(
            on_advertisement, [uuids.full(0x180D)], "passive", backend=BumbleScanner, bumble=adapter
        )
        await scanner.start()
        await asyncio.wait_for(found.wait(), 10)
        await scanner.stop()
        assert set(seen) == {BAND}
        assert seen[BAND].local_name == "band"
        assert seen[BAND].service_uuids == [uuids.full(0x180D)]

    asyncio.run(scenario())


def test_connect_to_an_absent_device_times_out_and_the_adapter_stays_usable() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        adapter = await hub_adapter(air)
        absent = BleakClient("C0:00:00:00:30:0F", backend=BumbleClient, bumble=adapter, timeout=0.3)
        with pytest.raises(TimeoutError):
            await absent.connect()
        band = simulated(air, "heart-rate", BAND)
        await band.start()
        client = BleakClient(BAND, backend=BumbleClient, bumble=adapter, timeout=10)
        await client.connect()
        assert client.is_connected
        beats: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(uuids.full(0x2A37), lambda _c, data: beats.put_nowait(data))
        band.measure(heart_rate.encode_measurement(66))
        assert await asyncio.wait_for(beats.get(), 10) == heart_rate.encode_measurement(66)
        assert await client.read_gatt_char(uuids.full(0x2A29)) == b"Simulated Medical"
        await client.disconnect()
        assert not client.is_connected

    asyncio.run(scenario())


def test_encrypted_cccd_is_refused_until_paired_then_no_double_delivery() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        adapter = await hub_adapter(air)
        cuff = simulated(air, "blood-pressure", CUFF, security=Security.JUST_WORKS, linger_s=5)
        await cuff.start()
        cuff.measure(b"\x00\x78\x00\x50\x00\x5a\x00")
        client = BleakClient(CUFF, backend=BumbleClient, bumble=adapter, timeout=10)
        await client.connect()
        frames: asyncio.Queue[bytes] = asyncio.Queue()
        with pytest.raises(BleakGATTProtocolError) as refused:
            await client.start_notify(uuids.full(0x2A35), lambda _c, d: frames.put_nowait(d))
        assert refused.value.code == 0x0F  # insufficient encryption
        await client.pair()
        await client.start_notify(uuids.full(0x2A35), lambda _c, d: frames.put_nowait(d))
        assert await asyncio.wait_for(frames.get(), 10) == b"\x00\x78\x00\x50\x00\x5a\x00"
        cuff.measure(b"\x00\x79\x00\x50\x00\x5a\x00")
        assert await asyncio.wait_for(frames.get(), 10) == b"\x00\x79\x00\x50\x00\x5a\x00"
        assert frames.empty()  # each indication delivered once
        await client.disconnect()
        with pytest.raises(BleakError):
            await client.read_gatt_char(uuids.full(0x2A29))

    asyncio.run(scenario())
