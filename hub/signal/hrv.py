"""Heart-rate variability from RR intervals (a heart-rate band): artifact detection and
correction, then RMSSD, SDNN and pNN50 per 5-minute window (Task Force 1996).

Two detectors, both vectorized over beats:
  * "local-median": an interval more than `tolerance` away from the median of the `k`
    intervals around it; about twice the median is a missed beat, two adjacent short ones
    summing to about one median are an extra beat;
  * "lipponen-tarvainen": Lipponen & Tarvainen 2019 (J Med Eng Technol 43:173), adaptive
    thresholds (5.2 × the quartile deviation over 91 beats) on successive differences and on
    the difference from an 11-beat median, classifying ectopic, long/short, missed and extra
    beats. Here the rolling quartiles use reflected ends and the candidate rules run on all
    beats at once rather than in the paper's sequential loop.
Correction is the same for both: a missed beat is split in two, an extra beat merged with its
neighbour, anything else replaced by the local median. Successive differences that touch a
corrected interval are left out of RMSSD and pNN50, so a correction never invents variability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from hub.signal.filters import running_median

MEDIAN_K = 11
TOLERANCE = 0.2  # fraction of the local median
WINDOW_S = 300.0
# Lipponen & Tarvainen 2019 constants
LT_C1, LT_C2, LT_ALPHA, LT_WINDOW = 0.13, 0.17, 5.2, 91

Method = Literal["local-median", "lipponen-tarvainen"]


@dataclass(frozen=True)
class Classified:
    """Per input interval: rejected at all, a missed beat (to split), the first of an extra
    beat's pair (to merge with the next)."""

    flagged: np.ndarray
    missed: np.ndarray
    extra: np.ndarray


@dataclass(frozen=True)
class Corrected:
    rr: np.ndarray  # corrected intervals, ms
    corrected: np.ndarray  # bool per corrected interval: it was made or changed by a correction
    flagged: np.ndarray  # bool per input interval: the detector rejected it
    missed: int  # beats inserted
    extra: int  # beats removed


def _first_of_pairs(pair: np.ndarray) -> np.ndarray:
    """`pair` without starts that are the second of the pair before (no chained merges)."""
    out = pair.copy()
    for_next = np.zeros_like(out)
    # a run of consecutive starts keeps every other one, beginning with its first
    idx = np.flatnonzero(out)
    if len(idx):
        run_start = np.r_[True, np.diff(idx) > 1]
        position = np.arange(len(idx)) - np.maximum.accumulate(
            np.where(run_start, np.arange(len(idx)), 0)
        )
        for_next[idx[position % 2 == 1]] = True
    return out & ~for_next


def local_median(rr: np.ndarray, k: int = MEDIAN_K, tolerance: float = TOLERANCE) -> Classified:
    """The local-median rule (see the module docstring)."""
    rr = np.asarray(rr, dtype=float)
    med = running_median(rr, k)
    flagged = np.abs(rr - med) > tolerance * med
    missed = flagged & (np.abs(rr / 2 - med) <= tolerance * med)
    pair = np.zeros(len(rr), dtype=bool)
    if len(rr) > 1:
        pair[:-1] = (
            flagged[:-1]
            & flagged[1:]
            & (rr[:-1] < med[:-1])
            & (np.abs(rr[:-1] + rr[1:] - med[:-1]) <= tolerance * med[:-1])
        )
    return Classified(flagged, missed & ~pair, _first_of_pairs(pair))


def _threshold(x: np.ndarray) -> np.ndarray:
    """LT_ALPHA × the quartile deviation of |x| over a centred LT_WINDOW-beat window."""
    a = np.abs(x)
    half = min(LT_WINDOW // 2, len(a) - 1)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(a, half, mode="reflect"), 2 * half + 1
    )
    q1, q3 = np.percentile(windows, [25, 75], axis=1)
    th = LT_ALPHA * (q3 - q1) / 2
    return np.where(th > 0, th, np.inf)


