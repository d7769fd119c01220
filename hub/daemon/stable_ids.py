"""Reading ids that survive a restart: a record a device sends again keeps its one id.

A spot-measurement device keeps its records until the hub asks for them again (RACP), and the
ATT layer confirms an indication before the hub has committed it. So after a pulled plug the
same record comes back, and must get the id it had, or the hospital would store it twice.
Rather than remembering every (device, record) → id pair in a table, the id is derived from
the record: a UUIDv7 whose 48-bit time is the record's own time and whose remaining 74 bits
are a keyed hash (HMAC-SHA256 under a secret of this hub) of the device and the record's
content. Keyed, because ids sit in clear in the store and on the wire: an unkeyed hash of a
blood pressure and a time could be brute forced back to the values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from datetime import datetime
from pathlib import Path

from hub.model import Kind, Reading

SECRET_BYTES = 32


def record_key(reading: Reading) -> bytes | None:
    """What makes a record the same record (as `hub.ble.dedup.record_key`), as bytes; None
    for live samples with neither a device time nor a sequence number."""
    sequence = reading.details.get("sequence")
    if reading.device_time is None and sequence is None:
        return None
    observations = ";".join(
        f"{o.code.value}={o.value!r}{o.unit}{o.special or ''}" for o in reading.observations
    )
    time = reading.device_time.isoformat() if reading.device_time else ""
    return f"{reading.kind.value}|{time}|{sequence}|{observations}".encode()


def stable_id(secret: bytes, device: str, key: bytes, when: datetime) -> str:
    """A canonical UUIDv7 string: `when` in the time field, HMAC(secret, device|key) after."""
    digest = hmac.new(secret, device.encode() + b"\0" + key, hashlib.sha256).digest()
    ms = max(0, int(when.timestamp() * 1000)) & ((1 << 48) - 1)
    tail = int.from_bytes(digest[:10], "big") & ((1 << 74) - 1)
    rand_a, rand_b = tail >> 62, tail & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def summary_id(secret: bytes, device: str, kind: Kind, code: str, start: datetime) -> str:
    """The one id of a stream's summary for the period starting at `start`."""
    key = f"summary|{kind.value}|{code}|{start.isoformat()}".encode()
    return stable_id(secret, device, key, start)


def load_secret(path: Path) -> bytes:
    """The hub's id secret (created, 0600, on first use)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = os.urandom(SECRET_BYTES)
        tmp = path.with_name(path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return data
    if len(data) != SECRET_BYTES:
        raise ValueError(f"{path}: expected {SECRET_BYTES} bytes, found {len(data)}")
    return data
