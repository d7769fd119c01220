"""The device manager against simulated devices on Bumble, through the Bumble bleak backend."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from _blesim import config, running
from waiting import until

from hub.ble.pairing import StaticPasskeys
from hub.ble.profiles import blood_pressure, decode, glucose, heart_rate, plx, thermometer, weight
from hub.ble.profiles.current_time import CurrentTime
from hub.ids import IdMinter
from hub.model import Code, Kind
from hub.sim.air import VirtualAir
from hub.sim.peripheral import SimDevice, simulated
from hub.sim.profiles import Security

CUFF = "C0:00:00:00:10:01"


def bp(systolic: int, diastolic: int, minute: int = 0) -> bytes:
    return blood_pressure.encode_measurement(
        systolic, diastolic, 90, time=datetime(2026, 3, 1, 8, minute), pulse=70
    )


PASSKEY = 246810


async def passkey_cuff(air: VirtualAir, keystore: Path | None = None) -> SimDevice:
    """A started cuff that shows `PASSKEY` and lets no one subscribe before pairing."""
    cuff = simulated(
        air, "blood-pressure", CUFF, security=Security.PASSKEY, passkey=PASSKEY, keystore=keystore
    )
    await cuff.start()
    return cuff


def test_cuff_bonds_with_just_works_indicates_and_disconnects(tmp_path: Path) -> None:
    async def scenario() -> None:
        air = VirtualAir()
        cuff = simulated(
            air,
            "blood-pressure",
            CUFF,
            security=Security.JUST_WORKS,
            keystore=tmp_path / "cuff.json",
            linger_s=0.0,
        )
        await cuff.start()
        cuff.measure(bp(128, 82, 1))
        cuff.measure(bp(131, 85, 2))
        cfg = config((CUFF, "blood-pressure"))
        async with running(air, cfg, keystore=tmp_path / "hub.json") as (manager, out):
            await until(lambda: len(out.readings) == 2, "two readings")
            await until(lambda: not cuff.connected, "the cuff to leave")
            values = [(r.value_of(Code.SYSTOLIC), r.value_of(Code.DIASTOLIC)) for r in out.readings]
            assert values == [(128.0, 82.0), (131.0, 85.0)]
            assert {r.kind for r in out.readings} == {Kind.BLOOD_PRESSURE}
            assert {r.device for r in out.readings} == {CUFF}
            assert manager.stats(CUFF).connects == 1
            assert not out.errors()
        assert CUFF in (tmp_path / "hub.json").read_text()  # the bond was kept

    asyncio.run(scenario())


def test_passkey_pairing_with_the_right_passkey() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        cuff = await passkey_cuff(air)
        cuff.measure(bp(118, 76))
        pairer = StaticPasskeys({CUFF: PASSKEY})
        async with running(air, config((CUFF, "blood-pressure")), pairer=pairer) as (_m, out):
            await until(lambda: len(out.readings) == 1, "the reading")
            assert out.readings[0].value_of(Code.SYSTOLIC) == 118.0
            assert not out.errors()

    asyncio.run(scenario())


def test_wrong_passkey_is_refused_and_reported() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        cuff = await passkey_cuff(air)
        cuff.measure(bp(118, 76))
        pairer = StaticPasskeys({CUFF: 111111})
        async with running(air, config((CUFF, "blood-pressure")), pairer=pairer) as (m, out):
            await until(lambda: bool(out.errors()), "a pairing error event")
            assert "pairing" in out.errors()[0].message
            assert out.errors()[0].device == CUFF
            assert m.stats(CUFF).failures >= 1
            assert out.readings == []
            assert cuff.pending == 1  # the cuff still holds its measurement

    asyncio.run(scenario())


def test_bond_is_reused_after_a_hub_restart(tmp_path: Path) -> None:
    """Paired once with the passkey; after a restart the hub knows no passkey at all, yet the
    cuff talks to it: the link is encrypted with the stored bond."""

    async def scenario() -> None:
        air = VirtualAir()
        cuff = await passkey_cuff(air, keystore=tmp_path / "cuff.json")
        cfg = config((CUFF, "blood-pressure"))
        bonds = tmp_path / "hub.json"
        cuff.measure(bp(120, 80, 1))
        async with running(air, cfg, keystore=bonds, pairer=StaticPasskeys({CUFF: PASSKEY})) as (
            _m,
            out,
        ):
            await until(lambda: len(out.readings) == 1, "the first reading")
        await until(lambda: not cuff.connected, "the cuff to leave")
        cuff.measure(bp(122, 81, 2))
        async with running(air, cfg, keystore=bonds, pairer=StaticPasskeys({})) as (m, out):
            await until(lambda: len(out.readings) == 1, "the reading after the restart")
            assert out.readings[0].value_of(Code.SYSTOLIC) == 122.0
            assert not out.errors()
            assert m.stats(CUFF).failures == 0

    asyncio.run(scenario())


def test_duplicate_records_keep_one_id() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        cuff = simulated(air, "blood-pressure", CUFF, linger_s=0.0)
        await cuff.start()
        async with running(air, config((CUFF, "blood-pressure"))) as (m, out):
            cuff.measure(bp(140, 90, 5))
            await until(lambda: len(out.readings) == 1, "the first copy")
            await until(lambda: not cuff.connected, "the cuff to leave")
            cuff.measure(bp(140, 90, 5))  # sent again on the next connection
            cuff.measure(bp(141, 91, 6))
            await until(lambda: len(out.readings) == 3, "the second connection's readings")
            first, again, new = out.readings
            assert again.id == first.id
            assert new.id != first.id
            assert m.stats(CUFF).connects == 2

    asyncio.run(scenario())


def test_garbage_frames_are_counted_reported_once_and_dropped() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        cuff = simulated(air, "blood-pressure", CUFF)
        await cuff.start()
        cuff.measure(b"\xff\x01")
        cuff.measure(bp(125, 80))
        cuff.measure(b"")
        cuff.measure(bp(126, 81, 1)[:-1])  # truncated
        async with running(air, config((CUFF, "blood-pressure"))) as (m, out):
            await until(lambda: m.stats(CUFF).malformed == 3, "three malformed frames")
            assert [r.value_of(Code.SYSTOLIC) for r in out.readings] == [125.0]
            errors = out.errors()
            assert len(errors) == 1
            assert errors[0].details == {
                "length": 2,
                "fingerprint": IdMinter(bytes(32)).fingerprint(b"\xff\x01"),
                "characteristic": 0x2A35,
            }
            assert "ff01" not in errors[0].message  # never the bytes: they are health data

    asyncio.run(scenario())


def test_clock_is_set_only_from_a_synchronised_hub_clock() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        thermometer = simulated(air, "thermometer", "C0:00:00:00:10:05", linger_s=30.0)
        await thermometer.start()
        cfg = config(("C0:00:00:00:10:05", "thermometer"))
        thermometer.measure(b"\x00\x6f\x01\x00\xff")  # 36.7 °C
        async with running(air, cfg, clock_synced=lambda: False) as (_m, out):
            await until(lambda: len(out.readings) == 1, "the temperature")
            await until(lambda: bool(out.infos), "device information")
        info = out.infos[0]
        assert (info.manufacturer, info.model, info.battery) == ("Simulated Medical", "SIM-1", 100)
        assert thermometer.clock_writes == []
        thermometer.measure(b"\x00\x70\x01\x00\xff")
        async with running(air, cfg, clock_synced=lambda: True) as (m, out):
            await until(lambda: m.stats("C0:00:00:00:10:05").clock_sets == 1, "the clock write")
        assert len(thermometer.clock_writes) == 1
        written = decode(0x2A2B, thermometer.clock_writes[0])
        assert isinstance(written, CurrentTime)
        assert written.time is not None and written.time.year >= 2024
        assert "external-reference-time-update" in written.adjust_reasons

    asyncio.run(scenario())


GLUCOMETER = "C0:00:00:00:10:06"


def glucose_record(sequence: int, mg_dl: float) -> bytes:
    return glucose.encode_measurement(
        sequence, datetime(2026, 3, 1, 7, sequence), concentration=mg_dl / 100_000
    )


def test_stored_records_are_downloaded_then_only_new_ones() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        meter = simulated(air, "glucose", GLUCOMETER)
        await meter.start()
        for sequence, value in ((1, 95.0), (2, 110.0), (3, 142.0)):
            meter.store(sequence, glucose_record(sequence, value))
        async with running(air, config((GLUCOMETER, "glucose"))) as (m, out):
            await until(lambda: len(out.readings) == 3, "three stored records")
            await until(lambda: not meter.connected, "the hub to let the meter go")
            assert [r.details["sequence"] for r in out.readings] == [1, 2, 3]
            assert [r.value_of(Code.GLUCOSE_MASS) for r in out.readings] == [95.0, 110.0, 142.0]
            meter.store(4, glucose_record(4, 101.0))
            await until(lambda: len(out.readings) == 4, "the new record")
            assert out.readings[3].details["sequence"] == 4
            await until(lambda: m.stats(GLUCOMETER).downloads >= 2, "two completed downloads")
        first, *later = meter.racp_requests
        assert first == b"\x01\x01"  # all records, the first time
        from_4, from_5 = b"\x01\x03\x01\x04\x00", b"\x01\x03\x01\x05\x00"
        assert from_4 in later  # then only the ones after the last sequence number seen
        assert set(later) <= {from_4, from_5}

    asyncio.run(scenario())


def test_link_dropped_mid_download_then_completed() -> None:
    """The meter's link is cut after two of four records; the next download asks from the
    third on, and every record arrives once with its own id."""

    async def scenario() -> None:
        air = VirtualAir()
        meter = simulated(air, "glucose", GLUCOMETER)
        await meter.start()
        for sequence in range(1, 5):
            meter.store(sequence, glucose_record(sequence, 90.0 + sequence))
        meter.drop_after = 2
        async with running(air, config((GLUCOMETER, "glucose"))) as (m, out):
            await until(lambda: len({r.details["sequence"] for r in out.readings}) == 4, "all")
            assert len({r.id for r in out.readings}) == 4
            assert m.stats(GLUCOMETER).connects >= 2
        assert meter.racp_requests[0] == b"\x01\x01"
        assert meter.racp_requests[1] == b"\x01\x03\x01\x03\x00"  # from record 3 on

    asyncio.run(scenario())


OXIMETER = "C0:00:00:00:10:02"
BAND = "C0:00:00:00:10:03"


def test_long_lived_band_reconnects_after_the_link_drops() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = simulated(air, "heart-rate", BAND)
        await band.start()
        async with running(air, config((BAND, "heart-rate"))) as (m, out):
            band.measure(heart_rate.encode_measurement(61, rr_intervals_s=[0.98]))
            await until(lambda: len(out.readings) == 1, "the first beat")
            await band.drop_link()
            await until(lambda: m.stats(BAND).connects == 2, "a reconnect")
            band.measure(heart_rate.encode_measurement(64))
            await until(lambda: len(out.readings) == 2, "a beat after the reconnect")
            await band.drop_link()
            await until(lambda: m.stats(BAND).connects == 3, "a second reconnect")
            assert [r.value_of(Code.HEART_RATE) for r in out.readings] == [61.0, 64.0]
            assert band.connected

    asyncio.run(scenario())


def test_six_devices_at_once() -> None:
    frames = {
        "blood-pressure": bp(130, 85),
        "pulse-oximeter": plx.encode_spot_check(97, 66),
        "heart-rate": heart_rate.encode_measurement(72),
        "thermometer": thermometer.encode_measurement(37.1),
        "weight-scale": weight.encode_measurement(81.5),
        "glucose": glucose_record(1, 99.0),
    }
    addresses = {kind: f"C0:00:00:00:20:{i:02X}" for i, kind in enumerate(frames)}

    async def scenario() -> None:
        air = VirtualAir()
        devices = [simulated(air, kind, addresses[kind], linger_s=60.0) for kind in frames]
        for device in devices:
            await device.start()
        cfg = config(*((a, k) for k, a in addresses.items()), max_connections=6)
        for device, frame in zip(devices, frames.values(), strict=True):
            device.measure(frame)
        async with running(air, cfg, idle_s=60.0) as (m, out):
            await until(lambda: len(out.readings) == 6, "one reading from each")
            await until(lambda: m.connected == 6, "six connections")
            assert all(d.connected for d in devices)
            kinds = {r.device: r.kind for r in out.readings}
            assert kinds == {
                addresses["blood-pressure"]: Kind.BLOOD_PRESSURE,
                addresses["pulse-oximeter"]: Kind.SPO2_SPOT,
                addresses["heart-rate"]: Kind.HEART_RATE,
                addresses["thermometer"]: Kind.TEMPERATURE,
                addresses["weight-scale"]: Kind.WEIGHT,
                addresses["glucose"]: Kind.GLUCOSE,
            }

    asyncio.run(scenario())


def test_a_cuff_gets_a_slot_held_by_a_streaming_band() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = simulated(air, "heart-rate", BAND)
        cuff = simulated(air, "blood-pressure", CUFF)
        await band.start()
        await cuff.start()
        cfg = config((BAND, "heart-rate"), (CUFF, "blood-pressure"), max_connections=1)
        async with running(air, cfg) as (m, out):
            await until(lambda: band.connected, "the band to connect")
            cuff.measure(bp(135, 88))
            await until(lambda: any(r.device == CUFF for r in out.readings), "the cuff reading")
            await until(lambda: m.stats(BAND).connects == 2, "the band back")
            await until(lambda: not cuff.connected, "the cuff to leave")

    asyncio.run(scenario())


def test_unassigned_devices_are_never_connected() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        stranger = simulated(air, "heart-rate", "C0:00:00:00:99:99")
        band = simulated(air, "heart-rate", BAND)
        await stranger.start()
        await band.start()
        async with running(air, config((BAND, "heart-rate"))) as (_m, out):
            band.measure(heart_rate.encode_measurement(70))
            await until(lambda: len(out.readings) == 1, "the assigned band's reading")
        assert stranger.connections == 0

    asyncio.run(scenario())


def test_oximeter_streams_continuous_values_and_spot_checks_with_low_battery() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        oximeter = simulated(air, "pulse-oximeter", OXIMETER, battery=9)
        await oximeter.start()
        async with running(air, config((OXIMETER, "pulse-oximeter"))) as (_m, out):
            await until(lambda: bool(out.infos), "device information")
            assert out.infos[0].battery == 9
            stream = (plx.encode_continuous(spo2, 70) for spo2 in (96, 95, 94))
            await oximeter.play(stream, every_s=0.01, uuid16=0x2A5F)
            oximeter.measure(plx.encode_spot_check(93, 71), 0x2A5E)
            await until(lambda: len(out.readings) == 4, "three continuous values and a spot check")
            assert [(r.kind, r.value_of(Code.SPO2)) for r in out.readings] == [
                (Kind.SPO2_CONTINUOUS, 96.0),
                (Kind.SPO2_CONTINUOUS, 95.0),
                (Kind.SPO2_CONTINUOUS, 94.0),
                (Kind.SPO2_SPOT, 93.0),
            ]
            assert oximeter.racp_requests == [b"\x01\x01"]  # stored spot-checks asked for

    asyncio.run(scenario())
