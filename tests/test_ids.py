import uuid

from hypothesis import given
from hypothesis import strategies as st

from hub.ids import ReadingIds, uuid7_from, uuid7_time_ms


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
