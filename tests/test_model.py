from datetime import UTC, datetime

import pytest

from hub.model import CODES, Code, Kind, Measurement, Observation, Reading, canonical_unit


def test_code_table_units_are_ucum() -> None:
    assert canonical_unit(Code.SYSTOLIC) == "mm[Hg]"
    assert canonical_unit(Code.HEART_RATE) == "/min"
    assert canonical_unit(Code.SPO2) == "%"
    assert canonical_unit(Code.BODY_TEMPERATURE) == "Cel"
    assert canonical_unit(Code.BODY_WEIGHT) == "kg"
    assert canonical_unit(Code.GLUCOSE_MOLES) == "mmol/L"
    assert canonical_unit(Code.GLUCOSE_MASS) == "mg/dL"
    assert canonical_unit(Code.RESPIRATORY_RATE) == "/min"
    assert set(CODES) == set(Code)
    assert Code.BP_PANEL.value == "85354-9"


def test_observation_is_a_number_or_a_special_never_both() -> None:
    with pytest.raises(ValueError):
        Observation(Code.SPO2, None, "%")
    with pytest.raises(ValueError):
        Observation(Code.SPO2, 97.0, "%", special="nan")
    assert Observation(Code.SPO2, None, "%", special="nres").value is None


def test_reading_of_measurement_keeps_everything() -> None:
    m = Measurement(
        Kind.HEART_RATE,
        None,
        (Observation(Code.HEART_RATE, 61.0, "/min"),),
        frozenset({"contact"}),
        {"rr_ms": (800.0,)},
    )
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    r = Reading.of(m, id="x", device="C0:11:22:33:44:55", received=now)
    assert (r.kind, r.received, r.flags, r.details["rr_ms"]) == (
        Kind.HEART_RATE,
        now,
        frozenset({"contact"}),
        (800.0,),
    )
    assert (r.id, r.device, r.device_time, r.observations) == (
        "x",
        "C0:11:22:33:44:55",
        None,
        m.observations,
    )
    assert r.value_of(Code.HEART_RATE) == 61.0
    assert r.value_of(Code.SPO2) is None
