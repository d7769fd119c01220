from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from profile_strategies import date_times

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.ieee11073 import UNKNOWN
from hub.ble.profiles.weight import (
    WeightScaleFeature,
    decode_feature,
    encode_feature,
    encode_measurement,
)
from hub.model import Code, Kind, Measurement


def values(m: Measurement) -> dict[Code, float | None]:
    return {o.code: o.value for o in m.observations}


def test_si_weight() -> None:
    m = decode(0x2A9D, bytes.fromhex("00 B0 36"))  # 14000 × 0.005 kg
    assert m.kind is Kind.WEIGHT
    assert values(m) == {Code.BODY_WEIGHT: 70.0}
    assert m.observations[0].unit == "kg" and m.observations[0].source_unit is None


def test_bit0_imperial_weight_and_height() -> None:
    # 154.32 lb, BMI 22.6, height 69.5 in
    m = decode(0x2A9D, bytes.fromhex("09 48 3C E2 00 B7 02"))
    assert values(m) == {Code.BODY_WEIGHT: 69.9984, Code.BMI: 22.6, Code.BODY_HEIGHT: 1.7653}
    assert [o.source_unit for o in m.observations] == ["[lb_av]", None, "[in_i]"]
    assert [o.unit for o in m.observations] == ["kg", "kg/m2", "m"]


def test_bit1_time_bit2_user_bit3_bmi_height_si() -> None:
    m = decode(0x2A9D, bytes.fromhex("0E B0 36 EA 07 0B 15 07 00 00 03 E2 00 B2 06"))
    assert m.device_time == datetime(2026, 11, 21, 7, 0, 0)
    assert m.details == {"user_id": 3}
    assert values(m) == {Code.BODY_WEIGHT: 70.0, Code.BMI: 22.6, Code.BODY_HEIGHT: 1.714}


def test_unsuccessful_measurement() -> None:
    m = decode(0x2A9D, bytes.fromhex("00 FF FF"))
    assert m.observations == ()
    assert m.flags == {"measurement-unsuccessful"}


def test_unknown_time() -> None:
    assert decode(0x2A9D, encode_measurement(70.0, time=UNKNOWN)).flags == {"time-unknown"}


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("00 B0", "offset 1: weight needs 2"),
        ("04 B0 36", "offset 3: user id needs 1"),
        ("08 B0 36 E2 00 B2", "offset 5: height needs 2"),
        ("00 B0 36 00", "trailing"),
        ("10 B0 36", "reserved bit"),
    ],
)
def test_malformed(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A9D, bytes.fromhex(hex_))


def test_feature() -> None:
    # time stamp, multiple users, BMI; weight resolution 7 (0.005 kg), height resolution 3
    bits = 0b111 | 7 << 3 | 3 << 7
    f = decode(0x2A9E, bits.to_bytes(4, "little"))
    assert f.supported == {"time-stamp", "multiple-users", "bmi"}
    assert f.weight_resolution == (0.005, 0.01)
    assert f.height_resolution == (0.001, 0.1)
    reserved = decode(0x2A9E, (15 << 3 | 7 << 7).to_bytes(4, "little"))
    assert (reserved.weight_resolution, reserved.height_resolution) == (None, None)
    with pytest.raises(DecodeError, match="features needs 4"):
        decode(0x2A9E, b"\x00\x00")


@given(st.integers(0, 0xFFFFFFFF))
def test_feature_round_trip(bits: int) -> None:
    f = decode_feature(bits.to_bytes(4, "little"))
    assert isinstance(f, WeightScaleFeature)
    assert decode_feature(encode_feature(f)) == f


@given(
    st.none() | st.integers(0, 0xFFFE),
    st.booleans(),
    st.none() | date_times(),
    st.none() | st.integers(0, 255),
    st.none() | st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
)
def test_round_trip(
    weight: int | None,
    imperial: bool,
    time: datetime | None,
    user: int | None,
    bmi_height: tuple[int, int] | None,
) -> None:
    """Raw field values in, exact engineering values out."""
    step = 0.01 if imperial else 0.005
    bmi, height = (None, None) if bmi_height is None else bmi_height
    frame = encode_measurement(
        None if weight is None else weight * step,
        imperial=imperial,
        time=time,
        user_id=user,
        bmi=None if bmi is None else bmi / 10,
        height=None if height is None else height * (0.1 if imperial else 0.001),
    )
    m = decode(0x2A9D, frame)
    got = values(m)
    if weight is None:
        assert "measurement-unsuccessful" in m.flags and Code.BODY_WEIGHT not in got
    elif imperial:
        assert got[Code.BODY_WEIGHT] == pytest.approx(weight * 0.0045359237, abs=5e-5)
    else:
        assert got[Code.BODY_WEIGHT] == weight * 5 / 1000
    if bmi is not None and height is not None:
        assert got[Code.BMI] == bmi / 10
        expected = height * 0.00254 if imperial else height / 1000
        assert got[Code.BODY_HEIGHT] == pytest.approx(expected, abs=5e-5)
    assert m.device_time == time
    assert m.details.get("user_id") == user
