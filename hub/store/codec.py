"""Compact, versioned binary codec for what the store encrypts. Pure: bytes in, values out.

A reading's body carries everything except the fields the store keeps in clear columns (id,
device, kind), which the caller passes back on decoding; those are bound to the ciphertext as
associated data instead. Details are a tagged value (`hub.store.values`). Anything malformed
raises `CodecError`, never another exception.

Reading bodies are at version 2: the times and counts sit in one fixed-width header whose
layout the first byte after the version names, so the common reading decodes with a few
`struct` calls instead of a varint walk (the outbox decodes every reading it sends). A reading
that carries a sample block (a stream-minute, `Reading.samples`) is written at version 3: the
version 2 body with the block right after the header — code tag, start time (in the header's
time forms), sampling period (double), sample count (varint), then the little-endian float32
values as they are (NaN marks a gap): 60 samples cost 240 bytes plus about 20. Version 1
bodies (varint times and counts; observations, flags and details as in version 2) still
decode.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from hub.model import Code, Kind, Observation, Reading, SampleBlock, canonical_unit
from hub.store.values import (
    DICT,
    EPOCH_AWARE,
    F64,
    CodecError,
    aware,
    check_end,
    get_count,
    get_datetime,
    get_f64,
    get_str,
    get_value,
    instant,
    naive,
    put_str,
    put_uint,
    put_value,
)

VERSION = 2  # of reading bodies without a sample block
SAMPLES_VERSION = 3  # of reading bodies with one
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

_OBS_VALUE, _OBS_CANONICAL_UNIT, _OBS_SOURCE_UNIT = 1, 2, 4
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
# A sample block's start time (in one of the header's forms) and its period in seconds.
_BLOCK_LAYOUTS: Mapping[int, struct.Struct] = {
    form: struct.Struct("<" + _T_FIELDS[form] + "d") for form in (_T_NAIVE, _T_UTC, _T_OFFSET)
}
_F32 = 4


# ---------------------------------------------------------------- encoding


def encode_reading(reading: Reading) -> bytes:
    """The encrypted part of a reading: times, its sample block if any (version 3, else
    version 2), observations, flags, details."""
    if reading.received is None:
        raise CodecError("a reading must have a receive time")
    received_form, received = _time_fields(reading.received)
    device_form, device_time = _time_fields(reading.device_time)
    counts = len(reading.observations), len(reading.flags)
    if max(counts) > _MAX_COUNT:
        raise CodecError(f"more than {_MAX_COUNT} observations or flags")
    shape = received_form | device_form << 2 | (_WIDE_COUNTS if max(counts) > 0xFF else 0)
    out = bytearray((VERSION if reading.samples is None else SAMPLES_VERSION, shape))
    try:
        out += _SHAPES[shape].pack(*received, *device_time, *counts)
        if reading.samples is not None:
            _put_samples(out, reading.samples)
    except struct.error as exc:
        raise CodecError(f"time out of range: {exc}") from exc
    for obs in reading.observations:
        _put_observation(out, obs)
    for flag in sorted(reading.flags):
        put_str(out, flag)
    if not isinstance(reading.details, Mapping):
        raise CodecError("reading details must be a mapping")
    put_value(out, dict(reading.details), 0)
    return bytes(out)


def _time_fields(when: datetime | None) -> tuple[int, tuple[int, ...]]:
    """The version 2 form of a time and its header fields."""
    if when is None:
        return _T_ABSENT, ()
    parts = instant(when)
    if len(parts) == 1:
        return _T_NAIVE, parts
    return (_T_UTC, parts[:1]) if parts[1] == 0 else (_T_OFFSET, parts)


def _put_samples(out: bytearray, block: SampleBlock) -> None:
    if not isinstance(block, SampleBlock):
        raise CodecError(f"expected a SampleBlock, got {type(block).__name__}")
    out.append(_code_tag(block.code))
    form, start = _time_fields(block.start)
    out.append(form)
    out += _BLOCK_LAYOUTS[form].pack(*start, block.period_s)
    put_uint(out, len(block.values) // _F32)
    out += block.values


def _code_tag(code: Code) -> int:
    try:
        return _CODE_TAGS[code]
    except KeyError as exc:
        raise CodecError(f"no codec tag for code {code!r}") from exc


def _put_observation(out: bytearray, obs: Observation) -> None:
    out.append(_code_tag(obs.code))
    flags = (
        (_OBS_VALUE if obs.value is not None else 0)
        | (_OBS_CANONICAL_UNIT if obs.unit == canonical_unit(obs.code) else 0)
        | (_OBS_SOURCE_UNIT if obs.source_unit is not None else 0)
    )
    out.append(flags)
    if obs.value is not None:
        out += F64.pack(obs.value)
    else:
        put_str(out, obs.special or "")
    if not flags & _OBS_CANONICAL_UNIT:
        put_str(out, obs.unit)
    if obs.source_unit is not None:
        put_str(out, obs.source_unit)


# ---------------------------------------------------------------- decoding

# Decoders take the data and a position and return (value, next position). A read past the
# end raises IndexError or struct.error, which the entry points turn into CodecError.


def decode_reading(data: bytes, *, id: str, device: str, kind: Kind) -> Reading:
    """Inverse of `encode_reading` (versions 1, 2 and 3), given the fields kept in clear."""
    data = bytes(data)
    samples = None
    try:
        version = data[0]
        if version == VERSION:
            received, device_time, n_obs, n_flags, pos = _header_v2(data)
        elif version == SAMPLES_VERSION:
            received, device_time, n_obs, n_flags, pos = _header_v2(data)
            samples, pos = _get_samples(data, pos)
        elif version == 1:
            received, device_time, n_obs, n_flags, pos = _header_v1(data)
        else:
            raise CodecError(f"unknown codec version {version}")
        observations = []
        for _ in range(n_obs):
            obs, pos = _get_observation(data, pos)
            observations.append(obs)
        if n_flags is None:
            n_flags, pos = get_count(data, pos, 1)
        flags = []
        for _ in range(n_flags):
            flag, pos = get_str(data, pos)
            flags.append(flag)
        details, pos = _get_details(data, pos)
    except (IndexError, struct.error):
        raise CodecError("truncated data") from None
    except (ValueError, OverflowError) as exc:  # bad datetimes, Observation/block invariants
        if isinstance(exc, CodecError):
            raise
        raise CodecError(str(exc)) from exc
    check_end(data, pos)
    if not isinstance(details, dict):
        raise CodecError("reading details are not a mapping")
    return Reading(
        id,
        device,
        kind,
        device_time,
        received,
        tuple(observations),
        frozenset(flags),
        details,
        samples,
    )


_Header = tuple[datetime, datetime | None, int, int | None, int]


def _header_v2(data: bytes) -> _Header:
    shape = data[1]
    if shape == _HUB_SHAPE:  # the usual reading, without the general path's calls
        received_us, device_us, n_obs, n_flags = _HUB_LAYOUT.unpack_from(data, 2)
        received = EPOCH_AWARE + timedelta(0, 0, received_us)
        return received, naive(device_us), n_obs, n_flags, 2 + _HUB_LAYOUT.size
    layout = _SHAPES.get(shape)
    if layout is None:
        raise CodecError(f"unknown header shape {shape}")
    fields = layout.unpack_from(data, 2)
    received, i = _time(shape & 3, fields, 0)
    device_time, i = _time(shape >> 2 & 3, fields, i)  # (no shape has an absent receive time)
    return received, device_time, fields[i], fields[i + 1], 2 + layout.size


def _time(form: int, fields: tuple[int, ...], i: int) -> tuple[datetime | None, int]:
    if form == _T_UTC:
        return EPOCH_AWARE + timedelta(0, 0, fields[i]), i + 1
    if form == _T_NAIVE:
        return naive(fields[i]), i + 1
    if form == _T_OFFSET:
        return aware(fields[i], fields[i + 1]), i + 2
    return None, i


def _get_samples(data: bytes, pos: int) -> tuple[SampleBlock, int]:
    tag, form = data[pos], data[pos + 1]
    entry = _TAG_CODES.get(tag)
    if entry is None:
        raise CodecError(f"unknown code tag {tag}")
    layout = _BLOCK_LAYOUTS.get(form)
    if layout is None:
        raise CodecError(f"unknown sample block time form {form}")
    fields = layout.unpack_from(data, pos + 2)
    start, _ = _time(form, fields, 0)
    assert start is not None  # every block layout has a time
    count, pos = get_count(data, pos + 2 + layout.size, _F32)
    end = pos + count * _F32
    return SampleBlock(entry[0], start, fields[-1], data[pos:end]), end


def _header_v1(data: bytes) -> _Header:
    """Version 1: varint times and observation count; the flag count follows the
    observations (None here)."""
    received, pos = get_datetime(data, 1)
    if received is None:
        raise CodecError("a reading must have a receive time")
    device_time, pos = get_datetime(data, pos)
    n_obs, pos = get_count(data, pos, 1)
    return received, device_time, n_obs, None, pos


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
        value, pos = get_f64(data, pos)
    else:
        special, pos = get_str(data, pos)
    if not flags & _OBS_CANONICAL_UNIT:
        unit, pos = get_str(data, pos)
    if flags & _OBS_SOURCE_UNIT:
        source_unit, pos = get_str(data, pos)
    return Observation(code, value, unit, source_unit, special), pos


def _get_details(data: bytes, pos: int) -> tuple[Any, int]:
    """A reading's details: the last field of the body, so their bytes are its tail."""
    if len(data) - pos <= _SHORT_DETAILS:
        items = _scalar_items(data[pos:])
        if items is not None:
            return dict(items), len(data)
    return get_value(data, pos, 0)


