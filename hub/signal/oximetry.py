"""1 Hz pulse-oximetry streams: cleaning, per-minute summaries, desaturation events and ODI.

Desaturation event (the definition this hub uses; there is no single standard):
  * input: cleaned SpO2 at 1 Hz (spikes removed, invalid samples NaN), gaps of at most
    `max_gap_s` seconds bridged by linear interpolation;
  * baseline A(t): the mean of the valid samples in the `baseline_s` seconds before t (at
    least half of them valid, else no baseline and no event can start at t);
  * an event of x % starts at the first second t0 with SpO2 ≤ A(t0) − x, and ends at the
    first later second whose SpO2 has recovered half the drop, above A(t0) − x/2 (A is frozen
    at the onset, so a long event does not drag its own baseline down; the half-way recovery
    keeps noise on a plateau near A − x from splitting one event into two); the nadir is its
    lowest value;
  * it counts when it lasts at least `min_s` seconds (shorter drops are motion, not
    physiology); an onset inside a running event belongs to that event.
ODIx = events of ≥ x % per hour of valid recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hub.signal.filters import despike, fill_gaps, flat_runs, moving_sum, runs

SPO2_RANGE = (50.0, 100.0)  # below 50 % a finger oximeter reading is not trusted
PULSE_RANGE = (25.0, 250.0)


@dataclass(frozen=True)
class Cleaned:
    spo2: np.ndarray  # NaN where not valid; spikes replaced by the running median
    pulse: np.ndarray | None
    valid: np.ndarray
    dropout: np.ndarray  # no value, or outside the plausible range
    flat: np.ndarray  # stuck sensor: every channel unchanged for `flat_s` seconds
    spike: np.ndarray  # replaced by the running median


def clean(
    spo2: np.ndarray,
    pulse: np.ndarray | None = None,
    *,
    spike_k: int = 9,
    spike_limit: float = 3.0,
    flat_s: int = 120,
) -> Cleaned:
    """Dropouts, flat lines and spikes of a 1 Hz SpO2 (and optional pulse) stream.

    A spike is a value more than `spike_limit` % from the median of the `spike_k` seconds
    around it: drops shorter than about spike_k/2 seconds are motion, not desaturation. A flat
    line is `flat_s` seconds with no change at all in any channel (SpO2 alone may legitimately
    stay constant; with pulse rate too it means a frozen device)."""
    spo2 = np.asarray(spo2, dtype=float)
    dropout = ~((spo2 >= SPO2_RANGE[0]) & (spo2 <= SPO2_RANGE[1]))
    channels = [spo2]
    if pulse is not None:
        pulse = np.asarray(pulse, dtype=float)
        if pulse.shape != spo2.shape:
            raise ValueError("spo2 and pulse must have the same length")
        dropout |= ~((pulse >= PULSE_RANGE[0]) & (pulse <= PULSE_RANGE[1]))
        channels.append(pulse)
    flat = flat_runs(np.vstack(channels), flat_s)
    good = np.flatnonzero(~dropout)
    if len(good) == 0:
        nan = np.full(spo2.shape, np.nan)
        none = np.zeros(spo2.shape, dtype=bool)
        return Cleaned(nan, None if pulse is None else nan.copy(), none, dropout, flat, none)
    filled = np.interp(np.arange(len(spo2)), good, spo2[good])
    despiked, spike = despike(filled, spike_k, spike_limit)
    spike &= ~dropout
    valid = ~(dropout | flat)
    out_pulse = None if pulse is None else np.where(valid, pulse, np.nan)
    return Cleaned(np.where(valid, despiked, np.nan), out_pulse, valid, dropout, flat, spike)


@dataclass(frozen=True)
class Minutes:
    start: np.ndarray  # sample index of each minute's first second
    mean: np.ndarray  # NaN when the minute has no valid sample
    min: np.ndarray
    max: np.ndarray
    valid: np.ndarray  # count of valid seconds


def per_minute(x: np.ndarray) -> Minutes:
    """Mean, min, max and valid count of each whole or partial minute of a 1 Hz stream
    (NaN = invalid)."""
    x = np.asarray(x, dtype=float)
    minutes = -(-len(x) // 60)
    grid = np.full(minutes * 60, np.nan)
    grid[: len(x)] = x
    grid = grid.reshape(minutes, 60)
    ok = ~np.isnan(grid)
    count = ok.sum(axis=1)
    some = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(some, np.where(ok, grid, 0.0).sum(axis=1) / count, np.nan)
    low = np.where(some, np.where(ok, grid, np.inf).min(axis=1), np.nan)
    high = np.where(some, np.where(ok, grid, -np.inf).max(axis=1), np.nan)
    return Minutes(np.arange(minutes) * 60, mean, low, high, count)


@dataclass(frozen=True)
class Desaturations:
    start: np.ndarray  # second of onset
    stop: np.ndarray  # first second recovered above baseline − drop/2
    baseline: np.ndarray
    nadir: np.ndarray


def desaturations(
    spo2: np.ndarray,
    drop: float,
    *,
    baseline_s: int = 120,
    min_s: int = 10,
    max_gap_s: int = 10,
) -> Desaturations:
    """Desaturation events of at least `drop` % in cleaned 1 Hz SpO2 (see the module docstring)."""
    x = fill_gaps(np.asarray(spo2, dtype=float), max_gap_s)
    ok = ~np.isnan(x)
    zeroed = np.where(ok, x, 0.0)
    total = np.concatenate(([0.0], moving_sum(zeroed, baseline_s)[:-1]))
    count = np.concatenate(([0.0], moving_sum(ok, baseline_s)[:-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        base = np.where(count >= baseline_s / 2, total / count, np.nan)
    below = ok & (x <= base - drop)
    onsets, _ = runs(below)
    starts, stops, bases, nadirs = [], [], [], []
    end = -1
    for t0 in onsets:  # one iteration per candidate event, not per sample
        if t0 < end:
            continue
        end = _recovery(x, t0, base[t0] - drop / 2)
        if end - t0 >= min_s:
            starts.append(t0)
            stops.append(end)
            bases.append(base[t0])
            nadirs.append(np.nanmin(x[t0:end]))
    return Desaturations(
        np.array(starts, dtype=np.int64),
        np.array(stops, dtype=np.int64),
        np.array(bases, dtype=float),
        np.array(nadirs, dtype=float),
    )


def _recovery(x: np.ndarray, t0: int, limit: float) -> int:
    """First index from t0 on where x is not ≤ limit (NaN counts as recovered), else len(x).
    Searches in doubling slices: events are short, the record may be days long."""
    span = 256
    lo = t0
    while lo < len(x):
        hi = min(len(x), t0 + span)
        back = ~(x[lo:hi] <= limit)
        if back.any():
            return lo + int(np.argmax(back))
        lo, span = hi, span * 2
    return len(x)


def odi(spo2: np.ndarray, drop: float) -> float:
    """Oxygen desaturation index: events of ≥ `drop` % per hour of valid recording (NaN if
    there is no valid second)."""
    hours = np.count_nonzero(~np.isnan(np.asarray(spo2, dtype=float))) / 3600
    return len(desaturations(spo2, drop).start) / hours if hours else float("nan")
