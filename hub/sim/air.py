"""The virtual air: Bumble's in-process LocalLink with one emulated controller per device.

Every simulated device and the hub's own "adapter" is a real Bumble host stack on an emulated
controller; only the radio is replaced. Two controller traps are handled here (see the
ble-simulation note): devices use random static addresses (the link routes LE data by the
controller's random address), and a cancelled connect completes with an error event instead of
hanging the controller forever.
"""

from __future__ import annotations

from pathlib import Path

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.keys import JsonKeyStore
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink


class CancellableController(Controller):
    """An emulated controller whose LE Create Connection Cancel ends the pending connect.

    Bumble's emulated controller acknowledges the cancel but never sends the connection-complete
    event the specification requires, so the host waits forever and every later connect is
    refused with COMMAND_DISALLOWED (Core Vol 4 Part E 7.8.13)."""

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        result = super().on_hci_le_create_connection_cancel_command(command)
        pending = self.pending_le_connection
        if pending is not None:
            self.pending_le_connection = None
            self.send_hci_packet(
                hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0,
                    role=hci.Role.CENTRAL,
                    peer_address_type=pending.peer_address.address_type,
                    peer_address=pending.peer_address,
                    connection_interval=0,
                    peripheral_latency=0,
                    supervision_timeout=0,
                    central_clock_accuracy=0,
                )
            )
        return result


class VirtualAir:
    """One shared virtual link; `device()` adds a Bumble device with its own controller."""

    def __init__(self) -> None:
        self.link = LocalLink()
        self._controllers: dict[Device, Controller] = {}

    def device(self, name: str, address: str, keystore: Path | None = None) -> Device:
        """A powered-off Bumble device at random static `address` (e.g. 'C0:11:22:33:44:55').

        With `keystore`, bonds are kept in that JSON file (namespaced by this device's address),
        so they survive a restart of the device or of the hub."""
        controller = CancellableController(name, link=self.link)
        host = Host(controller, AsyncPipeSink(controller))
        device = Device(
            name=name,
            address=hci.Address(address, hci.Address.RANDOM_DEVICE_ADDRESS),
            host=host,
        )
        if keystore is not None:
            device.keystore = JsonKeyStore(namespace=address, filename=str(keystore))
        self._controllers[device] = controller
        return device

    def remove(self, device: Device) -> None:
        """Take a device's controller off the air (it can no longer advertise or be reached)."""
        controller = self._controllers.pop(device, None)
        if controller is not None:
            self.link.remove_controller(controller)
