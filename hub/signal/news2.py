"""NEWS2 (Royal College of Physicians, 2017): sub-scores, aggregate score and clinical risk.

Each band is "at most this value scores that", so non-integer inputs fall into the band whose
upper bound they do not exceed (a respiration rate of 20.5 scores as 21–24). NEWS2 is validated
in hospital, not at home: the hub uses it as a configurable rule set the hospital confirms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# (upper bound inclusive, sub-score) in ascending order; above the last bound: `_ABOVE`.
_BANDS: dict[str, tuple[tuple[float, int], ...]] = {
    "resp_rate": ((8, 3), (11, 1), (20, 0), (24, 2)),
    "spo2_scale1": ((91, 3), (93, 2), (95, 1)),
    "spo2_scale2": ((83, 3), (85, 2), (87, 1), (92, 0)),
    "spo2_scale2_oxygen": ((94, 1), (96, 2)),
    "systolic": ((90, 3), (100, 2), (110, 1), (219, 0)),
    "pulse": ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)),
    "temp": ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1)),
}
_ABOVE = {
    "resp_rate": 3,
    "spo2_scale1": 0,
    "spo2_scale2": 0,
    "spo2_scale2_oxygen": 3,
    "systolic": 3,
    "pulse": 3,
    "temp": 2,
}

# The input contract of `hub news2`: key → (lowest, highest) accepted value.
DOMAINS: Mapping[str, tuple[float, float]] = {
    "resp_rate": (0, 100),
    "spo2": (0, 100),
    "systolic": (0, 350),
    "pulse": (0, 350),
    "temp": (20.0, 46.0),
}
CONSCIOUSNESS = ("A", "C", "V", "P", "U")
KEYS = (
    "resp_rate",
    "spo2",
    "spo2_scale",
    "on_oxygen",
    "systolic",
    "pulse",
    "consciousness",
    "temp",
)


class InputError(ValueError):
    """Vital signs that cannot be scored; the message names the key and the problem."""


@dataclass(frozen=True)
class Vitals:
    resp_rate: float
    spo2: float
    spo2_scale: int
    on_oxygen: bool
    systolic: float
    pulse: float
    consciousness: str
    temp: float


@dataclass(frozen=True)
class Result:
    score: int
    subscores: Mapping[str, int]
    risk: str

    def as_json(self) -> dict[str, Any]:
        return {"score": self.score, "subscores": dict(self.subscores), "risk": self.risk}


def _band(table: str, value: float) -> int:
    for upper, points in _BANDS[table]:
        if value <= upper:
            return points
    return _ABOVE[table]


def spo2_subscore(spo2: float, scale: int, on_oxygen: bool) -> int:
    """Scale 1, or scale 2 (hypercapnic failure, target 88–92 %) where ≥ 93 % scores 0 on air
    and 1–3 on oxygen."""
    if scale == 1:
        return _band("spo2_scale1", spo2)
    if spo2 <= 92 or not on_oxygen:
        return _band("spo2_scale2", spo2)
    return _band("spo2_scale2_oxygen", spo2)


def subscore(name: str, value: float) -> int:
    """Sub-score of one numeric parameter: resp_rate, systolic, pulse or temp."""
    return _band(name, value)


def risk(score: int, subscores: Mapping[str, int]) -> str:
    """RCP clinical risk: ≥ 7 high, 5–6 medium, a single parameter scoring 3 low-medium."""
    if score >= 7:
        return "high"
    if score >= 5:
        return "medium"
    if 3 in subscores.values():
        return "low-medium"
    return "low"


def score(v: Vitals) -> Result:
    subscores = {
        "resp_rate": subscore("resp_rate", v.resp_rate),
        "spo2": spo2_subscore(v.spo2, v.spo2_scale, v.on_oxygen),
        "on_oxygen": 2 if v.on_oxygen else 0,
        "systolic": subscore("systolic", v.systolic),
        "pulse": subscore("pulse", v.pulse),
        "consciousness": 0 if v.consciousness == "A" else 3,
        "temp": subscore("temp", v.temp),
    }
    total = sum(subscores.values())
    return Result(total, subscores, risk(total, subscores))


def parse(text: str | bytes) -> Vitals:
    """The `hub news2` input: one JSON object with exactly the keys in `KEYS`."""
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"input is not JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"expected one JSON object, got {type(obj).__name__}")
    missing = [k for k in KEYS if k not in obj]
    if missing:
        raise InputError(f"missing key {missing[0]!r} (expected keys: {', '.join(KEYS)})")
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        raise InputError(f"unknown key {extra[0]!r} (expected keys: {', '.join(KEYS)})")
    numbers = {name: _number(obj, name, lo, hi) for name, (lo, hi) in DOMAINS.items()}
    scale = obj["spo2_scale"]
    if isinstance(scale, bool) or scale not in (1, 2):
        raise InputError(f"spo2_scale: expected 1 or 2, got {scale!r}")
    if not isinstance(obj["on_oxygen"], bool):
        raise InputError(f"on_oxygen: expected true or false, got {obj['on_oxygen']!r}")
    if obj["consciousness"] not in CONSCIOUSNESS:
        choices = ", ".join(CONSCIOUSNESS)
        raise InputError(f"consciousness: expected one of {choices}, got {obj['consciousness']!r}")
    return Vitals(
        spo2_scale=int(scale),
        on_oxygen=obj["on_oxygen"],
        consciousness=obj["consciousness"],
        **numbers,
    )


def _number(obj: Mapping[str, Any], name: str, lo: float, hi: float) -> float:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name}: expected a number, got {value!r}")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InputError(f"{name}: expected a number from {lo} to {hi}, got {value!r}")
    return float(value)