_SHORT_DETAILS = 160  # bytes; long details (waveforms, RR series) vary and are not remembered


_IMMUTABLE_SCALARS = frozenset((str, int, float, bool, bytes, datetime, type(None)))


@functools.lru_cache(maxsize=256)
def _scalar_items(tail: bytes) -> tuple[tuple[str, Any], ...] | None:
    """The items of details that are a flat dict of immutable scalars (the common
    `{"level": "green", "clock_sync": "synced"}`), remembered by their bytes so each reading
    gets a fresh dict without decoding it again; None for anything else."""
    if not tail or tail[0] != DICT:
        return None
    value, end = get_value(tail, 0, 0)
    if end != len(tail) or any(type(v) not in _IMMUTABLE_SCALARS for v in value.values()):
        return None
    return tuple(value.items())


@functools.lru_cache(maxsize=1024)
def _plain_observation(raw: bytes) -> Observation:
    """A value in the canonical unit, from its 10 bytes (tag, flags, double). Observations are
    immutable and vital signs repeat (a pulse of 62, an SpO2 of 97), so equal bytes share
    one instance; keyed by the bytes, so 0.0 and -0.0 stay apart."""
    code, unit = _TAG_CODES[raw[0]]
    return Observation(code, F64.unpack_from(raw, 2)[0], unit)
