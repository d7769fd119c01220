"""The control socket's operations (`hub.control.OPS`): what a technician's tool may ask of
the running daemon. Whatever needs the daemon's state goes through the narrow `Running`
protocol; scanning and pairing are done here on the daemon's Bluetooth backend."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any, Protocol

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from hub.ble import uuids
from hub.ble.manager import BleakBackend
from hub.config import Config, ConfigError
from hub.daemon import assignments
from hub.daemon.control_server import OpError
from hub.daemon.passkeys import Passkeys

_BLE_ADDRESS = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")


class Running(Protocol):
    @property
    def cfg(self) -> Config: ...
    async def status(self) -> dict[str, Any]: ...
    async def reload(self) -> dict[str, Any]: ...
    async def reassign(self, new: assignments.Assignments) -> dict[str, Any]: ...
    async def test_uplink(self) -> dict[str, Any]: ...


class ControlOps:
    def __init__(self, daemon: Running, backend: BleakBackend, passkeys: Passkeys) -> None:
        self._daemon = daemon
        self._backend = backend
        self._passkeys = passkeys
        self._assigning = asyncio.Lock()  # one read-modify-write of the assignments at a time

    async def handle(self, op: str, args: dict[str, Any]) -> Any:
        if op == "status":
            return await self._daemon.status()
        if op == "reload":
            return await self._daemon.reload()
        if op == "test-uplink":
            return await self._daemon.test_uplink()
        if op == "scan":
            return await self._scan(args.get("seconds", 5))
        if op == "pair":
            return await self._pair(args["address"], args.get("passkey"))
        if op in ("assign", "unassign"):
            async with self._assigning:
                return await self._assign(op, args)
        raise OpError(f"op {op} is not served")

    async def _scan(self, seconds: Any) -> list[dict[str, Any]]:
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise OpError("seconds must be a number from 0 to 60")
        if not 0 < seconds <= 60:
            raise OpError("seconds must be a number from 0 to 60")
        try:
            found = await BleakScanner.discover(
                timeout=float(seconds),
                service_uuids=[uuids.full(s) for s in uuids.HEALTH_SERVICES],
                return_adv=True,
                backend=self._backend.scanner,
                **self._backend.scanner_kwargs,
            )
        except BleakError as exc:
            raise OpError(f"scan failed: {exc}") from exc
        return [
            {"address": device.address, "name": adv.local_name or "", "rssi": adv.rssi}
            for device, adv in found.values()
        ]

    async def _pair(self, address: Any, passkey: Any) -> dict[str, Any]:
        if not isinstance(address, str) or not _BLE_ADDRESS.fullmatch(address):
            raise OpError("address must be a BLE address like 'C0:11:22:33:44:55'")
        if passkey is not None and (
            not isinstance(passkey, int) or isinstance(passkey, bool) or not 0 <= passkey <= 999_999
        ):
            raise OpError("passkey must be a number from 0 to 999999")
        if passkey is not None:
            self._passkeys.set(address, passkey)
        client = BleakClient(
            address.upper(),
            timeout=self._daemon.cfg.ble.connect_timeout_s,
            backend=self._backend.client,
            **self._backend.client_kwargs,
        )
        try:
            await client.connect()
            await client.pair()
        except (BleakError, TimeoutError) as exc:
            raise OpError(f"pairing with {address} failed: {exc}") from exc
        finally:
            with contextlib.suppress(BleakError, TimeoutError):
                await client.disconnect()
        return {"paired": address.upper()}

    async def _assign(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        cfg = self._daemon.cfg
        path = cfg.hub.data_dir / assignments.FILE_NAME
        try:
            current = await asyncio.to_thread(assignments.load, path)
            if op == "assign":
                new = current.assign(assignments.entry(args))
            else:
                new = current.unassign(_configured(cfg, args["address"]))
        except ConfigError as exc:
            raise OpError(str(exc)) from exc
        return await self._daemon.reassign(new)


def _configured(cfg: Config, address: Any) -> str:
    """The configured device `address` names, whatever its case (BLE addresses are kept upper
    case, a serial device's name as written); refused when no such device is configured."""
    if isinstance(address, str):
        for device in cfg.devices:
            if device.address.upper() == address.upper():
                return device.address
    raise OpError(f"no device {str(address)[:64]!r} is assigned")
