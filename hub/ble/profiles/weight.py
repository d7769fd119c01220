"""Weight Scale Service (0x181D): Weight Measurement 0x2A9D, Weight Scale Feature 0x2A9E.

Measurement: flags u8 (bit0 imperial, bit1 time stamp, bit2 user id, bit3 BMI and height) |
weight u16 (SI 0.005 kg, imperial 0.01 lb; 0xFFFF = measurement unsuccessful) | [Date Time] |
[user id u8, 255 = unknown user] | [BMI u16 × 0.1 kg/m2, height u16 (SI 0.001 m, imperial
0.1 in)].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.ble.profiles._layout import check_size, checked_flags, layouts
from hub.ble.profiles._values import INCH_TO_M, POUND_TO_KG, Features, bit_names, time_stamp
from hub.ble.profiles.ieee11073 import TimeField, encode_date_time
from hub.model import Code, Kind, Measurement, Observation, canonical_unit

MEASUREMENT = "0x2A9D Weight Measurement"
FEATURE = "0x2A9E Weight Scale Feature"

IMPERIAL, TIME_STAMP, USER_ID, BMI_HEIGHT = 0x01, 0x02, 0x04, 0x08
_ALLOWED = 0x0F
UNSUCCESSFUL = 0xFFFF

_LAYOUTS = layouts(
    MEASUREMENT,
    (("flags", 1), ("weight", 2)),
    (
        (TIME_STAMP, (("time stamp", 7),)),
        (USER_ID, (("user id", 1),)),
        (BMI_HEIGHT, (("BMI", 2), ("height", 2))),
    ),
    4,
)
_U16 = struct.Struct("<H").unpack_from
_PAIR = struct.Struct("<HH").unpack_from
_KG = canonical_unit(Code.BODY_WEIGHT)
_M = canonical_unit(Code.BODY_HEIGHT)
_BMI = canonical_unit(Code.BMI)


def decode_measurement(data: bytes) -> Measurement:
    """Weight in kg (from 0.005 kg or 0.01 lb steps), BMI and height (m) as observations.
    An unsuccessful measurement has no weight observation and the flag
    `measurement-unsuccessful`. `details["user_id"]` when sent (255 = unknown user)."""
    flags = checked_flags(data, MEASUREMENT, _LAYOUTS, _ALLOWED)
    imperial = flags & IMPERIAL
    marks: list[str] = []
    obs: list[Observation] = []
    weight = _U16(data, 1)[0]
    if weight == UNSUCCESSFUL:
        marks.append("measurement-unsuccessful")
    elif imperial:
        obs.append(
            Observation(Code.BODY_WEIGHT, POUND_TO_KG.apply(weight, -2), _KG, POUND_TO_KG.source)
        )
    else:
        obs.append(Observation(Code.BODY_WEIGHT, weight * 5 / 1000, _KG))
    offset = 3
    time = None
    details: dict[str, Any] = {}
    if flags & TIME_STAMP:
        time = time_stamp(MEASUREMENT, data, 3, marks, details)
        offset = 10
    if flags & USER_ID:
        details["user_id"] = data[offset]
        offset += 1
    if flags & BMI_HEIGHT:
        bmi, height = _PAIR(data, offset)
        obs.append(Observation(Code.BMI, bmi / 10, _BMI))
        if imperial:
            obs.append(
                Observation(Code.BODY_HEIGHT, INCH_TO_M.apply(height, -1), _M, INCH_TO_M.source)
            )
        else:
            obs.append(Observation(Code.BODY_HEIGHT, height / 1000, _M))
    return Measurement(Kind.WEIGHT, time, tuple(obs), frozenset(marks), details)


def encode_measurement(
    weight: float | None,
    *,
    imperial: bool = False,
    time: TimeField = None,
    user_id: int | None = None,
    bmi: float | None = None,
    height: float | None = None,
) -> bytes:
    """Weight in kg (or lb when `imperial`), rounded to the field's 0.005 kg / 0.01 lb step;
    None sends 'measurement unsuccessful'. BMI and height (m, or in when `imperial`) go
    together."""
    flags = IMPERIAL if imperial else 0
    raw = UNSUCCESSFUL if weight is None else round(weight * (100 if imperial else 200))
    body = struct.pack("<H", raw)
    if time is not None:
        flags |= TIME_STAMP
        body += encode_date_time(time)
    if user_id is not None:
        flags |= USER_ID
        body += bytes((user_id,))
    if bmi is not None or height is not None:
        if bmi is None or height is None:
            raise ValueError("BMI and height are sent together")
        flags |= BMI_HEIGHT
        body += struct.pack("<HH", round(bmi * 10), round(height * (10 if imperial else 1000)))
    return bytes((flags,)) + body


# Feature bits 3-6: weight resolution (kg, lb); bits 7-9: height resolution (m, in).
WEIGHT_RESOLUTIONS: tuple[tuple[float, float] | None, ...] = (
    None,
    (0.5, 1.0),
    (0.2, 0.5),
    (0.1, 0.2),
    (0.05, 0.1),
    (0.02, 0.05),
    (0.01, 0.02),
    (0.005, 0.01),
)
HEIGHT_RESOLUTIONS: tuple[tuple[float, float] | None, ...] = (
    None,
    (0.01, 1.0),
    (0.005, 0.5),
    (0.001, 0.1),
)


@dataclass(frozen=True, slots=True)
class WeightScaleFeature(Features):
    """The bitmap, and the resolutions it announces as (SI, imperial) pairs, None when not
    specified or a reserved value."""

    KIND: ClassVar[str] = "weight-scale-feature"
    NAMES: ClassVar[tuple[str | None, ...]] = (
        "time-stamp",
        "multiple-users",
        "bmi",
    )

    weight_resolution: tuple[float, float] | None = None
    height_resolution: tuple[float, float] | None = None


def decode_feature(data: bytes) -> WeightScaleFeature:
    check_size(FEATURE, "features", 4, data)
    bits = int.from_bytes(data, "little")
    weight = bits >> 3 & 0xF
    height = bits >> 7 & 0x7
    return WeightScaleFeature(
        bits,
        frozenset(bit_names(bits, WeightScaleFeature.NAMES)),
        WEIGHT_RESOLUTIONS[weight] if weight < len(WEIGHT_RESOLUTIONS) else None,
        HEIGHT_RESOLUTIONS[height] if height < len(HEIGHT_RESOLUTIONS) else None,
    )


def encode_feature(feature: WeightScaleFeature) -> bytes:
    return feature.bits.to_bytes(4, "little")
