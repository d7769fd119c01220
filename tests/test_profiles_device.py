"""Battery, Device Information strings and Current Time."""

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from profile_strategies import date_times

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.battery import BatteryLevel, encode_level
from hub.ble.profiles.current_time import (
    ADJUST_REASONS,
    CurrentTime,
    decode_current_time,
    encode_current_time,
)
from hub.ble.profiles.device_info import (
    STRINGS,
    DeviceInfoString,
    decode_system_id,
    encode_string,
    encode_system_id,
)


def test_battery_level() -> None:
    assert decode(0x2A19, b"\x64") == BatteryLevel(100)
    assert decode(0x2A19, encode_level(BatteryLevel(0))) == BatteryLevel(0)
    with pytest.raises(DecodeError, match=r"0x2A19 .*reserved value 0x65"):
        decode(0x2A19, b"\x65")
    with pytest.raises(DecodeError, match="battery level needs 1"):
        decode(0x2A19, b"")
    with pytest.raises(DecodeError, match="trailing"):
        decode(0x2A19, b"\x10\x00")


@pytest.mark.parametrize(("uuid", "field"), [(u, f) for u, (f, _) in STRINGS.items()])
def test_device_information_strings(uuid: int, field: str) -> None:
    assert decode(uuid, "Beurer BM54 ø".encode() + b"\x00\x00") == DeviceInfoString(
        field, "Beurer BM54 ø"
    )
    assert decode(uuid, b"") == DeviceInfoString(field, "")


def test_invalid_utf8_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="0x2A29 Manufacturer Name String: not UTF-8 at offset 2"):
        decode(0x2A29, b"AB\xff")


@given(st.sampled_from(sorted(STRINGS)), st.text().map(lambda s: s.rstrip("\x00")))
def test_device_information_round_trip(uuid: int, text: str) -> None:
    info = DeviceInfoString(STRINGS[uuid][0], text)
    assert decode(uuid, encode_string(info)) == info


def test_system_id_is_the_eui64_oui_first() -> None:
    # manufacturer id 0x0011223344 then OUI 0x001C05, little-endian on the air
    raw = bytes.fromhex("44 33 22 11 00 05 1C 00")
    info = decode(0x2A23, raw)
    assert info == DeviceInfoString("system_id", "001C050011223344")
    assert encode_system_id(info) == raw
    with pytest.raises(DecodeError, match="system id"):
        decode_system_id(raw[:7])


def test_current_time_vector() -> None:
    ct = decode(0x2A2B, bytes.fromhex("DF 07 01 0E 0A 37 00 03 80 03"))
    assert ct == CurrentTime(
        datetime(2015, 1, 14, 10, 55),
        3,
        128,
        frozenset({"manual-time-update", "external-reference-time-update"}),
    )


def test_current_time_from_a_datetime() -> None:
    frame = encode_current_time(CurrentTime.of(datetime(2026, 11, 21, 23, 59, 30, 500_000)))
    assert frame == bytes.fromhex("EA 07 0B 15 17 3B 1E 06 80 00")
    assert decode_current_time(frame).time == datetime(2026, 11, 21, 23, 59, 30)


@pytest.mark.parametrize("bit", range(4))
def test_each_adjust_reason(bit: int) -> None:
    frame = bytes.fromhex("EA 07 0B 15 17 3B 1E 06 00") + bytes([1 << bit])
    assert decode(0x2A2B, frame).adjust_reasons == {ADJUST_REASONS[bit]}


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("EA 07 0B 15 17 3B 1E 08 00 00", "day of week .*reserved value 0x8"),
        ("EA 07 0B 15 17 3B 1E 06 00 10", "adjust reason .*reserved"),
        ("EA 07 0B 15 17 3B 1E 06 00", "current time needs 10"),
        ("EA 07 0D 15 17 3B 1E 06 00 00", "month"),
    ],
)
def test_current_time_malformed(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A2B, bytes.fromhex(hex_))


def test_current_time_unknown() -> None:
    assert decode(0x2A2B, bytes(10)) == CurrentTime(None)


@given(
    st.none() | date_times(),
    st.integers(0, 7),
    st.integers(0, 255),
    st.frozensets(st.sampled_from(ADJUST_REASONS)),
)
def test_current_time_round_trip(
    time: datetime | None, day: int, fractions: int, reasons: frozenset[str]
) -> None:
    ct = CurrentTime(time, day, fractions, reasons)
    assert decode_current_time(encode_current_time(ct)) == ct


@given(st.integers(0, 100))
def test_battery_round_trip(percent: int) -> None:
    assert decode(0x2A19, encode_level(BatteryLevel(percent))) == BatteryLevel(percent)
