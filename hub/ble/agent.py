"""The hub's BlueZ pairing agent (org.bluez.Agent1 over D-Bus, through dbus-fast).

bleak's BlueZ backend has no agent: without one, BlueZ refuses any pairing that needs a
passkey or a confirmation. The hub registers this one as the default agent. It answers from a
`Pairer` and only for devices assigned to the hub; everything else is refused with
org.bluez.Error.Rejected, as BlueZ's agent API specifies.

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    await register_agent(bus, HubAgent(pairer, assigned=lambda a: a in addresses))
"""

import asyncio
import logging
from collections.abc import Callable

from dbus_fast import BusType, DBusError, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.errors import AuthError
from dbus_fast.service import ServiceInterface, dbus_method

from hub.ble.pairing import Pairer

log = logging.getLogger(__name__)

AGENT_PATH = "/org/hub/agent"
CAPABILITY = "KeyboardDisplay"
_REJECTED = "org.bluez.Error.Rejected"


def address_of(device_path: str) -> str:
    """'/org/bluez/hci0/dev_C0_11_22_33_44_55' → 'C0:11:22:33:44:55' (pure)."""
    leaf = device_path.rsplit("/", 1)[-1]
    if not leaf.startswith("dev_") or len(leaf) != 21:
        raise ValueError(f"not a BlueZ device path: {device_path!r}")
    return leaf[4:].replace("_", ":").upper()


class HubAgent(ServiceInterface):
    """org.bluez.Agent1: passkey entry and numeric comparison from a `Pairer`."""

    def __init__(self, pairer: Pairer, assigned: Callable[[str], bool]) -> None:
        super().__init__("org.bluez.Agent1")
        self._pairer = pairer
        self._assigned = assigned
        self.shown: dict[str, int] = {}  # passkeys BlueZ asked us to display, by device

    def _device(self, path: str) -> str:
        try:
            address = address_of(path)
        except ValueError:
            raise DBusError(_REJECTED, "not a device") from None
        if not self._assigned(address):
            log.warning("refusing to pair with unassigned device %s", address)
            raise DBusError(_REJECTED, f"{address} is not assigned to this hub")
        return address

    @dbus_method()
    def Release(self) -> None:
        log.info("BlueZ released the pairing agent")

    @dbus_method()
    async def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:
        address = self._device(device)
        passkey = await self._pairer.passkey(address)
        if passkey is None or not 0 <= passkey <= 999_999:
            raise DBusError(_REJECTED, f"no passkey known for {address}")
        return passkey

    @dbus_method()
    async def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:
        address = self._device(device)
        passkey = await self._pairer.passkey(address)
        if passkey is None:
            raise DBusError(_REJECTED, f"no PIN known for {address}")
        return f"{passkey:06d}"

    @dbus_method()
    async def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32) -> None:
        address = self._device(device)
        if not await self._pairer.confirm(address, passkey):
            raise DBusError(_REJECTED, f"passkey {passkey:06d} does not match {address}")

    @dbus_method()
    def RequestAuthorization(self, device: DBusObjectPath) -> None:
        """Just Works pairing: allowed for assigned devices only."""
        self._device(device)

    @dbus_method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr) -> None:
        self._device(device)

    @dbus_method()
    def DisplayPasskey(
        self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16
    ) -> None:
        self.shown[address_of(device)] = passkey

    @dbus_method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr) -> None:
        self.shown[address_of(device)] = int(pincode) if pincode.isdigit() else -1

    @dbus_method()
    def Cancel(self) -> None:
        log.info("BlueZ cancelled a pairing request")


async def register_agent(bus: MessageBus, agent: HubAgent, path: str = AGENT_PATH) -> None:
    """Export `agent` on `bus` and make it BlueZ's default agent."""
    bus.export(path, agent)
    for member, signature, body in (
        ("RegisterAgent", "os", [path, CAPABILITY]),
        ("RequestDefaultAgent", "o", [path]),
    ):
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/org/bluez",
                interface="org.bluez.AgentManager1",
                member=member,
                signature=signature,
                body=body,
            )
        )
        if reply is None or reply.message_type is MessageType.ERROR:
            name = (reply.error_name if reply is not None else None) or "org.bluez.Error.Failed"
            raise DBusError(name, f"{member} failed: {reply.body if reply else 'no reply'}")


class AgentUnavailable(Exception):
    """The system bus or BlueZ could not take the agent; the text says why."""


async def agent_on_system_bus(
    pairer: Pairer, assigned: Callable[[str], bool], timeout_s: float = 10.0
) -> MessageBus:
    """Connect to the system bus and register the hub's agent there (AgentUnavailable if not:
    passkey pairing is then unavailable, everything else works). The caller disconnects."""
    try:
        async with asyncio.timeout(timeout_s):
            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
            await register_agent(bus, HubAgent(pairer, assigned))
    except (OSError, TimeoutError, DBusError, AuthError, ValueError) as exc:
        raise AgentUnavailable(str(exc) or type(exc).__name__) from exc
    return bus
