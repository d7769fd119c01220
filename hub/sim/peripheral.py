"""A scriptable simulated medical device: a Bumble peripheral on the virtual air.

The device speaks real GATT: Device Information, Battery, Current Time, one health service with
its measurement characteristics, optionally a Record Access Control Point over stored records.
It sends whatever frames it is given (well-formed ones from the profile encoders, or garbage),
so a test scripts values over time, a wrong clock, a low battery, out-of-range values, a link
dropped mid-transfer or malformed frames with the same few calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.att import Attribute, AttributeValue
from bumble.core import UUID, AdvertisingData, BaseBumbleError
from bumble.device import Connection, Device
from bumble.gatt import (
    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
    Characteristic,
    Descriptor,
    Service,
)
from bumble.pairing import PairingConfig, PairingDelegate

from hub.ble.profiles import DecodeError, current_time, device_info, racp
from hub.ble.profiles.battery import BatteryLevel, encode_level
from hub.ble.uuids import BATTERY_LEVEL, CURRENT_TIME, RACP
from hub.sim.air import VirtualAir
from hub.sim.profiles import PROFILES, SIMULATED, Identity, Lifetime, Profile, Security

_DIS = 0x180A
_BATTERY = 0x180F
_CTS = 0x1805


@dataclass
class _Pending:
    uuid16: int
    frame: bytes


class _DeviceDelegate(PairingDelegate):
    def __init__(self, security: Security, passkey: int) -> None:
        io = (
            PairingDelegate.DISPLAY_OUTPUT_ONLY
            if security is Security.PASSKEY
            else PairingDelegate.NO_OUTPUT_NO_INPUT
        )
        super().__init__(io_capability=io)
        self._passkey = passkey

    async def generate_passkey(self) -> int:
        return self._passkey


def _uuid(value: int) -> UUID:
    return UUID.from_16_bits(value)


class SimDevice:
    """A simulated device. `start()` powers it on; `measure()` queues a frame to send.

    Short-lived devices advertise only while they hold unsent frames and disconnect once the
    last one is delivered; long-lived ones advertise whenever they are not connected. With
    `linger_s` a short-lived device stays connected after its last frame; with
    `drop_after=n` the link is cut (as a radio would lose it) after n frames of a connection."""

    def __init__(
        self,
        air: VirtualAir,
        profile: Profile,
        *,
        address: str,
        name: str,
        security: Security = Security.OPEN,
        passkey: int = 0,
        keystore: Path | None = None,
        identity: Identity = SIMULATED,
        battery: int = 100,
        advertising_ms: float = 20.0,
        linger_s: float = 0.5,
    ) -> None:
        self.air = air
        self.profile = profile
        self.address = address
        self.name = name
        self.security = security
        self.identity = identity
        self.battery = battery
        self.drop_after: int | None = None
        self.clock_writes: list[bytes] = []
        self.stored: list[tuple[int, bytes]] = []  # (sequence number, frame) for RACP
        self.racp_requests: list[bytes] = []
        self.connections = 0
        self._advertising_ms = advertising_ms
        self._linger_s = linger_s
        self._pending: deque[_Pending] = deque()
        self._unreported = False  # stored records not yet fetched in a completed report
        self._wake = asyncio.Event()
        self._connection: Connection | None = None
        self._subscribed: set[int] = set()
        self._sent_this_link = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.device: Device = air.device(name, address, keystore)
        self.device.pairing_config_factory = lambda _conn: PairingConfig(
            sc=True,
            mitm=security is Security.PASSKEY,
            bonding=True,
            delegate=_DeviceDelegate(security, passkey),
            identity_address_type=PairingConfig.AddressType.RANDOM,
        )
        self._chars: dict[int, Characteristic] = {}
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)

    # --- building the GATT database -------------------------------------------------------

    def _characteristic(
        self,
        uuid16: int,
        properties: Characteristic.Properties,
        value: bytes | AttributeValue[bytes],
    ) -> Characteristic:
        permissions = Attribute.READABLE | Attribute.WRITEABLE
        char = Characteristic(_uuid(uuid16), properties, permissions, value)
        if properties & (Characteristic.Properties.NOTIFY | Characteristic.Properties.INDICATE):
            cccd_permissions = Attribute.READABLE | Attribute.WRITEABLE
            if self.security is not Security.OPEN:
                cccd_permissions |= Attribute.WRITE_REQUIRES_ENCRYPTION
            char.descriptors = [
                Descriptor(
                    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
                    cccd_permissions,
                    self.device.gatt_server.make_descriptor_value(char),
                )
            ]
            char.on(char.EVENT_SUBSCRIPTION, self._subscription(uuid16))
        self._chars[uuid16] = char
        return char

    def _services(self) -> list[Service]:
        props = Characteristic.Properties
        health = [
            self._characteristic(m.uuid16, props.INDICATE if m.indicate else props.NOTIFY, b"")
            for m in self.profile.measures
        ]
        health += [self._characteristic(u, props.READ, v) for u, v in self.profile.features.items()]
        if self.profile.racp:
            health.append(
                self._characteristic(
                    RACP, props.WRITE | props.INDICATE, AttributeValue(write=self._on_racp)
                )
            )
        info = [
            self._characteristic(
                uuid16,
                props.READ,
                device_info.encode_string(
                    device_info.DeviceInfoString(key, getattr(self.identity, key))
                ),
            )
            for uuid16, (key, _name) in device_info.STRINGS.items()
            if hasattr(self.identity, key)
        ]
        level = self._characteristic(
            BATTERY_LEVEL,
            props.READ | props.NOTIFY,
            AttributeValue(read=lambda _conn: encode_level(BatteryLevel(self.battery))),
        )
        clock = self._characteristic(
            CURRENT_TIME,
            props.READ | props.WRITE | props.NOTIFY,
            AttributeValue(read=self._read_clock, write=self._write_clock),
        )
        return [
            Service(_uuid(self.profile.service), health),
            Service(_uuid(_DIS), info),
            Service(_uuid(_BATTERY), [level]),
            Service(_uuid(_CTS), [clock]),
        ]

    def _read_clock(self, _connection: Connection) -> bytes:
        unset = current_time.encode_current_time(current_time.CurrentTime(None))
        return self.clock_writes[-1] if self.clock_writes else unset

    def _write_clock(self, _connection: Connection, value: bytes) -> None:
        self.clock_writes.append(bytes(value))

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self.device.add_services(self._services())
        await self.device.power_on()
        self.device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        struct.pack("<H", self.profile.service),
                    ),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                ]
            )
        )
        self._spawn(self._sender())
        if self.profile.lifetime is Lifetime.LONG or self._pending or self._unreported:
            await self._advertise()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        # KeyError: Bumble (0.0.236) drops its legacy advertising set itself when a central
        # connects; a stop in that moment finds the set gone half-way through removing it.
        with contextlib.suppress(BaseBumbleError, hci.HCI_Error, KeyError):
            await self.device.stop_advertising()
        await self.drop_link()
        self.air.remove(self.device)
        with contextlib.suppress(BaseBumbleError, hci.HCI_Error):
            await self.device.power_off()

    async def drop_link(self) -> None:
        """Cut the link as a radio loses it (the emulated link never loses one by itself)."""
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(BaseBumbleError, hci.HCI_Error):
                await connection.disconnect()

    def measure(self, frame: bytes, uuid16: int | None = None) -> None:
        """Queue `frame` on measurement characteristic `uuid16` (default: the first one)."""
        target = self.profile.measures[0].uuid16 if uuid16 is None else uuid16
        self._pending.append(_Pending(target, bytes(frame)))
        self._wake.set()
        if self._connection is None:
            self._spawn(self._advertise())

    async def play(
        self, frames: Iterable[bytes], every_s: float, uuid16: int | None = None
    ) -> None:
        """Values over time: queue one frame every `every_s` seconds (e.g. 1 Hz continuous
        SpO2 or heart rate); frames queued while the link is down are sent on reconnect."""
        for frame in frames:
            self.measure(frame, uuid16)
            await asyncio.sleep(every_s)

    def store(self, sequence: int, frame: bytes) -> None:
        """Keep a record for download through the Record Access Control Point; a short-lived
        device then advertises so that the hub comes to fetch it."""
        self.stored.append((sequence, bytes(frame)))
        self._unreported = True
        if self._connection is None:
            self._spawn(self._advertise())

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def pending(self) -> int:
        return len(self._pending)

    # --- events -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _advertise(self) -> None:
        if not self.device.powered_on or self.device.is_advertising or self._connection:
            return
        with contextlib.suppress(BaseBumbleError, hci.HCI_Error):
            await self.device.start_advertising(
                own_address_type=hci.OwnAddressType.RANDOM,
                advertising_interval_min=self._advertising_ms,
                advertising_interval_max=self._advertising_ms,
            )

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self._subscribed.clear()
        self._sent_this_link = 0
        self.connections += 1
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._subscribed.clear()
        if self._pending or self._unreported or self.profile.lifetime is Lifetime.LONG:
            self._spawn(self._advertise())

    def _subscription(self, uuid16: int) -> Callable[[object, bool, bool], None]:
        def on_subscription(_bearer: object, notify: bool, indicate: bool) -> None:
            if notify or indicate:
                self._subscribed.add(uuid16)
                self._wake.set()
            else:
                self._subscribed.discard(uuid16)

        return on_subscription

    async def _sender(self) -> None:
        """Deliver queued frames in order whenever their characteristic is subscribed."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and self._connection is not None:
                item = self._pending[0]
                if item.uuid16 not in self._subscribed:
                    break
                connection = self._connection
                if not await self._send(connection, item.uuid16, item.frame):
                    break
                self._pending.popleft()
                if not await self._delivered():
                    break
            if (
                not self._pending
                and self._connection is not None
                and self.profile.lifetime is Lifetime.SHORT
                and self._sent_this_link > 0
            ):
                await self._let_go()

    async def _delivered(self) -> bool:
        """Count a frame delivered on this link; False when `drop_after` cut the link."""
        self._sent_this_link += 1
        if self.drop_after is not None and self._sent_this_link >= self.drop_after:
            self.drop_after = None
            await self.drop_link()
            return False
        return True

    async def _let_go(self) -> None:
        """A short-lived device stays `linger_s` after its last frame (time for the hub to read
        its information), then disconnects unless new frames arrived meanwhile."""
        try:
            await asyncio.wait_for(self._wake.wait(), self._linger_s)
        except TimeoutError:
            await self.drop_link()
        else:
            self._wake.set()

    async def _send(self, connection: Connection, uuid16: int, frame: bytes) -> bool:
        char = self._chars[uuid16]
        indicate = bool(char.properties & Characteristic.Properties.INDICATE)
        try:
            if indicate:
                await self.device.indicate_subscriber(connection, char, frame)
            else:
                await self.device.notify_subscriber(connection, char, frame)
        except (BaseBumbleError, hci.HCI_Error, TimeoutError):
            return False
        return True

    # --- Record Access Control Point --------------------------------------------------------

    def _on_racp(self, connection: Connection, value: bytes) -> None:
        self.racp_requests.append(bytes(value))
        self._spawn(self._answer_racp(connection, bytes(value)))

    def _select(self, request: racp.RacpRequest) -> list[tuple[int, bytes]] | None:
        if request.operator is racp.Operator.ALL:
            return sorted(self.stored)
        if (
            request.operator is racp.Operator.GREATER_OR_EQUAL
            and request.filter_type is racp.FilterType.SEQUENCE_NUMBER
        ):
            start = int(request.operand[0])  # type: ignore[arg-type]
            return sorted(r for r in self.stored if r[0] >= start)
        return None

    async def _answer_racp(self, connection: Connection, value: bytes) -> None:
        """Report (op 1) or count (op 4) stored records; other requests are not supported."""
        try:
            request = racp.decode(value)
        except DecodeError:
            request = None
        if not isinstance(request, racp.RacpRequest):
            op = (
                racp.Op(value[0]) if value and value[0] in iter(racp.Op) else racp.Op.REPORT_RECORDS
            )
            answer: racp.Racp = racp.RacpResponse(op, racp.ResponseCode.INVALID_OPERATOR)
        else:
            answer = await self._run_racp(connection, request)
        await self._send(connection, RACP, racp.encode(answer))

    async def _run_racp(self, connection: Connection, request: racp.RacpRequest) -> racp.Racp:
        selected = self._select(request)
        if request.op not in (racp.Op.REPORT_RECORDS, racp.Op.REPORT_NUMBER):
            return racp.RacpResponse(request.op, racp.ResponseCode.OP_CODE_NOT_SUPPORTED)
        if selected is None:
            return racp.RacpResponse(request.op, racp.ResponseCode.OPERATOR_NOT_SUPPORTED)
        if request.op is racp.Op.REPORT_NUMBER:
            return racp.RacpNumberOfRecords(len(selected))
        target = self.profile.measures[0].uuid16
        for _sequence, frame in selected:
            if not await self._send(connection, target, frame) or not await self._delivered():
                return racp.RacpResponse(request.op, racp.ResponseCode.PROCEDURE_NOT_COMPLETED)
        self._unreported = False
        code = racp.ResponseCode.SUCCESS if selected else racp.ResponseCode.NO_RECORDS_FOUND
        return racp.RacpResponse(request.op, code)


def simulated(
    air: VirtualAir, kind: str, address: str, *, name: str | None = None, **options: Any
) -> SimDevice:
    """A simulated device of config kind `kind` (see `PROFILES`), options as for `SimDevice`."""
    return SimDevice(air, PROFILES[kind], address=address, name=name or kind, **options)
