"""The value fragments of an Observation as JSON text: Quantities in the profiles' UCUM units,
absent values, a summary's statistics, a stream block's SampledData, a period.

Made as text, not dicts: they run for every reading the hub sends (see `hub.wire.fhir`).
"""

from __future__ import annotations

import json
import math
import struct
from datetime import datetime
from typing import Any

from hub.model import CODES, Code, Observation, Reading, SampleBlock
from hub.wire import mdc

UCUM = "http://unitsofmeasure.org"
ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
STATISTIC_SYSTEM = "http://hl7.org/fhir/observation-statistics"
SUMMARY_SYSTEM = "http://dho.example.org/fhir/CodeSystem/summary"

_ABSENT = {
    "nan": "not-a-number",
    "nres": "error",
    "+inf": "positive-infinity",
    "-inf": "negative-infinity",
    "reserved": "unknown",
}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _quantity_tail(unit: str) -> str:
    text = dumps(unit)
    return f',"unit":{text},"system":"{UCUM}","code":{text}}}'


# (code, canonical unit) → (factor to the wire unit, the Quantity's text after its value): the
# constant part of every Quantity, made once.
_QUANTITY = {
    (code, info.unit): (
        mdc.WIRE_UNIT[code][1] if code in mdc.WIRE_UNIT else None,
        _quantity_tail(mdc.WIRE_UNIT[code][0] if code in mdc.WIRE_UNIT else info.unit),
    )
    for code, info in CODES.items()
}


def quantity(value: float, unit: str, code: Code | None = None) -> str:
    """A UCUM Quantity; a code whose vital-signs profile fixes another unit is converted."""
    known = _QUANTITY.get((code, unit))
    if known is None:
        return f'{{"value":{value!r}{_quantity_tail(unit)}'
    factor, tail = known
    if factor is not None:
        value = round(value * factor, 6)
    return f'{{"value":{value!r}{tail}'


def value(obs: Observation) -> str:
    value = obs.value
    if value is None:
        reason = _ABSENT.get(obs.special or "", "unknown")
    elif not math.isfinite(value):
        reason = (
            "not-a-number"
            if math.isnan(value)
            else "positive-infinity"
            if value > 0
            else ("negative-infinity")
        )
    else:
        return f'"valueQuantity":{quantity(value, obs.unit, obs.code)}'
    return f'"dataAbsentReason":{{"coding":[{{"system":"{ABSENT_SYSTEM}","code":"{reason}"}}]}}'


# Heart-rate variability of a minute of RR intervals (details from hub.daemon.streams): SDNN
# has a LOINC code; RMSSD and pNN50 have none the hub could find, so they use its own system.
_HRV = (
    ("sdnn_ms", dumps({"coding": [{"system": "http://loinc.org", "code": "80404-7",
                                    "display": "R-R interval.standard deviation"}]}), "ms"),
    ("rmssd_ms", dumps({"coding": [{"system": SUMMARY_SYSTEM, "code": "rmssd"}]}), "ms"),
    ("pnn50", dumps({"coding": [{"system": SUMMARY_SYSTEM, "code": "pnn50"}]}), "%"),
)  # fmt: skip


def summary_parts(reading: Reading) -> str:
    """Minimum, maximum, heart-rate variability and valid seconds of a per-minute summary, as
    components."""
    details = reading.details
    obs = reading.observations[0]
    parts = [
        f'{{"code":{{"coding":[{{"system":"{STATISTIC_SYSTEM}","code":"{stat}"}}]}},'
        f'"valueQuantity":{quantity(float(details[key]), obs.unit, obs.code)}}}'
        for key, stat in (("min", "minimum"), ("max", "maximum"))
        if isinstance(details.get(key), int | float)
    ]
    parts += [
        f'{{"code":{concept},"valueQuantity":{quantity(float(details[key]), unit)}}}'
        for key, concept, unit in _HRV
        if isinstance(details.get(key), int | float)
    ]
    valid = details.get("valid_s")
    if isinstance(valid, int | float):
        parts.append(
            f'{{"code":{{"coding":[{{"system":"{SUMMARY_SYSTEM}","code":"valid-seconds",'
            f'"display":"Seconds with a valid sample"}}]}},'
            f'"valueQuantity":{quantity(valid, "s")}}}'
        )
    return f',"component":[{",".join(parts)}]' if parts else ""


_F32 = struct.Struct("<f")


def _sample_text(v: float) -> str:
    """The shortest of 7 or 9 significant digits that reads back as the same float32."""
    if v != v:
        return "E"
    if v.is_integer() and abs(v) < 1e7:
        return str(int(v))  # nearly every SpO2 and pulse sample
    text = format(v, ".7g")
    return text if _F32.unpack(_F32.pack(float(text)))[0] == v else format(v, ".9g")


def sampled(block: SampleBlock) -> str:
    """valueSampledData of a stream block: one dimension, period in ms, "E" for a gap, each
    sample as the exact float32 the hub stored."""
    values = struct.unpack(f"<{block.count}f", block.values)
    data = " ".join(map(_sample_text, values))
    unit = dumps(block.unit)
    return (
        f'"valueSampledData":{{"origin":{{"value":0,"unit":{unit},"system":"{UCUM}",'
        f'"code":{unit}}},"period":{block.period_s * 1000!r},"factor":1,"dimensions":1,'
        f'"data":"{data}"}}'
    )


def period(start: datetime, end: datetime) -> str:
    return f'"effectivePeriod":{{"start":"{start.isoformat()}","end":"{end.isoformat()}"}}'
