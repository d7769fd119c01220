"""Pure decoders (and encoders) for the Bluetooth SIG health characteristics.

`decode(uuid16, data)` dispatches by 16-bit UUID. Measurements come back as
`hub.model.Measurement` (coded, in canonical UCUM units); everything else (features, battery,
device information, RACP, current time) as the characteristic's own small frozen dataclass.
Malformed bytes raise `DecodeError` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from hub.ble.profiles import (
    battery,
    blood_pressure,
    current_time,
    device_info,
    glucose,
    heart_rate,
    plx,
    racp,
    thermometer,
    weight,
)
from hub.ble.profiles.errors import DecodeError

__all__ = ["DECODERS", "KNOWN_UUIDS", "DecodeError", "decode"]

DECODERS: dict[int, Callable[[bytes], Any]] = {
    0x2A35: blood_pressure.decode_measurement,
    0x2A36: blood_pressure.decode_cuff_pressure,
    0x2A49: blood_pressure.decode_feature,
    0x2A37: heart_rate.decode_measurement,
    0x2A38: heart_rate.decode_location,
    0x2A5E: plx.decode_spot_check,
    0x2A5F: plx.decode_continuous,
    0x2A60: plx.decode_features,
    0x2A1C: thermometer.decode_measurement,
    0x2A1E: thermometer.decode_intermediate,
    0x2A9D: weight.decode_measurement,
    0x2A9E: weight.decode_feature,
    0x2A18: glucose.decode_measurement,
    0x2A34: glucose.decode_context,
    0x2A51: glucose.decode_feature,
    0x2A52: racp.decode,
    0x2A19: battery.decode_level,
    0x2A2B: current_time.decode_current_time,
    **{uuid: partial(device_info.decode_string, uuid) for uuid in device_info.STRINGS},
    device_info.SYSTEM_ID: device_info.decode_system_id,
}
"""16-bit UUID → decoder. A decoder takes the characteristic value's bytes."""

KNOWN_UUIDS: frozenset[int] = frozenset(DECODERS)


def decode(uuid16: int, data: bytes) -> Any:
    """Decode one characteristic value. KeyError-free: an unknown UUID is a `DecodeError`."""
    decoder = DECODERS.get(uuid16)
    if decoder is None:
        raise DecodeError(f"unknown characteristic 0x{uuid16:04X}")
    return decoder(data)
