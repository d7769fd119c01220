import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hub.signal import filters, ppg, synthetic


@pytest.fixture(scope="module")
def record() -> synthetic.Ppg:
    return synthetic.ppg(seconds=1200, fs=100, seed=3)


@pytest.fixture(scope="module")
def analysis(record: synthetic.Ppg) -> ppg.Analysis:
    return ppg.analyse(record.signal, record.fs)


def test_spikes_are_found_with_high_recall_and_precision(
    record: synthetic.Ppg, analysis: ppg.Analysis
) -> None:
    found = analysis.artifacts.spikes
    recall = np.count_nonzero(found & record.spikes) / np.count_nonzero(record.spikes)
    # motion noise is an artifact too: a flag there is not a false alarm
    precision = np.count_nonzero(found & (record.spikes | record.motion)) / np.count_nonzero(found)
    assert recall >= 0.98
    assert precision >= 0.95


def test_flat_lines_are_found_with_high_recall_and_precision(
    record: synthetic.Ppg, analysis: ppg.Analysis
) -> None:
    found = analysis.artifacts.flat
    assert np.count_nonzero(found & record.flat) / np.count_nonzero(record.flat) >= 0.98
    assert np.count_nonzero(found & record.flat) / np.count_nonzero(found) >= 0.98


def test_spikes_are_replaced_and_the_rest_untouched(record: synthetic.Ppg) -> None:
    art = ppg.artifacts(record.signal, record.fs)
    assert np.abs(art.cleaned - record.signal)[~art.spikes].max() == 0
    at = np.flatnonzero(record.spikes)
    around = (art.cleaned[at - 3] + art.cleaned[at + 3]) / 2
    assert np.abs(record.signal[at] - around).min() > 2.5  # injected spikes are 3–8 high
    assert np.abs(art.cleaned[at] - around).max() < 0.5


def test_beats_match_the_true_beats(record: synthetic.Ppg, analysis: ppg.Analysis) -> None:
    truth = record.beats
    found = analysis.peaks / record.fs
    near = np.abs(found[:, None] - truth[None, :]).min(axis=1) if len(found) < 5000 else None
    assert near is not None
    clean = ~(record.motion | record.flat)[analysis.peaks]
    assert np.mean(near[clean] < 0.05) >= 0.99  # detected beats are real beats
    missed = np.abs(truth[:, None] - found[None, :]).min(axis=1) > 0.05
    artifact = filters.dilate(record.motion | record.flat, 100, 100)
    in_clean = ~artifact[np.minimum(np.round(truth * record.fs).astype(int), len(artifact) - 1)]
    assert np.mean(missed[in_clean]) <= 0.01  # beats in clean signal are found


def test_heart_rate_within_one_bpm_of_truth(record: synthetic.Ppg, analysis: ppg.Analysis) -> None:
    per = round(analysis.window_s * record.fs)
    ibi = np.diff(record.beats)
    window = np.round(record.beats[1:] * record.fs).astype(int) // per
    truth = np.array([60 / np.median(ibi[window == w]) for w in range(len(analysis.hr))])
    usable = ~np.isnan(analysis.hr)
    assert usable.mean() >= 0.85
    assert np.mean(np.abs(analysis.hr - truth)[usable]) <= 1.0
    # windows that hold an injected artifact score lower than clean ones
    bad = np.bincount(np.flatnonzero(record.motion | record.flat) // per, minlength=len(truth))
    assert analysis.quality[bad[: len(truth)] > 0].mean() < analysis.quality[bad == 0].mean()


def test_works_at_60_hz() -> None:
    rec = synthetic.ppg(seconds=300, fs=60, seed=5)
    out = ppg.analyse(rec.signal, rec.fs)
    assert abs(len(out.peaks) - len(rec.beats)) <= 0.03 * len(rec.beats)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(0, 700),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    )
)
def test_any_finite_input_gives_a_result_of_the_right_shape(x: np.ndarray) -> None:
    out = ppg.analyse(x, 100.0)
    assert out.artifacts.cleaned.shape == x.shape
    assert np.isfinite(out.artifacts.cleaned).all()
    assert len(out.hr) == len(out.quality) == max(1, int(np.ceil(len(x) / 1000)))
    assert ((out.quality >= 0) & (out.quality <= 1)).all()
    assert ((out.peaks >= 0) & (out.peaks < max(len(x), 1))).all()


def test_too_low_a_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20 Hz"):
        ppg.analyse(np.zeros(100), 10.0)
