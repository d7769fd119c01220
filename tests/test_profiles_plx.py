from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from profile_strategies import date_times, sfloats

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.ieee11073 import UNKNOWN, Number
from hub.ble.profiles.plx import (
    DEVICE_STATUS_NAMES,
    MEASUREMENT_STATUS_NAMES,
    PlxFeatures,
    decode_features,
    encode_continuous,
    encode_features,
    encode_spot_check,
)
from hub.model import Code, Kind, Measurement


def values(m: Measurement) -> dict[Code, float | None]:
    return {o.code: o.value for o in m.observations}


def test_spot_check_minimal() -> None:
    m = decode(0x2A5E, bytes.fromhex("00 61 00 48 00"))
    assert m.kind is Kind.SPO2_SPOT
    assert values(m) == {Code.SPO2: 97.0, Code.HEART_RATE: 72.0}
    assert [o.unit for o in m.observations] == ["%", "/min"]
    assert m.flags == frozenset() and m.details == {} and m.device_time is None


def test_spot_check_every_flag_bit() -> None:
    frame = bytes.fromhex("1F 61 00 48 00 EA 07 0B 15 08 1E 00 20 00 01 00 00 2A F0")
    m = decode(0x2A5E, frame)
    assert m.device_time == datetime(2026, 11, 21, 8, 30, 0)  # bit0
    assert m.details == {"measurement_status": 0x20, "device_sensor_status": 1}  # bits 1, 2
    assert values(m)[Code.PULSE_AMPLITUDE_INDEX] == 4.2  # bit3
    assert m.flags == {  # bit4
        "measurement-ongoing",
        "extended-display-update-ongoing",
        "device-clock-not-set",
    }


@pytest.mark.parametrize("bit", range(5, 16))
def test_each_measurement_status_bit(bit: int) -> None:
    m = decode(0x2A5E, encode_spot_check(97, 72, measurement_status=1 << bit))
    assert m.flags == {MEASUREMENT_STATUS_NAMES[bit]}


@pytest.mark.parametrize("bit", range(16))
def test_each_device_and_sensor_status_bit(bit: int) -> None:
    m = decode(0x2A5F, encode_continuous(97, 72, device_sensor_status=1 << bit))
    assert m.flags == {DEVICE_STATUS_NAMES[bit]}
    assert m.details["device_sensor_status"] == 1 << bit


def test_reserved_status_bits_are_kept_raw() -> None:
    m = decode(
        0x2A5E, encode_spot_check(97, 72, measurement_status=0x1F, device_sensor_status=0xFF0000)
    )
    assert m.flags == frozenset()
    assert m.details == {"measurement_status": 0x1F, "device_sensor_status": 0xFF0000}


def test_unknown_time_stamp() -> None:
    m = decode(0x2A5E, encode_spot_check(97, 72, time=UNKNOWN, clock_not_set=True))
    assert m.device_time is None
    assert m.flags == {"time-unknown", "device-clock-not-set"}


def test_continuous_every_flag_bit() -> None:
    frame = bytes.fromhex("1F 62 00 3C 00 61 00 3D 00 FF 07 3E 00 00 02 00 00 80 0F F0")
    m = decode(0x2A5F, frame)
    assert m.kind is Kind.SPO2_CONTINUOUS
    assert values(m) == {Code.SPO2: 98.0, Code.HEART_RATE: 60.0, Code.PULSE_AMPLITUDE_INDEX: 1.5}
    assert m.details == {
        "spo2_fast": 97.0,  # bit0
        "pulse_fast": 61.0,
        "spo2_slow": None,  # bit1, NaN
        "pulse_slow": 62.0,
        "measurement_status": 0x0200,  # bit2
        "device_sensor_status": 0x800000,  # bit3 (bit 23 is reserved: raw only)
    }
    assert m.flags == {"data-from-storage", "spo2-slow:nan"}


def test_special_spo2() -> None:
    m = decode(0x2A5F, encode_continuous("nres", 72))
    spo2 = m.observations[0]
    assert (spo2.value, spo2.special, spo2.unit) == (None, "nres", "%")
    assert m.flags == {"spo2:nres"}


