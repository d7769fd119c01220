"""Device Information Service (0x180A): the UTF-8 string characteristics.

Some devices pad strings with NULs; those trailing NULs are stripped. Bytes that are not
UTF-8 are refused (a decode error), not guessed at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hub.ble.profiles.errors import DecodeError

# 16-bit UUID → (the DeviceInfo field it fills, characteristic name).
STRINGS: dict[int, tuple[str, str]] = {
    0x2A29: ("manufacturer", "Manufacturer Name String"),
    0x2A24: ("model", "Model Number String"),
    0x2A25: ("serial", "Serial Number String"),
    0x2A26: ("firmware", "Firmware Revision String"),
    0x2A27: ("hardware", "Hardware Revision String"),
    0x2A28: ("software", "Software Revision String"),
}


@dataclass(frozen=True, slots=True)
class DeviceInfoString:
    """One DIS string; `field` is the name of the matching `hub.model.DeviceInfo` field."""

    KIND: ClassVar[str] = "device-information"

    field: str
    value: str


def decode_string(uuid16: int, data: bytes) -> DeviceInfoString:
    field, name = STRINGS[uuid16]
    try:
        text = data.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"0x{uuid16:04X} {name}: not UTF-8 at offset {exc.start}") from None
    return DeviceInfoString(field, text)


def encode_string(info: DeviceInfoString) -> bytes:
    return info.value.encode("utf-8")
