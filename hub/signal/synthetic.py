"""Deterministic synthetic signals with known truth, for the tests and `hub bench signal`.

Every generator takes a seed and uses its own `numpy.random.Generator`, so the same call gives
the same data on every machine. The truth (beat times, injected artifacts, dips) comes along.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ppg:
    signal: np.ndarray
    fs: float
    beats: np.ndarray  # true systolic peak times, seconds
    spikes: np.ndarray  # bool mask of injected spike samples
    flat: np.ndarray  # bool mask of injected flat-line (stuck sensor) samples
    motion: np.ndarray  # bool mask of injected motion-noise samples


def _segments(
    rng: np.random.Generator, n: int, count: int, lo: int, hi: int, taken: np.ndarray
) -> np.ndarray:
    """A mask of `count` non-overlapping segments of lo..hi samples avoiding `taken` (±hi)."""
    mask = np.zeros(n, dtype=bool)
    blocked = taken.copy()
    placed = 0
    while placed < count:  # per segment, a handful of iterations
        length = int(rng.integers(lo, hi + 1))
        start = int(rng.integers(hi, n - 2 * hi))
        if blocked[max(0, start - hi) : start + length + hi].any():
            continue
        mask[start : start + length] = True
        blocked[start : start + length] = True
        placed += 1
    return mask


def ppg(seconds: float = 3600.0, fs: float = 100.0, seed: int = 0) -> Ppg:
    """A finger PPG: beats at a slowly varying heart rate (with respiratory arrhythmia), a
    systolic and a dicrotic wave per beat, baseline wander, noise, and injected artifacts:
    single- and two-sample spikes, stuck-sensor flat lines and bursts of motion noise."""
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    t = np.arange(n) / fs
    walk = np.cumsum(rng.standard_normal(n // 1000 + 2)) * 0.4
    hr = (
        68
        + 10 * np.sin(2 * np.pi * t / 900)
        + 2.5 * np.sin(2 * np.pi * 0.25 * t)
        + np.interp(t, np.arange(len(walk)) * 1000 / fs, walk)
    )
    phase = np.cumsum(hr / 60 / fs)
    frac = phase % 1.0
    wave = np.exp(-(((frac - 0.2) / 0.07) ** 2)) + 0.45 * np.exp(-(((frac - 0.5) / 0.1) ** 2))
    # true peak: where the phase crosses k + 0.2 (the systolic wave's centre)
    crossings = np.flatnonzero(np.diff(np.floor(phase - 0.2)) > 0)
    beats = (
        crossings
        + (np.ceil(phase[crossings] - 0.2) + 0.2 - phase[crossings])
        / (phase[crossings + 1] - phase[crossings])
    ) / fs
    baseline = 0.6 * np.sin(2 * np.pi * 0.05 * t + 1.0) + 0.3 * np.sin(2 * np.pi * 0.21 * t)
    x = wave + baseline + 0.02 * rng.standard_normal(n)

    none = np.zeros(n, dtype=bool)
    motion = _segments(rng, n, max(1, round(seconds / 600)), round(3 * fs), round(8 * fs), none)
    x[motion] += np.cumsum(rng.standard_normal(int(motion.sum()))) * 0.3
    flat = _segments(rng, n, max(1, round(seconds / 360)), round(2 * fs), round(6 * fs), motion)
    starts = np.flatnonzero(np.diff(flat.astype(np.int8)) == 1) + 1
    stuck_level = np.repeat(x[starts - 1], np.diff(np.append(starts, n)))
    x = np.where(flat, np.concatenate((x[: starts[0]], stuck_level)), x)
    free = np.flatnonzero(~(flat | motion))
    count = max(1, round(seconds / 15))
    spikes = none.copy()
    at = np.sort(rng.choice(free[2:-3], count, replace=False))
    at = at[np.diff(at, prepend=-10) > 5]
    double = rng.random(len(at)) < 0.3
    spikes[at] = True
    spikes[at[double] + 1] = True
    spikes &= ~(flat | motion)
    idx = np.flatnonzero(spikes)
    x[idx] += rng.choice([-1.0, 1.0], len(idx)) * rng.uniform(3.0, 8.0, len(idx))
    return Ppg(x, fs, beats, spikes, flat, motion)


@dataclass(frozen=True)
class Spo2Day:
    spo2: np.ndarray  # 1 Hz, percent, NaN where the device sent no value
    pulse: np.ndarray  # 1 Hz, /min, NaN likewise
    dip: np.ndarray  # bool mask of the real desaturation
    motion: np.ndarray  # bool mask of motion drops (artifacts)
    dropout: np.ndarray  # bool mask of missing samples
    frozen: np.ndarray  # bool mask of a stuck sensor repeating its last value


def spo2_day(seed: int = 0, seconds: int = 86_400, dip_at: int = 50_000) -> Spo2Day:
    """24 h of 1 Hz home SpO2 hovering around 95–96 % with one real 10-minute dip to ~87 %,
    integer quantisation noise, motion drops of 2–12 s, dropouts and one frozen stretch."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds)
    level = 95.6 + 0.5 * np.sin(2 * np.pi * t / 30_000) + 0.75 * rng.standard_normal(seconds)
    dip = (t >= dip_at) & (t < dip_at + 600)
    shape = np.clip(np.minimum(t - dip_at, dip_at + 600 - t) / 60.0, 0, 1)
    level -= 8.5 * np.where(dip, shape, 0)
    guard = dip.copy()
    guard[max(0, dip_at - 300) : dip_at + 900] = True
    motion = _segments(rng, seconds, 150, 2, 12, guard)
    level[motion] -= rng.uniform(4, 12, seconds)[motion]
    pulse = 72 + 6 * np.sin(2 * np.pi * t / 20_000) + 2 * rng.standard_normal(seconds)
    frozen = _segments(rng, seconds, 1, 300, 300, motion | guard)
    first = int(np.flatnonzero(frozen)[0])
    level[frozen] = level[first - 1]
    pulse[frozen] = pulse[first - 1]
    dropout = _segments(rng, seconds, 60, 3, 120, motion | guard | frozen)
    spo2 = np.clip(np.round(level), 50, 100)
    pulse = np.round(pulse)
    spo2[dropout] = np.nan
    pulse[dropout] = np.nan
    return Spo2Day(spo2, pulse, dip, motion, dropout, frozen)


