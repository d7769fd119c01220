"""Reading ids: UUIDv7 (RFC 9562), so ids sort by the time they were assigned.

`uuid7_from` is pure. `ReadingIds` is the edge that reads the clock and the OS RNG; it keeps
ids strictly increasing within one process even when the wall clock stands still or steps
back (RFC 9562 §6.2 method 3: the timestamp never goes backwards).
"""

from __future__ import annotations

import os
import time
import uuid

_RAND_B_BITS = 62
_RAND_A_MASK = 0xFFF


def uuid7_from(unix_ms: int, rand_a: int, rand_b: int) -> uuid.UUID:
    """Build a UUIDv7 from a 48-bit millisecond timestamp, 12 bits and 62 bits of filler."""
    if not 0 <= unix_ms < 1 << 48:
        raise ValueError("UUIDv7 timestamp must fit in 48 bits")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand_a & _RAND_A_MASK) << 64
    value |= 0b10 << 62
    value |= rand_b & ((1 << _RAND_B_BITS) - 1)
    return uuid.UUID(int=value)


def uuid7_time_ms(value: uuid.UUID | str) -> int:
    """The millisecond timestamp a UUIDv7 carries."""
    return uuid.UUID(str(value)).int >> 80


class ReadingIds:
    """Monotonic UUIDv7 generator: rand_a is a counter within one millisecond."""

    def __init__(self) -> None:
        self._last_ms = 0
        self._counter = 0

    def new(self) -> str:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > self._last_ms:
            self._last_ms = now_ms
            self._counter = int.from_bytes(os.urandom(1), "big")  # leave room to count up
        else:
            self._counter += 1
            if self._counter > _RAND_A_MASK:
                self._last_ms += 1
                self._counter = 0
        rand_b = int.from_bytes(os.urandom(8), "big")
        return str(uuid7_from(self._last_ms, self._counter, rand_b))
