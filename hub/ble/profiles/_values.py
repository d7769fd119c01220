"""Pieces every profile shares: unit conversions, coded observations from IEEE-11073 numbers,
named status bits, and the capability bitmaps ("features") services publish."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, ClassVar, Self

from hub.ble.profiles._layout import check_size
from hub.ble.profiles.ieee11073 import (
    FLOAT_SPECIALS,
    SFLOAT_SPECIALS,
    date_time_fields,
    decode_date_time,
    float_parts,
    scaled,
    sfloat_parts,
    sfloat_value,
)
from hub.model import Code, Observation, canonical_unit


class Conversion:
    """An exact conversion from a device unit to a canonical UCUM unit: (x + offset) · factor,
    rounded to the source's decimals plus enough digits that no resolution is lost."""

    __slots__ = ("decimal_shift", "factor", "offset", "shift", "source")

    def __init__(self, source: str, factor: Fraction, offset: Fraction = Fraction(0)) -> None:
        self.source = source
        self.factor = factor
        self.offset = offset
        # One guard digit beyond the digits the factor moves the value by.
        self.shift = 1 - math.floor(math.log10(factor))
        # A power of ten without offset (kg/L → mg/dL) only moves the exponent: exact.
        power = round(math.log10(factor))
        exact_power = offset == 0 and Fraction(10) ** power == factor
        self.decimal_shift = power if exact_power else None

    def apply(self, mantissa: int, exponent: int) -> float:
        if self.decimal_shift is not None:
            return scaled(mantissa, exponent + self.decimal_shift)
        exact = (Fraction(mantissa) * Fraction(10) ** exponent + self.offset) * self.factor
        return float(round(exact, max(0, -exponent) + self.shift))


# 1 mm[Hg] = 133.3224 Pa: 7.500615758 mm[Hg] per kPa (the project's factor; the
# conventional 133.322387415 Pa differs by 1.4e-7, far below any cuff's resolution).
KPA_TO_MMHG = Conversion("kPa", Fraction("7.500615758"))
FAHRENHEIT_TO_CELSIUS = Conversion("[degF]", Fraction(5, 9), Fraction(-32))
POUND_TO_KG = Conversion("[lb_av]", Fraction(45_359_237, 10**8))
INCH_TO_M = Conversion("[in_i]", Fraction(254, 10**4))
KG_PER_L_TO_MG_PER_DL = Conversion("kg/L", Fraction(10**5))
MOL_PER_L_TO_MMOL_PER_L = Conversion("mol/L", Fraction(10**3))


# Observations of whole numbers below this, for the codes devices send most, are built once
# and shared (they are immutable): nearly every pressure, rate and saturation is one of them,
# and building an Observation costs more than decoding its bytes.
_INTERNED = 512
_WHOLE: dict[Code, tuple[Observation, ...]] = {
    code: tuple(Observation(code, float(n), canonical_unit(code)) for n in range(_INTERNED))
    for code in (
        Code.SYSTOLIC,
        Code.DIASTOLIC,
        Code.MEAN_ARTERIAL,
        Code.CUFF_PRESSURE,
        Code.HEART_RATE,
        Code.SPO2,
    )
}

SfloatField = Callable[[int, list[str]], Observation]
"""Raw SFLOAT of one coded field → its Observation; a special value appends `name:special`
to the list of flags it is given."""


def sfloat_field(code: Code, name: str, conv: Conversion | None = None) -> SfloatField:
    unit = canonical_unit(code)
    source = conv.source if conv else None
    # SFLOAT raw values below 0x0800 with a zero exponent nibble are the whole numbers.
    whole = _WHOLE.get(code, ()) if conv is None else ()
    limit = len(whole)

    def observe(raw: int, flags: list[str]) -> Observation:
        if raw < limit:
            return whole[raw]
        special = SFLOAT_SPECIALS.get(raw)
        if special is not None:
            flags.append(f"{name}:{special}")
            return Observation(code, None, unit, source, special)
        if conv is None:
            return Observation(code, sfloat_value(raw), unit)
        return Observation(code, conv.apply(*sfloat_parts(raw)), unit, source)

    return observe


def whole_observations(code: Code) -> tuple[Observation, ...]:
    """The shared observations of `code` for the whole numbers 0 … len - 1."""
    return _WHOLE[code]


def float_observation(
    code: Code, unit: str, raw: int, conv: Conversion | None, name: str, flags: list[str]
) -> Observation:
    special = FLOAT_SPECIALS.get(raw)
    if special is not None:
        flags.append(f"{name}:{special}")
        return Observation(code, None, unit, conv.source if conv else None, special)
    m, e = float_parts(raw)
    return Observation(
        code,
        scaled(m, e) if conv is None else conv.apply(m, e),
        unit,
        None if conv is None else conv.source,
    )


def sfloat_detail(raw: int, name: str, flags: list[str]) -> float | None:
    """An SFLOAT kept in `details`: its value, or None and a `name:special` flag."""
    special = SFLOAT_SPECIALS.get(raw)
    if special is not None:
        flags.append(f"{name}:{special}")
        return None
    return sfloat_value(raw)


def time_stamp(
    char: str, data: bytes, offset: int, flags: list[str], details: dict[str, Any]
) -> datetime | None:
    """A measurement's Date Time field at `offset` (the caller checked the length): the time,
    or None and the `time-unknown` flag when the device sent zero year, month or day; what
    it did send of the date and time is then kept in `details["time_fields"]` (e.g. a clock
    with year 0 still tells month, day, hour, minute and second)."""
    time = decode_date_time(char, data, offset)
    if time is None:
        flags.append("time-unknown")
        fields = date_time_fields(char, data, offset)
        if fields:
            details["time_fields"] = fields
    return time


def bit_names(bits: int, names: Sequence[str | None]) -> list[str]:
    """The names of the set bits (bit i is `names[i]`; None or beyond the table: unnamed)."""
    return [name for i, name in enumerate(names) if name and bits >> i & 1]


@dataclass(frozen=True, slots=True)
class Features:
    """A service's supported-features bitmap: the raw bits and the names of the known ones.

    Unknown bits are kept in `bits` and not refused: later versions of a service add features
    without changing the layout."""

    NAMES: ClassVar[Sequence[str | None]] = ()
    KIND: ClassVar[str] = ""

    bits: int
    supported: frozenset[str]

    @classmethod
    def of(cls, bits: int) -> Self:
        return cls(bits, frozenset(bit_names(bits, cls.NAMES)))

    @classmethod
    def decode_u16(cls, char: str, data: bytes) -> Self:
        """The common case: the value is exactly the 16-bit bitmap."""
        check_size(char, "features", 2, data)
        return cls.of(int.from_bytes(data, "little"))

    def encode_u16(self) -> bytes:
        return self.bits.to_bytes(2, "little")
