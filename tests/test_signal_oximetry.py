import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hub.signal import filters, oximetry, synthetic


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_odi_counts_each_known_desaturation_once(seed: int) -> None:
    night = synthetic.spo2_night(seed=seed, hours=8, dips=40)
    cleaned = oximetry.clean(night.spo2)
    for drop in (3, 4):
        events = oximetry.desaturations(cleaned.spo2, drop)
        assert len(events.start) == 40
        # every event is one of the injected dips, and every dip is found
        gap = np.abs(events.start[:, None] - night.dips[None, :]).min(axis=1)
        assert (gap <= 15).all()
        assert len(np.unique(np.abs(events.start[:, None] - night.dips[None, :]).argmin(1))) == 40
        assert ((events.stop - events.start) >= 10).all()
        assert (events.nadir <= events.baseline - drop).all()
    hours = np.count_nonzero(~np.isnan(cleaned.spo2)) / 3600
    assert oximetry.odi(cleaned.spo2, 3) == pytest.approx(40 / hours)


def test_short_motion_drops_are_not_desaturations() -> None:
    x = 96.0 + np.tile([0.0, 1.0, 0.0, -1.0], 450)  # never flat, so never a stuck sensor
    x[600:603] = 85.0  # a 3 s drop: motion
    x[1000:1030] = 90.0  # a 30 s drop: physiology
    cleaned = oximetry.clean(x)
    assert cleaned.spike[600:603].all()
    events = oximetry.desaturations(cleaned.spo2, 3)
    assert events.start.tolist() == [1000]
    assert events.stop.tolist() == [1030]
    assert events.nadir.tolist() == [90.0]


def test_clean_finds_dropouts_flat_lines_and_spikes() -> None:
    day = synthetic.spo2_day(seed=4)
    c = oximetry.clean(day.spo2, day.pulse)
    assert (c.dropout == day.dropout).all()
    assert np.count_nonzero(c.flat & day.frozen) / np.count_nonzero(day.frozen) >= 0.98
    assert np.count_nonzero(c.flat & ~day.frozen) <= 2
    starts, stops = filters.runs(day.motion)
    short = filters.mask_of_runs(
        len(day.motion), starts[stops - starts <= 4], stops[stops - starts <= 4]
    )
    assert np.count_nonzero(c.spike & short) >= 0.9 * np.count_nonzero(short)
    assert np.count_nonzero(c.spike & ~day.motion) <= 0.03 * np.count_nonzero(c.spike)
    assert np.isnan(c.spo2[c.dropout | c.flat]).all()
    assert not np.isnan(c.spo2[c.valid]).any()


def test_out_of_range_values_are_dropouts() -> None:
    c = oximetry.clean(np.array([97, 127, 0, 96, 98.0]), np.array([60, 60, 60, 255, 61.0]))
    assert c.valid.tolist() == [True, False, False, False, True]


def test_per_minute_summaries() -> None:
    x = np.full(150, 95.0)
    x[10] = 90.0
    x[60:120] = np.nan
    x[130] = 99.0
    m = oximetry.per_minute(x)
    assert m.start.tolist() == [0, 60, 120]
    assert m.valid.tolist() == [60, 0, 30]
    assert m.min[0] == 90.0 and m.max[0] == 95.0
    assert m.mean[0] == pytest.approx((59 * 95 + 90) / 60)
    assert np.isnan([m.mean[1], m.min[1], m.max[1]]).all()
    assert m.max[2] == 99.0


def test_all_missing_is_not_a_crash() -> None:
    c = oximetry.clean(np.full(100, np.nan))
    assert not c.valid.any()
    assert len(oximetry.desaturations(c.spo2, 3).start) == 0
    assert np.isnan(oximetry.odi(c.spo2, 3))


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(0, 600),
        elements=st.one_of(st.just(np.nan), st.floats(-10, 300, allow_nan=False)),
    )
)
def test_any_stream_is_cleaned_and_summarised_without_crashing(x: np.ndarray) -> None:
    c = oximetry.clean(x, x + 10)
    assert c.spo2.shape == x.shape and c.valid.shape == x.shape
    assert np.isfinite(c.spo2[c.valid]).all() and np.isnan(c.spo2[~c.valid]).all()
    m = oximetry.per_minute(c.spo2)
    assert len(m.start) == -(-len(x) // 60) and m.valid.sum() == c.valid.sum()
    events = oximetry.desaturations(c.spo2, 3)
    assert ((events.stop - events.start) >= 10).all()
