"""Compact, versioned binary codec for what the store encrypts. Pure: bytes in, values out.

A reading's body carries everything except the fields the store keeps in clear columns (id,
device, kind), which the caller passes back on decoding; those are bound to the ciphertext as
associated data instead. Detail values use a small tagged format that keeps tuples apart from
lists and packs float sequences (RR intervals, waveform samples) as little-endian doubles.
Anything malformed raises `CodecError`, never another exception.

Reading bodies are at version 2: the times and counts sit in one fixed-width header whose
layout the first byte after the version names, so the common reading decodes with a few
`struct` calls instead of a varint walk (the outbox decodes every reading it sends). Version 1
bodies (varint times and counts; observations, flags and details as in version 2) still
decode. Tagged values (`encode_value`) are unchanged and stay at version 1.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hub.model import Code, Kind, Observation, Reading, canonical_unit

VERSION = 2  # of reading bodies
VALUE_VERSION = 1  # of tagged values
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
_TAG_CODES: Mapping[int, tuple[Code, str]] = {
    tag: (code, canonical_unit(code)) for code, tag in _CODE_TAGS.items()
}

_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _BYTES = range(7)
_LIST, _TUPLE, _DICT, _FLOATS_LIST, _FLOATS_TUPLE, _DATETIME = range(7, 13)

_OBS_VALUE, _OBS_CANONICAL_UNIT, _OBS_SOURCE_UNIT = 1, 2, 4
_DT_ABSENT, _DT_NAIVE, _DT_AWARE = 0, 1, 2
_EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_F64 = struct.Struct("<d")
_US = timedelta(microseconds=1)
_PLAIN_OBS = _OBS_VALUE | _OBS_CANONICAL_UNIT  # a value in the canonical unit: 10 bytes

# Version 2 header: a shape byte naming the form of the receive time (bits 0-1) and of the
# device time (bits 2-3) and whether the counts are wide (bit 4), then one fixed layout per
# shape: each time as microseconds since the epoch (the UTC epoch when aware), plus its UTC
# offset in microseconds when that is not zero, then the observation and flag counts. The
# hub's own receive times are UTC, so the common header is as small as version 1's varints.
_T_ABSENT, _T_NAIVE, _T_UTC, _T_OFFSET = 0, 1, 2, 3
_T_FIELDS = {_T_ABSENT: "", _T_NAIVE: "q", _T_UTC: "q", _T_OFFSET: "qq"}
_WIDE_COUNTS = 16
_SHAPES: Mapping[int, struct.Struct] = {
    received | device << 2 | wide: struct.Struct(
        "<" + _T_FIELDS[received] + _T_FIELDS[device] + ("HH" if wide else "BB")
    )
    for received in (_T_NAIVE, _T_UTC, _T_OFFSET)
    for device in _T_FIELDS
    for wide in (0, _WIDE_COUNTS)
}
_MAX_COUNT = 0xFFFF
_HUB_SHAPE = _T_UTC | _T_NAIVE << 2  # the hub's UTC receive time, the device's local clock
_HUB_LAYOUT = _SHAPES[_HUB_SHAPE]


class CodecError(ValueError):
    """Bytes that are not a valid encoding, or a value the codec cannot represent."""


# ---------------------------------------------------------------- encoding


def encode_reading(reading: Reading) -> bytes:
    """The encrypted part of a reading (version 2): times, observations, flags, details."""
    if reading.received is None:
        raise CodecError("a reading must have a receive time")
    received_form, received = _time_fields(reading.received)
    device_form, device_time = _time_fields(reading.device_time)
    counts = len(reading.observations), len(reading.flags)
    if max(counts) > _MAX_COUNT:
        raise CodecError(f"more than {_MAX_COUNT} observations or flags")
    shape = received_form | device_form << 2 | (_WIDE_COUNTS if max(counts) > 0xFF else 0)
    out = bytearray((VERSION, shape))
    try:
        out += _SHAPES[shape].pack(*received, *device_time, *counts)
    except struct.error as exc:
        raise CodecError(f"time out of range: {exc}") from exc
    for obs in reading.observations:
        _put_observation(out, obs)
    for flag in sorted(reading.flags):
        _put_str(out, flag)
    if not isinstance(reading.details, Mapping):
        raise CodecError("reading details must be a mapping")
    _put_value(out, dict(reading.details), 0)
    return bytes(out)


def encode_value(value: Any) -> bytes:
    """A versioned tagged value (None, bool, int, float, str, bytes, list, tuple, dict with
    str keys, datetime)."""
    out = bytearray((VALUE_VERSION,))
    _put_value(out, value, 0)
    return bytes(out)


def _instant(when: datetime) -> tuple[int] | tuple[int, int]:
    """(microseconds since the naive epoch) or (since the UTC epoch, UTC offset)."""
    if not isinstance(when, datetime):
        raise CodecError(f"expected a datetime, got {type(when).__name__}")
    offset = when.utcoffset()
    if offset is None:
        return ((when - _EPOCH_NAIVE) // _US,)
    return (when - _EPOCH_AWARE) // _US, offset // _US


def _time_fields(when: datetime | None) -> tuple[int, tuple[int, ...]]:
    """The version 2 form of a time and its header fields."""
    if when is None:
        return _T_ABSENT, ()
    instant = _instant(when)
    if len(instant) == 1:
        return _T_NAIVE, instant
    return (_T_UTC, instant[:1]) if instant[1] == 0 else (_T_OFFSET, instant)


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


def _put_datetime(out: bytearray, when: datetime) -> None:
    instant = _instant(when)
    out.append(_DT_NAIVE if len(instant) == 1 else _DT_AWARE)
    for n in instant:
        _put_int(out, n)


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

# Decoders take the data and a position and return (value, next position). A read past the
# end raises IndexError or struct.error, which the entry points turn into CodecError.


def decode_reading(data: bytes, *, id: str, device: str, kind: Kind) -> Reading:
    """Inverse of `encode_reading` (versions 1 and 2), given the fields kept in clear."""
    data = bytes(data)
    try:
        version = data[0]
        if version == VERSION:
            received, device_time, n_obs, n_flags, pos = _header_v2(data)
        elif version == 1:
            received, device_time, n_obs, n_flags, pos = _header_v1(data)
        else:
            raise CodecError(f"unknown codec version {version}")
        observations = []
        for _ in range(n_obs):
            obs, pos = _get_observation(data, pos)
            observations.append(obs)
        if n_flags is None:
            n_flags, pos = _get_count(data, pos, 1)
        flags = []
        for _ in range(n_flags):
            flag, pos = _get_str(data, pos)
            flags.append(flag)
        details, pos = _get_details(data, pos)
    except (IndexError, struct.error):
        raise CodecError("truncated data") from None
    except (ValueError, OverflowError) as exc:  # bad datetimes, Observation invariants
        if isinstance(exc, CodecError):
            raise
        raise CodecError(str(exc)) from exc
    _check_end(data, pos)
    if not isinstance(details, dict):
        raise CodecError("reading details are not a mapping")
    return Reading(
        id, device, kind, device_time, received, tuple(observations), frozenset(flags), details
    )


def decode_value(data: bytes) -> Any:
    """Inverse of `encode_value`."""
    data = bytes(data)
    try:
        if data[0] != VALUE_VERSION:
            raise CodecError(f"unknown codec version {data[0]}")
        value, pos = _get_value(data, 1, 0)
    except (IndexError, struct.error):
        raise CodecError("truncated data") from None
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(str(exc)) from exc
    _check_end(data, pos)
    return value


def _check_end(data: bytes, pos: int) -> None:
    if pos != len(data):
        raise CodecError(f"{len(data) - pos} unexpected trailing bytes")


_Header = tuple[datetime, datetime | None, int, int | None, int]


def _header_v2(data: bytes) -> _Header:
    shape = data[1]
    if shape == _HUB_SHAPE:  # the usual reading, without the general path's calls
        received_us, device_us, n_obs, n_flags = _HUB_LAYOUT.unpack_from(data, 2)
        received = _EPOCH_AWARE + timedelta(0, 0, received_us)
        return received, _naive(device_us), n_obs, n_flags, 2 + _HUB_LAYOUT.size
    layout = _SHAPES.get(shape)
    if layout is None:
        raise CodecError(f"unknown header shape {shape}")
    fields = layout.unpack_from(data, 2)
    received, i = _time(shape & 3, fields, 0)
    device_time, i = _time(shape >> 2 & 3, fields, i)  # (no shape has an absent receive time)
    return received, device_time, fields[i], fields[i + 1], 2 + layout.size


def _time(form: int, fields: tuple[int, ...], i: int) -> tuple[datetime | None, int]:
    if form == _T_UTC:
        return _EPOCH_AWARE + timedelta(0, 0, fields[i]), i + 1
    if form == _T_NAIVE:
        return _naive(fields[i]), i + 1
    if form == _T_OFFSET:
        return _aware(fields[i], fields[i + 1]), i + 2
    return None, i


def _header_v1(data: bytes) -> _Header:
    """Version 1: varint times and observation count; the flag count follows the
    observations (None here)."""
    received, pos = _get_datetime(data, 1)
    if received is None:
        raise CodecError("a reading must have a receive time")
    device_time, pos = _get_datetime(data, pos)
    n_obs, pos = _get_count(data, pos, 1)
    return received, device_time, n_obs, None, pos


def _naive(us: int) -> datetime:
    return _EPOCH_NAIVE + timedelta(0, 0, us)


def _aware(us: int, offset_us: int) -> datetime:
    instant = _EPOCH_AWARE + timedelta(0, 0, us)
    return instant if offset_us == 0 else instant.astimezone(_zone(offset_us))


@functools.lru_cache(maxsize=64)
def _zone(offset_us: int) -> timezone:
    return timezone(timedelta(microseconds=offset_us))


def _get_uint(data: bytes, pos: int) -> tuple[int, int]:
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


def _get_int(data: bytes, pos: int) -> tuple[int, int]:
    n, pos = _get_uint(data, pos)
    return (n >> 1) ^ -(n & 1), pos


def _get_count(data: bytes, pos: int, item_size: int) -> tuple[int, int]:
    n, pos = _get_uint(data, pos)
    if n * item_size > len(data) - pos:
        raise CodecError("length exceeds the remaining data")
    return n, pos


def _get_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = _get_count(data, pos, 1)
    return data[pos : pos + n], pos + n


def _get_str(data: bytes, pos: int) -> tuple[str, int]:
    n = data[pos]
    if n < 0x80:  # a one-byte length: most strings, read without the varint call
        pos += 1
        if n > len(data) - pos:
            raise CodecError("length exceeds the remaining data")
    else:
        n, pos = _get_count(data, pos, 1)
    try:
        return data[pos : pos + n].decode("utf-8"), pos + n
    except UnicodeDecodeError as exc:
        raise CodecError(f"invalid utf-8: {exc}") from exc


def _get_f64(data: bytes, pos: int) -> tuple[float, int]:
    return _F64.unpack_from(data, pos)[0], pos + 8


def _get_datetime(data: bytes, pos: int) -> tuple[datetime | None, int]:
    tag = data[pos]
    if tag == _DT_ABSENT:
        return None, pos + 1
    if tag == _DT_NAIVE:
        us, pos = _get_int(data, pos + 1)
        return _naive(us), pos
    if tag == _DT_AWARE:
        us, pos = _get_int(data, pos + 1)
        offset, pos = _get_int(data, pos)
        return _aware(us, offset), pos
    raise CodecError(f"unknown datetime tag {tag}")


def _get_observation(data: bytes, pos: int) -> tuple[Observation, int]:
    tag, flags = data[pos], data[pos + 1]
    entry = _TAG_CODES.get(tag)
    if entry is None:
        raise CodecError(f"unknown code tag {tag}")
    code, unit = entry
    if flags == _PLAIN_OBS:
        if pos + 10 > len(data):
            raise CodecError("truncated data")
        return _plain_observation(data[pos : pos + 10]), pos + 10
    if flags & ~(_OBS_VALUE | _OBS_CANONICAL_UNIT | _OBS_SOURCE_UNIT):
        raise CodecError(f"unknown observation flags {flags:#x}")
    pos += 2
    value = special = source_unit = None
    if flags & _OBS_VALUE:
        value, pos = _get_f64(data, pos)
    else:
        special, pos = _get_str(data, pos)
    if not flags & _OBS_CANONICAL_UNIT:
        unit, pos = _get_str(data, pos)
    if flags & _OBS_SOURCE_UNIT:
        source_unit, pos = _get_str(data, pos)
    return Observation(code, value, unit, source_unit, special), pos


def _get_details(data: bytes, pos: int) -> tuple[Any, int]:
    """A reading's details: the last field of the body, so their bytes are its tail."""
    if len(data) - pos <= _SHORT_DETAILS:
        items = _scalar_items(data[pos:])
        if items is not None:
            return dict(items), len(data)
    return _get_value(data, pos, 0)


