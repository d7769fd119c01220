"""IEEE 11073-20601 numbers (16-bit SFLOAT, 32-bit FLOAT) and the Bluetooth Date Time field.

A number is mantissa · 10^exponent. The exponent carries the device's precision (0xE0C8 is
2.00, 0xF014 is 2.0), so `Number` keeps both; `.value` is the nearest float to the decimal
(computed as an exact integer division, so 2.00 is 2.0, never 1.9999999). Special values
(NaN, NRes, +INF, -INF, reserved) have exponent 0 and decode to their name, never a number.
"""

from __future__ import annotations

import math
import struct
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from hub.ble.profiles.errors import DecodeError

SFLOAT_SPECIALS: dict[int, str] = {
    0x07FF: "nan",
    0x0800: "nres",
    0x07FE: "+inf",
    0x0802: "-inf",
    0x0801: "reserved",
}
FLOAT_SPECIALS: dict[int, str] = {
    0x007FFFFF: "nan",
    0x00800000: "nres",
    0x007FFFFE: "+inf",
    0x00800002: "-inf",
    0x00800001: "reserved",
}
_SFLOAT_BY_NAME = {name: raw for raw, name in SFLOAT_SPECIALS.items()}
_FLOAT_BY_NAME = {name: raw for raw, name in FLOAT_SPECIALS.items()}

# Powers of ten for every exponent a FLOAT can carry (-128..127): ints, so that m / 10^k is one
# correctly rounded division.
_P10: tuple[int, ...] = tuple(10**k for k in range(129))


class Number(NamedTuple):
    """A finite IEEE-11073 number: mantissa · 10^exponent."""

    mantissa: int
    exponent: int

    @property
    def value(self) -> float:
        return scaled(self.mantissa, self.exponent)

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.mantissa).scaleb(self.exponent)


def scaled(mantissa: int, exponent: int) -> float:
    """mantissa · 10^exponent as the nearest float."""
    if exponent >= 0:
        return float(mantissa * _P10[exponent])
    return mantissa / _P10[-exponent]


def sfloat_parts(raw: int) -> tuple[int, int]:
    """(mantissa, exponent) of a non-special 16-bit SFLOAT."""
    m = raw & 0x0FFF
    e = raw >> 12
    return (m - 0x1000 if m & 0x0800 else m), (e - 16 if e & 0x8 else e)


def float_parts(raw: int) -> tuple[int, int]:
    """(mantissa, exponent) of a non-special 32-bit FLOAT."""
    m = raw & 0xFFFFFF
    e = raw >> 24
    return (m - 0x1000000 if m & 0x800000 else m), (e - 256 if e & 0x80 else e)


def sfloat_value(raw: int) -> float:
    """The value of a non-special SFLOAT (check `SFLOAT_SPECIALS` first)."""
    m = raw & 0x0FFF
    if m & 0x0800:
        m -= 0x1000
    e = raw >> 12
    if e & 0x8:
        return m / _P10[16 - e]
    return float(m * _P10[e])


def decode_sfloat(raw: int) -> Number | str:
    """A 16-bit SFLOAT: its `Number`, or the name of its special value."""
    special = SFLOAT_SPECIALS.get(raw)
    return special if special is not None else Number(*sfloat_parts(raw))


def decode_float(raw: int) -> Number | str:
    """A 32-bit FLOAT: its `Number`, or the name of its special value."""
    special = FLOAT_SPECIALS.get(raw)
    return special if special is not None else Number(*float_parts(raw))


Value = float | int | str | Number
"""What encoders take for a numeric field: a number, a `Number`, or a special's name."""


def encode_sfloat(value: Value, exponent: int | None = None) -> int:
    """The 16-bit SFLOAT for `value`; `exponent` fixes the precision (else the shortest exact
    form, rounded to the available digits). ValueError if it cannot be represented."""
    return _encode(value, exponent, 12, 4, _SFLOAT_BY_NAME)


