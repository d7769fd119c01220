import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hub.signal import hrv, synthetic


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(
    ("method", "most_false_flags"), [("local-median", 3), ("lipponen-tarvainen", 25)]
)
def test_artifact_correction_restores_rmssd(
    seed: int, method: hrv.Method, most_false_flags: int
) -> None:
    series = synthetic.rr_series(seed=seed, beats=4500, artifacts=75)
    truth = hrv.rmssd(series.truth)
    assert hrv.rmssd(series.rr) > truth + 40  # the artifacts matter
    fixed = hrv.correct(series.rr, method)
    assert abs(hrv.rmssd(fixed.rr, fixed.corrected) - truth) <= 2.0
    flagged = np.flatnonzero(fixed.flagged)
    false_flags = np.setdiff1d(flagged, series.artifacts)
    assert len(false_flags) <= most_false_flags  # of 4,500 beats
    assert len(np.intersect1d(flagged, series.artifacts)) >= 0.95 * len(series.artifacts)
    # missed beats are split and extra beats merged: the beat count comes back
    assert abs(len(fixed.rr) - len(series.truth)) <= 2
    assert abs(fixed.rr.sum() - series.truth.sum()) < 0.001 * series.truth.sum()


def test_five_minute_windows_match_the_truth() -> None:
    series = synthetic.rr_series(seed=7)
    fixed = hrv.correct(series.rr)
    ours = hrv.windows(fixed.rr, fixed.corrected)
    truth = hrv.windows(series.truth)
    n = min(len(ours.rmssd), len(truth.rmssd)) - 1  # the last window is partial
    assert n >= 10
    np.testing.assert_allclose(ours.rmssd[:n], truth.rmssd[:n], atol=3.0)
    np.testing.assert_allclose(ours.sdnn[:n], truth.sdnn[:n], atol=3.0)
    np.testing.assert_allclose(ours.pnn50[:n], truth.pnn50[:n], atol=0.05)
    np.testing.assert_allclose(ours.mean_hr[:n], truth.mean_hr[:n], atol=0.5)


def test_window_metrics_on_a_known_series() -> None:
    rr = np.array([1000.0, 1060.0, 1000.0, 1060.0, 1000.0])  # 5.12 s, one window
    w = hrv.windows(rr)
    assert w.beats.tolist() == [5]
    assert w.rmssd[0] == pytest.approx(60.0)
    assert w.pnn50[0] == 1.0
    assert w.sdnn[0] == pytest.approx(np.std(rr, ddof=1))
    assert w.mean_hr[0] == pytest.approx(60_000 / rr.mean())


def test_tiny_and_empty_series() -> None:
    for rr in (np.array([]), np.array([800.0]), np.array([800.0, 1600.0])):
        for method in ("local-median", "lipponen-tarvainen"):
            fixed = hrv.correct(rr, method)
            assert np.isfinite(fixed.rr).all()
            hrv.windows(fixed.rr, fixed.corrected)


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.integers(0, 300), elements=st.floats(200, 2500)))
def test_correction_of_any_series_stays_finite_and_positive(rr: np.ndarray) -> None:
    for method in ("local-median", "lipponen-tarvainen"):
        fixed = hrv.correct(rr, method)
        assert np.isfinite(fixed.rr).all() and (fixed.rr > 0).all()
        assert fixed.corrected.shape == fixed.rr.shape
        assert len(fixed.rr) == len(rr) + fixed.missed - fixed.extra
        w = hrv.windows(fixed.rr, fixed.corrected)
        assert w.beats.sum() == len(fixed.rr)


def test_lipponen_tarvainen_classifies_the_kinds() -> None:
    series = synthetic.rr_series(seed=11, beats=3000, artifacts=45)
    c = hrv.lipponen_tarvainen(series.rr)
    assert c.missed.sum() == 15  # every missed beat seen as missed
    assert c.extra.sum() == 15  # every extra beat seen as extra
