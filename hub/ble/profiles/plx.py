"""Pulse Oximeter Service (0x1822): PLX Spot-check Measurement 0x2A5E, PLX Continuous
Measurement 0x2A5F, PLX Features 0x2A60.

Spot-check: flags u8 | SpO2 SFLOAT | PR SFLOAT | [Date Time if bit0] | [measurement status
u16 if bit1] | [device and sensor status u24 if bit2] | [pulse amplitude index SFLOAT if bit3];
bit4 = device clock not set.
Continuous: flags u8 | SpO2 PR normal | [SpO2 PR fast if bit0] | [SpO2 PR slow if bit1] |
[measurement status u16 if bit2] | [device and sensor status u24 if bit3] | [PAI if bit4].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.ble.profiles._layout import checked_flags, layouts
from hub.ble.profiles._values import (
    Features,
    bit_names,
    sfloat_detail,
    sfloat_field,
    time_stamp,
)
from hub.ble.profiles.ieee11073 import (
    TimeField,
    Value,
    encode_date_time,
    encode_sfloat,
)
from hub.model import Code, Kind, Measurement, Observation

SPOT = "0x2A5E PLX Spot-check Measurement"
CONTINUOUS = "0x2A5F PLX Continuous Measurement"
FEATURES = "0x2A60 PLX Features"

# Spot-check flags.
SPOT_TIME, SPOT_STATUS, SPOT_DEVICE, SPOT_PAI, CLOCK_NOT_SET = 0x01, 0x02, 0x04, 0x08, 0x10
# Continuous flags.
FAST, SLOW, CONT_STATUS, CONT_DEVICE, CONT_PAI = 0x01, 0x02, 0x04, 0x08, 0x10
_ALLOWED = 0x1F

MEASUREMENT_STATUS_NAMES: tuple[str | None, ...] = (
    None,
    None,
    None,
    None,
    None,
    "measurement-ongoing",
    "early-estimated-data",
    "validated-data",
    "fully-qualified-data",
    "data-from-storage",
    "data-for-demonstration",
    "data-for-testing",
    "calibration-ongoing",
    "measurement-unavailable",
    "questionable-measurement",
    "invalid-measurement",
)
DEVICE_STATUS_NAMES: tuple[str | None, ...] = (
    "extended-display-update-ongoing",
    "equipment-malfunction",
    "signal-processing-irregularity",
    "inadequate-signal",
    "poor-signal",
    "low-perfusion",
    "erratic-signal",
    "nonpulsatile-signal",
    "questionable-pulse",
    "signal-analysis-ongoing",
    "sensor-interference",
    "sensor-unconnected-to-user",
    "unknown-sensor-connected",
    "sensor-displaced",
    "sensor-malfunctioning",
    "sensor-disconnected",
)

_SPOT_LAYOUTS = layouts(
    SPOT,
    (("flags", 1), ("SpO2", 2), ("pulse rate", 2)),
    (
        (SPOT_TIME, (("time stamp", 7),)),
        (SPOT_STATUS, (("measurement status", 2),)),
        (SPOT_DEVICE, (("device and sensor status", 3),)),
        (SPOT_PAI, (("pulse amplitude index", 2),)),
    ),
    5,
)
_CONT_LAYOUTS = layouts(
    CONTINUOUS,
    (("flags", 1), ("SpO2", 2), ("pulse rate", 2)),
    (
        (FAST, (("SpO2 fast", 2), ("pulse rate fast", 2))),
        (SLOW, (("SpO2 slow", 2), ("pulse rate slow", 2))),
        (CONT_STATUS, (("measurement status", 2),)),
        (CONT_DEVICE, (("device and sensor status", 3),)),
        (CONT_PAI, (("pulse amplitude index", 2),)),
    ),
    5,
)
_PAIR = struct.Struct("<HH").unpack_from
_U16 = struct.Struct("<H").unpack_from
_SPO2 = sfloat_field(Code.SPO2, "spo2")
_PULSE = sfloat_field(Code.HEART_RATE, "pulse")
_PAI = sfloat_field(Code.PULSE_AMPLITUDE_INDEX, "pai")


def _spo2_pulse(data: bytes, marks: list[str]) -> list[Observation]:
    """The mandatory SpO2 and pulse rate both measurements begin with."""
    spo2, pr = _PAIR(data, 1)
    return [_SPO2(spo2, marks), _PULSE(pr, marks)]


def _tail(
    data: bytes,
    offset: int,
    status: bool,
    device: bool,
    pai: bool,
    obs: list[Observation],
    marks: list[str],
    details: dict[str, Any],
) -> None:
    """The optional fields both measurements end with, in this order."""
    if status:
        bits = _U16(data, offset)[0]
        details["measurement_status"] = bits
        marks += bit_names(bits, MEASUREMENT_STATUS_NAMES)
        offset += 2
    if device:
        bits = int.from_bytes(data[offset : offset + 3], "little")
        details["device_sensor_status"] = bits
        marks += bit_names(bits, DEVICE_STATUS_NAMES)
        offset += 3
    if pai:
        obs.append(_PAI(_U16(data, offset)[0], marks))


def decode_spot_check(data: bytes) -> Measurement:
    flags = checked_flags(data, SPOT, _SPOT_LAYOUTS, _ALLOWED)
    marks: list[str] = []
    obs = _spo2_pulse(data, marks)
    time = None
    offset = 5
    details: dict[str, Any] = {}
    if flags & SPOT_TIME:
        time = time_stamp(SPOT, data, 5, marks, details)
        offset = 12
    if flags & CLOCK_NOT_SET:
        marks.append("device-clock-not-set")
    _tail(
        data,
        offset,
        bool(flags & SPOT_STATUS),
        bool(flags & SPOT_DEVICE),
        bool(flags & SPOT_PAI),
        obs,
        marks,
        details,
    )
    return Measurement(Kind.SPO2_SPOT, time, tuple(obs), frozenset(marks), details)


def decode_continuous(data: bytes) -> Measurement:
    """`details` holds the fast and slow averages, when sent: `spo2_fast`, `pulse_fast`,
    `spo2_slow`, `pulse_slow` (None for a special value, flagged `spo2-fast:nan` etc.)."""
    flags = checked_flags(data, CONTINUOUS, _CONT_LAYOUTS, _ALLOWED)
    marks: list[str] = []
    obs = _spo2_pulse(data, marks)
    details: dict[str, Any] = {}
    offset = 5
    for bit, speed in ((FAST, "fast"), (SLOW, "slow")):
        if flags & bit:
            spo2, pr = _PAIR(data, offset)
            details[f"spo2_{speed}"] = sfloat_detail(spo2, f"spo2-{speed}", marks)
            details[f"pulse_{speed}"] = sfloat_detail(pr, f"pulse-{speed}", marks)
            offset += 4
    _tail(
        data,
        offset,
        bool(flags & CONT_STATUS),
        bool(flags & CONT_DEVICE),
        bool(flags & CONT_PAI),
        obs,
        marks,
        details,
    )
    return Measurement(Kind.SPO2_CONTINUOUS, None, tuple(obs), frozenset(marks), details)


def _encode_tail(status: int | None, device_status: int | None, pai: Value | None) -> bytes:
    tail = b""
    if status is not None:
        tail += struct.pack("<H", status)
    if device_status is not None:
        tail += device_status.to_bytes(3, "little")
    if pai is not None:
        tail += struct.pack("<H", encode_sfloat(pai))
    return tail


def encode_spot_check(
    spo2: Value,
    pulse: Value,
    *,
    time: TimeField = None,
    measurement_status: int | None = None,
    device_sensor_status: int | None = None,
    pai: Value | None = None,
    clock_not_set: bool = False,
) -> bytes:
    flags = (
        (SPOT_TIME if time is not None else 0)
        | (SPOT_STATUS if measurement_status is not None else 0)
        | (SPOT_DEVICE if device_sensor_status is not None else 0)
        | (SPOT_PAI if pai is not None else 0)
        | (CLOCK_NOT_SET if clock_not_set else 0)
    )
    body = struct.pack("<BHH", flags, encode_sfloat(spo2), encode_sfloat(pulse))
    if time is not None:
        body += encode_date_time(time)
    return body + _encode_tail(measurement_status, device_sensor_status, pai)


def encode_continuous(
    spo2: Value,
    pulse: Value,
    *,
    fast: tuple[Value, Value] | None = None,
    slow: tuple[Value, Value] | None = None,
    measurement_status: int | None = None,
    device_sensor_status: int | None = None,
    pai: Value | None = None,
) -> bytes:
    """`fast` and `slow` are (SpO2, pulse rate) pairs."""
    flags = (
        (FAST if fast is not None else 0)
        | (SLOW if slow is not None else 0)
        | (CONT_STATUS if measurement_status is not None else 0)
        | (CONT_DEVICE if device_sensor_status is not None else 0)
        | (CONT_PAI if pai is not None else 0)
    )
    body = struct.pack("<BHH", flags, encode_sfloat(spo2), encode_sfloat(pulse))
    for pair in (fast, slow):
        if pair is not None:
            body += struct.pack("<HH", encode_sfloat(pair[0]), encode_sfloat(pair[1]))
    return body + _encode_tail(measurement_status, device_sensor_status, pai)


@dataclass(frozen=True, slots=True)
class PlxFeatures(Features):
    """PLX Features: the bitmap, and the support masks for the measurement status and the
    device and sensor status fields when the bitmap says they follow (bits 0 and 1)."""

    KIND: ClassVar[str] = "plx-features"
    NAMES: ClassVar[tuple[str | None, ...]] = (
        "measurement-status-support",
        "device-sensor-status-support",
        "spot-check-measurement-storage",
        "spot-check-timestamp",
        "spo2pr-fast",
        "spo2pr-slow",
        "pulse-amplitude-index",
        "multiple-bonds",
    )

    measurement_status_support: int | None = None
    device_sensor_status_support: int | None = None


_FEATURE_LAYOUTS = layouts(
    FEATURES,
    (("supported features", 2),),
    (
        (0x01, (("measurement status support", 2),)),
        (0x02, (("device and sensor status support", 3),)),
    ),
    2,
)


def decode_features(data: bytes) -> PlxFeatures:
    if len(data) < 2:
        raise _FEATURE_LAYOUTS[0].error(data)
    bits = _U16(data)[0]
    layout = _FEATURE_LAYOUTS[bits & 3]
    if len(data) != layout.size:
        raise layout.error(data)
    status = _U16(data, 2)[0] if bits & 1 else None
    device = int.from_bytes(data[layout.size - 3 :], "little") if bits & 2 else None
    return PlxFeatures(bits, frozenset(bit_names(bits, PlxFeatures.NAMES)), status, device)


def encode_features(features: PlxFeatures) -> bytes:
    """Bits 0 and 1 are set from whether the support masks are given."""
    bits = features.bits & ~3
    body = b""
    if features.measurement_status_support is not None:
        bits |= 1
        body += struct.pack("<H", features.measurement_status_support)
    if features.device_sensor_status_support is not None:
        bits |= 2
        body += features.device_sensor_status_support.to_bytes(3, "little")
    return struct.pack("<H", bits) + body
