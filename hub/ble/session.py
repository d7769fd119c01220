"""One connection to one device, from the moment bleak reports it connected until it goes.

In order: subscribe to every measurement characteristic at once (pairing first if the device
refuses until the link is encrypted), read Device Information and Battery Level, set the
device's clock (Current Time) when the hub's own clock is synchronised, download stored records
through the Record Access Control Point, then let a short-lived device go as soon as it falls
quiet, or stay with a long-lived one until it drops or its slot is wanted.

Only bleak's public API is used here, so the same code runs on BlueZ and on the Bumble
simulation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from hub.ble import uuids
from hub.ble.pairing import PairingError, needs_pairing
from hub.ble.profiles import DecodeError, battery, current_time, decode, device_info, racp
from hub.ble.state import DeviceState
from hub.model import DeviceInfo

log = logging.getLogger(__name__)

FrameSink = Callable[[int, bytes], None]


@dataclass(frozen=True)
class SessionOptions:
    idle_s: float = 5.0  # a short-lived device that sent nothing for this long is let go
    racp_timeout_s: float = 30.0  # longest wait for a stored-record download to finish
    gatt_timeout_s: float = 10.0  # longest wait for one read or write


@dataclass
class SessionResult:
    clock_set: bool = False
    downloaded: bool = False
    dropped: bool = False  # the device (or the link) ended the connection


class Session:
    """Drives one connected `BleakClient`; frames go to `on_frame(uuid16, bytes)` as they come."""

    def __init__(
        self,
        client: BleakClient,
        *,
        address: str,
        kind: str,
        on_frame: FrameSink,
        on_state: Callable[[DeviceState], None],
        on_info: Callable[[DeviceInfo], None],
        clock_synced: Callable[[], bool],
        now: Callable[[], datetime],
        last_sequence: int | None,
        options: SessionOptions,
    ) -> None:
        self._client = client
        self._address = address
        self._kind = kind
        self._on_frame = on_frame
        self._on_state = on_state
        self._on_info = on_info
        self._clock_synced = clock_synced
        self._now = now
        self._last_sequence = last_sequence
        self._options = options
        self._activity = asyncio.Event()
        self._gone = asyncio.Event()
        self._racp_answers: asyncio.Queue[racp.RacpResponse] = asyncio.Queue()
        self.result = SessionResult()

    def disconnected(self) -> None:
        """Tell the session the device went (bleak's disconnected callback)."""
        self.result.dropped = True
        self._gone.set()
        self._activity.set()

    async def run(self, let_go: asyncio.Event, long_lived: bool) -> SessionResult:
        client = self._client
        chars = {
            short: char
            for char in client.services.characteristics.values()
            if (short := uuids.short(char.uuid)) is not None
        }
        await self._subscribe(chars)
        self._on_state(DeviceState.CONNECTED)
        info = await self._read_info(chars)
        if info is not None:
            self._on_info(info)
        self.result.clock_set = await self._set_clock(chars.get(uuids.CURRENT_TIME))
        control_point = chars.get(uuids.RACP)
        if control_point is not None and not self.result.dropped:
            self._on_state(DeviceState.DOWNLOADING)
            self.result.downloaded = await self._download(control_point)
            self._on_state(DeviceState.CONNECTED)
        await self._stay(let_go, long_lived)
        return self.result

    # --- subscribing ----------------------------------------------------------------------

    async def _subscribe(self, chars: dict[int, BleakGATTCharacteristic]) -> None:
        wanted = [
            char
            for short, char in chars.items()
            if (short in uuids.MEASUREMENTS or short == uuids.RACP)
            and {"notify", "indicate"} & set(char.properties)
        ]
        paired = False
        for char in wanted:
            try:
                await self._start_notify(char)
            except BleakError as exc:
                if self.result.dropped:
                    return  # a device that delivered and left: what came, came
                if not needs_pairing(exc):
                    raise
                if paired:
                    raise PairingError(
                        f"{self._address} refuses even after pairing: {exc}"
                    ) from exc
                await self._pair()
                paired = True
                await self._start_notify(char)

    async def _pair(self) -> None:
        """Pair (or re-encrypt with the stored bond; the backend knows which)."""
        self._on_state(DeviceState.PAIRING)
        try:
            await self._client.pair()
        except BleakError as exc:
            raise PairingError(f"pairing with {self._address} failed: {exc}") from exc

    async def _start_notify(self, char: BleakGATTCharacteristic) -> None:
        short = uuids.short(char.uuid)
        assert short is not None
        if short == uuids.RACP:
            callback = self._racp_callback
        else:

            def callback(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
                self._activity.set()
                self._on_frame(short, bytes(data))

        await self._client.start_notify(char, callback)

    # --- information and clock ------------------------------------------------------------

    async def _read(self, char: BleakGATTCharacteristic | None) -> bytes | None:
        if char is None or "read" not in char.properties or self.result.dropped:
            return None
        try:
            async with asyncio.timeout(self._options.gatt_timeout_s):
                return bytes(await self._client.read_gatt_char(char))
        except (BleakError, TimeoutError) as exc:
            log.info("%s: reading %s failed: %s", self._address, char.uuid, exc)
            return None

    async def _read_info(self, chars: dict[int, BleakGATTCharacteristic]) -> DeviceInfo | None:
        """Device Information strings and Battery Level; a value that fails to decode is
        left out (and logged), it never stops the session."""
        fields: dict[str, Any] = {}
        for short in (*device_info.STRINGS, device_info.SYSTEM_ID, uuids.BATTERY_LEVEL):
            raw = await self._read(chars.get(short))
            if raw is None:
                continue
            try:
                value = decode(short, raw)
            except DecodeError as exc:
                log.info("%s: %s", self._address, exc)
                continue
            if isinstance(value, device_info.DeviceInfoString):
                fields[value.field] = value.value
            elif isinstance(value, battery.BatteryLevel):
                fields["battery"] = value.percent
        if not fields:
            return None
        return DeviceInfo(address=self._address, kind=self._kind, **fields)

    async def _set_clock(self, char: BleakGATTCharacteristic | None) -> bool:
        """Write Current Time only from a synchronised hub clock: a wrong hub clock written
        into a device would make every later device time wrong too."""
        if char is None or "write" not in char.properties or not self._clock_synced():
            return False
        if self.result.dropped:
            return False
        # Devices show local time to the patient; the Date Time field has no zone.
        local = self._now().astimezone().replace(tzinfo=None)
        value = current_time.CurrentTime.of(
            local, adjust_reasons=frozenset({"external-reference-time-update"})
        )
        try:
            async with asyncio.timeout(self._options.gatt_timeout_s):
                await self._client.write_gatt_char(
                    char, current_time.encode_current_time(value), response=True
                )
        except (BleakError, TimeoutError) as exc:
            log.info("%s: setting the clock failed: %s", self._address, exc)
            return False
        return True

    # --- stored records -------------------------------------------------------------------

    def _racp_callback(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self._activity.set()
        try:
            answer = decode(uuids.RACP, bytes(data))
        except DecodeError:
            self._on_frame(uuids.RACP, bytes(data))  # counted and logged as malformed
            return
        if isinstance(answer, racp.RacpResponse):
            self._racp_answers.put_nowait(answer)

    async def _download(self, control_point: BleakGATTCharacteristic) -> bool:
        """Ask for the records from the one after the last sequence number seen (all of them
        the first time) and wait for the response code; the records themselves arrive as
        measurement notifications meanwhile."""
        report = racp.Op.REPORT_RECORDS
        if self._last_sequence is None:
            request = racp.by_sequence(report, racp.Operator.ALL)
        else:
            following = (self._last_sequence + 1) & 0xFFFF
            request = racp.by_sequence(report, racp.Operator.GREATER_OR_EQUAL, following)
        done = {racp.ResponseCode.SUCCESS, racp.ResponseCode.NO_RECORDS_FOUND}
        try:
            async with asyncio.timeout(self._options.racp_timeout_s):
                await self._client.write_gatt_char(
                    control_point, racp.encode(request), response=True
                )
                while True:
                    answer = await self._racp_answer()
                    if answer is None:
                        return False
                    if answer.request_op is report:
                        return answer.code in done
        except (BleakError, TimeoutError) as exc:
            log.info("%s: stored-record download failed: %s", self._address, exc)
            return False

    async def _racp_answer(self) -> racp.RacpResponse | None:
        """The next RACP response code, or None when the device went first."""
        answer = asyncio.ensure_future(self._racp_answers.get())
        gone = asyncio.ensure_future(self._gone.wait())
        try:
            await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            answered = answer.done()
            if not answered:
                answer.cancel()
        return answer.result() if answered else None

    # --- staying or going -----------------------------------------------------------------

    async def _stay(self, let_go: asyncio.Event, long_lived: bool) -> None:
        """Long-lived: until the device drops or the slot is wanted. Short-lived: until the
        device goes or has been quiet for `idle_s`. The manager, which made the client,
        disconnects it."""
        timeout = None if long_lived else self._options.idle_s
        while not self.result.dropped and not let_go.is_set():
            self._activity.clear()
            waiters = {
                asyncio.ensure_future(self._activity.wait()),
                asyncio.ensure_future(let_go.wait()),
            }
            try:
                done, _ = await asyncio.wait(
                    waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if not done:
                break
