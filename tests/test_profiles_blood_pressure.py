from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from profile_strategies import date_times, sfloats

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.blood_pressure import (
    BloodPressureFeature,
    decode_feature,
    encode_cuff_pressure,
    encode_feature,
    encode_measurement,
)
from hub.ble.profiles.ieee11073 import UNKNOWN, Number
from hub.model import Code, Kind, Measurement


def values(m: Measurement) -> dict[Code, float | None]:
    return {o.code: o.value for o in m.observations}


def test_beurer_bm54_golden_frame() -> None:
    frame = bytes.fromhex("1E 75 00 4D 00 00 00 DF 07 01 0E 0A 37 00 48 00 01 00 00")
    m = decode(0x2A35, frame)
    assert m.kind is Kind.BLOOD_PRESSURE
    assert values(m) == {
        Code.SYSTOLIC: 117.0,
        Code.DIASTOLIC: 77.0,
        Code.MEAN_ARTERIAL: 0.0,
        Code.HEART_RATE: 72.0,
    }
    assert {o.unit for o in m.observations} == {"mm[Hg]", "/min"}
    assert m.device_time == datetime(2015, 1, 14, 10, 55, 0)
    assert m.details == {"user_id": 1, "status": 0}
    assert m.flags == frozenset()


def test_minimal_measurement_has_no_optional_fields() -> None:
    m = decode(0x2A35, bytes.fromhex("00 78 00 50 00 5D 00"))
    assert values(m) == {Code.SYSTOLIC: 120.0, Code.DIASTOLIC: 80.0, Code.MEAN_ARTERIAL: 93.0}
    assert m.device_time is None and m.details == {} and m.flags == frozenset()


def test_bit0_kpa_is_converted_to_mmhg_and_keeps_the_source_unit() -> None:
    # 16.0 kPa / 10.7 kPa / 12.4 kPa
    m = decode(0x2A35, bytes.fromhex("01 A0 F0 6B F0 7C F0"))
    assert values(m) == {Code.SYSTOLIC: 120.01, Code.DIASTOLIC: 80.26, Code.MEAN_ARTERIAL: 93.01}
    assert all(o.unit == "mm[Hg]" and o.source_unit == "kPa" for o in m.observations)
    # 7.500615758 mm[Hg] per kPa, to the kept precision
    assert values(m)[Code.SYSTOLIC] == round(16.0 * 7.500615758, 2)


def test_bit1_time_stamp_and_unknown_time() -> None:
    stamped = decode(0x2A35, encode_measurement(120, 80, 93, time=datetime(2026, 3, 1, 7, 5, 9)))
    assert stamped.device_time == datetime(2026, 3, 1, 7, 5, 9)
    unknown = decode(0x2A35, encode_measurement(120, 80, 93, time=UNKNOWN))
    assert unknown.device_time is None
    assert unknown.flags == {"time-unknown"}
    assert "time_fields" not in unknown.details  # all seven bytes zero: nothing known


def test_year_zero_keeps_month_day_and_time_in_details() -> None:
    # flags 0x02 (time stamp) | 120/80/93 mmHg | year 0, 21 November, 08:05:09
    m = decode(0x2A35, bytes.fromhex("02 78 00 50 00 5D 00 00 00 0B 15 08 05 09"))
    assert m.device_time is None
    assert m.flags == {"time-unknown"}
    assert m.details["time_fields"] == {"month": 11, "day": 21, "hour": 8, "minute": 5,
                                        "second": 9}  # fmt: skip


def test_bit2_pulse_rate_bit3_user_id() -> None:
    m = decode(0x2A35, bytes.fromhex("0C 78 00 50 00 5D 00 3C 00 FF"))
    assert values(m)[Code.HEART_RATE] == 60.0
    assert m.details == {"user_id": 255}


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        (0x0001, {"body-movement"}),
        (0x0002, {"cuff-too-loose"}),
        (0x0004, {"irregular-pulse"}),
        (0x0008, {"pulse-above-range"}),
        (0x0010, {"pulse-below-range"}),
        (0x0020, {"improper-position"}),
        (0x0025, {"body-movement", "irregular-pulse", "improper-position"}),
        (0x8000, set()),  # reserved status bit: kept raw, not named
    ],
)
def test_bit4_each_status_bit(status: int, flags: set[str]) -> None:
    m = decode(0x2A35, encode_measurement(120, 80, 93, status=status))
    assert m.flags == flags
    assert m.details["status"] == status


def test_reserved_pulse_range_is_refused() -> None:
    with pytest.raises(DecodeError, match="pulse rate range has reserved value 0x3"):
        decode(0x2A35, encode_measurement(120, 80, 93, status=0x18))


