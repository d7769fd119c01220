"""The hub's vocabulary: readings, coded observations, triage levels.

Plain dataclasses, stdlib only: every room of the hub (decoders, signal, store, wire) speaks
these types, so they must stay free of I/O and of any third-party import.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any


class Code(enum.StrEnum):
    """LOINC codes the hub emits. The value is the LOINC code itself."""

    BP_PANEL = "85354-9"
    SYSTOLIC = "8480-6"
    DIASTOLIC = "8462-4"
    MEAN_ARTERIAL = "8478-0"
    HEART_RATE = "8867-4"
    SPO2 = "59408-5"
    BODY_TEMPERATURE = "8310-5"
    BODY_WEIGHT = "29463-7"
    GLUCOSE_MASS = "2339-0"  # Glucose [Mass/volume] in Blood
    GLUCOSE_MOLES = "15074-8"  # Glucose [Moles/volume] in Blood
    RESPIRATORY_RATE = "9279-1"
    BODY_HEIGHT = "8302-2"
    BMI = "39156-5"
    CUFF_PRESSURE = "8357-6"  # Blood pressure method: intermediate cuff pressure
    PULSE_AMPLITUDE_INDEX = "61006-3"  # Perfusion index of Blood by Pulse oximetry


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """Display name and canonical UCUM unit of a LOINC code."""

    code: Code
    display: str
    unit: str


CODES: Mapping[Code, CodeInfo] = MappingProxyType(
    {
        info.code: info
        for info in (
            CodeInfo(Code.BP_PANEL, "Blood pressure panel", "mm[Hg]"),
            CodeInfo(Code.SYSTOLIC, "Systolic blood pressure", "mm[Hg]"),
            CodeInfo(Code.DIASTOLIC, "Diastolic blood pressure", "mm[Hg]"),
            CodeInfo(Code.MEAN_ARTERIAL, "Mean blood pressure", "mm[Hg]"),
            CodeInfo(Code.HEART_RATE, "Heart rate", "/min"),
            CodeInfo(Code.SPO2, "Oxygen saturation in Blood by Pulse oximetry", "%"),
            CodeInfo(Code.BODY_TEMPERATURE, "Body temperature", "Cel"),
            CodeInfo(Code.BODY_WEIGHT, "Body weight", "kg"),
            CodeInfo(Code.GLUCOSE_MASS, "Glucose [Mass/volume] in Blood", "mg/dL"),
            CodeInfo(Code.GLUCOSE_MOLES, "Glucose [Moles/volume] in Blood", "mmol/L"),
            CodeInfo(Code.RESPIRATORY_RATE, "Respiratory rate", "/min"),
            CodeInfo(Code.BODY_HEIGHT, "Body height", "m"),
            CodeInfo(Code.BMI, "Body mass index", "kg/m2"),
            CodeInfo(Code.CUFF_PRESSURE, "Intermediate cuff pressure", "mm[Hg]"),
            CodeInfo(Code.PULSE_AMPLITUDE_INDEX, "Perfusion index by pulse oximetry", "%"),
        )
    }
)


def canonical_unit(code: Code) -> str:
    """The UCUM unit every value of `code` is converted to before it leaves a decoder."""
    return CODES[code].unit


class Kind(enum.StrEnum):
    """What sort of measurement a reading is; one per characteristic family."""

    BLOOD_PRESSURE = "blood-pressure"
    CUFF_PRESSURE = "cuff-pressure"
    HEART_RATE = "heart-rate"
    SPO2_SPOT = "spo2-spot"
    SPO2_CONTINUOUS = "spo2-continuous"
    TEMPERATURE = "temperature"
    INTERMEDIATE_TEMPERATURE = "intermediate-temperature"
    WEIGHT = "weight"
    GLUCOSE = "glucose"
    RESPIRATORY_RATE = "respiratory-rate"
    SUMMARY = "summary"
    STREAM_BLOCK = "stream-block"  # one device stream's raw samples over one minute


class Level(enum.StrEnum):
    """Triage colour. Data quality ("no data", "stale", "bad signal") is a separate axis."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True, slots=True)
