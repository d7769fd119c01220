"""A bleak backend that drives a Bumble device: the hub's "adapter" on the virtual air.

`BleakScanner(..., backend=BumbleScanner, bumble=a)` and `BleakClient(d, backend=BumbleClient,
bumble=a)` give the device manager the very bleak API it uses on a Pi, with Bumble's real host
stack (ATT, GATT, SMP) underneath instead of BlueZ.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid as uuid_module
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic, CharacteristicPropertyName
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_16
from bumble import att, core, hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, Characteristic
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy
from bumble.pairing import PairingConfig, PairingDelegate

from hub.ble.manager import BleakBackend
from hub.ble.pairing import Pairer
from hub.sim.air import VirtualAir

_T = TypeVar("_T")

_PROPERTY_NAMES: tuple[tuple[Characteristic.Properties, CharacteristicPropertyName], ...] = (
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)
_UUID_LISTS = (
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)
_ATT_MTU = 247


def bleak_uuid(value: core.UUID) -> str:
    """Bumble UUID → bleak's normalised 128-bit lower-case string."""
    text = value.to_hex_str()
    if len(text) == 4:
        return normalize_uuid_16(int(text, 16))
    return str(uuid_module.UUID(text))


def address_of(address: hci.Address) -> str:
    return address.to_string(with_type_qualifier=False)


class _HubDelegate(PairingDelegate):
    """The hub's side of pairing: keyboard and display, answers from a `Pairer`."""

    def __init__(self, pairer: Pairer | None, address: str) -> None:
        super().__init__(io_capability=PairingDelegate.DISPLAY_OUTPUT_AND_KEYBOARD_INPUT)
        self._pairer = pairer
        self._address = address

    async def get_number(self) -> int | None:
        return None if self._pairer is None else await self._pairer.passkey(self._address)

    async def compare_numbers(self, number: int, digits: int) -> bool:
        return self._pairer is not None and await self._pairer.confirm(self._address, number)