@dataclass(frozen=True)
class Spo2Night:
    spo2: np.ndarray  # 1 Hz, NaN where missing
    dips: np.ndarray  # start second of each real desaturation
    depth: np.ndarray  # its depth below the baseline, percent
    spikes: np.ndarray  # bool mask of 1–3 s motion drops


def spo2_night(seed: int = 0, hours: float = 8.0, dips: int = 40) -> Spo2Night:
    """A night of 1 Hz SpO2 at ~96 % with `dips` desaturations of 5–8 % lasting 30–60 s (an
    8 s fall, a plateau, an 8 s recovery), quantisation noise, short motion drops, dropouts."""
    rng = np.random.default_rng(seed)
    n = round(hours * 3600)
    t = np.arange(n)
    level = 96.0 + 0.5 * rng.standard_normal(n)
    starts = np.sort(rng.choice(np.arange(300, n - 300, 240), dips, replace=False))
    length = rng.integers(30, 61, dips)
    depth = rng.uniform(5.0, 8.0, dips)
    for start, dur, d in zip(starts, length, depth, strict=True):  # one per dip
        rel = t[start : start + dur] - start
        level[start : start + dur] -= d * np.clip(np.minimum(rel, dur - rel) / 8.0, 0, 1)
    in_dip = np.zeros(n, dtype=bool)
    for start in starts:
        in_dip[start - 60 : start + 120] = True
    spikes = _segments(rng, n, dips, 1, 3, in_dip)
    level[spikes] -= rng.uniform(6, 15, n)[spikes]
    spo2 = np.round(level)
    spo2[_segments(rng, n, 20, 2, 8, in_dip | spikes)] = np.nan
    return Spo2Night(spo2, starts, depth, spikes)


@dataclass(frozen=True)
class RrSeries:
    rr: np.ndarray  # observed intervals, ms, with artifacts
    truth: np.ndarray  # the true intervals, ms
    artifacts: np.ndarray  # indices into `rr` of intervals an artifact made or changed


def rr_series(seed: int = 0, beats: int = 4500, artifacts: int = 75) -> RrSeries:
    """RR intervals around 850 ms (respiratory arrhythmia and beat-to-beat noise, RMSSD about
    40 ms) with injected artifacts, a third each: missed beats (two intervals merged), extra
    beats (one split in two) and ectopic beats (a short interval, then a compensating long)."""
    rng = np.random.default_rng(seed)
    i = np.arange(beats)
    truth = (
        850
        + 40 * np.sin(2 * np.pi * i / 4.5)
        + 30 * np.sin(2 * np.pi * i / 300)
        + 14 * rng.standard_normal(beats)
    )
    sites = np.sort(rng.choice(np.arange(20, beats - 20, 12), artifacts, replace=False))
    kind = np.arange(artifacts) % 3
    pieces: list[np.ndarray] = []
    marked: list[int] = []
    last = 0
    for site, k in zip(sites, kind, strict=True):  # one per artifact
        pieces.append(truth[last:site])
        at = sum(len(p) for p in pieces)
        if k == 0:  # missed beat: the detector saw one interval where there were two
            pieces.append(np.array([truth[site] + truth[site + 1]]))
            marked.append(at)
        elif k == 1:  # extra beat: a spurious detection splits one interval
            cut = rng.uniform(0.25, 0.45)
            pieces.append(np.array([truth[site] * cut, truth[site] * (1 - cut), truth[site + 1]]))
            marked += [at, at + 1]
        else:  # ectopic: premature beat, then a compensatory pause
            early = truth[site] * rng.uniform(0.6, 0.7)
            pieces.append(np.array([early, truth[site + 1] + truth[site] - early]))
            marked += [at, at + 1]
        last = site + 2
    pieces.append(truth[last:])
    return RrSeries(np.concatenate(pieces), truth, np.array(marked, dtype=np.int64))
