"""Every known characteristic: arbitrary bytes never raise anything but DecodeError."""

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.ble.profiles import KNOWN_UUIDS, DecodeError, decode
from hub.ble.profiles.render import to_json

# One full-featured valid value per characteristic: mutating it reaches the deep fields
# (dates, enums, nibbles, conversions) that purely random bytes rarely get to.
EXAMPLES: dict[int, str] = {
    0x2A35: "1F 78 00 50 00 5D 00 DF 07 01 0E 0A 37 00 48 00 01 25 00",
    0x2A36: "1F 78 00 FF 07 FF 07 DF 07 01 0E 0A 37 00 48 00 01 25 00",
    0x2A49: "3F 00",
    0x2A37: "1F 46 00 E8 03 00 04 00 02",
    0x2A38: "01",
    0x2A5E: "1F 61 00 48 00 EA 07 0B 15 08 1E 00 20 00 01 00 00 2A F0",
    0x2A5F: "1F 62 00 3C 00 61 00 3D 00 FF 07 3E 00 00 02 00 00 80 0F F0",
    0x2A60: "FF 00 E0 FF FF FF 00",
    0x2A1C: "07 6F 01 00 FF DF 07 01 0E 0A 37 00 02",
    0x2A1E: "07 6F 01 00 FF DF 07 01 0E 0A 37 00 02",
    0x2A9D: "0F B0 36 EA 07 0B 15 07 00 00 03 E2 00 B2 06",
    0x2A9E: "BF 01 00 00",
    0x2A18: "1F 01 00 0F 27 0C 1F 17 3B 3B 00 00 5C B0 11 FF 0F",
    0x2A34: "FF 07 00 00 01 32 D0 02 51 08 07 32 01 05 D0 41 F0",
    0x2A51: "FF 07",
    0x2A52: "01 04 02 EA 07 0B 15 08 00 00 EA 07 0B 15 09 00 00",
    0x2A19: "64",
    0x2A2B: "DF 07 01 0E 0A 37 00 03 80 03",
    0x2A23: "44 33 22 11 00 05 1C 00",
    0x2A29: "42 65 75 72 65 72",
    0x2A24: "42 4D 35 34",
    0x2A25: "31 32 33",
    0x2A26: "31 2E 30",
    0x2A27: "41",
    0x2A28: "32 2E 31",
}


def test_known_uuids() -> None:
    assert set(EXAMPLES) == KNOWN_UUIDS


def test_examples_are_valid() -> None:
    for uuid, hex_ in EXAMPLES.items():
        result = decode(uuid, bytes.fromhex(hex_))
        assert result is not None
        # every known characteristic has the JSON form `hub decode` prints
        out = json.loads(json.dumps(to_json(result)))
        assert set(out) == {"kind", "time", "observations", "flags", "details"}
        assert out["kind"]


def test_unknown_uuid_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown characteristic 0x2A99"):
        decode(0x2A99, b"\x00")


@settings(max_examples=400)
@given(st.sampled_from(sorted(KNOWN_UUIDS)), st.binary(max_size=40))
def test_random_bytes_decode_or_raise_decode_error(uuid: int, data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(uuid, data)


@settings(max_examples=1000)
@given(
    st.sampled_from(sorted(KNOWN_UUIDS)),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), max_size=4),
    st.integers(-3, 3),
)
def test_mutated_valid_values_decode_or_raise_decode_error(
    uuid: int, changes: list[tuple[int, int]], resize: int
) -> None:
    data = bytearray.fromhex(EXAMPLES[uuid])
    for index, byte in changes:
        data[index % len(data)] = byte
    data = data[: len(data) + resize] if resize < 0 else data + bytes(resize)
    with contextlib.suppress(DecodeError):
        decode(uuid, bytes(data))
