"""Raw PPG (a pulse oximeter's pleth stream, ~60–100 Hz): artifacts, FIR band-pass, beats,
heart rate and a signal-quality index per window.

Beat detection follows Elgendi et al. 2013 (two moving averages of the squared, clipped,
band-passed signal mark blocks of interest; the beat is each block's maximum). Everything is
vectorized; the only loops run over filter taps or comparators, never over samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hub.signal.filters import (
    bandpass_taps,
    centred_means,
    despike,
    dilate,
    flat_runs,
    running_median,
    runs,
    zero_phase,
)

BAND_HZ = (0.5, 8.0)
MIN_FS = 20.0
SPIKE_K = 5  # spikes up to two samples wide are removed
SPIKE_SIGMA = 8.0
FLAT_S = 0.25  # a PPG never holds one value this long unless the sensor is stuck or clipped
ENVELOPE_HZ = 25.0
PEAK_WINDOW_S = 0.111
BEAT_WINDOW_S = 0.667
BEAT_OFFSET = 0.02
MIN_BEAT_S = 0.3  # 200 /min
MAX_BEAT_S = 2.0  # 30 /min
MIN_HEIGHT = 0.5  # a beat is at least half as tall as the median of the beats around it
HEIGHT_K = 7
REGULAR = 0.2  # an interval within 20 % of its window's median counts as regular


@dataclass(frozen=True)
class Artifacts:
    spikes: np.ndarray  # bool mask, replaced by the running median
    flat: np.ndarray  # bool mask of stuck or clipped stretches
    cleaned: np.ndarray  # the input with spikes replaced


def artifacts(x: np.ndarray, fs: float) -> Artifacts:
    """Spikes (Hampel, k=5, 8 robust sigmas) and flat lines of a raw PPG."""
    x = np.asarray(x, dtype=float)
    flat = flat_runs(x, max(2, round(FLAT_S * fs)))
    cleaned, spikes = despike(x, SPIKE_K, n_sigma=SPIKE_SIGMA)
    return Artifacts(spikes & ~flat, flat, cleaned)


def bandpass(x: np.ndarray, fs: float) -> np.ndarray:
    """Zero-phase 0.5–8 Hz band-pass with a Hamming-windowed sinc of about two seconds."""
    numtaps = 2 * round(fs) + 1
    return zero_phase(x, bandpass_taps(fs, BAND_HZ[0], BAND_HZ[1], numtaps))


def beats(filtered: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of systolic peaks in a band-passed PPG.

    The blocks of interest are found on an envelope at about ENVELOPE_HZ (block means of the
    signal, clipped and squared): a beat lasts hundreds of milliseconds, so this loses
    nothing, and each peak is then the block's maximum at the full rate."""
    q = max(1, int(fs // ENVELOPE_HZ))
    m = len(filtered) // q
    block_sum = filtered[0 : m * q : q].copy()
    for phase in range(1, q):  # q strided adds: far faster than a mean over a short axis
        block_sum += filtered[phase : m * q : q]
    envelope = np.square(np.clip(block_sum / q, 0, None))
    rate = fs / q
    peak_w = max(1, round(PEAK_WINDOW_S * rate))
    ma_peak, ma_beat = centred_means(envelope, (peak_w, max(1, round(BEAT_WINDOW_S * rate))))
    offset = BEAT_OFFSET * np.mean(envelope) if m else 0.0
    starts, stops = runs(ma_peak > ma_beat + offset)
    keep = stops - starts >= peak_w
    starts, stops = starts[keep] * q, stops[keep] * q
    if len(starts) == 0:
        return starts
    bounds = np.ravel(np.column_stack((starts, stops)))
    if bounds[-1] == len(filtered):  # reduceat runs the last block to the end by itself
        bounds = bounds[:-1]
    maxima = np.maximum.reduceat(filtered, bounds)[::2]
    lengths = stops - starts
    at_max = np.flatnonzero(filtered == _spread(maxima, starts, lengths, len(filtered)))
    block = np.searchsorted(starts, at_max, side="right") - 1
    peaks = at_max[np.r_[True, block[1:] != block[:-1]]]
    # two blocks closer than the refractory period: keep the taller peak
    close = np.flatnonzero(np.diff(peaks) < MIN_BEAT_S * fs)
    drop = np.where(filtered[peaks[close]] < filtered[peaks[close + 1]], close, close + 1)
    peaks = np.delete(peaks, drop)
    # a dicrotic wave that made its own block is much lower than the beats around it
    heights = filtered[peaks]
    return peaks[heights >= MIN_HEIGHT * running_median(heights, HEIGHT_K)]


def _spread(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """A length-n array holding values[i] on [starts[i], starts[i] + lengths[i]), NaN elsewhere."""
    out = np.full(n, np.nan)
    out[
        np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())
    ] = np.repeat(values, lengths)
    return out


@dataclass(frozen=True)
class Analysis:
    peaks: np.ndarray  # beat sample indices (all detected)
    artifacts: Artifacts
    window_s: float
    hr: np.ndarray  # per window, /min from the median regular interval; NaN if unusable
    quality: np.ndarray  # per window, 0..1 (share clean × share of regular intervals)


def analyse(x: np.ndarray, fs: float, window_s: float = 10.0, min_quality: float = 0.5) -> Analysis:
    """The continuous PPG pipeline: artifacts → band-pass → beats → HR and quality per window.

    Intervals touching an artifact (spike, flat line) are not used. A window's quality is the
    share of its samples free of artifacts times the share of its intervals that are regular
    (within 20 % of the window's median interval); below `min_quality` its HR is NaN."""
    if fs < MIN_FS:
        raise ValueError(f"a PPG needs at least {MIN_FS:g} Hz for a 0.5–8 Hz band, got {fs:g}")
    x = np.asarray(x, dtype=float)
    art = artifacts(x, fs)
    filtered = bandpass(art.cleaned, fs)
    peaks = beats(filtered, fs)
    bad = dilate(art.flat | art.spikes, round(fs), round(fs))
    n_windows = max(1, int(np.ceil(len(x) / (window_s * fs))))
    per = round(window_s * fs)
    clean_share = (
        1.0 - np.bincount(np.flatnonzero(bad) // per, minlength=n_windows)[:n_windows] / per
    )

    ibi = np.diff(peaks) / fs
    usable = (ibi >= MIN_BEAT_S) & (ibi <= MAX_BEAT_S) & ~bad[peaks[:-1]] & ~bad[peaks[1:]]
    win = peaks[1:][usable] // per
    ibi = ibi[usable]
    median = _group_median(ibi, win, n_windows)
    regular = np.abs(ibi - median[win]) <= REGULAR * median[win]
    count = np.bincount(win, minlength=n_windows)
    with np.errstate(invalid="ignore", divide="ignore"):
        regular_share = np.bincount(win, weights=regular, minlength=n_windows) / count
        reg_median = _group_median(ibi[regular], win[regular], n_windows)
        quality = np.nan_to_num(clean_share * regular_share)
        hr = np.where(quality >= min_quality, 60.0 / reg_median, np.nan)
    return Analysis(peaks, art, window_s, hr, quality)


def _group_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of `values` per group id (NaN for empty groups), by one sort."""
    out = np.full(n_groups, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((values, groups))
    v, g = values[order], groups[order]
    count = np.bincount(g, minlength=n_groups)
    first = np.r_[0, np.cumsum(count)[:-1]]
    has = count > 0
    lo = first[has] + (count[has] - 1) // 2
    hi = first[has] + count[has] // 2
    out[has] = (v[lo] + v[hi]) / 2
    return out