@pytest.mark.parametrize("flags", [0x20, 0x40, 0x80])
def test_reserved_flag_bits_are_refused(flags: int) -> None:
    with pytest.raises(DecodeError, match=r"0x2A35 .*reserved bit"):
        decode(0x2A35, bytes([flags]) + bytes.fromhex("78 00 50 00 5D 00"))


def test_special_values_give_no_number_and_a_flag() -> None:
    m = decode(0x2A35, bytes.fromhex("04 78 00 50 00 FF 07 FE 07"))
    mean = next(o for o in m.observations if o.code is Code.MEAN_ARTERIAL)
    pulse = next(o for o in m.observations if o.code is Code.HEART_RATE)
    assert (mean.value, mean.special) == (None, "nan")
    assert (pulse.value, pulse.special) == (None, "+inf")
    assert m.flags == {"mean:nan", "pulse:+inf"}


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("", "empty"),
        ("00 78 00 50", "offset 3: diastolic needs 2"),
        ("02 78 00 50 00 5D 00 DF 07", "offset 7: time stamp needs 7 byte"),
        ("10 78 00 50 00 5D 00 00", "offset 7: measurement status needs 2 byte"),
        ("00 78 00 50 00 5D 00 00", "1 trailing byte"),
    ],
)
def test_truncated_and_trailing_name_the_field(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A35, bytes.fromhex(hex_))


def test_intermediate_cuff_pressure() -> None:
    m = decode(0x2A36, encode_cuff_pressure(152, pulse=70, status=0x01))
    assert m.kind is Kind.CUFF_PRESSURE
    assert values(m) == {Code.CUFF_PRESSURE: 152.0, Code.HEART_RATE: 70.0}
    assert m.flags == {"body-movement"}
    assert bytes.fromhex("FF 07 FF 07") in encode_cuff_pressure(152)  # diastolic, MAP NaN
    kpa = decode(0x2A36, encode_cuff_pressure(Number(200, -1), kpa=True))
    assert values(kpa) == {Code.CUFF_PRESSURE: 150.01}


def test_feature_bits() -> None:
    f = decode(0x2A49, bytes.fromhex("3F 00"))
    assert f == BloodPressureFeature.of(0x3F)
    assert f.supported == {
        "body-movement-detection",
        "cuff-fit-detection",
        "irregular-pulse-detection",
        "pulse-rate-range-detection",
        "measurement-position-detection",
        "multiple-bond",
    }
    assert decode(0x2A49, bytes.fromhex("04 01")).supported == {"irregular-pulse-detection"}
    with pytest.raises(DecodeError, match="0x2A49"):
        decode_feature(b"\x01")


@given(st.integers(0, 0xFFFF))
def test_feature_round_trip(bits: int) -> None:
    f = BloodPressureFeature.of(bits)
    assert decode_feature(encode_feature(f)) == f


@given(
    sfloats(),
    sfloats(),
    sfloats(),
    st.booleans(),
    st.none() | date_times(),
    st.none() | sfloats(),
    st.none() | st.integers(0, 255),
    st.none() | st.integers(0, 0xFFFF).filter(lambda s: s & 0x18 != 0x18),
    st.booleans(),
)
def test_round_trip(
    systolic: Number | str,
    diastolic: Number | str,
    mean: Number | str,
    kpa: bool,
    time: datetime | None,
    pulse: Number | str | None,
    user_id: int | None,
    status: int | None,
    cuff: bool,
) -> None:
    options = {"kpa": kpa, "time": time, "pulse": pulse, "user_id": user_id, "status": status}
    if cuff:
        m = decode(0x2A36, encode_cuff_pressure(systolic, **options))  # type: ignore[arg-type]
        sent = [(Code.CUFF_PRESSURE, systolic)]
    else:
        m = decode(0x2A35, encode_measurement(systolic, diastolic, mean, **options))  # type: ignore[arg-type]
        sent = [(Code.SYSTOLIC, systolic), (Code.DIASTOLIC, diastolic), (Code.MEAN_ARTERIAL, mean)]
    if pulse is not None:
        sent.append((Code.HEART_RATE, pulse))
    assert [o.code for o in m.observations] == [code for code, _ in sent]
    for obs, (code, value) in zip(m.observations, sent, strict=True):
        if isinstance(value, str):
            assert (obs.value, obs.special) == (None, value)
        elif kpa and code is not Code.HEART_RATE:
            # rounded to one more decimal than the device sent
            step = 10.0 ** -(max(0, -value.exponent) + 1)
            assert obs.value == pytest.approx(value.value * 7.500615758, abs=step / 2 + 1e-6)
            assert obs.source_unit == "kPa"
        else:
            assert obs.value == value.value
    assert m.device_time == time
    assert m.details.get("user_id") == user_id
    assert m.details.get("status") == status
