"""The GATT UUIDs the device manager acts on, as bleak spells them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bleak.uuids import normalize_uuid_16

# Health services the hub scans for, by config device kind.
SERVICE_OF_KIND: Mapping[str, int] = MappingProxyType(
    {
        "blood-pressure": 0x1810,
        "pulse-oximeter": 0x1822,
        "heart-rate": 0x180D,
        "thermometer": 0x1809,
        "weight-scale": 0x181D,
        "glucose": 0x1808,
    }
)
HEALTH_SERVICES: tuple[int, ...] = tuple(SERVICE_OF_KIND.values())

# Characteristics that carry measurements (notified or indicated).
MEASUREMENTS: frozenset[int] = frozenset(
    {
        0x2A35,  # blood pressure measurement
        0x2A36,  # intermediate cuff pressure
        0x2A5E,  # PLX spot-check
        0x2A5F,  # PLX continuous
        0x2A37,  # heart rate measurement
        0x2A1C,  # temperature measurement
        0x2A1E,  # intermediate temperature
        0x2A9D,  # weight measurement
        0x2A18,  # glucose measurement
    }
)
RACP = 0x2A52
CURRENT_TIME = 0x2A2B
BATTERY_LEVEL = 0x2A19
# Kinds that stay connected and stream; the others measure, deliver and go.
LONG_LIVED_KINDS: frozenset[str] = frozenset({"heart-rate", "pulse-oximeter"})

_BASE = normalize_uuid_16(0)[8:]  # "-0000-1000-8000-00805f9b34fb"


def full(uuid16: int) -> str:
    return normalize_uuid_16(uuid16)


def short(uuid: str) -> int | None:
    """The 16-bit alias of a SIG base UUID, or None for any other UUID."""
    text = uuid.lower()
    if len(text) != 36 or not text.startswith("0000") or text[8:] != _BASE:
        return None
    return int(text[4:8], 16)