_SHORT_DETAILS = 160  # bytes; long details (waveforms, RR series) vary and are not remembered


_IMMUTABLE_SCALARS = frozenset((str, int, float, bool, bytes, datetime, type(None)))


@functools.lru_cache(maxsize=256)
def _scalar_items(tail: bytes) -> tuple[tuple[str, Any], ...] | None:
    """The items of details that are a flat dict of immutable scalars (the common
    `{"level": "green", "clock_sync": "synced"}`), remembered by their bytes so each reading
    gets a fresh dict without decoding it again; None for anything else."""
    if not tail or tail[0] != _DICT:
        return None
    value, end = _get_value(tail, 0, 0)
    if end != len(tail) or any(type(v) not in _IMMUTABLE_SCALARS for v in value.values()):
        return None
    return tuple(value.items())


@functools.lru_cache(maxsize=1024)
def _plain_observation(raw: bytes) -> Observation:
    """A value in the canonical unit, from its 10 bytes (tag, flags, double). Observations are
    immutable and vital signs repeat (a pulse of 62, an SpO2 of 97), so equal bytes share
    one instance; keyed by the bytes, so 0.0 and -0.0 stay apart."""
    code, unit = _TAG_CODES[raw[0]]
    return Observation(code, _F64.unpack_from(raw, 2)[0], unit)


