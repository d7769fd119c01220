"""Health Thermometer Service (0x1809): Temperature Measurement 0x2A1C and Intermediate
Temperature 0x2A1E (same layout).

flags u8 (bit0 Fahrenheit, bit1 time stamp, bit2 temperature type) | temperature FLOAT |
[Date Time] | [type u8: 1 armpit … 9 tympanum].
"""

from __future__ import annotations

import struct
from typing import Any

from hub.ble.profiles._layout import Layout, checked_flags, layouts
from hub.ble.profiles._values import FAHRENHEIT_TO_CELSIUS, float_observation, time_stamp
from hub.ble.profiles.errors import reserved
from hub.ble.profiles.ieee11073 import (
    TimeField,
    Value,
    encode_date_time,
    encode_float,
)
from hub.model import Code, Kind, Measurement, canonical_unit

MEASUREMENT = "0x2A1C Temperature Measurement"
INTERMEDIATE = "0x2A1E Intermediate Temperature"

FAHRENHEIT, TIME_STAMP, TYPE = 0x01, 0x02, 0x04
_ALLOWED = 0x07
TYPES = (
    None,
    "armpit",
    "body",
    "ear",
    "finger",
    "gastro-intestinal-tract",
    "mouth",
    "rectum",
    "toe",
    "tympanum",
)


def _table(char: str) -> tuple[Layout, ...]:
    return layouts(
        char,
        (("flags", 1), ("temperature", 4)),
        ((TIME_STAMP, (("time stamp", 7),)), (TYPE, (("temperature type", 1),))),
        3,
    )


_LAYOUTS = {MEASUREMENT: _table(MEASUREMENT), INTERMEDIATE: _table(INTERMEDIATE)}
_U32 = struct.Struct("<I").unpack_from
_CEL = canonical_unit(Code.BODY_TEMPERATURE)


def decode_measurement(data: bytes) -> Measurement:
    return _decode(data, MEASUREMENT, Kind.TEMPERATURE)


def decode_intermediate(data: bytes) -> Measurement:
    return _decode(data, INTERMEDIATE, Kind.INTERMEDIATE_TEMPERATURE)


def _decode(data: bytes, char: str, kind: Kind) -> Measurement:
    """`details["temperature_type"]` names the body site when the device sends it."""
    flags = checked_flags(data, char, _LAYOUTS[char], _ALLOWED)
    marks: list[str] = []
    conv = FAHRENHEIT_TO_CELSIUS if flags & FAHRENHEIT else None
    obs = float_observation(
        Code.BODY_TEMPERATURE, _CEL, _U32(data, 1)[0], conv, "temperature", marks
    )
    details: dict[str, Any] = {}
    time = time_stamp(char, data, 5, marks, details) if flags & TIME_STAMP else None
    if flags & TYPE:
        code = data[-1]
        if not 1 <= code < len(TYPES):
            raise reserved(char, f"temperature type (offset {len(data) - 1})", code)
        details["temperature_type"] = TYPES[code]
    return Measurement(kind, time, (obs,), frozenset(marks), details)


def encode_measurement(
    temperature: Value,
    *,
    fahrenheit: bool = False,
    time: TimeField = None,
    temperature_type: str | None = None,
) -> bytes:
    """A Temperature Measurement or Intermediate Temperature value (same layout); the
    temperature in °F when `fahrenheit`, else °C."""
    flags = FAHRENHEIT if fahrenheit else 0
    body = struct.pack("<I", encode_float(temperature))
    if time is not None:
        flags |= TIME_STAMP
        body += encode_date_time(time)
    if temperature_type is not None:
        flags |= TYPE
        body += bytes((TYPES.index(temperature_type),))
    return bytes((flags,)) + body
