"""Current Time Service (0x1805): Current Time 0x2A2B (read, notify; write optional).

Date Time (7) | day of week u8 (1 Monday … 7 Sunday, 0 unknown) | fractions256 u8 |
adjust reason u8 (bit0 manual update, bit1 external reference, bit2 time zone change,
bit3 DST change). The hub writes it to set a device's clock and reads it to map device time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from hub.ble.profiles._layout import check_size
from hub.ble.profiles._values import bit_names
from hub.ble.profiles.errors import reserved
from hub.ble.profiles.ieee11073 import decode_date_time, encode_date_time

CURRENT_TIME = "0x2A2B Current Time"
ADJUST_REASONS: tuple[str, ...] = (
    "manual-time-update",
    "external-reference-time-update",
    "change-of-time-zone",
    "change-of-dst",
)


@dataclass(frozen=True, slots=True)
class CurrentTime:
    """`time` None when the device does not know it (year, month or day 0);
    `day_of_week` 1 Monday … 7 Sunday, 0 unknown; `fractions256` in 1/256 s."""

    KIND: ClassVar[str] = "current-time"

    time: datetime | None
    day_of_week: int = 0
    fractions256: int = 0
    adjust_reasons: frozenset[str] = frozenset()

    @classmethod
    def of(cls, time: datetime, *, adjust_reasons: frozenset[str] = frozenset()) -> CurrentTime:
        """The value for a clock set to `time` (day of week and fractions from it)."""
        return cls(
            time.replace(microsecond=0),
            time.isoweekday(),
            time.microsecond * 256 // 1_000_000,
            adjust_reasons,
        )


def decode_current_time(data: bytes) -> CurrentTime:
    check_size(CURRENT_TIME, "current time", 10, data)
    time = decode_date_time(CURRENT_TIME, data, 0)
    day, fractions, reasons = data[7], data[8], data[9]
    if day > 7:
        raise reserved(CURRENT_TIME, "day of week (offset 7)", day)
    if reasons & 0xF0:
        raise reserved(CURRENT_TIME, "adjust reason (offset 9)", reasons)
    return CurrentTime(time, day, fractions, frozenset(bit_names(reasons, ADJUST_REASONS)))


def encode_current_time(value: CurrentTime) -> bytes:
    reasons = sum(1 << ADJUST_REASONS.index(r) for r in value.adjust_reasons)
    return encode_date_time(value.time or "unknown") + bytes(
        (value.day_of_week, value.fractions256, reasons)
    )
