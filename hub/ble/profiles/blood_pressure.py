"""Blood Pressure Service (0x1810): Measurement 0x2A35, Intermediate Cuff Pressure 0x2A36,
Feature 0x2A49.

Measurement: flags u8 | systolic, diastolic, MAP SFLOAT | [Date Time if bit1] |
[pulse rate SFLOAT if bit2] | [user id u8 if bit3] | [status u16 if bit4]; bit0 = kPa.
Intermediate Cuff Pressure has the same layout with the cuff pressure in the systolic field
(diastolic and MAP are NaN by specification and are not reported).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.ble.profiles._layout import Layout, checked_flags, layouts
from hub.ble.profiles._values import KPA_TO_MMHG, Features, bit_names, sfloat_field, time_stamp
from hub.ble.profiles.errors import reserved
from hub.ble.profiles.ieee11073 import (
    TimeField,
    Value,
    encode_date_time,
    encode_sfloat,
)
from hub.model import Code, Kind, Measurement

MEASUREMENT = "0x2A35 Blood Pressure Measurement"
CUFF = "0x2A36 Intermediate Cuff Pressure"
FEATURE = "0x2A49 Blood Pressure Feature"

KPA, TIME_STAMP, PULSE_RATE, USER_ID, STATUS = 0x01, 0x02, 0x04, 0x08, 0x10
_ALLOWED = 0x1F

STATUS_NAMES: tuple[str | None, ...] = (
    "body-movement",
    "cuff-too-loose",
    "irregular-pulse",
    None,  # bits 3-4: pulse rate range
    None,
    "improper-position",
)
PULSE_RANGE: tuple[str | None, ...] = (None, "pulse-above-range", "pulse-below-range")

_OPTIONAL = (
    (TIME_STAMP, (("time stamp", 7),)),
    (PULSE_RATE, (("pulse rate", 2),)),
    (USER_ID, (("user id", 1),)),
    (STATUS, (("measurement status", 2),)),
)
_BPM_LAYOUTS = layouts(
    MEASUREMENT,
    (("flags", 1), ("systolic", 2), ("diastolic", 2), ("mean arterial pressure", 2)),
    _OPTIONAL,
    5,
)
_CUFF_LAYOUTS = layouts(
    CUFF, (("flags", 1), ("cuff pressure", 2), ("diastolic", 2), ("mean", 2)), _OPTIONAL, 5
)
_HEAD = struct.Struct("<xHHH").unpack_from
_U16 = struct.Struct("<H").unpack_from
# (mm[Hg] fields, kPa fields), picked by flags bit 0.
_PRESSURES = tuple(
    (
        sfloat_field(Code.SYSTOLIC, "systolic", conv),
        sfloat_field(Code.DIASTOLIC, "diastolic", conv),
        sfloat_field(Code.MEAN_ARTERIAL, "mean", conv),
    )
    for conv in (None, KPA_TO_MMHG)
)
_CUFF = (
    sfloat_field(Code.CUFF_PRESSURE, "cuff"),
    sfloat_field(Code.CUFF_PRESSURE, "cuff", KPA_TO_MMHG),
)
_PULSE = sfloat_field(Code.HEART_RATE, "pulse")
_KINDS = (Kind.BLOOD_PRESSURE, Kind.CUFF_PRESSURE)


def decode_measurement(data: bytes) -> Measurement:
    return _decode(data, MEASUREMENT, _BPM_LAYOUTS, cuff=False)


def decode_cuff_pressure(data: bytes) -> Measurement:
    return _decode(data, CUFF, _CUFF_LAYOUTS, cuff=True)


def _decode(data: bytes, char: str, table: tuple[Layout, ...], *, cuff: bool) -> Measurement:
    flags = checked_flags(data, char, table, _ALLOWED)
    systolic, diastolic, mean = _HEAD(data)
    marks: list[str] = []
    unit = flags & KPA
    if cuff:
        obs = [_CUFF[unit](systolic, marks)]
    else:
        sys_field, dia_field, mean_field = _PRESSURES[unit]
        obs = [sys_field(systolic, marks), dia_field(diastolic, marks), mean_field(mean, marks)]
    offset = 7
    time = None
    details: dict[str, Any] = {}
    if flags & TIME_STAMP:
        time = time_stamp(char, data, 7, marks, details)
        offset = 14
    if flags & PULSE_RATE:
        raw = _U16(data, offset)[0]
        obs.append(_PULSE(raw, marks))
        offset += 2
    if flags & USER_ID:
        details["user_id"] = data[offset]
        offset += 1
    if flags & STATUS:
        status = _U16(data, offset)[0]
        details["status"] = status
        if status:
            marks += bit_names(status, STATUS_NAMES)
            pulse_range = status >> 3 & 3
            if pulse_range == 3:
                raise reserved(char, f"measurement status (offset {offset}) pulse rate range", 3)
            if pulse_range:
                marks.append(PULSE_RANGE[pulse_range])  # type: ignore[arg-type]
    return Measurement(_KINDS[cuff], time, tuple(obs), frozenset(marks), details)


def encode_measurement(
    systolic: Value,
    diastolic: Value,
    mean: Value,
    *,
    kpa: bool = False,
    time: TimeField = None,
    pulse: Value | None = None,
    user_id: int | None = None,
    status: int | None = None,
) -> bytes:
    """A Blood Pressure Measurement value; pressures in kPa when `kpa`, else mm[Hg]."""
    flags = KPA if kpa else 0
    tail = b""
    if time is not None:
        flags |= TIME_STAMP
        tail += encode_date_time(time)
    if pulse is not None:
        flags |= PULSE_RATE
        tail += _pack_u16(encode_sfloat(pulse))
    if user_id is not None:
        flags |= USER_ID
        tail += bytes((user_id,))
    if status is not None:
        flags |= STATUS
        tail += _pack_u16(status)
    head = struct.pack(
        "<BHHH", flags, encode_sfloat(systolic), encode_sfloat(diastolic), encode_sfloat(mean)
    )
    return head + tail


def encode_cuff_pressure(
    cuff: Value,
    *,
    kpa: bool = False,
    time: TimeField = None,
    pulse: Value | None = None,
    user_id: int | None = None,
    status: int | None = None,
) -> bytes:
    """An Intermediate Cuff Pressure value (diastolic and MAP sent as NaN)."""
    return encode_measurement(
        cuff, "nan", "nan", kpa=kpa, time=time, pulse=pulse, user_id=user_id, status=status
    )


_pack_u16 = struct.Struct("<H").pack


@dataclass(frozen=True, slots=True)
class BloodPressureFeature(Features):
    KIND: ClassVar[str] = "blood-pressure-feature"
    NAMES: ClassVar[tuple[str | None, ...]] = (
        "body-movement-detection",
        "cuff-fit-detection",
        "irregular-pulse-detection",
        "pulse-rate-range-detection",
        "measurement-position-detection",
        "multiple-bond",
    )


def decode_feature(data: bytes) -> BloodPressureFeature:
    return BloodPressureFeature.decode_u16(FEATURE, data)


def encode_feature(feature: BloodPressureFeature) -> bytes:
    return feature.encode_u16()
