"""Compact, versioned binary codec for what the store encrypts. Pure: bytes in, values out.

A reading's body carries everything except the fields the store keeps in clear columns (id,
device, kind), which the caller passes back on decoding; those are bound to the ciphertext as
associated data instead. Detail values use a small tagged format that keeps tuples apart from
lists and packs float sequences (RR intervals, waveform samples) as little-endian doubles.
Anything malformed raises `CodecError`, never another exception.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hub.model import Code, Kind, Observation, Reading, canonical_unit

VERSION = 1
_MAX_DEPTH = 32
_INT64 = 1 << 63

# Tags are part of the on-disk format: append only, never renumber.
_CODE_TAGS: Mapping[Code, int] = {
    Code.BP_PANEL: 1,
    Code.SYSTOLIC: 2,
    Code.DIASTOLIC: 3,
    Code.MEAN_ARTERIAL: 4,
    Code.HEART_RATE: 5,
    Code.SPO2: 6,
    Code.BODY_TEMPERATURE: 7,
    Code.BODY_WEIGHT: 8,
    Code.GLUCOSE_MASS: 9,
    Code.GLUCOSE_MOLES: 10,
    Code.RESPIRATORY_RATE: 11,
    Code.BODY_HEIGHT: 12,
    Code.BMI: 13,
    Code.CUFF_PRESSURE: 14,
    Code.PULSE_AMPLITUDE_INDEX: 15,
}
_TAG_CODES: Mapping[int, Code] = {tag: code for code, tag in _CODE_TAGS.items()}

_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _BYTES = range(7)
_LIST, _TUPLE, _DICT, _FLOATS_LIST, _FLOATS_TUPLE, _DATETIME = range(7, 13)

_OBS_VALUE, _OBS_CANONICAL_UNIT, _OBS_SOURCE_UNIT = 1, 2, 4
_DT_ABSENT, _DT_NAIVE, _DT_AWARE = 0, 1, 2
_EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_F64 = struct.Struct("<d")
_US = timedelta(microseconds=1)


class CodecError(ValueError):
    """Bytes that are not a valid encoding, or a value the codec cannot represent."""


# ---------------------------------------------------------------- encoding


def encode_reading(reading: Reading) -> bytes:
    """The encrypted part of a reading: times, observations, flags, details."""
    out = bytearray((VERSION,))
    _put_datetime(out, reading.received)
    _put_datetime(out, reading.device_time)
    _put_uint(out, len(reading.observations))
    for obs in reading.observations:
        _put_observation(out, obs)
    _put_uint(out, len(reading.flags))
    for flag in sorted(reading.flags):
        _put_str(out, flag)
    if not isinstance(reading.details, Mapping):
        raise CodecError("reading details must be a mapping")
    _put_value(out, dict(reading.details), 0)
    return bytes(out)


def encode_value(value: Any) -> bytes:
    """A versioned tagged value (None, bool, int, float, str, bytes, list, tuple, dict with
    str keys, datetime)."""
    out = bytearray((VERSION,))
    _put_value(out, value, 0)
    return bytes(out)


def _put_uint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_int(out: bytearray, n: int) -> None:
    if not -_INT64 <= n < _INT64:
        raise CodecError(f"integer {n} does not fit in 64 bits")
    _put_uint(out, (n << 1) ^ (n >> 63))  # zigzag


def _put_str(out: bytearray, text: str) -> None:
    if not isinstance(text, str):
        raise CodecError(f"expected a string, got {type(text).__name__}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CodecError(f"string is not valid unicode: {exc}") from exc
    _put_uint(out, len(data))
    out += data


def _put_datetime(out: bytearray, when: datetime | None) -> None:
    if when is None:
        out.append(_DT_ABSENT)
        return
    if not isinstance(when, datetime):
        raise CodecError(f"expected a datetime, got {type(when).__name__}")
    offset = when.utcoffset()
    if offset is None:
        out.append(_DT_NAIVE)
        _put_int(out, (when - _EPOCH_NAIVE) // _US)
        return
    out.append(_DT_AWARE)
    _put_int(out, (when - _EPOCH_AWARE) // _US)
    _put_int(out, offset // _US)


def _put_observation(out: bytearray, obs: Observation) -> None:
    try:
        out.append(_CODE_TAGS[obs.code])
    except KeyError as exc:
        raise CodecError(f"no codec tag for code {obs.code!r}") from exc
    flags = (
        (_OBS_VALUE if obs.value is not None else 0)
        | (_OBS_CANONICAL_UNIT if obs.unit == canonical_unit(obs.code) else 0)
        | (_OBS_SOURCE_UNIT if obs.source_unit is not None else 0)
    )
    out.append(flags)
    if obs.value is not None:
        out += _F64.pack(obs.value)
    else:
        _put_str(out, obs.special or "")
    if not flags & _OBS_CANONICAL_UNIT:
        _put_str(out, obs.unit)
    if obs.source_unit is not None:
        _put_str(out, obs.source_unit)


def _put_value(out: bytearray, value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise CodecError(f"values nested deeper than {_MAX_DEPTH}")
    if value is None:
        out.append(_NONE)
    elif value is True or value is False:
        out.append(_TRUE if value else _FALSE)
    elif isinstance(value, int):
        out.append(_INT)
        _put_int(out, value)
    elif isinstance(value, float):
        out.append(_FLOAT)
        out += _F64.pack(value)
    elif isinstance(value, str):
        out.append(_STR)
        _put_str(out, value)
    elif isinstance(value, bytes | bytearray):
        out.append(_BYTES)
        _put_uint(out, len(value))
        out += value
    elif isinstance(value, datetime):
        out.append(_DATETIME)
        _put_datetime(out, value)
    elif isinstance(value, list | tuple):
        _put_sequence(out, value, depth)
    elif isinstance(value, Mapping):
        out.append(_DICT)
        _put_uint(out, len(value))
        for key, item in value.items():
            _put_str(out, key)
            _put_value(out, item, depth + 1)
    else:
        raise CodecError(f"cannot store a value of type {type(value).__name__}")


def _put_sequence(out: bytearray, items: Sequence[Any], depth: int) -> None:
    is_tuple = isinstance(items, tuple)
    if items and all(type(item) is float for item in items):
        out.append(_FLOATS_TUPLE if is_tuple else _FLOATS_LIST)
        _put_uint(out, len(items))
        out += struct.pack(f"<{len(items)}d", *items)
        return
    out.append(_TUPLE if is_tuple else _LIST)
    _put_uint(out, len(items))
    for item in items:
        _put_value(out, item, depth + 1)


# ---------------------------------------------------------------- decoding


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise CodecError("truncated data")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise CodecError("truncated data")
        self.pos += 1
        return self.data[self.pos - 1]

    def uint(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise CodecError("varint longer than 64 bits")

    def int(self) -> int:
        n = self.uint()
        return (n >> 1) ^ -(n & 1)

    def f64(self) -> float:
        return _F64.unpack(self.take(8))[0]

    def str(self) -> str:
        try:
            return self.take(self.uint()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"invalid utf-8: {exc}") from exc

    def count(self, item_size: int = 1) -> int:
        n = self.uint()
        if n * item_size > len(self.data) - self.pos:
            raise CodecError("length exceeds the remaining data")
        return n

    def end(self) -> None:
        if self.pos != len(self.data):
            raise CodecError(f"{len(self.data) - self.pos} unexpected trailing bytes")


def decode_reading(data: bytes, *, id: str, device: str, kind: Kind) -> Reading:
    """Inverse of `encode_reading`, given the fields kept in clear."""
    r = _versioned(data)
    try:
        received = _get_datetime(r)
        if received is None:
            raise CodecError("a reading must have a receive time")
        device_time = _get_datetime(r)
        observations = tuple(_get_observation(r) for _ in range(r.count()))
        flags = frozenset(r.str() for _ in range(r.count()))
        details = _get_value(r, 0)
        r.end()
        if not isinstance(details, dict):
            raise CodecError("reading details are not a mapping")
        return Reading(
            id=id,
            device=device,
            kind=kind,
            device_time=device_time,
            received=received,
            observations=observations,
            flags=flags,
            details=details,
        )
    except (ValueError, OverflowError) as exc:  # bad datetimes, Observation invariants
        if isinstance(exc, CodecError):
            raise
        raise CodecError(str(exc)) from exc


def decode_value(data: bytes) -> Any:
    """Inverse of `encode_value`."""
    r = _versioned(data)
    try:
        value = _get_value(r, 0)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(str(exc)) from exc
    r.end()
    return value


def _versioned(data: bytes) -> _Reader:
    r = _Reader(bytes(data))
    version = r.byte()
    if version != VERSION:
        raise CodecError(f"unknown codec version {version}")
    return r


def _get_datetime(r: _Reader) -> datetime | None:
    tag = r.byte()
    if tag == _DT_ABSENT:
        return None
    if tag == _DT_NAIVE:
        return _EPOCH_NAIVE + timedelta(microseconds=r.int())
    if tag == _DT_AWARE:
        instant = _EPOCH_AWARE + timedelta(microseconds=r.int())
        return instant.astimezone(timezone(timedelta(microseconds=r.int())))
    raise CodecError(f"unknown datetime tag {tag}")


def _get_observation(r: _Reader) -> Observation:
    tag = r.byte()
    code = _TAG_CODES.get(tag)
    if code is None:
        raise CodecError(f"unknown code tag {tag}")
    flags = r.byte()
    if flags & ~(_OBS_VALUE | _OBS_CANONICAL_UNIT | _OBS_SOURCE_UNIT):
        raise CodecError(f"unknown observation flags {flags:#x}")
    value = r.f64() if flags & _OBS_VALUE else None
    special = None if flags & _OBS_VALUE else r.str()
    unit = canonical_unit(code) if flags & _OBS_CANONICAL_UNIT else r.str()
    source_unit = r.str() if flags & _OBS_SOURCE_UNIT else None
    return Observation(code, value, unit, source_unit, special)


def _get_value(r: _Reader, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise CodecError(f"values nested deeper than {_MAX_DEPTH}")
    tag = r.byte()
    if tag in _SCALARS:
        return _SCALARS[tag](r)
    if tag in (_FLOATS_LIST, _FLOATS_TUPLE):
        n = r.count(8)
        floats = struct.unpack(f"<{n}d", r.take(8 * n))
        return floats if tag == _FLOATS_TUPLE else list(floats)
    if tag in (_LIST, _TUPLE):
        items = [_get_value(r, depth + 1) for _ in range(r.count())]
        return tuple(items) if tag == _TUPLE else items
    if tag == _DICT:
        return {r.str(): _get_value(r, depth + 1) for _ in range(r.count(2))}
    raise CodecError(f"unknown value tag {tag}")


_SCALARS: Mapping[int, Any] = {
    _NONE: lambda r: None,
    _FALSE: lambda r: False,
    _TRUE: lambda r: True,
    _INT: _Reader.int,
    _FLOAT: _Reader.f64,
    _STR: _Reader.str,
    _BYTES: lambda r: r.take(r.count()),
    _DATETIME: _get_datetime,
}
