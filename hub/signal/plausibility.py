"""Is a spot reading fit to triage? Physiological ranges per code, unit checks and the
device's own measurement-status flags. A reading that fails asks the patient to repeat it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hub.model import Code, Reading, canonical_unit

# Outside these a value is a device or decoding fault, not a patient state (canonical units).
RANGES: Mapping[Code, tuple[float, float]] = MappingProxyType(
    {
        Code.SYSTOLIC: (40.0, 300.0),
        Code.DIASTOLIC: (15.0, 200.0),
        Code.MEAN_ARTERIAL: (25.0, 250.0),
        Code.HEART_RATE: (20.0, 300.0),
        Code.SPO2: (50.0, 100.0),
        Code.BODY_TEMPERATURE: (30.0, 44.0),
        Code.BODY_WEIGHT: (2.0, 400.0),
        Code.GLUCOSE_MASS: (10.0, 1000.0),
        Code.GLUCOSE_MOLES: (0.5, 55.0),
        Code.RESPIRATORY_RATE: (2.0, 80.0),
        Code.BODY_HEIGHT: (0.3, 2.6),
        Code.BMI: (8.0, 100.0),
        Code.CUFF_PRESSURE: (0.0, 320.0),
        Code.PULSE_AMPLITUDE_INDEX: (0.0, 100.0),
    }
)

# Device status flags that make a measurement untrustworthy, and what to tell the patient.
# The keys are the flag names the decoders in hub.ble.profiles emit (blood pressure status,
# PLX measurement status, heart-rate sensor contact); tests/test_signal_triage.py holds them
# to that vocabulary.
REPEAT_FLAGS: Mapping[str, str] = MappingProxyType(
    {
        "body-movement": "you moved during the measurement",
        "cuff-too-loose": "the cuff was too loose",
        "irregular-pulse": "the device found an irregular pulse",
        "improper-position": "the cuff or sensor was not in the right position",
        "pulse-above-range": "the pulse rate was above the device's range",
        "pulse-below-range": "the pulse rate was below the device's range",
        "questionable-measurement": "the device marked the measurement as questionable",
        "invalid-measurement": "the device marked the measurement as invalid",
        "sensor-contact-absent": "the sensor lost contact",
    }
)


@dataclass(frozen=True)
class Check:
    values: Mapping[Code, float]  # plausible values in canonical units
    reasons: tuple[str, ...]  # why the patient should repeat; empty when fit to triage

    @property
    def repeat(self) -> bool:
        return bool(self.reasons)


def check(reading: Reading) -> Check:
    """Plausible values of `reading`, and the reasons (if any) to ask for a repeat."""
    reasons = [REPEAT_FLAGS[f] for f in sorted(reading.flags) if f in REPEAT_FLAGS]
    values: dict[Code, float] = {}
    for obs in reading.observations:
        if obs.value is None:
            reasons.append(f"no value for {obs.code.name.lower()} ({obs.special})")
        elif obs.unit != canonical_unit(obs.code):
            reasons.append(f"{obs.code.name.lower()} in unexpected unit {obs.unit!r}")
        elif obs.code in RANGES and not RANGES[obs.code][0] <= obs.value <= RANGES[obs.code][1]:
            reasons.append(f"implausible {obs.code.name.lower()} {obs.value:g}")
        else:
            values.setdefault(obs.code, obs.value)
    sys_, dia = values.get(Code.SYSTOLIC), values.get(Code.DIASTOLIC)
    if sys_ is not None and dia is not None and sys_ <= dia:
        reasons.append(f"systolic {sys_:g} not above diastolic {dia:g}")
    return Check(MappingProxyType(values), tuple(reasons))