def lipponen_tarvainen(rr: np.ndarray) -> Classified:
    """Lipponen & Tarvainen 2019 artifact classification (see the module docstring)."""
    rr = np.asarray(rr, dtype=float)
    n = len(rr)
    none = np.zeros(n, dtype=bool)
    if n < 4:
        return Classified(none, none, none)
    drrs = np.diff(rr, prepend=rr[0])
    drrs[0] = np.mean(drrs[1:])
    drrs = drrs / _threshold(drrs)
    padded = np.pad(drrs, 2, mode="reflect")
    prev, nxt, nxt2 = padded[1 : n + 1], padded[3 : n + 3], padded[4 : n + 4]
    s12 = np.where(drrs > 0, np.maximum(prev, nxt), np.where(drrs < 0, np.minimum(prev, nxt), 0.0))
    s22 = np.where(drrs >= 0, np.minimum(nxt, nxt2), np.maximum(nxt, nxt2))
    medrr = running_median(rr, MEDIAN_K)
    mrrs = rr - medrr
    mrrs = np.where(mrrs < 0, 2 * mrrs, mrrs)
    th2 = _threshold(mrrs)
    mrrs = mrrs / th2

    inside = np.arange(n) < n - 2  # the paper leaves the last two beats unclassified
    big = (np.abs(drrs) > 1) & inside
    ectopic = big & (
        ((drrs > 1) & (s12 < -LT_C1 * drrs - LT_C2)) | ((drrs < -1) & (s12 > -LT_C1 * drrs + LT_C2))
    )
    first = big & ~ectopic
    follow = np.r_[False, first[:-1]] & (np.abs(drrs) < np.abs(nxt)) & inside
    candidate = first | follow
    hit = candidate & (((drrs > 1) & (s22 < -1)) | (np.abs(mrrs) > 3) | ((drrs < -1) & (s22 > 1)))
    rr_next = np.r_[rr[1:], np.inf]
    extra = hit & (drrs < -1) & (np.abs(rr + rr_next - medrr) < th2)
    missed = hit & ~extra & (drrs > 1) & (np.abs(rr / 2 - medrr) < th2)
    extra = _first_of_pairs(extra)
    flagged = ectopic | hit | np.r_[False, extra[:-1]]
    return Classified(flagged, missed, extra)


def correct(
    rr: np.ndarray, method: Method = "local-median", k: int = MEDIAN_K, tolerance: float = TOLERANCE
) -> Corrected:
    """Detect artifacts with `method` and correct them (see the module docstring)."""
    rr = np.asarray(rr, dtype=float)
    if method == "local-median":
        c = local_median(rr, k, tolerance)
    elif method == "lipponen-tarvainen":
        c = lipponen_tarvainen(rr)
    else:
        raise ValueError(f"unknown artifact method {method!r}")
    med = running_median(rr, k)
    second = np.r_[False, c.extra[:-1]]
    missed = c.missed & ~second  # merging wins: an interval is split or merged, never both
    other = c.flagged & ~missed & ~c.extra & ~second
    values = np.where(other, med, rr)
    values = np.where(c.extra, rr + np.r_[rr[1:], 0.0], values)
    repeat = np.where(missed, 2, np.where(second, 0, 1))
    out = np.repeat(np.where(missed, rr / 2, values), repeat)
    touched = np.repeat(c.flagged & ~second, repeat)
    return Corrected(out, touched, c.flagged, int(missed.sum()), int(c.extra.sum()))


@dataclass(frozen=True)
class Windows:
    start_s: np.ndarray  # window start, seconds from the first beat
    beats: np.ndarray  # intervals in the window
    rmssd: np.ndarray  # ms; NaN when fewer than 2 usable differences
    sdnn: np.ndarray  # ms
    pnn50: np.ndarray  # fraction 0..1
    mean_hr: np.ndarray  # /min


def windows(
    rr: np.ndarray, corrected: np.ndarray | None = None, window_s: float = WINDOW_S
) -> Windows:
    """Per-window HRV of corrected intervals (ms). Each interval belongs to the window its end
    falls in; differences touching a `corrected` interval are left out of RMSSD and pNN50."""
    rr = np.asarray(rr, dtype=float)
    fixed = np.zeros(len(rr), dtype=bool) if corrected is None else np.asarray(corrected)
    end = np.cumsum(rr) / 1000.0
    win = (end // window_s).astype(np.int64)
    count = int(win[-1]) + 1 if len(win) else 0
    beats = np.bincount(win, minlength=count)
    total = np.bincount(win, weights=rr, minlength=count)
    squares = np.bincount(win, weights=rr * rr, minlength=count)
    d = np.diff(rr)
    ok = ~fixed[1:] & ~fixed[:-1] & (win[1:] == win[:-1])
    dw = win[1:][ok]
    n_d = np.bincount(dw, minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / beats
        sdnn = np.sqrt(np.maximum(squares - beats * mean * mean, 0.0) / (beats - 1))
        rmssd = np.sqrt(np.bincount(dw, weights=d[ok] ** 2, minlength=count) / n_d)
        pnn50 = np.bincount(dw, weights=np.abs(d[ok]) > 50.0, minlength=count) / n_d
        rmssd = np.where(n_d >= 2, rmssd, np.nan)
        pnn50 = np.where(n_d >= 2, pnn50, np.nan)
        sdnn = np.where(beats >= 2, sdnn, np.nan)
        hr = 60_000.0 / mean
    return Windows(np.arange(count) * window_s, beats, rmssd, sdnn, pnn50, hr)


def rmssd(rr: np.ndarray, corrected: np.ndarray | None = None) -> float:
    """RMSSD (ms) of a whole series, leaving out differences that touch a corrected interval."""
    rr = np.asarray(rr, dtype=float)
    fixed = np.zeros(len(rr), dtype=bool) if corrected is None else np.asarray(corrected)
    d = np.diff(rr)[~fixed[1:] & ~fixed[:-1]]
    return float(np.sqrt(np.mean(d * d))) if len(d) else float("nan")
