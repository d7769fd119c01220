"""The hub's clock on a Raspberry Pi, which has no real-time clock.

Until NTP syncs, the wall clock may be off by years. Readings record their receive time from
the wall clock *and* the monotonic clock; once the wall clock is synchronised, the pure
`corrected_received` maps the monotonic stamp onto true time. Device clocks are only ever set
from a synchronised hub clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

from hub.model import Reading

TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
_STA_UNSYNC = 0x0040
_TIME_ERROR = 5


@dataclasses.dataclass(frozen=True)
class ClockStamp:
    """Both clocks read at one instant."""

    wall: datetime
    monotonic: float


def corrected_received(received: ClockStamp, synced_at: ClockStamp) -> datetime:
    """True time of `received`, given a stamp taken after the wall clock was synchronised.

    Monotonic time does not jump when NTP steps the wall clock, so the elapsed monotonic time
    between the two stamps is exact."""
    return synced_at.wall - timedelta(seconds=synced_at.monotonic - received.monotonic)


def mark_corrected(reading: Reading, received: ClockStamp, synced_at: ClockStamp) -> Reading:
    """The reading with its receive time corrected and flagged as taken before clock sync."""
    return dataclasses.replace(
        reading,
        received=corrected_received(received, synced_at),
        flags=reading.flags | {"hub-clock-corrected"},
    )


def kernel_clock_synced() -> bool | None:
    """The kernel's view (adjtimex: STA_UNSYNC clear and not TIME_ERROR), None if unavailable."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None

    class Timex(ctypes.Structure):
        _fields_ = [("modes", ctypes.c_uint), ("pad", ctypes.c_long * 4), ("status", ctypes.c_int),
                    ("rest", ctypes.c_long * 40)]  # fmt: skip

    libc = ctypes.CDLL(libc_name, use_errno=True)
    tx = Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    return state != _TIME_ERROR and not tx.status & _STA_UNSYNC


def clock_synced(flag_file: Path = TIMESYNCD_FLAG) -> bool:
    """systemd-timesyncd's flag file if present, else the kernel's sync state."""
    if flag_file.exists():
        return True
    return bool(kernel_clock_synced())
