import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal as sp

from hub.signal import filters

finite = arrays(
    np.float64,
    st.integers(0, 400),
    elements=st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
)


@pytest.mark.parametrize(
    ("fs", "low", "high", "taps"), [(100, 0.5, 8, 201), (60, 0.5, 8, 121), (250, 5, 15, 51)]
)
def test_bandpass_taps_match_scipy_firwin(fs: float, low: float, high: float, taps: int) -> None:
    ours = filters.bandpass_taps(fs, low, high, taps)
    oracle = sp.firwin(taps, [low, high], pass_zero=False, fs=fs)
    np.testing.assert_allclose(ours, oracle, atol=1e-12)
    _, response = sp.freqz(ours, worN=[(low + high) / 2], fs=fs)
    assert abs(abs(response[0]) - 1) < 1e-9


@pytest.mark.parametrize("n", [1, 2, 50, 201, 1000, 5003, 40_000])
def test_zero_phase_matches_scipy_filtfilt(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).cumsum()
    taps = filters.bandpass_taps(100, 0.5, 8, 201)
    ours = filters.zero_phase(x, taps)
    assert ours.shape == x.shape
    if n > 3 * len(taps):  # scipy needs more samples than its pad length
        np.testing.assert_allclose(ours, sp.filtfilt(taps, [1.0], x), atol=1e-9)


def test_zero_phase_has_the_squared_magnitude_response_and_no_delay() -> None:
    fs, taps = 100.0, filters.bandpass_taps(100, 0.5, 8, 201)
    t = np.arange(20_000) / fs
    for f in (0.1, 1.2, 4.0, 15.0):
        y = filters.zero_phase(np.sin(2 * np.pi * f * t), taps)
        _, h = sp.freqz(taps, worN=[f], fs=fs)
        mid = slice(5000, 15000)
        expected = abs(h[0]) ** 2 * np.sin(2 * np.pi * f * t[mid])
        np.testing.assert_allclose(y[mid], expected, atol=1e-6)


def test_bandpass_taps_refuse_bad_designs() -> None:
    with pytest.raises(ValueError):
        filters.bandpass_taps(100, 8, 0.5, 201)
    with pytest.raises(ValueError):
        filters.bandpass_taps(100, 0.5, 8, 200)


@pytest.mark.parametrize("k", [1, 3, 5, 7, 9, 11, 15])
def test_running_median_equals_numpy_median(k: int) -> None:
    x = np.random.default_rng(k).integers(0, 20, 3001).astype(float)
    expected = np.median(sliding_window_view(np.pad(x, k // 2, mode="edge"), k), axis=1)
    np.testing.assert_array_equal(filters.running_median(x, k), expected)


def test_running_median_refuses_even_or_huge_k() -> None:
    for k in (0, 2, 17):
        with pytest.raises(ValueError):
            filters.running_median(np.zeros(5), k)


def test_runs_and_mask_of_runs_round_trip() -> None:
    mask = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    starts, stops = filters.runs(mask)
    assert starts.tolist() == [0, 4, 6] and stops.tolist() == [2, 5, 9]
    np.testing.assert_array_equal(filters.mask_of_runs(len(mask), starts, stops), mask)
    assert filters.dilate(mask, 1, 0).tolist() == [1, 1, 0, 1, 1, 1, 1, 1, 1]


def test_flat_runs_need_every_channel_still() -> None:
    x = np.array([1, 1, 1, 1, 2, 3, 3, 3, 4], dtype=float)
    assert filters.flat_runs(x, 3).tolist() == [1, 1, 1, 1, 0, 1, 1, 1, 0]
    y = np.array([5, 5, 6, 6, 6, 6, 6, 6, 6], dtype=float)
    assert filters.flat_runs(np.vstack((x, y)), 3).tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 0]


def test_fill_gaps_bridges_short_gaps_only() -> None:
    x = np.array([np.nan, 1, np.nan, 3, np.nan, np.nan, np.nan, 7, np.nan])
    out = filters.fill_gaps(x, 2)
    assert np.isnan(out[[0, 4, 5, 6, 8]]).all()
    assert out[2] == 2.0


@settings(max_examples=60, deadline=None)
@given(finite)
def test_filters_keep_length_and_never_make_nan(x: np.ndarray) -> None:
    taps = filters.bandpass_taps(100, 0.5, 8, 51)
    outputs = [
        filters.zero_phase(x, taps),
        filters.running_median(x, 5),
        filters.despike(x, 5)[0],
        *filters.centred_means(x, (1, 4, 7)),
        filters.moving_sum(x, 7),
        filters.fill_gaps(x, 3),
    ]
    for out in outputs:
        assert out.shape == x.shape
        assert np.isfinite(out).all()
    for mask in (filters.flat_runs(x, 3), filters.despike(x, 5)[1]):
        assert mask.shape == x.shape and mask.dtype == bool


@given(arrays(np.bool_, st.integers(0, 200)))
def test_runs_describe_the_mask_exactly(mask: np.ndarray) -> None:
    starts, stops = filters.runs(mask)
    assert (stops > starts).all()
    np.testing.assert_array_equal(filters.mask_of_runs(len(mask), starts, stops), mask)


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.integers(0, 60), elements=st.integers(-20, 20).map(float)),
    st.sampled_from([1, 3, 5]),
    st.floats(0, 10),
)
def test_despike_shortcut_equals_the_full_hampel_filter(
    x: np.ndarray, k: int, limit: float
) -> None:
    med = filters.running_median(x, k)
    expected = np.abs(x - med) > limit
    cleaned, mask = filters.despike(x, k, limit)
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(cleaned, np.where(expected, med, x))
