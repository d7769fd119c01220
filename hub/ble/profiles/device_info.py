"""Device Information Service (0x180A): the UTF-8 string characteristics.

Some devices pad strings with NULs; those trailing NULs are stripped. Bytes that are not
UTF-8 are refused (a decode error), not guessed at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hub.ble.profiles._layout import check_size
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


SYSTEM_ID = 0x2A23
_SYSTEM_ID = "0x2A23 System ID"


def decode_system_id(data: bytes) -> DeviceInfoString:
    """System ID: a 40-bit manufacturer-defined identifier then the 24-bit OUI, little-endian.
    Kept as the EUI-64 it forms (OUI first) in upper-case hex, the PHD IG's system id; it
    fills `DeviceInfo.system_id`."""
    check_size(_SYSTEM_ID, "system id", 8, data)
    return DeviceInfoString("system_id", data[::-1].hex().upper())


def encode_system_id(info: DeviceInfoString) -> bytes:
    return bytes.fromhex(info.value)[::-1]
