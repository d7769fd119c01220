"""Rules over a patient's recent history of spot readings (times in seconds, any epoch)."""

from __future__ import annotations

import numpy as np

DAY = 86_400.0


def weight_gain(times: np.ndarray, kg: np.ndarray, days: float) -> float:
    """Gain of the latest weight over the lowest weight in the `days` before it (0 if none)."""
    times, kg = np.asarray(times, dtype=float), np.asarray(kg, dtype=float)
    if len(times) == 0:
        return 0.0
    last = int(np.argmax(times))
    recent = times >= times[last] - days * DAY
    return max(0.0, float(kg[last] - kg[recent].min()))


def home_bp_mean(
    times: np.ndarray, systolic: np.ndarray, diastolic: np.ndarray, days: int, min_readings: int
) -> tuple[float, float] | None:
    """ESH home protocol: mean systolic/diastolic over the `days` × 24 h ending at the latest
    reading, without the readings of the first 24 h (from the earliest reading in that span);
    None below `min_readings` readings."""
    t = np.asarray(times, dtype=float)
    if len(t) == 0:
        return None
    window = t > t.max() - days * DAY
    keep = window & (t >= t[window].min() + DAY)  # the first day's readings are discarded
    if np.count_nonzero(keep) < min_readings:
        return None
    return float(np.mean(np.asarray(systolic)[keep])), float(np.mean(np.asarray(diastolic)[keep]))
