"""What a simulated device is, apart from how it behaves on the air: the security it demands,
whether it stays connected, its measurement characteristics, its Device Information, and the
six device kinds of `hub.config.DeviceEntry.kind` as GATT profiles (`hub.sim.peripheral`
runs them)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.ble.profiles import blood_pressure, glucose, heart_rate, plx, weight


class Security(enum.Enum):
    """What the device demands before it lets the hub subscribe."""

    OPEN = "open"
    JUST_WORKS = "just-works"  # encryption, no MITM protection
    PASSKEY = "passkey"  # the device displays a passkey the hub must enter


class Lifetime(enum.Enum):
    SHORT = "short"  # advertises with something to send, sends it, disconnects
    LONG = "long"  # stays connected and streams; advertises again after a drop


@dataclass(frozen=True)
class Measures:
    """One measurement characteristic: its 16-bit UUID and whether it indicates or notifies."""

    uuid16: int
    indicate: bool


@dataclass(frozen=True)
class Profile:
    service: int
    measures: tuple[Measures, ...]
    lifetime: Lifetime
    features: Mapping[int, bytes] = field(default_factory=dict)
    racp: bool = False


@dataclass(frozen=True)
class Identity:
    """Device Information strings, one per field (named as in `device_info.STRINGS`)."""

    manufacturer: str = "Simulated Medical"
    model: str = "SIM-1"
    serial: str = "0001"
    firmware: str = "1.0.0"


SIMULATED = Identity()


# The six device kinds of `hub.config.DeviceEntry.kind`, as GATT profiles (feature values:
# BP body movement, cuff fit and irregular pulse; PLX spot-check storage and time stamp; a
# weight scale with time stamps; a chest strap).
PROFILES: Mapping[str, Profile] = {
    "blood-pressure": Profile(
        0x1810,
        (Measures(0x2A35, indicate=True), Measures(0x2A36, indicate=False)),
        Lifetime.SHORT,
        {0x2A49: blood_pressure.encode_feature(blood_pressure.BloodPressureFeature.of(0x07))},
    ),
    "pulse-oximeter": Profile(
        0x1822,
        (Measures(0x2A5E, indicate=True), Measures(0x2A5F, indicate=False)),
        Lifetime.LONG,
        {0x2A60: plx.encode_features(plx.PlxFeatures.of(0x0C))},
        racp=True,
    ),
    "heart-rate": Profile(
        0x180D,
        (Measures(0x2A37, indicate=False),),
        Lifetime.LONG,
        {0x2A38: heart_rate.encode_location(heart_rate.BodySensorLocation("chest"))},
    ),
    "thermometer": Profile(
        0x1809,
        (Measures(0x2A1C, indicate=True), Measures(0x2A1E, indicate=False)),
        Lifetime.SHORT,
    ),
    "weight-scale": Profile(
        0x181D,
        (Measures(0x2A9D, indicate=True),),
        Lifetime.SHORT,
        {0x2A9E: weight.encode_feature(weight.WeightScaleFeature.of(0x01))},
    ),
    "glucose": Profile(
        0x1808,
        (Measures(0x2A18, indicate=False),),
        Lifetime.SHORT,
        {0x2A51: glucose.encode_feature(glucose.GlucoseFeature.of(0))},
        racp=True,
    ),
}
