from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from profile_strategies import date_times, sfloats

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.glucose import (
    CARBOHYDRATES,
    HEALTH,
    MEALS,
    MEDICATIONS,
    SAMPLE_LOCATIONS,
    SAMPLE_TYPES,
    SENSOR_STATUS_NAMES,
    TESTERS,
    GlucoseContext,
    GlucoseFeature,
    decode_context,
    encode_context,
    encode_feature,
    encode_measurement,
)
from hub.ble.profiles.ieee11073 import Number
from hub.model import Code, Kind

BASE = "DF 07 01 0E 0A 37 00"  # 2015-01-14 10:55:00


def test_kg_per_l_to_mg_per_dl_type_low_nibble_location_high_nibble() -> None:
    # flags 0x02, seq 1, base time, 0.00092 kg/L (SFLOAT 0xB05C = 92e-5), type 1, location 1
    m = decode(0x2A18, bytes.fromhex(f"02 01 00 {BASE} 5C B0 11"))
    assert m.kind is Kind.GLUCOSE
    o = m.observations[0]
    assert (o.code, o.value, o.unit, o.source_unit) == (Code.GLUCOSE_MASS, 92.0, "mg/dL", "kg/L")
    assert m.device_time == datetime(2015, 1, 14, 10, 55)
    assert m.details == {
        "sequence": 1,
        "sample_type": "capillary-whole-blood",
        "sample_location": "finger",
        "context_follows": False,
    }
    swapped = decode(0x2A18, bytes.fromhex(f"02 01 00 {BASE} 5C B0 2A"))
    assert (swapped.details["sample_type"], swapped.details["sample_location"]) == (
        "control-solution",  # low nibble 0xA
        "alternate-site",  # high nibble 0x2
    )


def test_bit2_mol_per_l_to_mmol_per_l() -> None:
    # 0.0055 mol/L = 55e-4: SFLOAT 0xC037
    m = decode(0x2A18, bytes.fromhex(f"06 02 00 {BASE} 37 C0 11"))
    o = m.observations[0]
    assert (o.code, o.value, o.unit, o.source_unit) == (Code.GLUCOSE_MOLES, 5.5, "mmol/L", "mol/L")


def test_bit0_time_offset_is_added_to_base_time() -> None:
    m = decode(0x2A18, bytes.fromhex(f"01 05 00 {BASE} C4 FF"))  # -60 minutes
    assert m.device_time == datetime(2015, 1, 14, 9, 55)
    assert m.details["time_offset_min"] == -60
    assert m.observations == ()


@pytest.mark.parametrize("bit", range(12))
def test_bit3_each_sensor_status_bit(bit: int) -> None:
    m = decode(0x2A18, encode_measurement(7, datetime(2026, 1, 1), sensor_status=1 << bit))
    assert m.flags == {SENSOR_STATUS_NAMES[bit]}
    assert m.details["sensor_status"] == 1 << bit


def test_bit4_context_follows_and_unknown_base_time() -> None:
    m = decode(0x2A18, encode_measurement(9, None, context_follows=True))
    assert m.details["context_follows"] is True
    assert m.device_time is None and m.flags == {"time-unknown"}


@pytest.mark.parametrize(
    ("type_location", "match"),
    [
        (0x10, "sample type"),
        (0x1B, "sample type"),
        (0x01, "sample location"),
        (0x51, "sample location"),
    ],
)
def test_reserved_type_and_location(type_location: int, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A18, bytes.fromhex(f"02 01 00 {BASE} 5C B0") + bytes([type_location]))


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("00 01", "offset 1: sequence number needs 2"),
        (f"01 01 00 {BASE}", "offset 10: time offset needs 2"),
        (f"02 01 00 {BASE} 5C B0", "offset 12: type and sample location needs 1"),
        (f"00 01 00 {BASE} 00", "trailing"),
        (f"20 01 00 {BASE}", "reserved bit"),
    ],
)
def test_malformed(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A18, bytes.fromhex(hex_))


def test_context_every_flag_bit() -> None:
    frame = bytes.fromhex(
        "FF 07 00"  # flags: all, sequence 7
        " 00"  # bit7 extended flags
        " 01 32 D0"  # bit0 breakfast, 0.050 kg (50e-3)
        " 02"  # bit1 postprandial
        " 51"  # bit2 tester self (low nibble), health no issues (high nibble)
        " 08 07 32"  # bit3 1800 s at 50 %
        " 01 05 D0"  # bit4 rapid acting insulin, 0.005 L (bit5: litres)
        " 41 F0"  # bit6 HbA1c 6.5 %
    )
    assert decode(0x2A34, frame) == GlucoseContext(
        sequence=7,
        extended_flags=0,
        carbohydrate="breakfast",
        carbohydrate_kg=0.05,
        meal="postprandial",
        tester="self",
        health="no-health-issues",
        exercise_duration_s=1800,
        exercise_intensity_pct=50,
        medication="rapid-acting-insulin",
        medication_amount=0.005,
        medication_unit="L",
        hba1c_pct=6.5,
    )
    assert decode(0x2A34, bytes.fromhex("10 07 00 01 05 D0")).medication_unit == "kg"
    assert decode(0x2A34, bytes.fromhex("00 07 00")) == GlucoseContext(sequence=7)


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("01 07 00 08 32 D0", "carbohydrate id .*reserved value 0x8"),
        ("02 07 00 06", "meal .*reserved value 0x6"),
        ("04 07 00 54", "tester .*reserved value 0x4"),
        ("04 07 00 61", "health .*reserved value 0x6"),
        ("10 07 00 06 05 D0", "medication id .*reserved value 0x6"),
        ("20 07 00", "medication unit without medication"),
        ("40 07 00 41", "offset 3: HbA1c needs 2"),
    ],
)
def test_context_malformed(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A34, bytes.fromhex(hex_))


