from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ble.profiles import DecodeError
from hub.ble.profiles.ieee11073 import (
    FLOAT_SPECIALS,
    SFLOAT_SPECIALS,
    UNKNOWN,
    Number,
    date_time_fields,
    decode_date_time,
    decode_float,
    decode_sfloat,
    encode_date_time,
    encode_float,
    encode_sfloat,
)


@pytest.mark.parametrize(
    ("raw", "mantissa", "exponent", "value", "text"),
    [
        (0xF014, 20, -1, 2.0, "2.0"),  # HL7 PHD vectors
        (0xE0C8, 200, -2, 2.0, "2.00"),
        (0x1002, 2, 1, 20.0, "2E+1"),
        (0x0B2E, -1234, 0, -1234.0, "-1234"),
        (0xF16F, 367, -1, 36.7, "36.7"),
        (0x0000, 0, 0, 0.0, "0"),
        (0x8001, 1, -8, 1e-8, "1E-8"),
        (0x77FD, 2045, 7, 2.045e10, "2.045E+10"),
        (0x0FFF, -1, 0, -1.0, "-1"),
    ],
)
def test_sfloat_vectors_keep_value_and_precision(
    raw: int, mantissa: int, exponent: int, value: float, text: str
) -> None:
    n = decode_sfloat(raw)
    assert n == Number(mantissa, exponent)
    assert isinstance(n, Number)
    assert n.value == value
    assert str(n.decimal) == text


def test_hundredths_print_without_binary_noise() -> None:
    n = decode_sfloat(0xE0C8)
    assert isinstance(n, Number)
    assert repr(n.value) == "2.0"
    assert repr(Number(367, -1).value) == "36.7"
    assert repr(Number(-101, -2).value) == "-1.01"


@pytest.mark.parametrize(
    ("raw", "name"),
    [(0x07FF, "nan"), (0x0800, "nres"), (0x07FE, "+inf"), (0x0802, "-inf"), (0x0801, "reserved")],
)
def test_sfloat_specials(raw: int, name: str) -> None:
    assert decode_sfloat(raw) == name
    assert encode_sfloat(name) == raw


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (0x007FFFFF, "nan"),
        (0x00800000, "nres"),
        (0x007FFFFE, "+inf"),
        (0x00800002, "-inf"),
        (0x00800001, "reserved"),
    ],
)
def test_float_specials(raw: int, name: str) -> None:
    assert decode_float(raw) == name
    assert encode_float(name) == raw


def test_specials_only_at_exponent_zero() -> None:
    # mantissa 0x7FF with exponent -1 is the number 204.7, not NaN
    assert decode_sfloat(0xF7FF) == Number(2047, -1)
    assert decode_float(0xFF7FFFFF) == Number(0x7FFFFF, -1)


def test_float_vectors() -> None:
    n = decode_float(0xFF00016F)
    assert n == Number(367, -1)
    assert isinstance(n, Number)
    assert n.value == 36.7
    assert decode_float(0x00FFFFFF) == Number(-1, 0)
    assert decode_float(0x80000001) == Number(1, -128)
    assert decode_float(0x7F000001).value == 1e127  # type: ignore[union-attr]


def test_encode_picks_the_shortest_exact_form_or_the_asked_precision() -> None:
    assert encode_sfloat(2.0) == 0x0002
    assert encode_sfloat(2.0, exponent=-2) == 0xE0C8
    assert encode_sfloat(36.7) == 0xF16F
    assert encode_sfloat(-1234) == 0x0B2E
    assert encode_sfloat(20000) == 0x4002
    assert encode_sfloat(Number(20, -1)) == 0xF014
    assert encode_float(36.7) == 0xFF00016F
    assert encode_sfloat(float("nan")) == 0x07FF
    assert encode_sfloat(float("-inf")) == 0x0802
    # More digits than the mantissa holds: rounded to the nearest representable value.
    assert decode_sfloat(encode_sfloat(3.14159)) == Number(314, -2)


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_sfloat(1e30)
    with pytest.raises(ValueError, match="unknown special"):
        encode_sfloat("infinity")


@given(st.integers(-2045, 2045), st.integers(-8, 7))
def test_sfloat_round_trip(mantissa: int, exponent: int) -> None:
    value = Number(mantissa, exponent).value
    decoded = decode_sfloat(encode_sfloat(value))
    assert isinstance(decoded, Number)
    assert decoded.value == value
    assert decoded.decimal == Decimal(mantissa).scaleb(exponent)
    assert decode_sfloat(encode_sfloat(value, exponent)) == Number(mantissa, exponent)


@given(st.integers(-(2**23) + 3, 2**23 - 3), st.integers(-128, 127))
def test_float_round_trip(mantissa: int, exponent: int) -> None:
    assert decode_float(encode_float(Number(mantissa, exponent))) == Number(mantissa, exponent)


@given(st.integers(0, 0xFFFF))
def test_every_sfloat_decodes(raw: int) -> None:
    n = decode_sfloat(raw)
    assert n in SFLOAT_SPECIALS.values() or isinstance(n, Number)


@given(st.integers(0, 0xFFFFFFFF))
def test_every_float_decodes(raw: int) -> None:
    n = decode_float(raw)
    assert n in FLOAT_SPECIALS.values() or isinstance(n, Number)


def test_date_time() -> None:
    data = bytes.fromhex("DF07010E0A3700")
    assert decode_date_time("c", data, 0) == datetime(2015, 1, 14, 10, 55, 0)
    assert encode_date_time(datetime(2015, 1, 14, 10, 55, 0)) == data
    assert encode_date_time(UNKNOWN) == bytes(7)


@pytest.mark.parametrize("hex_", ["00000000000000", "DF07000E0A3700", "DF070100000000"])
def test_date_time_unknown_year_month_or_day(hex_: str) -> None:
    assert decode_date_time("c", bytes.fromhex(hex_), 0) is None


@pytest.mark.parametrize(
    ("hex_", "fields"),
    [
        ("00000000000000", {}),
        ("0000010E0A3700", {"month": 1, "day": 14, "hour": 10, "minute": 55, "second": 0}),
        ("DF07000E0A3700", {"year": 2015, "day": 14, "hour": 10, "minute": 55, "second": 0}),
        ("00000000173B3B", {"hour": 23, "minute": 59, "second": 59}),
    ],
)
def test_date_time_fields_keep_what_is_known(hex_: str, fields: dict[str, int]) -> None:
    assert date_time_fields("c", bytes.fromhex(hex_), 0) == fields


@pytest.mark.parametrize("hex_", ["00000D0E0A3700", "0000010E180000", "0000010E0A003C"])
def test_date_time_fields_refuse_out_of_range(hex_: str) -> None:
    with pytest.raises(DecodeError, match="date time at offset 0"):
        date_time_fields("c", bytes.fromhex(hex_), 0)


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("DF070D0E0A3700", "month"),  # month 13
        ("DF07021E0A3700", "day"),  # 30 February
        ("DF07010E180000", "hour"),  # hour 24
        ("DF07010E0A3C00", "minute"),  # minute 60
        ("DF07010E0A003C", "second"),  # second 60
        ("E803010E0A0000", "1582"),  # year 1000
    ],
)
def test_date_time_out_of_range_is_a_decode_error(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode_date_time("0x2A35 Blood Pressure Measurement", bytes.fromhex(hex_), 0)
