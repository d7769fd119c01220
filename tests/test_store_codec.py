import contextlib
import dataclasses
import math
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.model import CODES, Code, Kind, Observation, Reading, SampleBlock
from hub.store import codec
from hub.store import values as tagged
from hub.store.codec import CodecError, decode_reading, encode_reading
from hub.store.disk import DiskClass, disk_class
from hub.store.values import decode_value, encode_value

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


sample_blocks = st.builds(
    SampleBlock,
    code=st.sampled_from(list(Code)),
    start=datetimes,
    period_s=st.floats(min_value=1e-3, max_value=1e4),
    values=st.binary(max_size=64).map(lambda b: b[: len(b) - len(b) % 4]),
)
plain_readings = st.builds(
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
readings = st.builds(dataclasses.replace, plain_readings, samples=st.none() | sample_blocks)


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
@given(readings, st.sampled_from(["v2", "v1"]), st.data())
def test_truncated_or_extended_encodings_are_refused(
    r: Reading, version: str, data: st.DataObject
) -> None:
    encoded = (
        encode_reading(r) if version == "v2" else _encode_v1(dataclasses.replace(r, samples=None))
    )
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


# Written by the version 1 encoder (before version 2 existed): rows stored then must still open.
_V1_FULL = bytes.fromhex(
    "0102f4a2b3a9e2b0b00680909de91a01808dbfa7e2b0b0060402070000000000405e40036b506103020"
    "46e72657305030000000000c04e4008010000000000905140075b6c625f61765d020a637566662d6c6f"
    "6f73650f6972726567756c61722d70756c73650906056c6576656c050679656c6c6f770a636c6f636b"
    "5f73796e63050673796e6365640272720b02ec51b81e85ebe93f48e17a14ae47e93f016e03050261740c"
    "02808082e288d2a30600017807030002060101"
)
_V1_SMALL = bytes.fromhex(
    "010280e0dca2e2b0b00600000105030000000000804b40000901056c6576656c0505677265656e"
)


def test_version_1_bodies_still_decode() -> None:
    full = decode_reading(_V1_FULL, id="i", device="C0:11", kind=Kind.BLOOD_PRESSURE)
    assert full.received == datetime(2026, 11, 21, 6, 0, 7, 250, tzinfo=UTC)
    assert full.received.utcoffset() == timedelta(hours=1)
    assert full.device_time == datetime(2026, 11, 21, 6, 0, 5)
    assert full.observations == (
        Observation(Code.SYSTOLIC, 121.0, "mm[Hg]", "kPa"),
        Observation(Code.DIASTOLIC, None, "mm[Hg]", special="nres"),
        Observation(Code.HEART_RATE, 61.5, "/min"),
        Observation(Code.BODY_WEIGHT, 70.25, "[lb_av]"),
    )
    assert full.flags == {"irregular-pulse", "cuff-loose"}
    assert full.details == {
        "level": "yellow",
        "clock_sync": "synced",
        "rr": (0.81, 0.79),
        "n": -3,
        "at": datetime(2026, 1, 1, tzinfo=UTC),
        "x": [None, True, b"\x01"],
    }
    small = decode_reading(_V1_SMALL, id="j", device="d", kind=Kind.HEART_RATE)
    assert small == Reading(
        "j", "d", Kind.HEART_RATE, None, datetime(2026, 11, 21, 6, tzinfo=UTC),
        (Observation(Code.HEART_RATE, 55.0, "/min"),), details={"level": "green"},
    )  # fmt: skip
    # Re-encoding writes the current version; the reading is the same.
    assert encode_reading(full)[0] == codec.VERSION == 2
    again = encode_reading(full)
    assert decode_reading(again, id="i", device="C0:11", kind=Kind.BLOOD_PRESSURE) == full


def _encode_v1(r: Reading) -> bytes:
    """The version 1 layout: varint times, observation count, observations, flag count."""
    out = bytearray((1,))
    tagged.put_datetime(out, r.received)
    if r.device_time is None:
        out.append(0)
    else:
        tagged.put_datetime(out, r.device_time)
    tagged.put_uint(out, len(r.observations))
    for obs in r.observations:
        codec._put_observation(out, obs)
    tagged.put_uint(out, len(r.flags))
    for flag in sorted(r.flags):
        tagged.put_str(out, flag)
    tagged.put_value(out, dict(r.details), 0)
    return bytes(out)


@settings(max_examples=200)
@given(plain_readings)
def test_version_1_and_2_decode_to_the_same_reading(r: Reading) -> None:
    v1, v2 = _encode_v1(r), encode_reading(r)
    assert v1[0] == 1 and v2[0] == 2
    back1 = decode_reading(v1, id=r.id, device=r.device, kind=r.kind)
    back2 = decode_reading(v2, id=r.id, device=r.device, kind=r.kind)
    assert back1 == back2 == r
    assert back1.received.utcoffset() == back2.received.utcoffset() == r.received.utcoffset()


@settings(max_examples=300)
@given(st.binary(max_size=120), st.sampled_from([1, 2, 3]))
def test_garbage_after_any_version_byte_is_a_codec_error(data: bytes, version: int) -> None:
    with contextlib.suppress(CodecError):
        decode_reading(bytes([version]) + data, id="x", device="d", kind=Kind.WEIGHT)


def test_a_reading_without_a_receive_time_cannot_be_encoded() -> None:
    r = Reading("i", "d", Kind.SUMMARY, None, None, ())  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="receive time"):
        encode_reading(r)


