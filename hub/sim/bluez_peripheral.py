"""A simulated health device as a BlueZ GATT application (dbus-fast), for BlueZoo.

Registered on a second (mock) adapter through GattManager1 and LEAdvertisingManager1, it is
found, connected and read by bleak's real BlueZ backend on the first adapter: the code path a
Raspberry Pi runs, without a radio. Only properties BlueZ's interfaces define are exported
(BlueZoo silently drops an application with an unknown one), notifications are
PropertiesChanged signals on `Value`, and BlueZoo's `Confirm()` after each one is accepted.
"""

import struct
from collections.abc import Mapping
from typing import Annotated

from dbus_fast import Message, MessageType, PropertyAccess, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.errors import DBusError
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from hub.ble import uuids

_Strings = Annotated[list[str], DBusSignature("as")]

APP_PATH = "/org/hub/sim/app"
ADVERTISEMENT_PATH = "/org/hub/sim/advertisement"


class _Service(ServiceInterface):
    def __init__(self, uuid16: int) -> None:
        super().__init__("org.bluez.GattService1")
        self._uuid = uuids.full(uuid16)

    @dbus_property(PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True


class Characteristic(ServiceInterface):
    """One characteristic: a fixed value to read, or a stream to notify/indicate."""

    def __init__(self, uuid16: int, service_path: str, flags: list[str], value: bytes) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._uuid = uuids.full(uuid16)
        self._service = service_path
        self._flags = flags
        self._value = value
        self.notifying = False

    @dbus_property(PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self._service

    @dbus_property(PropertyAccess.READ)
    def Flags(self) -> _Strings:
        return self._flags

    @dbus_property(PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self._value

    @dbus_property(PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        if "read" not in self._flags:
            raise DBusError("org.bluez.Error.NotPermitted", "Read not permitted")
        return self._value

    @dbus_method()
    def StartNotify(self) -> None:
        self.notifying = True

    @dbus_method()
    def StopNotify(self) -> None:
        self.notifying = False

    @dbus_method()
    def Confirm(self) -> None:
        """BlueZoo confirms every value sent, notifications too: nothing to do."""

    def send(self, value: bytes) -> None:
        """Notify or indicate `value` to the subscribed central."""
        self._value = value
        self.emit_properties_changed({"Value": value})


class _Advertisement(ServiceInterface):
    def __init__(self, service16: int, name: str) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self._service = uuids.full(service16)
        self._name = name

    @dbus_method()
    def Release(self) -> None:
        self._name = ""

    @dbus_property(PropertyAccess.READ)
    def Type(self) -> DBusStr:
        return "peripheral"

    @dbus_property(PropertyAccess.READ)
    def ServiceUUIDs(self) -> _Strings:
        return [self._service]

    @dbus_property(PropertyAccess.READ)
    def LocalName(self) -> DBusStr:
        return self._name

    @dbus_property(PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:
        return True


# What the simulated devices expose: service, streamed characteristic and its flag.
STREAMS: Mapping[str, tuple[int, int, str]] = {
    "blood-pressure": (0x1810, 0x2A35, "indicate"),
    "heart-rate": (0x180D, 0x2A37, "notify"),
}


class BluezPeripheral:
    """A blood-pressure cuff or heart-rate band registered on `adapter` (e.g. 'hci1')."""

    def __init__(self, kind: str, *, name: str, manufacturer: str = "Simulated Medical") -> None:
        service16, stream16, flag = STREAMS[kind]
        self._service16 = service16
        self._name = name
        service = f"{APP_PATH}/service0"
        info = f"{APP_PATH}/service1"
        self.stream = Characteristic(stream16, service, [flag], b"")
        self._objects: list[tuple[str, ServiceInterface]] = [
            (service, _Service(service16)),
            (f"{service}/char0", self.stream),
            (info, _Service(0x180A)),
            (f"{info}/char0", Characteristic(0x2A29, info, ["read"], manufacturer.encode())),
            (f"{APP_PATH}/service2", _Service(0x180F)),
            (
                f"{APP_PATH}/service2/char0",
                Characteristic(0x2A19, f"{APP_PATH}/service2", ["read"], struct.pack("B", 87)),
            ),
        ]

    async def register(self, bus: MessageBus, adapter: str) -> None:
        for path, interface in self._objects:
            bus.export(path, interface)
        bus.export(ADVERTISEMENT_PATH, _Advertisement(self._service16, self._name))
        adapter_path = f"/org/bluez/{adapter}"
        await _call(bus, adapter_path, "org.bluez.GattManager1", "RegisterApplication", APP_PATH)
        await _call(
            bus,
            adapter_path,
            "org.bluez.LEAdvertisingManager1",
            "RegisterAdvertisement",
            ADVERTISEMENT_PATH,
        )


async def _call(bus: MessageBus, path: str, interface: str, member: str, obj: str) -> None:
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface=interface,
            member=member,
            signature="oa{sv}",
            body=[obj, dict[str, Variant]()],
        )
    )
    if reply is None or reply.message_type is MessageType.ERROR:
        raise RuntimeError(f"{interface}.{member}: {reply.body if reply else 'no reply'}")
