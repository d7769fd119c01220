import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ids import IdMinter, ReadingIds, record_key, stable_id, uuid7_from, uuid7_time_ms
from hub.model import Code, Kind, Measurement, Observation

CUFF = "C0:00:00:00:00:01"


@given(st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 12) - 1), st.integers(0, (1 << 62) - 1))
def test_uuid7_layout(ms: int, a: int, b: int) -> None:
    u = uuid7_from(ms, a, b)
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    assert uuid7_time_ms(u) == ms


def test_ids_strictly_increase_even_within_one_millisecond() -> None:
    ids = ReadingIds()
    made = [ids.new() for _ in range(20_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


SECRET = bytes(range(32))
RECEIVED = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _bp(minute: int | None, systolic: float = 120.0, sequence: int | None = None) -> Measurement:
    time = None if minute is None else datetime(2026, 1, 1, 8, minute)
    details = {} if sequence is None else {"sequence": sequence}
    obs = (Observation(Code.SYSTOLIC, systolic, "mm[Hg]"),)
    return Measurement(Kind.BLOOD_PRESSURE, time, obs, details=details)


def test_a_record_sent_again_gets_the_id_it_had_even_from_a_new_minter() -> None:
    first = IdMinter(SECRET).for_measurement(CUFF, _bp(1), RECEIVED)
    again = IdMinter(SECRET).for_measurement(CUFF, _bp(1), RECEIVED.replace(hour=10))
    assert again == first  # a restart (a new minter) and a later receive time change nothing
    assert uuid7_time_ms(first) == int(datetime(2026, 1, 1, 8, 1, tzinfo=UTC).timestamp() * 1000)
    minter = IdMinter(SECRET)
    assert minter.for_measurement(CUFF, _bp(1, systolic=121.0), RECEIVED) != first
    assert minter.for_measurement("C0:00:00:00:00:09", _bp(1), RECEIVED) != first
    assert IdMinter(bytes(32)).for_measurement(CUFF, _bp(1), RECEIVED) != first  # keyed
    by_sequence = minter.for_measurement(CUFF, _bp(None, sequence=7), RECEIVED)
    assert by_sequence == minter.for_measurement(CUFF, _bp(None, sequence=7), RECEIVED)


def test_live_samples_without_time_or_sequence_always_get_fresh_ids() -> None:
    minter = IdMinter(SECRET)
    assert record_key(_bp(None)) is None
    live = [minter.for_measurement(CUFF, _bp(None), RECEIVED) for _ in range(3)]
    assert len(set(live)) == 3
    assert live == sorted(live)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)), st.binary())
def test_stable_ids_are_canonical_uuid7_sorting_by_time(when: datetime, key: bytes) -> None:
    aware = when.replace(tzinfo=UTC)
    made = uuid.UUID(stable_id(SECRET, CUFF, key, aware))
    assert made.version == 7
    assert str(made) == stable_id(SECRET, CUFF, key, aware)
    assert uuid7_time_ms(made) == int(aware.timestamp() * 1000)


def test_period_ids_are_one_per_device_kind_code_and_start() -> None:
    minter = IdMinter(SECRET)
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    summary = minter.for_period(CUFF, Kind.SUMMARY, Code.SPO2, start)
    assert summary == IdMinter(SECRET).for_period(CUFF, Kind.SUMMARY, Code.SPO2, start)
    others = {
        minter.for_period(CUFF, Kind.STREAM_BLOCK, Code.SPO2, start),
        minter.for_period(CUFF, Kind.SUMMARY, Code.HEART_RATE, start),
        minter.for_period(CUFF, Kind.SUMMARY, Code.SPO2, start.replace(minute=1)),
    }
    assert summary not in others and len(others) == 3


def test_a_secret_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        IdMinter(b"short")