def _get_value(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > _MAX_DEPTH:
        raise CodecError(f"values nested deeper than {_MAX_DEPTH}")
    tag = data[pos]
    pos += 1
    if tag == _STR:
        return _get_str(data, pos)
    if tag == _DICT:
        n, pos = _get_count(data, pos, 2)
        out = {}
        for _ in range(n):
            key, pos = _get_str(data, pos)
            if data[pos] == _STR:  # the common detail: a short text
                out[key], pos = _get_str(data, pos + 1)
            else:
                out[key], pos = _get_value(data, pos, depth + 1)
        return out, pos
    scalar = _SCALARS.get(tag)
    if scalar is not None:
        return scalar(data, pos)
    if tag in (_FLOATS_LIST, _FLOATS_TUPLE):
        n, pos = _get_count(data, pos, 8)
        floats = struct.unpack_from(f"<{n}d", data, pos)
        return (floats if tag == _FLOATS_TUPLE else list(floats)), pos + 8 * n
    if tag in (_LIST, _TUPLE):
        n, pos = _get_count(data, pos, 1)
        items = []
        for _ in range(n):
            item, pos = _get_value(data, pos, depth + 1)
            items.append(item)
        return (tuple(items) if tag == _TUPLE else items), pos
    raise CodecError(f"unknown value tag {tag}")


_SCALARS: Mapping[int, Any] = {
    _NONE: lambda data, pos: (None, pos),
    _FALSE: lambda data, pos: (False, pos),
    _TRUE: lambda data, pos: (True, pos),
    _INT: _get_int,
    _FLOAT: _get_f64,
    _BYTES: _get_bytes,
    _DATETIME: _get_datetime,
}
