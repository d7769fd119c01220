"""Reading ids: UUIDv7 (RFC 9562), so ids sort by time, minted once where a reading is decoded.

A spot-measurement device keeps its records until the hub asks for them again (RACP), and the
ATT layer confirms an indication before the hub has committed it. So after a pulled plug the
same record comes back, and must get the id it had, or the hospital would store it twice.
Rather than remembering every (device, record) → id pair, the id of a record is derived from
the record: a UUIDv7 whose 48-bit time is the record's own time and whose remaining 74 bits
are a keyed hash (HMAC-SHA256 under a secret of this hub) of the device and the record's
content. Keyed, because ids sit in clear in the store and on the wire: an unkeyed hash of a
blood pressure and a time could be brute forced back to the values. Live samples with
neither a device time nor a sequence number cannot be told from a new identical one: they get
a fresh monotonic UUIDv7.

`uuid7_from`, `record_key` and `stable_id` are pure; `ReadingIds` is the edge that reads the
clock and the OS RNG.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import uuid
from datetime import datetime

from hub.model import Code, Kind, Measurement, Reading

SECRET_BYTES = 32
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


def record_key(measurement: Measurement | Reading) -> bytes | None:
    """What makes a record the same record: kind, device time, sequence number and values.
    None for live samples with neither a device time nor a sequence number."""
    sequence = measurement.details.get("sequence")
    if measurement.device_time is None and sequence is None:
        return None
    observations = ";".join(
        f"{o.code.value}={o.value!r}{o.unit}{o.special or ''}" for o in measurement.observations
    )
    when = measurement.device_time.isoformat() if measurement.device_time else ""
    return f"{measurement.kind.value}|{when}|{sequence}|{observations}".encode()


def stable_id(secret: bytes, device: str, key: bytes, when: datetime) -> str:
    """A canonical UUIDv7 string: `when` in the time field, HMAC(secret, device|key) after."""
    digest = hmac.new(secret, device.encode() + b"\0" + key, hashlib.sha256).digest()
    ms = max(0, int(when.timestamp() * 1000)) & ((1 << 48) - 1)
    tail = int.from_bytes(digest[:10], "big") & ((1 << 74) - 1)
    return str(uuid7_from(ms, tail >> _RAND_B_BITS, tail))


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


class IdMinter:
    """The hub's one place that gives readings their ids, shared by every edge that decodes
    (BLE, serial) and by the pipeline for what it derives (minute summaries, stream blocks).
    An id minted here travels unchanged to the hospital."""

    def __init__(self, secret: bytes, fresh: ReadingIds | None = None) -> None:
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"the id secret must be {SECRET_BYTES} bytes")
        self._secret = secret
        self._fresh = fresh or ReadingIds()

    def for_measurement(self, device: str, measurement: Measurement, received: datetime) -> str:
        """The reading's id: stable for a record the device may send again, else fresh."""
        key = record_key(measurement)
        if key is None:
            return self._fresh.new()
        when = measurement.device_time or received
        if when.tzinfo is None:
            when = when.replace(tzinfo=received.tzinfo)
        return stable_id(self._secret, device, key, when)

    def fingerprint(self, data: bytes) -> str:
        """A short keyed hash of bytes a device sent (a malformed frame), for logs: equal
        frames show as equal, and, keyed, it cannot be brute forced back to the values."""
        return hmac.new(self._secret, b"frame\0" + data, hashlib.sha256).hexdigest()[:12]

    def for_period(self, device: str, kind: Kind, code: Code, start: datetime) -> str:
        """The one id of what the hub derives from a stream for the period from `start` (a
        minute summary, a block of raw samples): the same after a restart."""
        key = f"{kind.value}|{code.value}|{start.isoformat()}".encode()
        return stable_id(self._secret, device, key, start)
