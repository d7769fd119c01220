"""Pure parts of the device manager: backoff, state machine, record ids, connection slots."""

from __future__ import annotations

import asyncio

import pytest
from bleak.exc import BleakError, BleakGATTProtocolError
from hypothesis import given
from hypothesis import strategies as st

from hub.ble import uuids
from hub.ble.backoff import reconnect_delay
from hub.ble.pairing import StaticPasskeys, needs_pairing
from hub.ble.slots import ConnectionSlots
from hub.ble.state import TRANSITIONS, DeviceState, TransitionError, advance
from hub.daemon.passkeys import MAX_KEPT, Passkeys


@given(
    st.integers(0, 1000),
    st.floats(0.01, 10),
    st.floats(1, 1000),
    st.floats(0, 1),
    st.floats(0, 1, exclude_max=True),
)
def test_backoff_stays_within_cap_and_jitter(
    attempt: int, base: float, cap: float, jitter: float, rand: float
) -> None:
    delay = reconnect_delay(attempt, base_s=base, cap_s=cap, jitter=jitter, rand=rand)
    ceiling = min(cap, base * 2 ** min(attempt, 32))
    assert ceiling * (1 - jitter) - 1e-9 <= delay <= ceiling + 1e-9


def test_backoff_doubles_until_the_cap() -> None:
    delays = [reconnect_delay(a, base_s=1, cap_s=10, jitter=0.5, rand=0) for a in range(6)]
    assert delays == [1, 2, 4, 8, 10, 10]
    assert reconnect_delay(3, base_s=1, cap_s=10, jitter=0.5, rand=0.5) == 6


def test_state_machine_refuses_impossible_changes() -> None:
    state = DeviceState.WAITING
    for step in (
        DeviceState.CONNECTING,
        DeviceState.PAIRING,
        DeviceState.CONNECTED,
        DeviceState.DOWNLOADING,
        DeviceState.CONNECTED,
        DeviceState.WAITING,
    ):
        state = advance(state, step)
    assert state is DeviceState.WAITING
    with pytest.raises(TransitionError):
        advance(DeviceState.WAITING, DeviceState.CONNECTED)
    with pytest.raises(TransitionError):
        advance(DeviceState.STOPPED, DeviceState.WAITING)
    assert set(TRANSITIONS) == set(DeviceState)


def test_uuid_helpers() -> None:
    assert uuids.short(uuids.full(0x2A35)) == 0x2A35
    assert uuids.short("0000180d-0000-1000-8000-00805F9B34FB") == 0x180D
    assert uuids.short("12345678-1234-5678-1234-567812345678") is None


def test_only_security_refusals_ask_for_pairing() -> None:
    assert needs_pairing(BleakGATTProtocolError(0x0F))
    assert needs_pairing(BleakGATTProtocolError(0x05))
    assert not needs_pairing(BleakGATTProtocolError(0x03))
    assert not needs_pairing(BleakError("gone"))


def test_static_passkeys_answer_only_what_they_know() -> None:
    async def scenario() -> None:
        pairer = StaticPasskeys({"c0:00:00:00:00:01": 123456})
        assert await pairer.passkey("C0:00:00:00:00:01") == 123456
        assert await pairer.passkey("C0:00:00:00:00:02") is None
        assert await pairer.confirm("C0:00:00:00:00:01", 123456)
        assert not await pairer.confirm("C0:00:00:00:00:01", 123457)

    asyncio.run(scenario())


def test_short_lived_device_preempts_a_long_lived_slot() -> None:
    async def scenario() -> None:
        slots = ConnectionSlots(1)
        order: list[str] = []

        async def band() -> None:
            async with slots.hold("band", preemptible=True) as let_go:
                order.append("band in")
                await let_go.wait()
                order.append("band yields")

        async def cuff() -> None:
            async with slots.hold("cuff", preemptible=False):
                order.append("cuff in")

        band_task = asyncio.create_task(band())
        while slots.held == 0:
            await asyncio.sleep(0)
        await asyncio.wait_for(cuff(), 10)
        await band_task
        assert order == ["band in", "band yields", "cuff in"]
        assert slots.held == 0

    asyncio.run(scenario())


def test_passkeys_keep_only_the_latest() -> None:
    keys = Passkeys()
    for i in range(MAX_KEPT + 10):
        keys.set(f"c0:00:00:00:{i // 256:02x}:{i % 256:02x}", i)

    async def check() -> None:
        assert await keys.passkey("C0:00:00:00:00:00") is None  # the oldest went
        newest = MAX_KEPT + 9
        assert await keys.passkey(f"C0:00:00:00:00:{newest:02X}") == newest

    asyncio.run(check())
