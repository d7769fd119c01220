"""Pairing answers and the security errors that mean "pair first".

The same `Pairer` answers a Bumble pairing delegate (simulation) and the hub's BlueZ Agent1
(`hub.ble.agent`, on a Pi): a device shows a passkey, the technician reads it and the hub
enters it; or both sides show a number and the hub confirms it matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bleak.exc import BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode

# ATT errors a peripheral returns until the link is encrypted (and, for MITM, authenticated).
_SECURITY_ERRORS = frozenset(
    {
        BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION,
        BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION,
        BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
        BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHORIZATION,
    }
)


class PairingError(BleakError):
    """Pairing failed or was refused (wrong passkey, no passkey known, bond lost on one side):
    a technician has to act, so the manager reports it as an error event."""


def needs_pairing(error: BaseException) -> bool:
    """True when `error` is a GATT refusal that pairing (or re-encrypting a bond) can cure."""
    return isinstance(error, BleakGATTProtocolError) and error.code in _SECURITY_ERRORS


class Pairer(Protocol):
    """Answers the questions pairing asks; `address` is the device's identity address."""

    async def passkey(self, address: str) -> int | None:
        """The 6-digit passkey the device displays, or None to refuse pairing."""

    async def confirm(self, address: str, number: int) -> bool:
        """Whether `number` (numeric comparison) matches what the device shows."""


class StaticPasskeys:
    """A `Pairer` from known passkeys (devices with a fixed PIN printed on them, tests, demo).

    Devices without an entry get no passkey and no confirmation: pairing that needs either is
    refused rather than guessed."""

    def __init__(self, passkeys: Mapping[str, int]) -> None:
        self._passkeys = {address.upper(): key for address, key in passkeys.items()}

    async def passkey(self, address: str) -> int | None:
        return self._passkeys.get(address.upper())

    async def confirm(self, address: str, number: int) -> bool:
        return self._passkeys.get(address.upper()) == number
