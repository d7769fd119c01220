"""Battery Service (0x180F): Battery Level 0x2A19, u8 percent 0-100."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hub.ble.profiles._layout import check_size
from hub.ble.profiles.errors import reserved

LEVEL = "0x2A19 Battery Level"


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    KIND: ClassVar[str] = "battery-level"

    percent: int


def decode_level(data: bytes) -> BatteryLevel:
    check_size(LEVEL, "battery level", 1, data)
    if data[0] > 100:
        raise reserved(LEVEL, "battery level (percent)", data[0])
    return BatteryLevel(data[0])


def encode_level(level: BatteryLevel) -> bytes:
    return bytes((level.percent,))
