"""Passkeys the technician entered (control socket `pair`), as a `hub.ble.pairing.Pairer`."""

from __future__ import annotations

from collections import OrderedDict

MAX_KEPT = 64  # pairing happens device by device; a flood of `pair` calls cannot grow this


class Passkeys:
    """Answers pairing for devices whose passkey was given; refuses the rest (no guessing).
    Only the latest `MAX_KEPT` are kept."""

    def __init__(self) -> None:
        self._keys: OrderedDict[str, int] = OrderedDict()

    def set(self, address: str, passkey: int) -> None:
        self._keys[address.upper()] = passkey
        self._keys.move_to_end(address.upper())
        while len(self._keys) > MAX_KEPT:
            self._keys.popitem(last=False)

    async def passkey(self, address: str) -> int | None:
        return self._keys.get(address.upper())

    async def confirm(self, address: str, number: int) -> bool:
        return self._keys.get(address.upper()) == number
