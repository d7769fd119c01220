"""The store codec's tagged values and the primitives reading bodies share. Pure.

A tagged value (`encode_value`) is a version byte then one value: None, bool, int (zigzag
varint), float (little-endian double), str, bytes, list, tuple (kept apart from lists),
dict with str keys, datetime (naive or aware, to the microsecond); float sequences (RR
intervals, waveform samples) are packed as doubles. Anything malformed raises `CodecError`,
never another exception.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

VALUE_VERSION = 1  # of tagged values
MAX_DEPTH = 32
_INT64 = 1 << 63

# Tags are part of the on-disk format: append only, never renumber.
_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _BYTES = range(7)
_LIST, _TUPLE, DICT, _FLOATS_LIST, _FLOATS_TUPLE, _DATETIME = range(7, 13)

_DT_ABSENT, _DT_NAIVE, _DT_AWARE = 0, 1, 2
EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
F64 = struct.Struct("<d")
_US = timedelta(microseconds=1)


class CodecError(ValueError):
    """Bytes that are not a valid encoding, or a value the codec cannot represent."""


def encode_value(value: Any) -> bytes:
    """A versioned tagged value."""
    out = bytearray((VALUE_VERSION,))
    put_value(out, value, 0)
    return bytes(out)


def decode_value(data: bytes) -> Any:
    """Inverse of `encode_value`."""
    data = bytes(data)
    try:
        if data[0] != VALUE_VERSION:
            raise CodecError(f"unknown codec version {data[0]}")
        value, pos = get_value(data, 1, 0)
    except (IndexError, struct.error):
        raise CodecError("truncated data") from None
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(str(exc)) from exc
    check_end(data, pos)
    return value


def check_end(data: bytes, pos: int) -> None:
    if pos != len(data):
        raise CodecError(f"{len(data) - pos} unexpected trailing bytes")


# ---------------------------------------------------------------- encoding


def instant(when: datetime) -> tuple[int] | tuple[int, int]:
    """(microseconds since the naive epoch) or (since the UTC epoch, UTC offset)."""
    if not isinstance(when, datetime):
        raise CodecError(f"expected a datetime, got {type(when).__name__}")
    offset = when.utcoffset()
    if offset is None:
        return ((when - _EPOCH_NAIVE) // _US,)
    return (when - EPOCH_AWARE) // _US, offset // _US


def put_uint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def put_int(out: bytearray, n: int) -> None:
    if not -_INT64 <= n < _INT64:
        raise CodecError(f"integer {n} does not fit in 64 bits")
    put_uint(out, (n << 1) ^ (n >> 63))  # zigzag


def put_str(out: bytearray, text: str) -> None:
    if not isinstance(text, str):
        raise CodecError(f"expected a string, got {type(text).__name__}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CodecError(f"string is not valid unicode: {exc}") from exc
    put_uint(out, len(data))
    out += data


def put_datetime(out: bytearray, when: datetime) -> None:
    parts = instant(when)
    out.append(_DT_NAIVE if len(parts) == 1 else _DT_AWARE)
    for n in parts:
        put_int(out, n)


def put_value(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CodecError(f"values nested deeper than {MAX_DEPTH}")
    if value is None:
        out.append(_NONE)
    elif value is True or value is False:
        out.append(_TRUE if value else _FALSE)
    elif isinstance(value, int):
        out.append(_INT)
        put_int(out, value)
    elif isinstance(value, float):
        out.append(_FLOAT)
        out += F64.pack(value)
    elif isinstance(value, str):
        out.append(_STR)
        put_str(out, value)
    elif isinstance(value, bytes | bytearray):
        out.append(_BYTES)
        put_uint(out, len(value))
        out += value
    elif isinstance(value, datetime):
        out.append(_DATETIME)
        put_datetime(out, value)
    elif isinstance(value, list | tuple):
        _put_sequence(out, value, depth)
    elif isinstance(value, Mapping):
        out.append(DICT)
        put_uint(out, len(value))
        for key, item in value.items():
            put_str(out, key)
            put_value(out, item, depth + 1)
    else:
        raise CodecError(f"cannot store a value of type {type(value).__name__}")


def _put_sequence(out: bytearray, items: Sequence[Any], depth: int) -> None:
    is_tuple = isinstance(items, tuple)
    if items and all(type(item) is float for item in items):
        out.append(_FLOATS_TUPLE if is_tuple else _FLOATS_LIST)
        put_uint(out, len(items))
        out += struct.pack(f"<{len(items)}d", *items)
        return
    out.append(_TUPLE if is_tuple else _LIST)
    put_uint(out, len(items))
    for item in items:
        put_value(out, item, depth + 1)


# Decoders take the data and a position and return (value, next position). A read past the
# end raises IndexError or struct.error, which the entry points turn into CodecError.


def naive(us: int) -> datetime:
    return _EPOCH_NAIVE + timedelta(0, 0, us)


def aware(us: int, offset_us: int) -> datetime:
    instant = EPOCH_AWARE + timedelta(0, 0, us)
    return instant if offset_us == 0 else instant.astimezone(_zone(offset_us))


@functools.lru_cache(maxsize=64)
def _zone(offset_us: int) -> timezone:
    return timezone(timedelta(microseconds=offset_us))


def get_uint(data: bytes, pos: int) -> tuple[int, int]:
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    result, shift = b & 0x7F, 7
    while True:
        pos += 1
        b = data[pos]
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos + 1
        shift += 7
        if shift > 63:
            raise CodecError("varint longer than 64 bits")


def get_int(data: bytes, pos: int) -> tuple[int, int]:
    n, pos = get_uint(data, pos)
    return (n >> 1) ^ -(n & 1), pos


def get_count(data: bytes, pos: int, item_size: int) -> tuple[int, int]:
    n, pos = get_uint(data, pos)
    if n * item_size > len(data) - pos:
        raise CodecError("length exceeds the remaining data")
    return n, pos


def get_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = get_count(data, pos, 1)
    return data[pos : pos + n], pos + n


def get_str(data: bytes, pos: int) -> tuple[str, int]:
    n = data[pos]
    if n < 0x80:  # a one-byte length: most strings, read without the varint call
        pos += 1
        if n > len(data) - pos:
            raise CodecError("length exceeds the remaining data")
    else:
        n, pos = get_count(data, pos, 1)
    try:
        return data[pos : pos + n].decode("utf-8"), pos + n
    except UnicodeDecodeError as exc:
        raise CodecError(f"invalid utf-8: {exc}") from exc


def get_f64(data: bytes, pos: int) -> tuple[float, int]:
    return F64.unpack_from(data, pos)[0], pos + 8


def get_datetime(data: bytes, pos: int) -> tuple[datetime | None, int]:
    tag = data[pos]
    if tag == _DT_ABSENT:
        return None, pos + 1
    if tag == _DT_NAIVE:
        us, pos = get_int(data, pos + 1)
        return naive(us), pos
    if tag == _DT_AWARE:
        us, pos = get_int(data, pos + 1)
        offset, pos = get_int(data, pos)
        return aware(us, offset), pos
    raise CodecError(f"unknown datetime tag {tag}")


def get_value(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise CodecError(f"values nested deeper than {MAX_DEPTH}")
    tag = data[pos]
    pos += 1
    if tag == _STR:
        return get_str(data, pos)
    if tag == DICT:
        n, pos = get_count(data, pos, 2)
        out = {}
        for _ in range(n):
            key, pos = get_str(data, pos)
            if data[pos] == _STR:  # the common detail: a short text
                out[key], pos = get_str(data, pos + 1)
            else:
                out[key], pos = get_value(data, pos, depth + 1)
        return out, pos
    scalar = _SCALARS.get(tag)
    if scalar is not None:
        return scalar(data, pos)
    if tag in (_FLOATS_LIST, _FLOATS_TUPLE):
        n, pos = get_count(data, pos, 8)
        floats = struct.unpack_from(f"<{n}d", data, pos)
        return (floats if tag == _FLOATS_TUPLE else list(floats)), pos + 8 * n
    if tag in (_LIST, _TUPLE):
        n, pos = get_count(data, pos, 1)
        items = []
        for _ in range(n):
            item, pos = get_value(data, pos, depth + 1)
            items.append(item)
        return (tuple(items) if tag == _TUPLE else items), pos
    raise CodecError(f"unknown value tag {tag}")


_SCALARS: Mapping[int, Any] = {
    _NONE: lambda data, pos: (None, pos),
    _FALSE: lambda data, pos: (False, pos),
    _TRUE: lambda data, pos: (True, pos),
    _INT: get_int,
    _FLOAT: get_f64,
    _BYTES: get_bytes,
    _DATETIME: get_datetime,
}
