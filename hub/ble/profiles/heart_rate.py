"""Heart Rate Service (0x180D): Heart Rate Measurement 0x2A37, Body Sensor Location 0x2A38.

Measurement: flags u8 | rate u8 (bit0 = 0) or u16 (bit0 = 1) | [energy expended u16 kJ if
bit3] | [RR intervals u16 × n if bit4, 1/1024 s, oldest first, n ≥ 1 from the remaining
length].
Bits 1-2: sensor contact (0, 1 not supported; 2 supported, no contact; 3 contact).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.ble.profiles._layout import check_flags, check_size
from hub.ble.profiles._values import whole_observations
from hub.ble.profiles.errors import DecodeError, reserved, trailing, truncated
from hub.model import Code, Kind, Measurement, Observation

MEASUREMENT = "0x2A37 Heart Rate Measurement"
LOCATION = "0x2A38 Body Sensor Location"

WIDE, CONTACT_DETECTED, CONTACT_SUPPORTED, ENERGY, RR = 0x01, 0x02, 0x04, 0x08, 0x10
_ALLOWED = 0x1F
_U16 = struct.Struct("<H").unpack_from
# Enum member lookups cost more than a module constant on every notification.
_KIND, _CODE = Kind.HEART_RATE, Code.HEART_RATE
_WHOLE = whole_observations(_CODE)
_INTERNED = len(_WHOLE)
# An ATT value holds at most 512 bytes, so at most 255 RR intervals.
_RR = tuple(struct.Struct(f"<{n}H").unpack_from for n in range(256))
# Contact status (bits 1-2) → (details value, flags).
_CONTACT: tuple[tuple[bool | None, frozenset[str]], ...] = (
    (None, frozenset()),
    (None, frozenset()),
    (False, frozenset({"sensor-contact-absent"})),
    (True, frozenset()),
)
# x / 1024 for RR intervals; a power of two, so the product is exact.
_PER_1024 = (1 / 1024).__mul__


def decode_measurement(data: bytes) -> Measurement:
    """A Heart Rate Measurement. `details`: `sensor_contact` (True, False, or None when the
    sensor cannot tell), `energy_expended_kj`, and `rr_intervals_s`, every RR interval in the
    value, oldest first, in **seconds** (1/1024 s units divided by 1024: exact floats)."""
    n = len(data)
    if n < 2:
        raise truncated(MEASUREMENT, "flags and heart rate", 0, 2, n)
    flags = data[0]
    if flags & ~_ALLOWED:
        check_flags(MEASUREMENT, flags, _ALLOWED)
    if flags & WIDE:
        if n < 3:
            raise truncated(MEASUREMENT, "heart rate (16-bit)", 1, 2, n - 1)
        rate = _U16(data, 1)[0]
        offset = 3
    else:
        rate = data[1]
        offset = 2
    contact, marks = _CONTACT[flags >> 1 & 3]
    details: dict[str, Any] = {"sensor_contact": contact}
    if flags & ENERGY:
        if n < offset + 2:
            raise truncated(MEASUREMENT, "energy expended", offset, 2, n - offset)
        details["energy_expended_kj"] = _U16(data, offset)[0]
        offset += 2
    if flags & RR:
        rest = n - offset
        if not rest:
            raise DecodeError(f"{MEASUREMENT}: flags announce RR intervals but none follow")
        if rest & 1 or rest >> 1 >= len(_RR):
            raise DecodeError(
                f"{MEASUREMENT}: RR intervals from offset {offset}: {rest} bytes is not a whole"
                f" number of intervals of an ATT value (at most {len(_RR) - 1})"
            )
        details["rr_intervals_s"] = tuple(map(_PER_1024, _RR[rest >> 1](data, offset)))
    elif n != offset:
        raise trailing(MEASUREMENT, offset, n - offset)
    obs = _WHOLE[rate] if rate < _INTERNED else Observation(_CODE, float(rate), _WHOLE[0].unit)
    return Measurement(_KIND, None, (obs,), marks, details)


def encode_measurement(
    rate: int,
    *,
    wide: bool = False,
    sensor_contact: bool | None = None,
    energy_expended_kj: int | None = None,
    rr_intervals_s: Sequence[float] | None = None,
) -> bytes:
    """A Heart Rate Measurement; the rate is sent as u16 when `wide` or when above 255.
    RR intervals in seconds are rounded to the nearest 1/1024 s."""
    flags = 0
    if wide or rate > 0xFF:
        flags |= WIDE
        body = struct.pack("<H", rate)
    else:
        body = bytes((rate,))
    if sensor_contact is not None:
        flags |= CONTACT_SUPPORTED | (CONTACT_DETECTED if sensor_contact else 0)
    if energy_expended_kj is not None:
        flags |= ENERGY
        body += struct.pack("<H", energy_expended_kj)
    if rr_intervals_s:  # the RR flag promises at least one interval
        flags |= RR
        body += struct.pack(f"<{len(rr_intervals_s)}H", *(round(x * 1024) for x in rr_intervals_s))
    return bytes((flags,)) + body


LOCATIONS = ("other", "chest", "wrist", "finger", "hand", "ear-lobe", "foot")


@dataclass(frozen=True, slots=True)
class BodySensorLocation:
    KIND: ClassVar[str] = "body-sensor-location"

    location: str


def decode_location(data: bytes) -> BodySensorLocation:
    check_size(LOCATION, "location", 1, data)
    if data[0] >= len(LOCATIONS):
        raise reserved(LOCATION, "location", data[0])
    return BodySensorLocation(LOCATIONS[data[0]])


def encode_location(location: BodySensorLocation) -> bytes:
    return bytes((LOCATIONS.index(location.location),))
