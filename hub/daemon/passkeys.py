"""Passkeys the technician entered (control socket `pair`), as a `hub.ble.pairing.Pairer`."""

from __future__ import annotations


class Passkeys:
    """Answers pairing for devices whose passkey was given; refuses the rest (no guessing)."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}

    def set(self, address: str, passkey: int) -> None:
        self._keys[address.upper()] = passkey

    async def passkey(self, address: str) -> int | None:
        return self._keys.get(address.upper())

    async def confirm(self, address: str, number: int) -> bool:
        return self._keys.get(address.upper()) == number