def test_remembered_observations_keep_negative_zero_apart() -> None:
    def decoded(value: float) -> Observation:
        r = Reading("i", "d", Kind.HEART_RATE, None, datetime(2026, 1, 1, tzinfo=UTC),
                    (Observation(Code.HEART_RATE, value, "/min"),))  # fmt: skip
        return decode_reading(encode_reading(r), id="i", device="d", kind=r.kind).observations[0]

    signs = [math.copysign(1.0, decoded(v).value) for v in (0.0, -0.0, 0.0)]  # type: ignore[arg-type]
    assert signs == [1.0, -1.0, 1.0]
    assert decoded(62.0) == Observation(Code.HEART_RATE, 62.0, "/min")


def test_remembered_details_come_back_as_a_fresh_dict_each_time() -> None:
    def reading(details: dict[str, object]) -> Reading:
        return Reading("i", "d", Kind.SUMMARY, None, datetime(2026, 1, 1, tzinfo=UTC), (),
                       details=details)  # fmt: skip

    flat = encode_reading(reading({"level": "green", "clock_sync": "synced", "n": 3}))
    first = decode_reading(flat, id="i", device="d", kind=Kind.SUMMARY)
    first.details["level"] = "red"  # type: ignore[index]
    second = decode_reading(flat, id="i", device="d", kind=Kind.SUMMARY)
    assert second.details == {"level": "green", "clock_sync": "synced", "n": 3}
    nested = encode_reading(reading({"rr": [0.8, 0.9]}))
    a = decode_reading(nested, id="i", device="d", kind=Kind.SUMMARY)
    a.details["rr"].append(1.0)  # type: ignore[index]
    b = decode_reading(nested, id="i", device="d", kind=Kind.SUMMARY)
    assert b.details == {"rr": [0.8, 0.9]}


def test_many_flags_or_observations_use_wide_counts_up_to_a_limit() -> None:
    obs = tuple(Observation(Code.HEART_RATE, float(i), "/min") for i in range(300))
    many = Reading("i", "d", Kind.SUMMARY, None, datetime(2026, 1, 1, tzinfo=UTC), obs,
                   frozenset(f"f{i}" for i in range(260)))  # fmt: skip
    assert decode_reading(encode_reading(many), id="i", device="d", kind=Kind.SUMMARY) == many
    too_many = Reading("i", "d", Kind.SUMMARY, None, datetime(2026, 1, 1, tzinfo=UTC), (),
                       frozenset(f"f{i}" for i in range(70_000)))  # fmt: skip
    with pytest.raises(CodecError, match="more than"):
        encode_reading(too_many)


