"""`hub bench decode`: characteristic decodes per second, against a ceiling and a peer.

Figures: decodes per second of each characteristic on realistic frames (64 varying values
each); for Blood Pressure and Heart Rate also with the `Reading` built (`Reading.of` with a
precomputed id and receive time, as the BLE edge does).

Ceiling, measured in the same run over the same bytes: a bare loop of precompiled
`struct.unpack_from` calls that pulls every field out of each frame at offsets known in
advance (no flags logic, no objects) — `*_ceiling_per_s`, which the targets use. For
reference, `*_one_unpack_per_s` is the stricter bound of one whole-frame unpack per frame.

Peer: Bumble's own Heart Rate Measurement parser
(`HeartRateService.HeartRateMeasurement.from_bytes`) on the same heart-rate frames.
Subject, ceiling and peer runs are interleaved; each figure is the best of its rounds.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bumble.profiles.heart_rate_service import HeartRateService

from hub.bench import BenchResult, Target, best_rate
from hub.ble.profiles import (
    battery,
    blood_pressure,
    current_time,
    device_info,
    glucose,
    heart_rate,
    plx,
    racp,
    thermometer,
    weight,
)
from hub.ble.profiles.ieee11073 import Number
from hub.model import Reading

FRAMES = 64
ROUNDS = 5
_ID = "019a8f2c-5d3e-7b41-8c9a-0123456789ab"
_DEVICE = "C0:11:22:33:44:55"
_RECEIVED = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
_T0 = datetime(2026, 11, 21, 7, 0)

Work = Callable[[], int]


def _frames() -> dict[str, tuple[Callable[[bytes], object], list[bytes]]]:
    """Realistic values: what the devices of each kind send in a day, varied per frame."""
    r = range(FRAMES)
    return {
        "blood_pressure": (
            blood_pressure.decode_measurement,
            [
                blood_pressure.encode_measurement(
                    112 + i % 40,
                    70 + i % 20,
                    84 + i % 25,
                    time=_T0.replace(minute=i % 60),
                    pulse=58 + i % 30,
                    user_id=1,
                    status=0x04 if i % 9 == 0 else 0,
                )
                for i in r
            ],
        ),
        "heart_rate": (
            heart_rate.decode_measurement,
            [
                heart_rate.encode_measurement(
                    55 + i % 60,
                    sensor_contact=True,
                    rr_intervals_s=[
                        (700 + (i * 37 + k * 11) % 400) / 1024 for k in range(1 + i % 3)
                    ],
                )
                for i in r
            ],
        ),
        "spo2_spot": (
            plx.decode_spot_check,
            [
                plx.encode_spot_check(92 + i % 8, 60 + i % 30, time=_T0, pai=Number(20 + i, -1))
                for i in r
            ],
        ),
        "spo2_continuous": (
            plx.decode_continuous,
            [plx.encode_continuous(92 + i % 8, 60 + i % 30, measurement_status=0) for i in r],
        ),
        "temperature": (
            thermometer.decode_measurement,
            [
                thermometer.encode_measurement(
                    Number(360 + i % 25, -1), time=_T0, temperature_type="ear"
                )
                for i in r
            ],
        ),
        "weight": (
            weight.decode_measurement,
            [weight.encode_measurement(60 + i * 0.25, time=_T0, user_id=1) for i in r],
        ),
        "glucose": (
            glucose.decode_measurement,
            [
                glucose.encode_measurement(i, _T0, concentration=Number(40 + i, -4), mol_per_l=True)
                for i in r
            ],
        ),
        "battery": (battery.decode_level, [bytes((i,)) for i in r]),
        "racp": (racp.decode, [racp.encode(racp.RacpNumberOfRecords(i)) for i in r]),
        "current_time": (
            current_time.decode_current_time,
            [
                current_time.encode_current_time(
                    current_time.CurrentTime.of(_T0.replace(second=i % 60))
                )
                for i in r
            ],
        ),
        "device_information": (
            lambda data: device_info.decode_string(0x2A24, data),
            [f"BM54-{i}".encode() for i in r],
        ),
    }


def _decode_work(decode: Callable[[bytes], object], frames: Sequence[bytes]) -> Work:
    def work() -> int:
        for frame in frames:
            decode(frame)
        return len(frames)

    return work


def _reading_work(decode: Callable[[bytes], object], frames: Sequence[bytes]) -> Work:
    of = Reading.of

    def work() -> int:
        for frame in frames:
            of(decode(frame), id=_ID, device=_DEVICE, received=_RECEIVED)  # type: ignore[arg-type]
        return len(frames)

    return work


Plan = list[tuple[bytes, tuple[tuple[Callable[..., tuple[object, ...]], int], ...]]]


def _field_plan(frames: Sequence[bytes], layout: Callable[[bytes], str]) -> Plan:
    """For each frame, one precompiled unpacker per field of its layout, at its offset."""
    plan: Plan = []
    for frame in frames:
        fields = []
        offset = 0
        for code in layout(frame).split():
            s = struct.Struct("<" + code)
            fields.append((s.unpack_from, offset))
            offset += s.size
        if offset != len(frame):
            raise ValueError(f"ceiling layout covers {offset} of {len(frame)} bytes")
        plan.append((frame, tuple(fields)))
    return plan


def _ceiling_work(plan: Plan) -> Work:
    def work() -> int:
        for frame, fields in plan:
            for unpack, offset in fields:
                unpack(frame, offset)
        return len(plan)

    return work


def _one_unpack_work(frames: Sequence[bytes], layout: Callable[[bytes], str]) -> Work:
    pairs = [(struct.Struct("<" + layout(f).replace(" ", "")).unpack_from, f) for f in frames]

    def work() -> int:
        for unpack, frame in pairs:
            unpack(frame)
        return len(pairs)

    return work


def _bp_layout(_frame: bytes) -> str:
    # flags, systolic, diastolic, MAP, date time, pulse, user id, status
    return "B H H H HBBBBB H B H"


def _hr_layout(frame: bytes) -> str:
    # flags, 8-bit rate, then the RR intervals
    return "B B" + " H" * ((len(frame) - 2) // 2)


def run() -> BenchResult:
    frames = _frames()
    bp_frames = frames["blood_pressure"][1]
    hr_frames = frames["heart_rate"][1]
    bumble_parse = HeartRateService.HeartRateMeasurement.from_bytes
    works: dict[str, Work] = {
        f"{name}_per_s": _decode_work(decode, data) for name, (decode, data) in frames.items()
    }
    works |= {
        "blood_pressure_reading_per_s": _reading_work(blood_pressure.decode_measurement, bp_frames),
        "heart_rate_reading_per_s": _reading_work(heart_rate.decode_measurement, hr_frames),
        "bp_ceiling_per_s": _ceiling_work(_field_plan(bp_frames, _bp_layout)),
        "hr_ceiling_per_s": _ceiling_work(_field_plan(hr_frames, _hr_layout)),
        "bp_one_unpack_per_s": _one_unpack_work(bp_frames, _bp_layout),
        "hr_one_unpack_per_s": _one_unpack_work(hr_frames, _hr_layout),
        "bumble_hr_per_s": _decode_work(bumble_parse, hr_frames),
    }
    best = dict.fromkeys(works, 0.0)
    for _ in range(ROUNDS):
        for name, work in works.items():
            best[name] = max(best[name], best_rate(work, repeats=1, min_seconds=0.05))

    result = BenchResult("decode", figures=dict(best))
    bp, hr = best["blood_pressure_reading_per_s"], best["heart_rate_reading_per_s"]
    result.figures["bp_vs_one_unpack"] = bp / best["bp_one_unpack_per_s"]
    result.figures["hr_vs_one_unpack"] = hr / best["hr_one_unpack_per_s"]
    result.targets = {
        "bp_vs_ceiling": Target(bp / best["bp_ceiling_per_s"], 0.10),
        "hr_vs_ceiling": Target(hr / best["hr_ceiling_per_s"], 0.10),
        "hr_vs_bumble": Target(hr / best["bumble_hr_per_s"], 1.0),
    }
    return result
