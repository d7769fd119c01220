"""Vectorized building blocks for waveforms and 1 Hz streams: runs of a mask, FIR band-pass
design and zero-phase application, running medians by sorting networks, spikes and flat lines.
"""

from __future__ import annotations

import numpy as np

_MAX_MEDIAN_K = 15  # the pruned network grows ~k²/2 comparators; larger k wants another method


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of the True runs of a 1-D boolean mask."""
    m = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(m[1:] != m[:-1])
    return edges[0::2], edges[1::2]


def mask_of_runs(n: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """A length-`n` boolean mask that is True inside each [start, stop) run."""
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, np.clip(starts, 0, n), 1)
    np.add.at(edges, np.clip(stops, 0, n), -1)
    return np.cumsum(edges[:-1]) > 0


def dilate(mask: np.ndarray, before: int, after: int) -> np.ndarray:
    """`mask` widened by `before` samples on the left and `after` on the right of each run."""
    starts, stops = runs(mask)
    return mask_of_runs(len(mask), starts - before, stops + after)


def moving_sum(x: np.ndarray, width: int) -> np.ndarray:
    """Sum over the trailing `width` samples (fewer at the start), by one cumulative sum."""
    c = np.cumsum(np.asarray(x, dtype=float))
    out = c.copy()
    out[width:] -= c[:-width]
    return out


def centred_means(x: np.ndarray, widths: tuple[int, ...]) -> list[np.ndarray]:
    """For each width, the mean over a window of that many samples centred on each sample
    (shrunk at the ends); all from one cumulative sum."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    total = np.empty(n + 1)
    total[0] = 0.0
    np.cumsum(x, out=total[1:])
    out = []
    for width in widths:
        before, after = width // 2, width - width // 2
        mean = np.empty(n)
        if n >= width:  # full windows: one subtraction of shifted sums
            middle = mean[before : before + n - width + 1]
            np.subtract(total[width:], total[: n + 1 - width], out=middle)
            middle /= width
        ends = np.r_[0 : min(before, n), max(before, n - after + 1) : n]
        hi, lo = np.minimum(ends + after, n), np.maximum(ends - before, 0)
        mean[ends] = (total[hi] - total[lo]) / (hi - lo)
        out.append(mean)
    return out


def bandpass_taps(fs: float, low: float, high: float, numtaps: int) -> np.ndarray:
    """Windowed-sinc (Hamming) band-pass FIR taps with unit gain at the band centre.

    The same design as `scipy.signal.firwin(numtaps, [low, high], pass_zero=False, fs=fs)`,
    without importing SciPy."""
    if numtaps < 3 or numtaps % 2 == 0:
        raise ValueError(f"numtaps must be odd and at least 3, got {numtaps}")
    if not 0 < low < high < fs / 2:
        raise ValueError(f"need 0 < low < high < fs/2, got low={low} high={high} fs={fs}")
    m = np.arange(numtaps) - (numtaps - 1) / 2
    lo, hi = low / (fs / 2), high / (fs / 2)
    taps = (hi * np.sinc(hi * m) - lo * np.sinc(lo * m)) * np.hamming(numtaps)
    return taps / np.sum(taps * np.cos(np.pi * m * (lo + hi) / 2))


