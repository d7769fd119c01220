"""The same device manager on bleak's real BlueZ backend, against BlueZoo (no radio)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from _blesim import Collected, config, drain
from _bluezoo import DEVICE_ADAPTER, bluezoo
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from waiting import until

from hub.ble.agent import HubAgent, register_agent
from hub.ble.manager import BleakBackend, DeviceManager
from hub.ble.pairing import StaticPasskeys
from hub.ble.profiles import blood_pressure, heart_rate
from hub.ble.session import SessionOptions
from hub.ids import IdMinter
from hub.model import Code
from hub.sim.bluez_peripheral import BluezPeripheral

pytestmark = pytest.mark.slow

DEVICE_PATH = "/org/bluez/hci0/dev_" + DEVICE_ADAPTER.replace(":", "_")


async def _through_bluez(kind: str, frames: list[bytes]) -> Collected:
    device_bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    peripheral = BluezPeripheral(kind, name=f"sim-{kind}")
    await peripheral.register(device_bus, "hci1")
    cfg = config((DEVICE_ADAPTER, kind))
    # One connect per BlueZoo instance works (a second one fails): give the first one time.
    cfg = replace(cfg, ble=replace(cfg.ble, connect_timeout_s=60.0))
    manager = DeviceManager(
        cfg,
        backend=BleakBackend.bluez("hci0"),
        clock_synced=lambda: False,
        ids=IdMinter(bytes(32)),
        session_options=SessionOptions(idle_s=60.0, gatt_timeout_s=10.0),
    )
    out = Collected()
    drainer = asyncio.create_task(drain(manager, out))
    try:
        async with manager:
            await until(lambda: peripheral.stream.notifying, "the hub to subscribe", 90.0)
            for frame in frames:
                peripheral.stream.send(frame)
            await until(lambda: len(out.readings) == len(frames), "the readings", 60.0)
    finally:
        drainer.cancel()
        device_bus.disconnect()
    return out


def test_blood_pressure_indications_through_bleak_bluez(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [
        blood_pressure.encode_measurement(127, 83, 98, time=datetime(2026, 3, 1, 9, m), pulse=64)
        for m in (1, 2)
    ]
    with bluezoo(tmp_path) as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        out = asyncio.run(_through_bluez("blood-pressure", frames))
    assert [r.value_of(Code.SYSTOLIC) for r in out.readings] == [127.0, 127.0]
    assert [r.device_time for r in out.readings] == [
        datetime(2026, 3, 1, 9, 1),
        datetime(2026, 3, 1, 9, 2),
    ]
    assert {r.device for r in out.readings} == {DEVICE_ADAPTER}


def test_heart_rate_notifications_through_bleak_bluez(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [heart_rate.encode_measurement(rate) for rate in (60, 62, 65)]
    with bluezoo(tmp_path) as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        out = asyncio.run(_through_bluez("heart-rate", frames))
    assert [r.value_of(Code.HEART_RATE) for r in out.readings] == [60.0, 62.0, 65.0]


async def _ask_agent(
    bus: MessageBus, agent_bus: MessageBus, member: str, signature: str, body: list
) -> Message:  # type: ignore[type-arg]
    reply = await bus.call(
        Message(
            destination=agent_bus.unique_name,
            path="/org/hub/agent",
            interface="org.bluez.Agent1",
            member=member,
            signature=signature,
            body=body,
        )
    )
    assert reply is not None
    return reply


def test_agent_answers_passkey_and_confirmation_and_refuses_wrong_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BlueZoo accepts the agent registration but never calls it while pairing, so the test
    calls Agent1 over D-Bus as BlueZ would."""

    async def scenario() -> None:
        hub_bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        bluez_bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        agent = HubAgent(StaticPasskeys({DEVICE_ADAPTER: 123456}), lambda a: a == DEVICE_ADAPTER)
        await register_agent(hub_bus, agent)
        stranger = "/org/bluez/hci0/dev_C0_00_00_00_00_99"

        reply = await _ask_agent(bluez_bus, hub_bus, "RequestPasskey", "o", [DEVICE_PATH])
        assert (reply.message_type, reply.body) == (MessageType.METHOD_RETURN, [123456])
        reply = await _ask_agent(bluez_bus, hub_bus, "RequestPasskey", "o", [stranger])
        assert reply.error_name == "org.bluez.Error.Rejected"

        reply = await _ask_agent(
            bluez_bus, hub_bus, "RequestConfirmation", "ou", [DEVICE_PATH, 123456]
        )
        assert reply.message_type is MessageType.METHOD_RETURN
        reply = await _ask_agent(
            bluez_bus, hub_bus, "RequestConfirmation", "ou", [DEVICE_PATH, 654321]
        )
        assert reply.error_name == "org.bluez.Error.Rejected"

        reply = await _ask_agent(bluez_bus, hub_bus, "RequestAuthorization", "o", [DEVICE_PATH])
        assert reply.message_type is MessageType.METHOD_RETURN
        reply = await _ask_agent(bluez_bus, hub_bus, "RequestAuthorization", "o", [stranger])
        assert reply.error_name == "org.bluez.Error.Rejected"

        reply = await _ask_agent(bluez_bus, hub_bus, "DisplayPasskey", "ouq", [DEVICE_PATH, 42, 0])
        assert reply.message_type is MessageType.METHOD_RETURN
        assert agent.shown == {DEVICE_ADAPTER: 42}
        reply = await _ask_agent(bluez_bus, hub_bus, "Cancel", "", [])
        assert reply.message_type is MessageType.METHOD_RETURN
        hub_bus.disconnect()
        bluez_bus.disconnect()

    with bluezoo(tmp_path) as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        asyncio.run(scenario())