def encode_float(value: Value, exponent: int | None = None) -> int:
    """The 32-bit FLOAT for `value`; see `encode_sfloat`."""
    return _encode(value, exponent, 24, 8, _FLOAT_BY_NAME)


def _encode(
    value: Value, exponent: int | None, mbits: int, ebits: int, specials: dict[str, int]
) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        value = "nan" if math.isnan(value) else ("+inf" if value > 0 else "-inf")
    if isinstance(value, str):
        if value not in specials:
            raise ValueError(f"unknown special value {value!r}; known: {', '.join(specials)}")
        return specials[value]
    # The mantissas next to the specials are avoided at every exponent: some readers treat
    # them as specials regardless of the exponent.
    m_max = (1 << (mbits - 1)) - 3
    e_min, e_max = -(1 << (ebits - 1)), (1 << (ebits - 1)) - 1
    if isinstance(value, Number):
        m, e = value
    else:
        d = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
        if exponent is None:
            d = d.normalize()
            e = max(int(d.as_tuple().exponent), e_min)
        else:
            e = exponent
        m = int(d.scaleb(-e).to_integral_value())
        while abs(m) > m_max and exponent is None and e < e_max:
            e += 1
            m = int(d.scaleb(-e).to_integral_value())
        while e > e_max and abs(m) * 10 <= m_max:
            e -= 1
            m *= 10
    if not (e_min <= e <= e_max and -m_max <= m <= m_max):
        raise ValueError(f"{value!r} does not fit a {mbits + ebits}-bit IEEE-11073 number")
    return ((e & ((1 << ebits) - 1)) << mbits) | (m & ((1 << mbits) - 1))


# Date Time: year u16 (0 = unknown), month (0 = unknown), day (0 = unknown), hour, minute,
# second. No time zone: the hub owns the device-time mapping.
DATE_TIME = struct.Struct("<HBBBBB")
_unpack_dt = DATE_TIME.unpack_from

UNKNOWN: Literal["unknown"] = "unknown"
"""Encoders' stand-in for a Date Time the device sends as 'not known' (zero year/month/day)."""

TimeField = datetime | Literal["unknown"] | None
"""An encoder's time stamp: a time, `UNKNOWN` (sent, but zero), or None (field absent)."""


def decode_date_time(char: str, data: bytes, offset: int) -> datetime | None:
    """The 7-byte Date Time at `offset` (the caller checked the length); None if unknown."""
    year, month, day, hour, minute, second = _unpack_dt(data, offset)
    if year == 0 or month == 0 or day == 0:
        return None
    if year < 1582:
        raise DecodeError(f"{char}: date time at offset {offset}: year {year} before 1582")
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise DecodeError(f"{char}: date time at offset {offset}: {exc}") from None


_DT_FIELDS = ("year", "month", "day", "hour", "minute", "second")
_DT_CLOCK = frozenset(("hour", "minute", "second"))  # zero is a valid hour, minute, second
_DT_LIMITS = (("month", 12), ("day", 31), ("hour", 23), ("minute", 59), ("second", 59))


def date_time_fields(char: str, data: bytes, offset: int) -> dict[str, int]:
    """The fields of a Date Time that are known, by name: a zero year, month or day is left
    out, so a date "unknown year, 14 January, 10:55" keeps what the device knew. Empty when
    all seven bytes are zero (nothing known); DecodeError for a field out of its range."""
    fields = dict(zip(_DT_FIELDS, _unpack_dt(data, offset), strict=True))
    if not any(fields.values()):
        return {}
    for name, high in _DT_LIMITS:
        if fields[name] > high:
            raise DecodeError(f"{char}: date time at offset {offset}: {name} {fields[name]}")
    return {name: value for name, value in fields.items() if value or name in _DT_CLOCK}


def encode_date_time(time: datetime | Literal["unknown"]) -> bytes:
    if isinstance(time, str):
        return bytes(7)
    if not 1582 <= time.year <= 9999:
        raise ValueError(f"date time year {time.year} outside 1582..9999")
    return DATE_TIME.pack(time.year, time.month, time.day, time.hour, time.minute, time.second)