def test_context_special_values() -> None:
    ctx = decode(0x2A34, bytes.fromhex("40 07 00 FF 07"))
    assert ctx.hba1c_pct is None and ctx.specials == {"hba1c:nan"}
    assert decode_context(encode_context(ctx)) == ctx


def test_feature() -> None:
    f = decode(0x2A51, bytes.fromhex("FF 07"))
    assert f == GlucoseFeature.of(0x07FF)
    assert f.supported == {n for n in GlucoseFeature.NAMES if n}
    assert decode(0x2A51, bytes.fromhex("00 02")).supported == {"time-fault"}


@given(st.integers(0, 0xFFFF))
def test_feature_round_trip(bits: int) -> None:
    f = GlucoseFeature.of(bits)
    assert decode(0x2A51, encode_feature(f)) == f


@given(
    st.integers(0, 0xFFFF),
    st.none() | date_times(),
    st.none() | st.integers(-32768, 32767),
    st.none() | sfloats(),
    st.booleans(),
    st.sampled_from(SAMPLE_TYPES[1:]),
    st.sampled_from(list(SAMPLE_LOCATIONS.values())),
    st.none() | st.integers(0, 0xFFFF),
    st.booleans(),
)
def test_measurement_round_trip(
    sequence: int,
    base: datetime | None,
    offset: int | None,
    concentration: Number | str | None,
    mol: bool,
    sample_type: str,
    location: str,
    status: int | None,
    context: bool,
) -> None:
    frame = encode_measurement(
        sequence,
        base,
        time_offset_min=offset,
        concentration=concentration,
        mol_per_l=mol,
        sample_type=sample_type,
        sample_location=location,
        sensor_status=status,
        context_follows=context,
    )
    try:
        expected_time = None if base is None else base + timedelta(minutes=offset or 0)
    except OverflowError:
        return  # offset pushes the time past year 9999: not representable in Python
    m = decode(0x2A18, frame)
    assert m.device_time == expected_time
    assert m.details["sequence"] == sequence
    assert m.details.get("time_offset_min") == offset
    assert m.details.get("sensor_status") == status
    assert m.details["context_follows"] is context
    if concentration is None:
        assert m.observations == ()
        return
    o = m.observations[0]
    assert o.code is (Code.GLUCOSE_MOLES if mol else Code.GLUCOSE_MASS)
    if isinstance(concentration, str):
        assert (o.value, o.special) == (None, concentration)
    else:
        factor = 1000 if mol else 100000
        assert o.value == Number(concentration.mantissa * factor, concentration.exponent).value
    assert (m.details["sample_type"], m.details["sample_location"]) == (sample_type, location)


def _optional(strategy: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.none() | strategy


@st.composite
def contexts(draw: st.DrawFn) -> GlucoseContext:
    amounts = sfloats(specials=False).map(lambda n: n.value)
    carbohydrate = draw(_optional(st.sampled_from(CARBOHYDRATES[1:])))
    medication = draw(_optional(st.sampled_from(MEDICATIONS[1:])))
    tester_health = draw(
        _optional(
            st.tuples(
                st.sampled_from(list(TESTERS.values())), st.sampled_from(list(HEALTH.values()))
            )
        )
    )
    exercise = draw(_optional(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 255))))
    return GlucoseContext(
        sequence=draw(st.integers(0, 0xFFFF)),
        extended_flags=draw(_optional(st.integers(0, 255))),
        carbohydrate=carbohydrate,
        carbohydrate_kg=None if carbohydrate is None else draw(amounts),
        meal=draw(_optional(st.sampled_from(MEALS[1:]))),
        tester=tester_health and tester_health[0],
        health=tester_health and tester_health[1],
        exercise_duration_s=exercise and exercise[0],
        exercise_intensity_pct=exercise and exercise[1],
        medication=medication,
        medication_amount=None if medication is None else draw(amounts),
        medication_unit=None if medication is None else draw(st.sampled_from(["kg", "L"])),
        hba1c_pct=draw(_optional(amounts)),
    )


@given(contexts())
def test_context_round_trip(ctx: GlucoseContext) -> None:
    assert decode_context(encode_context(ctx)) == ctx
