"""Glucose Service (0x1808): Glucose Measurement 0x2A18, Glucose Measurement Context 0x2A34,
Glucose Feature 0x2A51.

Measurement: flags u8 | sequence u16 | base time (Date Time) | [time offset s16 minutes if
bit0] | [concentration SFLOAT + type/location u8 if bit1] | [sensor status u16 if bit3];
bit2 unit (0 kg/L, 1 mol/L), bit4 context follows. In the type/location byte the type is the
**low** nibble and the sample location the **high** nibble.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from hub.ble.profiles._layout import checked_flags, layouts
from hub.ble.profiles._values import (
    KG_PER_L_TO_MG_PER_DL,
    MOL_PER_L_TO_MMOL_PER_L,
    Features,
    bit_names,
    sfloat_detail,
    sfloat_field,
    time_stamp,
)
from hub.ble.profiles.errors import DecodeError, reserved
from hub.ble.profiles.ieee11073 import (
    Value,
    encode_date_time,
    encode_sfloat,
)
from hub.model import Code, Kind, Measurement, Observation

MEASUREMENT = "0x2A18 Glucose Measurement"
CONTEXT = "0x2A34 Glucose Measurement Context"
FEATURE = "0x2A51 Glucose Feature"

TIME_OFFSET, CONCENTRATION, MOL_PER_L, SENSOR_STATUS, CONTEXT_FOLLOWS = 1, 2, 4, 8, 16
_ALLOWED = 0x1F

SAMPLE_TYPES: tuple[str | None, ...] = (
    None,
    "capillary-whole-blood",
    "capillary-plasma",
    "venous-whole-blood",
    "venous-plasma",
    "arterial-whole-blood",
    "arterial-plasma",
    "undetermined-whole-blood",
    "undetermined-plasma",
    "interstitial-fluid",
    "control-solution",
)
SAMPLE_LOCATIONS: dict[int, str] = {
    1: "finger",
    2: "alternate-site",
    3: "earlobe",
    4: "control-solution",
    15: "not-available",
}
SENSOR_STATUS_NAMES: tuple[str | None, ...] = (
    "device-battery-low",
    "sensor-malfunction",
    "sample-size-insufficient",
    "strip-insertion-error",
    "strip-type-incorrect",
    "result-too-high",
    "result-too-low",
    "temperature-too-high",
    "temperature-too-low",
    "read-interrupted",
    "general-device-fault",
    "time-fault",
)

_LAYOUTS = layouts(
    MEASUREMENT,
    (("flags", 1), ("sequence number", 2), ("base time", 7)),
    (
        (TIME_OFFSET, (("time offset", 2),)),
        (CONCENTRATION, (("concentration", 2), ("type and sample location", 1))),
        (SENSOR_STATUS, (("sensor status annunciation", 2),)),
    ),
    5,
)
_U16 = struct.Struct("<H").unpack_from
_S16 = struct.Struct("<h").unpack_from
# (kg/L → mg/dL, mol/L → mmol/L), picked by flags bit 2.
_GLUCOSE = (
    sfloat_field(Code.GLUCOSE_MASS, "glucose", KG_PER_L_TO_MG_PER_DL),
    sfloat_field(Code.GLUCOSE_MOLES, "glucose", MOL_PER_L_TO_MMOL_PER_L),
)


def decode_measurement(data: bytes) -> Measurement:
    """Concentration as mg/dL (code 2339-0) from kg/L, or mmol/L (15074-8) from mol/L.
    Device time = base time + time offset. `details`: `sequence`, `time_offset_min`,
    `sample_type`, `sample_location`, `sensor_status` (raw bits), `context_follows`."""
    flags = checked_flags(data, MEASUREMENT, _LAYOUTS, _ALLOWED)
    marks: list[str] = []
    details: dict[str, Any] = {"sequence": _U16(data, 1)[0]}
    time = time_stamp(MEASUREMENT, data, 3, marks, details)
    offset = 10
    if flags & TIME_OFFSET:
        minutes = _S16(data, 10)[0]
        details["time_offset_min"] = minutes
        if time is not None:
            try:
                time += timedelta(minutes=minutes)
            except OverflowError:
                raise DecodeError(f"{MEASUREMENT}: base time + offset after year 9999") from None
        offset = 12
    obs: tuple[Observation, ...] = ()
    if flags & CONCENTRATION:
        obs = (_GLUCOSE[flags >> 2 & 1](_U16(data, offset)[0], marks),)
        type_location = data[offset + 2]
        sample_type = type_location & 0xF
        location = type_location >> 4
        if not 1 <= sample_type < len(SAMPLE_TYPES):
            raise reserved(
                MEASUREMENT, f"sample type (offset {offset + 2}, low nibble)", sample_type
            )
        if location not in SAMPLE_LOCATIONS:
            raise reserved(
                MEASUREMENT, f"sample location (offset {offset + 2}, high nibble)", location
            )
        details["sample_type"] = SAMPLE_TYPES[sample_type]
        details["sample_location"] = SAMPLE_LOCATIONS[location]
        offset += 3
    if flags & SENSOR_STATUS:
        status = _U16(data, offset)[0]
        details["sensor_status"] = status
        marks += bit_names(status, SENSOR_STATUS_NAMES)
    details["context_follows"] = bool(flags & CONTEXT_FOLLOWS)
    return Measurement(Kind.GLUCOSE, time, obs, frozenset(marks), details)


_LOCATION_CODES = {name: code for code, name in SAMPLE_LOCATIONS.items()}


def encode_measurement(
    sequence: int,
    base_time: datetime | None,
    *,
    time_offset_min: int | None = None,
    concentration: Value | None = None,
    mol_per_l: bool = False,
    sample_type: str = "capillary-whole-blood",
    sample_location: str = "finger",
    sensor_status: int | None = None,
    context_follows: bool = False,
) -> bytes:
    """`concentration` in mol/L when `mol_per_l`, else kg/L (the SIG units: 5.5 mmol/L is
    0.0055 mol/L, 100 mg/dL is 0.001 kg/L). A None base time is sent as 'unknown'."""
    flags = (MOL_PER_L if mol_per_l else 0) | (CONTEXT_FOLLOWS if context_follows else 0)
    body = struct.pack("<H", sequence) + encode_date_time(base_time or "unknown")
    if time_offset_min is not None:
        flags |= TIME_OFFSET
        body += struct.pack("<h", time_offset_min)
    if concentration is not None:
        flags |= CONCENTRATION
        nibbles = SAMPLE_TYPES.index(sample_type) | _LOCATION_CODES[sample_location] << 4
        body += struct.pack("<HB", encode_sfloat(concentration), nibbles)
    if sensor_status is not None:
        flags |= SENSOR_STATUS
        body += struct.pack("<H", sensor_status)
    return bytes((flags,)) + body


# Glucose Measurement Context.
CARBOHYDRATES = (None, "breakfast", "lunch", "dinner", "snack", "drink", "supper", "brunch")
MEALS = (None, "preprandial", "postprandial", "fasting", "casual", "bedtime")
TESTERS: dict[int, str] = {
    1: "self",
    2: "health-care-professional",
    3: "lab-test",
    15: "not-available",
}
HEALTH: dict[int, str] = {
    1: "minor-health-issues",
    2: "major-health-issues",
    3: "during-menses",
    4: "under-stress",
    5: "no-health-issues",
    15: "not-available",
}
MEDICATIONS = (
    None,
    "rapid-acting-insulin",
    "short-acting-insulin",
    "intermediate-acting-insulin",
    "long-acting-insulin",
    "pre-mixed-insulin",
)
_TESTER_CODES = {name: code for code, name in TESTERS.items()}
_HEALTH_CODES = {name: code for code, name in HEALTH.items()}
(CTX_CARBOHYDRATE, CTX_MEAL, CTX_TESTER_HEALTH, CTX_EXERCISE, CTX_MEDICATION) = (1, 2, 4, 8, 16)
CTX_MEDICATION_LITRES, CTX_HBA1C, CTX_EXTENDED = 32, 64, 128


@dataclass(frozen=True, slots=True)
class GlucoseContext:
    """What the patient said about a glucose measurement with the same `sequence`.

    Carbohydrate in kg, medication in kg or L (`medication_unit`), HbA1c in %; None when the
    field is absent or a special value (then `specials` names it, e.g. `hba1c:nan`)."""

    KIND: ClassVar[str] = "glucose-context"

    sequence: int
    extended_flags: int | None = None
    carbohydrate: str | None = None
    carbohydrate_kg: float | None = None
    meal: str | None = None
    tester: str | None = None
    health: str | None = None
    exercise_duration_s: int | None = None  # 65535 = overrun
    exercise_intensity_pct: int | None = None
    medication: str | None = None
    medication_amount: float | None = None
    medication_unit: str | None = None  # "kg" or "L"
    hba1c_pct: float | None = None
    specials: frozenset[str] = frozenset()


_CONTEXT_LAYOUTS = layouts(
    CONTEXT,
    (("flags", 1), ("sequence number", 2)),
    (
        (CTX_EXTENDED, (("extended flags", 1),)),
        (CTX_CARBOHYDRATE, (("carbohydrate id", 1), ("carbohydrate", 2))),
        (CTX_MEAL, (("meal", 1),)),
        (CTX_TESTER_HEALTH, (("tester-health", 1),)),
        (CTX_EXERCISE, (("exercise duration", 2), ("exercise intensity", 1))),
        (CTX_MEDICATION, (("medication id", 1), ("medication", 2))),
        (CTX_HBA1C, (("HbA1c", 2),)),
    ),
    8,
)


def _enum(
    names: Sequence[str | None] | Mapping[int, str], code: int, field: str, offset: int
) -> str:
    """The name of an enumerated context field; reserved codes are refused."""
    if isinstance(names, Mapping):
        name = names.get(code)
    else:
        name = names[code] if code < len(names) else None
    if name is None:
        raise reserved(CONTEXT, f"{field} (offset {offset})", code)
    return name


def decode_context(data: bytes) -> GlucoseContext:
    flags = checked_flags(data, CONTEXT, _CONTEXT_LAYOUTS, 0xFF)
    fields: dict[str, Any] = {"sequence": _U16(data, 1)[0]}
    marks: list[str] = []
    offset = 3
    if flags & CTX_EXTENDED:
        fields["extended_flags"] = data[offset]
        offset += 1
    if flags & CTX_CARBOHYDRATE:
        fields["carbohydrate"] = _enum(CARBOHYDRATES, data[offset], "carbohydrate id", offset)
        fields["carbohydrate_kg"] = sfloat_detail(_U16(data, offset + 1)[0], "carbohydrate", marks)
        offset += 3
    if flags & CTX_MEAL:
        fields["meal"] = _enum(MEALS, data[offset], "meal", offset)
        offset += 1
    if flags & CTX_TESTER_HEALTH:
        fields["tester"] = _enum(TESTERS, data[offset] & 0xF, "tester (low nibble)", offset)
        fields["health"] = _enum(HEALTH, data[offset] >> 4, "health (high nibble)", offset)
        offset += 1
    if flags & CTX_EXERCISE:
        fields["exercise_duration_s"] = _U16(data, offset)[0]
        fields["exercise_intensity_pct"] = data[offset + 2]
        offset += 3
    if flags & CTX_MEDICATION:
        fields["medication"] = _enum(MEDICATIONS, data[offset], "medication id", offset)
        fields["medication_amount"] = sfloat_detail(_U16(data, offset + 1)[0], "medication", marks)
        fields["medication_unit"] = "L" if flags & CTX_MEDICATION_LITRES else "kg"
        offset += 3
    elif flags & CTX_MEDICATION_LITRES:
        raise DecodeError(f"{CONTEXT}: flags {flags:#04x}: medication unit without medication")
    if flags & CTX_HBA1C:
        fields["hba1c_pct"] = sfloat_detail(_U16(data, offset)[0], "hba1c", marks)
    return GlucoseContext(**fields, specials=frozenset(marks))


def _special_or(value: float | None, name: str, specials: frozenset[str]) -> Value:
    """The value to encode: the number, or the special a decoded context recorded for it."""
    if value is not None:
        return value
    for mark in specials:
        field, _, special = mark.partition(":")
        if field == name:
            return special
    raise ValueError(f"glucose context: {name} is missing")


def encode_context(ctx: GlucoseContext) -> bytes:
    flags = 0
    body = struct.pack("<H", ctx.sequence)
    if ctx.extended_flags is not None:
        flags |= CTX_EXTENDED
        body += bytes((ctx.extended_flags,))
    if ctx.carbohydrate is not None:
        flags |= CTX_CARBOHYDRATE
        amount = _special_or(ctx.carbohydrate_kg, "carbohydrate", ctx.specials)
        body += struct.pack("<BH", CARBOHYDRATES.index(ctx.carbohydrate), encode_sfloat(amount))
    if ctx.meal is not None:
        flags |= CTX_MEAL
        body += bytes((MEALS.index(ctx.meal),))
    if ctx.tester is not None and ctx.health is not None:
        flags |= CTX_TESTER_HEALTH
        body += bytes((_TESTER_CODES[ctx.tester] | _HEALTH_CODES[ctx.health] << 4,))
    if ctx.exercise_duration_s is not None and ctx.exercise_intensity_pct is not None:
        flags |= CTX_EXERCISE
        body += struct.pack("<HB", ctx.exercise_duration_s, ctx.exercise_intensity_pct)
    if ctx.medication is not None:
        flags |= CTX_MEDICATION | (CTX_MEDICATION_LITRES if ctx.medication_unit == "L" else 0)
        amount = _special_or(ctx.medication_amount, "medication", ctx.specials)
        body += struct.pack("<BH", MEDICATIONS.index(ctx.medication), encode_sfloat(amount))
    if ctx.hba1c_pct is not None or any(m.startswith("hba1c:") for m in ctx.specials):
        flags |= CTX_HBA1C
        body += struct.pack("<H", encode_sfloat(_special_or(ctx.hba1c_pct, "hba1c", ctx.specials)))
    return bytes((flags,)) + body


@dataclass(frozen=True, slots=True)
class GlucoseFeature(Features):
    KIND: ClassVar[str] = "glucose-feature"
    NAMES: ClassVar[tuple[str | None, ...]] = (
        "low-battery-detection",
        "sensor-malfunction-detection",
        "sensor-sample-size",
        "sensor-strip-insertion-error-detection",
        "sensor-strip-type-error-detection",
        "sensor-result-high-low-detection",
        "sensor-temperature-high-low-detection",
        "sensor-read-interrupt-detection",
        "general-device-fault",
        "time-fault",
        "multiple-bond",
    )


def decode_feature(data: bytes) -> GlucoseFeature:
    return GlucoseFeature.decode_u16(FEATURE, data)


def encode_feature(feature: GlucoseFeature) -> bytes:
    return feature.encode_u16()