# Written by the version 2 encoder (before sample blocks): must decode, and encode the same.
_V2_FULL = bytes.fromhex(
    "0207bac4023cc260060000a493d60000000040e37712c3600600030102070000000000405e40036b5061"
    "0302046e72657305030000000000c04e400f6972726567756c61722d70756c73650902056c6576656c05"
    "0679656c6c6f770272720b02ec51b81e85ebe93f48e17a14ae47e93f"
)
# A stream-minute (version 3): six SpO2 samples at 1 Hz, two of them gaps (NaN).
_V3_BLOCK = bytes.fromhex(
    "0302001fbf15c36006000000060200982b12c3600600000000000000f03f060000c2420000c1420000c07f"
    "0000c07f0000c4420080c2420901056c6576656c0505677265656e"
)


def test_version_2_golden_bytes_decode_and_encode_unchanged() -> None:
    r = decode_reading(_V2_FULL, id="i", device="C0:11", kind=Kind.BLOOD_PRESSURE)
    assert r.received == datetime(2026, 11, 21, 6, 0, 7, 250, tzinfo=timezone(timedelta(hours=1)))
    assert r.device_time == datetime(2026, 11, 21, 6, 0, 5)
    assert r.observations == (
        Observation(Code.SYSTOLIC, 121.0, "mm[Hg]", "kPa"),
        Observation(Code.DIASTOLIC, None, "mm[Hg]", special="nres"),
        Observation(Code.HEART_RATE, 61.5, "/min"),
    )
    assert (r.flags, r.details, r.samples) == (
        {"irregular-pulse"},
        {"level": "yellow", "rr": (0.81, 0.79)},
        None,
    )
    assert encode_reading(r) == _V2_FULL


def test_a_stream_minute_block_keeps_its_float32_bytes_and_gaps() -> None:
    r = decode_reading(_V3_BLOCK, id="j", device="C0:12", kind=Kind.STREAM_BLOCK)
    assert r.samples is not None
    assert (r.samples.code, r.samples.start, r.samples.period_s, r.samples.count) == (
        Code.SPO2,
        datetime(2026, 11, 21, 6, 0, tzinfo=UTC),
        1.0,
        6,
    )
    got = struct.unpack("<6f", r.samples.values)
    assert [v for v in got if not math.isnan(v)] == [97.0, 96.5, 98.0, 97.25]
    assert [math.isnan(v) for v in got] == [False, False, True, True, False, False]
    assert (r.received, r.observations, r.details) == (
        datetime(2026, 11, 21, 6, 1, tzinfo=UTC),
        (),
        {"level": "green"},
    )
    assert encode_reading(r) == _V3_BLOCK
    assert disk_class(r) is DiskClass.RAW


def test_a_minute_of_1_hz_samples_costs_its_float32s_and_a_few_bytes() -> None:
    start = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
    block = SampleBlock(Code.HEART_RATE, start, 1.0, struct.pack("<60f", *range(60)))
    r = Reading("k", "d", Kind.STREAM_BLOCK, None, start + timedelta(minutes=1), (), samples=block)
    without = dataclasses.replace(r, samples=None)
    assert len(encode_reading(r)) - len(encode_reading(without)) <= 60 * 4 + 20
    assert decode_reading(encode_reading(r), id="k", device="d", kind=r.kind) == r


def test_a_block_with_a_bad_period_or_time_form_is_a_codec_error() -> None:
    good = bytearray(_V3_BLOCK)
    form_at = 2 + 8 + 2 + 1  # version, shape, receive time, counts; then the block's code tag
    bad_form = bytes(good[:form_at]) + b"\x07" + bytes(good[form_at + 1 :])
    with pytest.raises(CodecError, match="time form"):
        decode_reading(bad_form, id="j", device="d", kind=Kind.STREAM_BLOCK)
    at = _V3_BLOCK.index(struct.pack("<d", 1.0))
    zero_period = _V3_BLOCK[:at] + struct.pack("<d", 0.0) + _V3_BLOCK[at + 8 :]
    with pytest.raises(CodecError, match="period"):
        decode_reading(zero_period, id="j", device="d", kind=Kind.STREAM_BLOCK)
