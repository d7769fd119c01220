"""Triage thresholds: per-code bands, pathway profiles and persistence settings.

Plain dataclasses that both the TOML config (`[triage]`) and the hospital's signed downlink
config fill. The defaults below are EXAMPLES taken from published programmes (NHS oximetry
@home, RCP NEWS2 2017, ESH home blood pressure, ESC heart failure); the hospital must confirm
or replace them for each patient. They are not clinical advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from hub.model import Code, Level

GREEN, YELLOW, RED = 0, 1, 2  # integer levels for vectorized work; NO_VALUE for missing
NO_VALUE = -1
LEVELS = (Level.GREEN, Level.YELLOW, Level.RED)


@dataclass(frozen=True)
class Band:
    """Levels of one code: ≤ red_low or ≥ red_high is red, else ≤ yellow_low or ≥ yellow_high
    is yellow, else green. None: no bound on that side."""

    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None

    def levels(self, values: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Integer level per value (NO_VALUE for NaN). `margin` widens every non-green range
        by that much: a value must be `margin` better than a bound to count as clear of it."""
        v = np.asarray(values, dtype=float)
        out = np.full(v.shape, GREEN, dtype=np.int8)
        for bound, level, low in (
            (self.yellow_low, YELLOW, True),
            (self.yellow_high, YELLOW, False),
            (self.red_low, RED, True),
            (self.red_high, RED, False),
        ):
            if bound is not None:
                hit = v < bound + margin + 1e-9 if low else v > bound - margin - 1e-9
                out = np.where(hit, np.maximum(out, level), out)
        return np.where(np.isnan(v), NO_VALUE, out).astype(np.int8)

    def level(self, value: float) -> Level:
        return LEVELS[int(self.levels(np.array([value]))[0])]


@dataclass(frozen=True)
class Settings:
    """Gating and persistence knobs; the field names match the config file's `[triage]`.

    Spot readings: a red reading needs `repeat_before_red` confirming red repeats within
    `repeat_window_s` before it alerts. Continuous 1 Hz streams: a worse colour needs
    `persist_k` valid seconds at that colour or worse in the last `persist_n`; it clears when
    `clear_k` of the last `persist_n` seconds are better by `hysteresis` (persist_k + clear_k
    must exceed persist_n, so both cannot hold at once). Fewer than `min_valid` valid seconds in
    the window is "bad signal"; no valid second for `stale_s` is "no data"."""

    repeat_before_red: int = 1
    repeat_window_s: float = 900.0
    persist_k: int = 50
    persist_n: int = 60
    clear_k: int = 30
    hysteresis: float = 1.0
    min_valid: int = 30
    stale_s: float = 600.0

    def __post_init__(self) -> None:
        if not 0 < self.persist_k <= self.persist_n or not 0 < self.clear_k <= self.persist_n:
            raise ValueError("persist_k and clear_k must be from 1 to persist_n")
        if self.persist_k + self.clear_k <= self.persist_n:
            raise ValueError("persist_k + clear_k must exceed persist_n")
        if not 0 <= self.min_valid <= self.persist_n:
            raise ValueError("min_valid must be from 0 to persist_n")


@dataclass(frozen=True)
class Profile:
    """A pathway's rules. `news2_scale` > 0 adds NEWS2 aggregate scoring of the latest values
    (aggregate 5–6 yellow, ≥ 7 red); the weight rule reports a gain over a span of days; the
    home-BP rule compares the mean of the last days (first day discarded) to a limit."""

    pathway: str
    bands: Mapping[Code, Band]
    news2_scale: int = 0
    weight_gain_kg: float | None = None
    weight_days: float = 3.0
    home_bp_limit: tuple[float, float] | None = None  # systolic, diastolic
    home_bp_days: int = 7
    home_bp_min_readings: int = 12


_NEWS2_BANDS = {
    Code.RESPIRATORY_RATE: Band(red_low=8, yellow_low=11, yellow_high=21, red_high=25),
    Code.SPO2: Band(red_low=91, yellow_low=95),
    Code.SYSTOLIC: Band(red_low=90, yellow_low=110, red_high=220),
    Code.HEART_RATE: Band(red_low=40, yellow_low=50, yellow_high=91, red_high=131),
    Code.BODY_TEMPERATURE: Band(red_low=35.0, yellow_low=36.0, yellow_high=38.1),
}


def _profiles() -> dict[str, Profile]:
    vitals = {k: _NEWS2_BANDS[k] for k in (Code.SYSTOLIC, Code.HEART_RATE)}
    return {
        "general": Profile("general", {Code.SPO2: Band(red_low=92, yellow_low=94)}),
        "copd": Profile(
            "copd",
            {Code.SPO2: Band(red_low=83, yellow_low=87), **vitals},
            news2_scale=2,
        ),
        "heart-failure": Profile("heart-failure", dict(vitals), weight_gain_kg=2.0),
        "hypertension": Profile(
            "hypertension",
            {Code.SYSTOLIC: Band(red_low=90, red_high=220)},
            home_bp_limit=(135.0, 85.0),
        ),
        "news2": Profile("news2", dict(_NEWS2_BANDS), news2_scale=1),
    }


PROFILES: Mapping[str, Profile] = MappingProxyType(_profiles())
PATHWAYS = tuple(PROFILES)