class BumbleAdapter:
    """The hub's adapter: one Bumble device shared by the scanner and every client.

    Bumble allows one pending LE connection per device, so connects are serialised here."""

    def __init__(self, device: Device, pairer: Pairer | None = None) -> None:
        self.device = device
        self.connect_lock = asyncio.Lock()
        self._pairer = pairer
        device.pairing_config_factory = self._pairing_config

    def _pairing_config(self, connection: Connection) -> PairingConfig:
        return PairingConfig(
            sc=True,
            mitm=True,
            bonding=True,
            delegate=_HubDelegate(self._pairer, address_of(connection.peer_address)),
            identity_address_type=PairingConfig.AddressType.RANDOM,
        )

    async def bonded(self, address: hci.Address) -> bool:
        keystore = self.device.keystore
        if keystore is None:
            return False
        keys = await keystore.get(str(address))
        return keys is not None and keys.ltk is not None


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend over a `BumbleAdapter` (extra keyword argument `bumble`)."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str,
        *,
        bumble: BumbleAdapter,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._adapter = bumble
        self._active = scanning_mode == "active"

    async def start(self) -> None:
        self.seen_devices = {}
        device = self._adapter.device
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await device.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        device = self._adapter.device
        device.remove_listener(device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await device.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement.data
        uuids = [bleak_uuid(u) for kind in _UUID_LISTS for u in (data.get(kind) or [])]
        if not self.is_allowed_uuid(uuids):
            return
        name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get(
            AdvertisingData.Type.SHORTENED_LOCAL_NAME
        )
        manufacturer = data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA)
        service_data = data.get_all(AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID)
        tx_power = advertisement.tx_power
        adv = AdvertisementData(
            local_name=name if isinstance(name, str) else None,
            manufacturer_data={int(company): bytes(blob) for company, blob in manufacturer},
            service_data={bleak_uuid(u): bytes(blob) for u, blob in service_data},
            service_uuids=uuids,
            tx_power=None if tx_power == Advertisement.TX_POWER_NOT_AVAILABLE else tx_power,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        address = address_of(advertisement.address)
        device = self.create_or_update_device(address, address, adv.local_name, advertisement, adv)
        self.call_detection_callbacks(device, adv)


class BumbleClient(BaseBleakClient):
    """bleak client backend over a `BumbleAdapter` (extra keyword argument `bumble`)."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        bumble: BumbleAdapter,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, **kwargs)
        self._adapter = bumble
        self._name = (
            address_or_ble_device.name
            if isinstance(address_or_ble_device, BLEDevice) and address_or_ble_device.name
            else self.address
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._gone: asyncio.Future[None] | None = None
        self._closing = False
        self._callbacks: dict[int, NotifyCallback] = {}
        self._dispatchers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._gone is not None and not self._gone.done()

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        target = hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        async with self._adapter.connect_lock:
            try:
                connection = await self._adapter.device.connect(
                    target,
                    transport=core.PhysicalTransport.LE,
                    own_address_type=hci.OwnAddressType.RANDOM,
                    timeout=self._timeout,
                )
            except core.TimeoutError as exc:
                raise TimeoutError(f"{self.address} did not answer the connect") from exc
            except core.ConnectionError as exc:
                raise BleakError(f"connect to {self.address} failed: {exc}") from exc
        self._connection = connection
        self._closing = False
        self._gone = asyncio.get_running_loop().create_future()
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(connection)
        try:
            async with asyncio.timeout(self._timeout):
                await self._gatt(self._peer.request_mtu(_ATT_MTU))
                self.services = await self._discover(self._peer)
            if pair:
                await self.pair()
        except BaseException:
            await self.disconnect()
            raise

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in await self._gatt(peer.discover_services()):
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for char in await self._gatt(peer.discover_characteristics(service=service)):
                properties = [name for flag, name in _PROPERTY_NAMES if char.properties & flag]
                bleak_char = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    bleak_uuid(char.uuid),
                    properties,
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for desc in await self._gatt(peer.discover_descriptors(char)):
                    collection.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, bleak_uuid(desc.type), bleak_char)
                    )
        return collection

    async def disconnect(self) -> None:
        """Disconnect and wait for the link to be gone, but never forever: when the peer left
        at the same moment the emulated controller may never confirm our request."""
        connection, gone = self._connection, self._gone
        if connection is None or gone is None or gone.done():
            return
        self._closing = True
        request = asyncio.ensure_future(connection.disconnect())
        _background.add(request)
        request.add_done_callback(_settle)
        await asyncio.wait({request, gone}, timeout=self._timeout)
        if not gone.done():
            gone.set_result(None)
            self._callbacks.clear()

    def _on_disconnection(self, reason: int) -> None:
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        self._callbacks.clear()
        if not self._closing and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Encrypt with the stored bond if there is one, else pair (and bond)."""
        connection = self._require_connection()
        try:
            if await self._adapter.bonded(connection.peer_address):
                await self._gatt(connection.encrypt())
            else:
                await self._gatt(connection.pair())
        except (core.BaseBumbleError, hci.HCI_Error) as exc:
            raise BleakError(f"pairing with {self.address} failed: {exc}") from exc

    async def unpair(self) -> None:
        keystore = self._adapter.device.keystore
        if keystore is not None:
            with contextlib.suppress(KeyError):
                await keystore.delete(str(hci.Address(self.address)))
        await self.disconnect()

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._gatt(self._require_peer().read_value(characteristic.obj)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._gatt(self._require_peer().read_value(descriptor.obj)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._require_peer()
        await self._gatt(peer.write_value(characteristic.obj, bytes(data), with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer = self._require_peer()
        await self._gatt(peer.write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Write the CCCD (notify preferred over indicate, as bleak asks of backends).

        One stable dispatcher per handle: a failed CCCD write (not yet paired) followed by a
        retry must not register the callback twice (Bumble's own `subscribe` would)."""
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        notify = "notify" in characteristic.properties
        client = self._require_peer().gatt_client
        handle = proxy.handle
        self._callbacks[handle] = callback
        dispatcher = self._dispatchers.setdefault(handle, functools.partial(self._dispatch, handle))
        table = client.notification_subscribers if notify else client.indication_subscribers
        table.setdefault(handle, set()).add(dispatcher)
        try:
            await self._gatt(
                client.write_value(_cccd(proxy), b"\x01\x00" if notify else b"\x02\x00", True)
            )
        except BaseException:
            self._callbacks.pop(handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        self._callbacks.pop(proxy.handle, None)
        await self._gatt(self._require_peer().write_value(_cccd(proxy), b"\x00\x00", True))

    def _dispatch(self, handle: int, value: bytes) -> None:
        callback = self._callbacks.get(handle)
        if callback is not None:
            callback(bytearray(value))

    def _require_connection(self) -> Connection:
        if self._connection is None or not self.is_connected:
            raise BleakError(f"{self.address} is not connected")
        return self._connection

    def _require_peer(self) -> Peer:
        self._require_connection()
        assert self._peer is not None
        return self._peer

    async def _gatt(self, operation: Awaitable[_T]) -> _T:
        """Run a GATT/SMP operation; a link loss ends it with BleakError, an ATT error becomes
        bleak's BleakGATTProtocolError (as the BlueZ backend raises since bleak 3.0).

        The Bumble request itself is never cancelled: a response arriving for a cancelled
        request makes Bumble's host raise InvalidStateError. A request we stop waiting for
        ends by itself (response, link loss or Bumble's own request timeout)."""
        gone = self._gone
        if gone is None:
            raise BleakError(f"{self.address} is not connected")
        task = asyncio.ensure_future(operation)
        _background.add(task)
        task.add_done_callback(_settle)
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done() or task.cancelled():  # Bumble cancels requests when the link goes
            raise BleakError(f"{self.address} disconnected")
        try:
            return task.result()
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc


_background: set[asyncio.Future[Any]] = set()


def _settle(task: asyncio.Future[Any]) -> None:
    """Forget a finished request, retrieving its outcome so none is reported as unhandled."""
    _background.discard(task)
    if not task.cancelled():
        task.exception()


def _cccd(proxy: CharacteristicProxy[bytes]) -> DescriptorProxy:
    cccd = proxy.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR)
    if cccd is None:
        raise BleakError(f"characteristic {proxy.uuid} has no CCCD")
    return cccd


async def hub_adapter(
    air: VirtualAir,
    *,
    address: str = "F0:0B:00:00:00:01",
    keystore: Path | None = None,
    pairer: Pairer | None = None,
) -> BumbleAdapter:
    """The hub's adapter on `air`, powered on; bonds persist in `keystore` when given."""
    device = air.device("hub", address, keystore)
    await device.power_on()
    return BumbleAdapter(device, pairer)


def bleak_backend(adapter: BumbleAdapter) -> BleakBackend:
    """What `hub.ble.manager.DeviceManager` needs to run on the simulation."""
    return BleakBackend(BumbleScanner, BumbleClient, {"bumble": adapter}, {"bumble": adapter})
