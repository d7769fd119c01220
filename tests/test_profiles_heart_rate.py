import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.heart_rate import (
    LOCATIONS,
    BodySensorLocation,
    decode_location,
    encode_location,
    encode_measurement,
)
from hub.model import Code, Kind


def test_8bit_rate_no_options() -> None:
    m = decode(0x2A37, bytes.fromhex("00 48"))
    assert m.kind is Kind.HEART_RATE
    assert [(o.code, o.value, o.unit) for o in m.observations] == [(Code.HEART_RATE, 72.0, "/min")]
    assert m.details == {"sensor_contact": None}
    assert m.flags == frozenset()
    assert m.device_time is None


def test_bit0_16bit_rate() -> None:
    m = decode(0x2A37, bytes.fromhex("01 2C 01"))
    assert m.observations[0].value == 300.0


@pytest.mark.parametrize(
    ("flags", "contact", "marks"),
    [
        (0x00, None, set()),
        (0x02, None, set()),  # bit1 without bit2: contact not supported
        (0x04, False, {"sensor-contact-absent"}),
        (0x06, True, set()),
    ],
)
def test_bits1_2_sensor_contact(flags: int, contact: bool | None, marks: set[str]) -> None:
    m = decode(0x2A37, bytes([flags, 70]))
    assert m.details["sensor_contact"] is contact
    assert m.flags == marks


def test_bit3_energy_expended() -> None:
    m = decode(0x2A37, bytes.fromhex("08 46 10 27"))
    assert m.details["energy_expended_kj"] == 10000


def test_encode_sends_no_rr_flag_without_intervals() -> None:
    assert encode_measurement(70, rr_intervals_s=[]) == bytes.fromhex("00 46")


def test_bit4_all_rr_intervals_in_seconds() -> None:
    m = decode(0x2A37, bytes.fromhex("1E 46 E8 03 00 04 00 02 20 03"))
    assert m.details["energy_expended_kj"] == 1000
    assert m.details["rr_intervals_s"] == (1.0, 0.5, 0.78125)
    assert m.details["sensor_contact"] is True


def test_many_rr_intervals() -> None:
    rr = tuple(i / 1024 for i in range(200, 450))
    m = decode(0x2A37, encode_measurement(60, rr_intervals_s=rr))
    assert m.details["rr_intervals_s"] == rr


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("", "offset 0: flags and heart rate needs 2"),
        ("00", "offset 0: flags and heart rate needs 2"),
        ("01 48", "offset 1: heart rate \\(16-bit\\) needs 2 byte"),
        ("08 48 01", "offset 2: energy expended needs 2 byte"),
        ("10 48", "flags announce RR intervals but none follow"),
        ("18 48 10 27", "flags announce RR intervals but none follow"),
        ("10 48 00 04 01", "3 bytes is not a whole number of intervals"),
        ("10 48" + " 00 04" * 256, "512 bytes is not a whole number of intervals"),
        ("00 48 00", "1 trailing byte"),
        ("20 48", "reserved bit"),
        ("80 48", "reserved bit"),
    ],
)
def test_malformed(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A37, bytes.fromhex(hex_))


@given(
    st.integers(0, 0xFFFF),
    st.booleans(),
    st.none() | st.booleans(),
    st.none() | st.integers(0, 0xFFFF),
    st.none() | st.lists(st.integers(0, 0xFFFF).map(lambda x: x / 1024), max_size=9),
)
def test_round_trip(
    rate: int,
    wide: bool,
    contact: bool | None,
    energy: int | None,
    rr: list[float] | None,
) -> None:
    m = decode(
        0x2A37,
        encode_measurement(
            rate, wide=wide, sensor_contact=contact, energy_expended_kj=energy, rr_intervals_s=rr
        ),
    )
    assert m.observations[0].value == rate
    assert m.details["sensor_contact"] is contact
    assert m.details.get("energy_expended_kj") == energy
    assert m.details.get("rr_intervals_s") == (tuple(rr) if rr else None)


def test_body_sensor_location() -> None:
    assert decode(0x2A38, b"\x01") == BodySensorLocation("chest")
    assert [decode_location(bytes([i])).location for i in range(7)] == list(LOCATIONS)
    with pytest.raises(DecodeError, match="reserved value 0x7"):
        decode(0x2A38, b"\x07")
    with pytest.raises(DecodeError, match="trailing"):
        decode(0x2A38, b"\x01\x00")
    for name in LOCATIONS:
        assert decode_location(encode_location(BodySensorLocation(name))).location == name
