"""`hub decode CHAR HEX`: parse the arguments, decode, and shape the result as JSON.

Every result has the same top-level keys: `kind`, `time` (ISO 8601 or null), `observations`
(`code`, `value`, `unit`, plus `source_unit` and `special` when set), `flags`, `details`.
Non-measurement characteristics have no observations; their fields are under `details`.
"""

from __future__ import annotations

import dataclasses
import enum
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.ble.profiles import DecodeError, decode
from hub.model import Measurement

_SIG_BASE = "-0000-1000-8000-00805f9b34fb"
_HEX = frozenset(string.hexdigits)


def parse_uuid(text: str) -> int:
    """A 16-bit UUID from `2a35`, `0x2A35`, or the SIG base form
    `00002a35-0000-1000-8000-00805f9b34fb`. ValueError otherwise."""
    t = text.strip().lower()
    if len(t) == 36 and t.endswith(_SIG_BASE) and t.startswith("0000"):
        t = t[4:8]
    t = t.removeprefix("0x")
    if not 1 <= len(t) <= 4 or not _HEX.issuperset(t):
        raise ValueError(f"not a 16-bit characteristic UUID: {text!r} (e.g. 2a35)")
    return int(t, 16)


def parse_hex(text: str) -> bytes:
    """Bytes from hex digits, optionally separated by spaces or colons. ValueError otherwise."""
    digits = "".join(text.replace(":", " ").split())
    if len(digits) % 2 or not _HEX.issuperset(digits):
        raise ValueError(f"not hex bytes: {text!r} (e.g. '1E 75 00' or 1e:75:00)")
    return bytes.fromhex(digits)


def decode_json(char: str, hex_text: str) -> dict[str, Any]:
    """The JSON object `hub decode` prints. ValueError (DecodeError included) for bad input."""
    uuid16 = parse_uuid(char)
    data = parse_hex(hex_text)
    return to_json(decode(uuid16, data))


def to_json(result: Any) -> dict[str, Any]:
    """A decoder's result as a JSON-ready dict."""
    if isinstance(result, Measurement):
        return {
            "kind": result.kind.value,
            "time": _plain(result.device_time),
            "observations": [
                {
                    "code": o.code.value,
                    "value": o.value,
                    "unit": o.unit,
                    **({"source_unit": o.source_unit} if o.source_unit else {}),
                    **({"special": o.special} if o.special else {}),
                }
                for o in result.observations
            ],
            "flags": sorted(result.flags),
            "details": _plain(result.details),
        }
    if not dataclasses.is_dataclass(result) or isinstance(result, type):
        raise DecodeError(f"no JSON form for {type(result).__name__}")
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return {
        "kind": result.KIND,  # type: ignore[attr-defined]
        "time": _plain(fields.get("time")),
        "observations": [],
        "flags": [],
        "details": _plain(fields),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name.lower().replace("_", "-")
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
