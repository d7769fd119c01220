"""Readings of every kind the hub sends, made by the real decoders from encoded characteristic
values, and the independent validator (Medplum, run by Node) the FHIR tests check them with."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.ble.profiles import blood_pressure, decode, glucose, heart_rate, plx, thermometer, weight
from hub.model import Code, DeviceInfo, Kind, Observation, Reading, SampleBlock
from hub.serial import cms50

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
HUB = "hub-a"
PATIENT = "pseudo-42"
CUFF = "C0:11:22:33:44:55"
OXIMETER = "C0:11:22:33:44:66"
SERIAL = "cms50d-1"
VALIDATOR = Path(__file__).parent / "fhir_validator"
VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/"


def _reading(n: int, char: int, data: bytes, device: str = CUFF, **details: Any) -> Reading:
    m = decode(char, data)
    return Reading.of(
        dataclasses.replace(m, details={**m.details, **details}),
        id=f"0192f0e8-7d2a-7000-8000-{n:012d}",
        device=device,
        received=T0 + timedelta(seconds=n),
    )


def _serial_reading(n: int) -> Reading:
    """A second of a USB serial CMS50D+ oximeter, through the real frame parser."""
    frames = b"".join(cms50.encode_frame(pleth=60, pulse=71, spo2=97) for _ in range(60))
    m = cms50.summarise(cms50.parse(frames).frames)
    assert m is not None
    return Reading.of(
        m, id=f"0192f0e8-7d2a-7000-8000-{n:012d}", device=SERIAL, received=T0 + timedelta(seconds=n)
    )


def every_kind() -> dict[str, Reading]:
    """One reading of every characteristic the hub decodes, a summary and a stream block."""
    when = datetime(2026, 11, 21, 7, 59, 58)
    minute = T0 - timedelta(minutes=1)
    samples = struct.pack("<6f", 97, 97, float("nan"), 96, 98, 97)
    return {
        "blood-pressure": _reading(
            1, 0x2A35,
            blood_pressure.encode_measurement(128, 82, 97, time=when, pulse=64, status=0b101),
            level="yellow", clock_offset_s=-30.0,
        ),
        "cuff-pressure": _reading(2, 0x2A36, blood_pressure.encode_cuff_pressure(85)),
        "heart-rate": _reading(
            3, 0x2A37, heart_rate.encode_measurement(61, rr_intervals_s=[0.98]), device=OXIMETER
        ),
        "spo2-spot": _reading(
            4, 0x2A5E, plx.encode_spot_check(
                96, 70, time=when, pai=2.5, measurement_status=0x40, device_sensor_status=0x2020
            ),
            device=OXIMETER, level="green",
        ),
        "spo2-continuous": _reading(5, 0x2A5F, plx.encode_continuous(95, 72), device=OXIMETER),
        "serial-spo2": _serial_reading(14),
        "temperature": _reading(6, 0x2A1C, thermometer.encode_measurement(37.2, time=when)),
        "intermediate-temperature": _reading(7, 0x2A1E, thermometer.encode_measurement(36.1)),
        "weight": _reading(8, 0x2A9D, weight.encode_measurement(72.5, bmi=23.1, height=1.77)),
        "glucose": _reading(
            9, 0x2A18,
            glucose.encode_measurement(3, when, concentration=0.00095, sensor_status=0x0801),
            level="red",
        ),
        "respiratory-rate": Reading(
            "0192f0e8-7d2a-7000-8000-000000000010", SERIAL, Kind.RESPIRATORY_RATE, None,
            T0, (Observation(Code.RESPIRATORY_RATE, 16.0, "/min"),),
        ),
        "summary": Reading(
            "0192f0e8-7d2a-7000-8000-000000000011", OXIMETER, Kind.SUMMARY, None, T0,
            (Observation(Code.SPO2, 96.5, "%"),),
            details={"period_start": minute.isoformat(), "period_s": 60, "min": 95.0,
                     "max": 98.0, "valid_s": 58, "level": "green", "clock_sync": "synced"},
        ),
        "heart-rate-summary": Reading(
            "0192f0e8-7d2a-7000-8000-000000000013", OXIMETER, Kind.SUMMARY, None, T0,
            (Observation(Code.HEART_RATE, 61.2, "/min"),),
            details={"period_start": minute.isoformat(), "period_s": 60, "min": 58.0,
                     "max": 66.0, "valid_s": 60, "level": "green", "sdnn_ms": 41.5,
                     "rmssd_ms": 35.25, "pnn50": 12.5},
        ),
        "stream-block": Reading(
            "0192f0e8-7d2a-7000-8000-000000000012", OXIMETER, Kind.STREAM_BLOCK, None, T0, (),
            details={"level": "green"}, samples=SampleBlock(Code.SPO2, minute, 1.0, samples),
        ),
    }  # fmt: skip


INFO = {
    CUFF: DeviceInfo(CUFF, "blood-pressure", "Omron", "M7", "S1", "1.0", "2.1", "3.0"),
    OXIMETER: DeviceInfo(OXIMETER, "pulse-oximeter", "Nonin", "3230", system_id="0011223344556677"),
    SERIAL: DeviceInfo(SERIAL, "pulse-oximeter", "Contec", "CMS50D+"),
}


def bundle(readings: list[Reading], batch: str = "batch-1") -> dict[str, Any]:
    from hub.wire.fhir import bundle_json

    return json.loads(bundle_json(batch, HUB, PATIENT, readings, T0, INFO.get))


def resources(b: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == kind]


def claimed_vital_signs(resource: dict[str, Any]) -> list[str]:
    """The R4 vital-signs profiles a resource claims in meta.profile."""
    return [p for p in resource.get("meta", {}).get("profile", []) if p.startswith(VITAL_SIGNS)]


def node_validate(items: list[tuple[dict[str, Any], list[str]]]) -> list[dict[str, Any]]:
    """Validate each (resource, profiles) with Medplum: a result per resource and profile."""
    node = shutil.which("node")
    if node is None or not (VALIDATOR / "node_modules" / "@medplum" / "core").is_dir():
        raise RuntimeError("the FHIR validator is not installed: run `make test` (npm ci)")
    payload = json.dumps([{"resource": r, "profiles": p} for r, p in items])
    done = subprocess.run(
        [node, "validate.mjs"], cwd=VALIDATOR, input=payload, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


# Medplum 4.5.2's known false alarms (see ../shared/notes/fhir-interop.md): it parses a
# resource type out of urn:uuid references, and it misses the bp profile's component slices
# on a conformant panel (checked instead by test_bp_panel_component_slices).
KNOWN_FALSE_ALARMS = ("Invalid reference", "SystolicBP", "DiastolicBP")


def real_errors(result: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    """The errors that are not known false alarms. Medplum also evaluates vs-1 (a dateTime
    precise to the day) on an effectivePeriod, which the constraint does not apply to; the
    period's own precision is checked by test_summary_has_effective_period_and_statistics."""
    period = "effectivePeriod" in resource
    return [
        e
        for e in result["errors"]
        if not any(k in e for k in KNOWN_FALSE_ALARMS) and not (period and "vs-1" in e)
    ]