def zero_phase(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """`x` filtered forwards and backwards by `taps`: gain |H|², no delay (what `filtfilt`
    gives away from the ends). The ends are extended by odd reflection so a step at the edge
    does not ring into the data.

    Overlap-save: short blocks (a few times the kernel) all go through one batched FFT, which
    is several times faster than one FFT of the whole record and needs the taps' spectrum only
    at the block length."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n == 0:
        return x.copy()
    pad = len(taps) - 1
    size = max(256, 1 << (16 * pad).bit_length())
    hop = size - 2 * pad
    blocks = -(-n // hop)
    widths = (pad, pad + blocks * hop - n)
    if n > 1:
        padded = np.pad(x, widths, mode="reflect", reflect_type="odd")
    else:
        padded = np.full(n + sum(widths), x[0])
    frames = np.lib.stride_tricks.sliding_window_view(padded, size)[::hop]
    gain = np.abs(np.fft.rfft(taps, size)) ** 2
    out = np.fft.irfft(np.fft.rfft(frames, axis=1) * gain, size, axis=1)[:, pad : pad + hop]
    return out.ravel()[:n]


def _median_network(k: int) -> list[tuple[int, int, bool, bool]]:
    """Comparators (lo wire, hi wire, keep min, keep max) of an odd-even transposition sort on
    `k` wires, pruned to those the middle wire's final value depends on."""
    full = [(i, i + 1) for r in range(k) for i in range(r % 2, k - 1, 2)]
    needed = {k // 2}
    kept: list[tuple[int, int, bool, bool]] = []
    for i, j in reversed(full):
        if i in needed or j in needed:
            kept.append((i, j, i in needed, j in needed))
            needed |= {i, j}
    return kept[::-1]


def running_median(x: np.ndarray, k: int) -> np.ndarray:
    """Median of the `k` samples centred on each sample (ends padded with the edge value).

    Computed by a pruned sorting network of elementwise min/max over shifted views: a few
    vectorized passes instead of a sort per sample. `x` must be finite (NaN would spread)."""
    if k < 1 or k % 2 == 0 or k > _MAX_MEDIAN_K:
        raise ValueError(f"k must be odd and from 1 to {_MAX_MEDIAN_K}, got {k}")
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n == 0 or k == 1:
        return x.copy()
    padded = np.pad(x, k // 2, mode="edge")
    wires = [padded[s : s + n] for s in range(k)]
    for i, j, keep_min, keep_max in _median_network(k):
        a, b = wires[i], wires[j]
        if keep_min:
            wires[i] = np.minimum(a, b)
        if keep_max:
            wires[j] = np.maximum(a, b)
    return wires[k // 2].copy()


def _robust_step(x: np.ndarray) -> float:
    """Robust standard deviation (1.4826·MAD) of the sample-to-sample change, estimated on
    every 8th change: the scale of ordinary movement that a spike must stand out from."""
    steps = np.abs(np.diff(x)[::8])
    return 1.4826 * float(np.median(steps)) if len(steps) else 0.0


def despike(
    x: np.ndarray, k: int, limit: float | None = None, n_sigma: float = 6.0
) -> tuple[np.ndarray, np.ndarray]:
    """Replace spikes by the running median; return (cleaned, spike mask).

    A spike is a sample further than `limit` from the median of the `k` samples around it (a
    Hampel filter). Without `limit`, it is `n_sigma` robust standard deviations of the
    sample-to-sample change (the residual itself is zero on any monotone stretch, so it cannot
    give the scale). Events shorter than k/2 samples are treated as spikes."""
    x = np.asarray(x, dtype=float)
    if limit is None:
        limit = n_sigma * _robust_step(x)
    if k > 5:
        med = running_median(x, k)
        mask = np.abs(x - med) > limit
        return np.where(mask, med, x), mask
    # For k ≤ 5 at most two window values lie above (below) the median, so a sample more
    # than `limit` above (below) it has a neighbour at or below (above) the median, more than
    # `limit` away: the median is needed only next to a large step.
    step = np.abs(np.diff(x)) > limit
    near = np.flatnonzero(np.r_[step, False] | np.r_[False, step])
    mask = np.zeros(len(x), dtype=bool)
    out = x.copy()
    if len(near) == 0 or k == 1:
        return out, mask
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, k // 2, mode="edge"), k)
    med = np.median(windows[near], axis=1)
    hit = np.abs(x[near] - med) > limit
    mask[near[hit]] = True
    out[near[hit]] = med[hit]
    return out, mask


def flat_runs(x: np.ndarray, min_len: int, tolerance: float = 0.0) -> np.ndarray:
    """Mask of samples in runs of at least `min_len` samples that change by no more than
    `tolerance` from one sample to the next (a stuck sensor or a clipped ADC). For a 2-D `x`
    (channels × samples) every channel must stay flat at once. NaN breaks a run."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    n = x.shape[1]
    if n < 2:
        return np.zeros(n, dtype=bool)
    starts, stops = runs(np.all(np.abs(np.diff(x, axis=1)) <= tolerance, axis=0))
    keep = stops - starts + 1 >= min_len
    return mask_of_runs(n, starts[keep], stops[keep] + 1)


def fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """NaN gaps of at most `max_gap` samples filled by linear interpolation; longer gaps and
    gaps at the ends stay NaN."""
    x = np.asarray(x, dtype=float)
    bad = np.isnan(x)
    good = np.flatnonzero(~bad)
    if len(good) < 2 or not bad.any():
        return x.copy()
    starts, stops = runs(bad)
    short = (stops - starts <= max_gap) & (starts > 0) & (stops < len(x))
    fill = mask_of_runs(len(x), starts[short], stops[short])
    out = x.copy()
    where = np.flatnonzero(fill)
    out[where] = np.interp(where, good, x[good])
    return out
