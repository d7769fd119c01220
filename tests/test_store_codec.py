import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.model import CODES, Code, Kind, Observation, Reading
from hub.store.codec import (
    CodecError,
    decode_reading,
    decode_value,
    encode_reading,
    encode_value,
)

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1)
) | st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=offsets | st.just(UTC)
)
text = st.text(max_size=12)
floats = st.floats(allow_nan=False)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | floats
    | text
    | st.binary(max_size=8)
    | datetimes
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.lists(floats, min_size=1, max_size=6)
        | st.lists(floats, min_size=1, max_size=6).map(tuple)
        | st.dictionaries(text, inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    code = draw(st.sampled_from(list(Code)))
    unit = draw(st.just(CODES[code].unit) | text)
    source = draw(st.none() | text)
    if draw(st.booleans()):
        return Observation(code, draw(floats), unit, source)
    return Observation(code, None, unit, source, draw(st.sampled_from(["nan", "nres", "+inf"])))


readings = st.builds(
    Reading,
    id=st.uuids().map(str),
    device=text,
    kind=st.sampled_from(list(Kind)),
    device_time=st.none() | datetimes,
    received=datetimes,
    observations=st.lists(observations(), max_size=5).map(tuple),
    flags=st.frozensets(text, max_size=3),
    details=st.dictionaries(text, values, max_size=4),
)


@settings(max_examples=300)
@given(readings)
def test_reading_round_trips(r: Reading) -> None:
    data = encode_reading(r)
    back = decode_reading(data, id=r.id, device=r.device, kind=r.kind)
    assert back == r
    assert back.received.utcoffset() == r.received.utcoffset()
    assert encode_reading(back) == data


@settings(max_examples=300)
@given(values)
def test_value_round_trips_keeping_tuples_apart_from_lists(value: object) -> None:
    assert decode_value(encode_value(value)) == value
    assert type(decode_value(encode_value(value))) is type(value)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_garbage_never_raises_anything_but_codec_error(data: bytes) -> None:
    for decode in (
        decode_value,
        lambda d: decode_reading(d, id="x", device="d", kind=Kind.WEIGHT),
    ):
        with contextlib.suppress(CodecError):
            decode(data)


@settings(max_examples=200)
@given(readings, st.data())
def test_truncated_or_extended_encodings_are_refused(r: Reading, data: st.DataObject) -> None:
    encoded = encode_reading(r)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(CodecError):
        decode_reading(encoded[:cut], id=r.id, device=r.device, kind=r.kind)
    with pytest.raises(CodecError):
        decode_reading(encoded + b"\x00", id=r.id, device=r.device, kind=r.kind)


def test_every_code_has_a_tag_and_a_canonical_unit_costs_no_bytes() -> None:
    base = Reading("i", "d", Kind.SUMMARY, None, datetime(2026, 1, 1, tzinfo=UTC), ())
    sizes = set()
    for code in Code:
        obs = Observation(code, 1.0, CODES[code].unit)
        r = Reading(base.id, base.device, base.kind, None, base.received, (obs,))
        sizes.add(len(encode_reading(r)))
    assert sizes == {len(encode_reading(base)) + 10}  # tag, flags, 8-byte double


@pytest.mark.parametrize(
    "bad",
    [{"x": object()}, {"x": 2**64}, {"x": {1: 2}}, {"x": "\ud800"}],
    ids=["object", "huge-int", "non-str-key", "surrogate"],
)
def test_values_the_codec_cannot_hold_are_refused(bad: dict[str, object]) -> None:
    r = Reading("i", "d", Kind.SUMMARY, None, datetime(2026, 1, 1, tzinfo=UTC), (), details=bad)
    with pytest.raises(CodecError):
        encode_reading(r)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(CodecError, match="version"):
        decode_value(b"\x09\x00")


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(CodecError, match="nested"):
        encode_value(deep)
    with pytest.raises(CodecError):
        decode_value(bytes([1]) + bytes([7, 1]) * 40 + bytes([0]))