@pytest.mark.parametrize(
    ("uuid", "hex_", "match"),
    [
        (0x2A5E, "20 61 00 48 00", "reserved bit"),
        (0x2A5E, "01 61 00 48 00 EA 07", "offset 5: time stamp needs 7"),
        (0x2A5E, "04 61 00 48 00 00 00", "device and sensor status needs 3"),
        (0x2A5F, "01 61 00 48 00 61 00", "offset 7: pulse rate fast needs 2"),
        (0x2A5F, "00 61 00 48 00 00", "trailing"),
        (0x2A5F, "80 61 00 48 00", "reserved bit"),
    ],
)
def test_malformed(uuid: int, hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(uuid, bytes.fromhex(hex_))


def test_features() -> None:
    f = decode(0x2A60, bytes.fromhex("FF 00 E0 FF FF FF 00"))
    assert f == PlxFeatures(
        0xFF,
        frozenset(PlxFeatures.NAMES),
        0xFFE0,
        0x00FFFF,  # type: ignore[arg-type]
    )
    assert decode(0x2A60, bytes.fromhex("0C 00")).supported == {
        "spot-check-measurement-storage",
        "spot-check-timestamp",
    }
    assert decode(0x2A60, bytes.fromhex("02 00 01 02 03")).device_sensor_status_support == 0x030201
    with pytest.raises(DecodeError, match="measurement status support needs 2"):
        decode_features(bytes.fromhex("01 00"))


@given(
    st.integers(0, 0xFFFF), st.none() | st.integers(0, 0xFFFF), st.none() | st.integers(0, 0xFFFFFF)
)
def test_features_round_trip(bits: int, status: int | None, device: int | None) -> None:
    bits = bits & ~3 | (status is not None) | (device is not None) << 1
    f = PlxFeatures.of(bits)
    f = PlxFeatures(f.bits, f.supported, status, device)
    assert decode_features(encode_features(f)) == f


def check(obs_value: float | None, obs_special: str | None, sent: Number | str) -> None:
    if isinstance(sent, str):
        assert (obs_value, obs_special) == (None, sent)
    else:
        assert obs_value == sent.value


statuses = st.none() | st.integers(0, 0xFFFF)
devices = st.none() | st.integers(0, 0xFFFFFF)


@given(
    sfloats(),
    sfloats(),
    st.none() | date_times(),
    statuses,
    devices,
    st.none() | sfloats(),
    st.booleans(),
)
def test_spot_check_round_trip(
    spo2: Number | str,
    pulse: Number | str,
    time: datetime | None,
    status: int | None,
    device: int | None,
    pai: Number | str | None,
    clock: bool,
) -> None:
    m = decode(
        0x2A5E,
        encode_spot_check(
            spo2,
            pulse,
            time=time,
            measurement_status=status,
            device_sensor_status=device,
            pai=pai,
            clock_not_set=clock,
        ),
    )
    sent = [spo2, pulse] + ([] if pai is None else [pai])
    assert len(m.observations) == len(sent)
    for o, s in zip(m.observations, sent, strict=True):
        check(o.value, o.special, s)
    assert m.device_time == time
    assert m.details.get("measurement_status") == status
    assert m.details.get("device_sensor_status") == device
    assert ("device-clock-not-set" in m.flags) == clock


pairs = st.none() | st.tuples(sfloats(), sfloats())


@given(sfloats(), sfloats(), pairs, pairs, statuses, devices, st.none() | sfloats())
def test_continuous_round_trip(
    spo2: Number | str,
    pulse: Number | str,
    fast: tuple[Number | str, Number | str] | None,
    slow: tuple[Number | str, Number | str] | None,
    status: int | None,
    device: int | None,
    pai: Number | str | None,
) -> None:
    m = decode(
        0x2A5F,
        encode_continuous(
            spo2,
            pulse,
            fast=fast,
            slow=slow,
            measurement_status=status,
            device_sensor_status=device,
            pai=pai,
        ),
    )
    check(m.observations[0].value, m.observations[0].special, spo2)
    check(m.observations[1].value, m.observations[1].special, pulse)
    for name, pair in (("fast", fast), ("slow", slow)):
        if pair is None:
            assert f"spo2_{name}" not in m.details
            continue
        for key, sent in zip((f"spo2_{name}", f"pulse_{name}"), pair, strict=True):
            special = next(
                (f.split(":")[1] for f in m.flags if f.startswith(key.replace("_", "-") + ":")),
                None,
            )
            check(m.details[key], special, sent)
    assert m.details.get("measurement_status") == status
    assert m.details.get("device_sensor_status") == device
