from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from profile_strategies import date_times, floats32

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.ieee11073 import UNKNOWN, Number
from hub.ble.profiles.thermometer import TYPES, encode_measurement
from hub.model import Code, Kind


def test_celsius_with_time_stamp_and_type() -> None:
    m = decode(0x2A1C, bytes.fromhex("06 6F 01 00 FF DF 07 01 0E 0A 37 00 02"))
    assert m.kind is Kind.TEMPERATURE
    o = m.observations[0]
    assert (o.code, o.value, o.unit, o.source_unit) == (Code.BODY_TEMPERATURE, 36.7, "Cel", None)
    assert m.device_time == datetime(2015, 1, 14, 10, 55)
    assert m.details == {"temperature_type": "body"}


def test_bit0_fahrenheit_is_converted() -> None:
    m = decode(0x2A1C, bytes.fromhex("01 DA 03 00 FF"))  # 98.6 °F
    o = m.observations[0]
    assert (o.value, o.unit, o.source_unit) == (37.0, "Cel", "[degF]")
    assert (
        decode(0x2A1C, encode_measurement(Number(1004, -1), fahrenheit=True)).observations[0].value
        == 38.0
    )


@pytest.mark.parametrize("code", range(1, 10))
def test_bit2_each_temperature_type(code: int) -> None:
    m = decode(0x2A1E, bytes.fromhex("04 6F 01 00 FF") + bytes([code]))
    assert m.kind is Kind.INTERMEDIATE_TEMPERATURE
    assert m.details["temperature_type"] == TYPES[code]


@pytest.mark.parametrize("code", [0, 10, 255])
def test_reserved_temperature_type(code: int) -> None:
    with pytest.raises(DecodeError, match=r"temperature type .*reserved"):
        decode(0x2A1C, bytes.fromhex("04 6F 01 00 FF") + bytes([code]))


def test_unknown_time_and_special_value() -> None:
    m = decode(0x2A1C, encode_measurement("nan", time=UNKNOWN))
    assert m.observations[0].special == "nan"
    assert m.flags == {"temperature:nan", "time-unknown"}


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("", "empty"),
        ("00 6F 01 00", "offset 1: temperature needs 4"),
        ("02 6F 01 00 FF DF 07", "offset 5: time stamp needs 7"),
        ("04 6F 01 00 FF", "offset 5: temperature type needs 1"),
        ("00 6F 01 00 FF 00", "trailing"),
        ("08 6F 01 00 FF", "reserved bit"),
    ],
)
def test_malformed(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A1C, bytes.fromhex(hex_))


@given(
    floats32(),
    st.booleans(),
    st.none() | date_times(),
    st.none() | st.sampled_from(TYPES[1:]),
    st.sampled_from([0x2A1C, 0x2A1E]),
)
def test_round_trip(
    value: Number | str, fahrenheit: bool, time: datetime | None, type_: str | None, uuid: int
) -> None:
    m = decode(
        uuid, encode_measurement(value, fahrenheit=fahrenheit, time=time, temperature_type=type_)
    )
    o = m.observations[0]
    if isinstance(value, str):
        assert (o.value, o.special) == (None, value)
    elif fahrenheit:
        step = 10.0 ** -(max(0, -value.exponent) + 2)
        assert o.value == pytest.approx((value.value - 32) * 5 / 9, abs=step / 2, rel=1e-12)
    else:
        assert o.value == value.value
    assert m.device_time == time
    assert m.details.get("temperature_type") == type_