class Observation:
    """One coded value. `value` is None when the device sent an IEEE-11073 special value;
    `special` then names it (nan, nres, +inf, -inf, reserved) — never a fake number.
    `source_unit` is the UCUM unit the device used before conversion to `unit`."""

    code: Code
    value: float | None
    unit: str
    source_unit: str | None = None
    special: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.special is None):
            raise ValueError("an observation has either a value or a special marker")


@dataclass(slots=True)
class Measurement:
    """What a decoder returns: everything about a reading that the bytes carry.

    Decoders are pure and read no clock, so identity and receive time are added by the
    edge that received the bytes (`Reading.of`).

    Measurement and Reading are not `frozen`: in Python 3.11 a frozen dataclass's `__init__`
    costs about 1 µs more (one `object.__setattr__` per field), which was most of the cost of
    decoding a heart-rate notification (`hub bench decode`). Treat them as immutable anyway:
    change one with `dataclasses.replace`."""

    kind: Kind
    device_time: datetime | None
    observations: tuple[Observation, ...]
    flags: frozenset[str] = frozenset()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Raw samples of one device stream over one period (a stream-minute), kept as one block.

    Sample `i` belongs to the interval starting at `start + i * period_s`; NaN marks an interval
    with no sample (a gap). `values` holds little-endian float32s: compact on the SD card
    (60 samples are 240 bytes, against one encrypted row per sample) and read by numpy with
    `np.frombuffer(values, "<f4")` without a Python loop. float32 keeps seven significant
    digits, far finer than any SpO2 or pulse rate a device reports."""

    code: Code
    start: datetime
    period_s: float
    values: bytes

    def __post_init__(self) -> None:
        if len(self.values) % 4:
            raise ValueError("a sample block holds whole float32 values")
        if not self.period_s > 0:
            raise ValueError("a sample block needs a positive sampling period")

    @property
    def count(self) -> int:
        return len(self.values) // 4

    @property
    def unit(self) -> str:
        return canonical_unit(self.code)


@dataclass(slots=True)
class Reading:
    """A measurement the hub has taken responsibility for.

    `id` is a UUIDv7 assigned when the bytes were decoded; it sorts by time and is the
    hospital's de-duplication key for the reading's whole life."""

    id: str
    device: str
    kind: Kind
    device_time: datetime | None
    received: datetime
    observations: tuple[Observation, ...]
    flags: frozenset[str] = frozenset()
    details: Mapping[str, Any] = field(default_factory=dict)
    samples: SampleBlock | None = None  # set on STREAM_BLOCK readings only

    @classmethod
    def of(cls, measurement: Measurement, *, id: str, device: str, received: datetime) -> Reading:
        return cls(
            id=id,
            device=device,
            kind=measurement.kind,
            device_time=measurement.device_time,
            received=received,
            observations=measurement.observations,
            flags=measurement.flags,
            details=measurement.details,
        )

    def value_of(self, code: Code) -> float | None:
        """The first numeric value for `code`, or None."""
        for obs in self.observations:
            if obs.code is code:
                return obs.value
        return None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a device says about itself (Device Information Service) and what the hub knows."""

    address: str
    kind: str = ""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    hardware: str = ""
    firmware: str = ""
    software: str = ""
    battery: int | None = None  # percent
    system_id: str = ""  # EUI-64 from the Bluetooth System ID (0x2A23) as hex, when read


class EventKind(enum.StrEnum):
    ALERT = "alert"
    SUPPRESSED_ALERT = "suppressed-alert"
    ALL_CLEAR = "all-clear"
    ERROR = "error"
    STATUS = "status"
    MEASUREMENT_DUE = "measurement-due"
    MEASUREMENT_MISSED = "measurement-missed"


@dataclass(frozen=True, slots=True)
class Event:
    """Something a technician, the patient screen or the hospital should know about."""

    kind: EventKind
    time: datetime
    message: str
    device: str | None = None
    level: Level | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def aware_time(value: object) -> datetime | None:
    """An ISO 8601 time with its UTC offset, as the status JSON carries them; anything else
    (not a string, malformed, naive) is None: a status from another hub or version is read
    field by field, never trusted whole."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
