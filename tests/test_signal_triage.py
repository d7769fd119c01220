import dataclasses
import typing
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hub.ble.profiles import blood_pressure, heart_rate, plx
from hub.config import PatientSection, TriageSection
from hub.model import Code, EventKind, Kind, Level, Observation, Reading, canonical_unit
from hub.signal import oximetry, synthetic, triage
from hub.signal.filters import runs
from hub.signal.plausibility import REPEAT_FLAGS
from hub.signal.rules import PATHWAYS, PROFILES, Band, Settings

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SPO2_BAND = PROFILES["general"].bands[Code.SPO2]


def day_stream(seed: int) -> tuple[synthetic.Spo2Day, np.ndarray]:
    day = synthetic.spo2_day(seed=seed)
    cleaned = oximetry.clean(day.spo2, day.pulse)
    return day, np.where(cleaned.valid, day.spo2, np.nan)


def kinds(events: list, kind: EventKind, level: Level | None = None) -> list:
    return [e for e in events if e.kind is kind and (level is None or e.level is level)]


def seconds(event) -> int:
    return int((event.time - T0).total_seconds())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_day_with_one_real_dip_alarms_once_and_clears_once(seed: int) -> None:
    day, values = day_stream(seed)
    naive_onsets, _ = runs(np.nan_to_num(day.spo2, nan=100.0) <= 92)
    assert 130 <= len(naive_onsets) <= 200  # what a raw ≤ 92 threshold would do

    state, events = triage.step_stream(
        triage.StreamState(Code.SPO2), T0, values, SPO2_BAND, Settings()
    )
    dip = np.flatnonzero(day.dip)
    red = kinds(events, EventKind.ALERT, Level.RED)
    assert len(red) == 1
    assert dip[0] <= seconds(red[0]) <= dip[0] + 120
    assert len(kinds(events, EventKind.ALERT)) <= 2  # at most yellow on the way down, then red
    clear = kinds(events, EventKind.ALL_CLEAR)
    assert len(clear) == 1 and seconds(clear[0]) > dip[-1]
    assert state.level is Level.GREEN

    # every naive alarm outside the dip is accounted for by a logged suppressed alert
    suppressed = kinds(events, EventKind.SUPPRESSED_ALERT)
    spans = np.array([(seconds(e), seconds(e) + e.details["seconds"]) for e in suppressed])
    valid_onsets, _ = runs(np.nan_to_num(values, nan=100.0) <= 92)
    outside = valid_onsets[(valid_onsets < dip[0]) | (valid_onsets > dip[-1])]
    covered = ((spans[:, :1] <= outside) & (outside < spans[:, 1:])).any(axis=0)
    assert covered.all()
    assert all(e.details["reason"] in ("persistence", "bad-signal", "no-data") for e in suppressed)


def test_chunked_feeding_gives_the_same_alerts_as_one_chunk() -> None:
    _, values = day_stream(0)
    _, whole = triage.step_stream(triage.StreamState(Code.SPO2), T0, values, SPO2_BAND, Settings())
    state, pieces = triage.StreamState(Code.SPO2), []
    for i in range(0, len(values), 777):
        state, events = triage.step_stream(
            state, T0 + timedelta(seconds=i), values[i : i + 777], SPO2_BAND, Settings()
        )
        pieces += events

    def key(evs: list) -> list:
        return [
            (e.kind, e.level, e.time)
            for e in evs
            if e.kind in (EventKind.ALERT, EventKind.ALL_CLEAR)
            or (e.level is not None and e.kind is EventKind.STATUS)
        ]

    assert key(pieces) == key(whole)


def test_no_data_is_a_status_not_a_colour() -> None:
    settings = Settings(stale_s=120)
    values = np.full(600, 97.0)
    values[300:] = np.nan  # the sensor falls off
    state, events = triage.step_stream(
        triage.StreamState(Code.SPO2), T0, values, SPO2_BAND, settings
    )
    statuses = [(seconds(e), e.details["quality"]) for e in kinds(events, EventKind.STATUS)]
    assert statuses[-2:] == [(300 + 30, "bad-signal"), (299 + 120, "no-data")]
    assert state.quality is triage.Quality.NO_DATA and state.level is Level.GREEN
    assert not kinds(events, EventKind.ALERT)


def test_stale_check_without_samples() -> None:
    settings = Settings(stale_s=600)
    state, _ = triage.step_stream(
        triage.StreamState(Code.SPO2), T0, np.full(120, 97.0), SPO2_BAND, settings
    )
    assert state.quality is triage.Quality.OK
    same, none = triage.check_stale(state, T0 + timedelta(seconds=500), settings)
    assert same is state and none == []
    stale, events = triage.check_stale(state, T0 + timedelta(seconds=800), settings)
    assert stale.quality is triage.Quality.NO_DATA
    assert [e.details["quality"] for e in events] == ["no-data"]
    assert triage.check_stale(stale, T0 + timedelta(seconds=900), settings)[1] == []


def test_low_values_in_bad_signal_are_suppressed_not_alerted() -> None:
    values = np.full(900, 97.0)
    values[300:600] = np.nan
    values[300:600:3] = 85.0  # one valid sample in three: bad signal, every one red
    _, events = triage.step_stream(triage.StreamState(Code.SPO2), T0, values, SPO2_BAND, Settings())
    assert not kinds(events, EventKind.ALERT)
    reasons = {e.details["reason"] for e in kinds(events, EventKind.SUPPRESSED_ALERT)}
    assert reasons == {"bad-signal"}


def test_hysteresis_needs_a_margin_to_clear() -> None:
    values = np.r_[np.full(120, 97.0), np.full(120, 90.0), np.full(300, 93.0)]
    state, _ = triage.step_stream(
        triage.StreamState(Code.SPO2), T0, values, SPO2_BAND, Settings(hysteresis=1.0)
    )
    assert state.level is Level.RED  # 93 is not red, but not 1 % clear of it either
    state, _ = triage.step_stream(
        triage.StreamState(Code.SPO2), T0, values, SPO2_BAND, Settings(hysteresis=0.0)
    )
    assert state.level is Level.YELLOW


def test_settings_refuse_inconsistent_persistence() -> None:
    with pytest.raises(ValueError):
        Settings(persist_k=20, clear_k=20, persist_n=60)
    with pytest.raises(ValueError):
        Settings(persist_k=61)


def test_config_triage_section_fills_settings() -> None:
    assert Settings(**dataclasses.asdict(TriageSection())) == Settings()


def test_every_config_pathway_has_a_profile() -> None:
    hints = typing.get_type_hints(PatientSection)
    assert set(typing.get_args(hints["pathway"])) == set(PATHWAYS)


def test_band_levels_and_margin() -> None:
    band = Band(red_low=90, yellow_low=110, yellow_high=160, red_high=220)
    levels = band.levels(np.array([89, 90, 91, 110, 111, 159, 160, 219, 220, np.nan]))
    assert levels.tolist() == [2, 2, 1, 1, 0, 0, 1, 1, 2, -1]
    assert band.levels(np.array([91.0, 111.0]), margin=1).tolist() == [2, 1]


# --- spot readings --------------------------------------------------------------------


def reading(
    kind: Kind, values: dict[Code, float | None], flags: frozenset[str] = frozenset(), n: int = 0
) -> Reading:
    obs = tuple(
        Observation(code, value, canonical_unit(code), special=None if value is not None else "nan")
        for code, value in values.items()
    )
    return Reading(f"r{n}", "C0:11:22:33:44:55", kind, None, T0, obs, flags)


def spo2(value: float | None, n: int = 0, flags: frozenset[str] = frozenset()) -> Reading:
    return reading(Kind.SPO2_SPOT, {Code.SPO2: value, Code.HEART_RATE: 70.0}, flags, n)


GENERAL = PROFILES["general"]


def test_a_red_spot_reading_needs_a_confirming_repeat() -> None:
    settings = Settings(repeat_before_red=1, repeat_window_s=900)
    state, events = triage.step_spot(triage.SpotState(), spo2(91), T0, GENERAL, settings)
    assert [e.kind for e in events] == [EventKind.SUPPRESSED_ALERT, EventKind.MEASUREMENT_DUE]
    assert events[0].details["reason"] == "awaiting-repeat"
    assert state.level is None
    state, events = triage.step_spot(
        state, spo2(90, 1), T0 + timedelta(minutes=5), GENERAL, settings
    )
    assert [(e.kind, e.level) for e in events] == [(EventKind.ALERT, Level.RED)]
    assert state.level is Level.RED and not state.pending
    state, events = triage.step_spot(
        state, spo2(97, 2), T0 + timedelta(minutes=30), GENERAL, settings
    )
    assert [(e.kind, e.level) for e in events] == [(EventKind.ALL_CLEAR, Level.GREEN)]


def test_the_colour_is_the_worst_of_each_kinds_latest_reading() -> None:
    settings = Settings(repeat_before_red=0)
    profile = PROFILES["heart-failure"]
    bp = reading(Kind.BLOOD_PRESSURE, {Code.SYSTOLIC: 88.0, Code.DIASTOLIC: 60.0})
    state, _ = triage.step_spot(triage.SpotState(), bp, T0, profile, settings)
    assert state.level is Level.RED
    weight = reading(Kind.WEIGHT, {Code.BODY_WEIGHT: 80.0}, n=1)
    state, events = triage.step_spot(state, weight, T0 + timedelta(hours=1), profile, settings)
    assert state.level is Level.RED and events == []  # a normal weight does not clear a low BP
    bp = reading(Kind.BLOOD_PRESSURE, {Code.SYSTOLIC: 125.0, Code.DIASTOLIC: 80.0}, n=2)
    state, events = triage.step_spot(state, bp, T0 + timedelta(hours=2), profile, settings)
    assert [(e.kind, e.level) for e in events] == [(EventKind.ALL_CLEAR, Level.GREEN)]


def test_a_repeat_outside_the_window_starts_over() -> None:
    settings = Settings(repeat_before_red=1, repeat_window_s=600)
    state, _ = triage.step_spot(triage.SpotState(), spo2(91), T0, GENERAL, settings)
    state, events = triage.step_spot(
        state, spo2(91, 1), T0 + timedelta(minutes=20), GENERAL, settings
    )
    assert events[0].kind is EventKind.SUPPRESSED_ALERT
    assert state.level is None


def test_a_normal_repeat_withdraws_the_red() -> None:
    settings = Settings()
    state, _ = triage.step_spot(triage.SpotState(), spo2(91), T0, GENERAL, settings)
    state, events = triage.step_spot(
        state, spo2(96, 1), T0 + timedelta(minutes=2), GENERAL, settings
    )
    assert events == [] and state.level is Level.GREEN and not state.pending


def test_no_repeat_needed_when_configured_off_and_yellow_never_waits() -> None:
    _, events = triage.step_spot(
        triage.SpotState(), spo2(91), T0, GENERAL, Settings(repeat_before_red=0)
    )
    assert [(e.kind, e.level) for e in events] == [(EventKind.ALERT, Level.RED)]
    _, events = triage.step_spot(triage.SpotState(), spo2(93), T0, GENERAL, Settings())
    assert [(e.kind, e.level) for e in events] == [(EventKind.ALERT, Level.YELLOW)]


def test_repeat_flags_are_names_the_decoders_emit() -> None:
    emitted = {
        *blood_pressure.STATUS_NAMES,
        *blood_pressure.PULSE_RANGE,
        *plx.MEASUREMENT_STATUS_NAMES,
        *plx.DEVICE_STATUS_NAMES,
        *heart_rate.decode_measurement(
            heart_rate.encode_measurement(70, sensor_contact=False)
        ).flags,
    }
    assert set(REPEAT_FLAGS) <= emitted


@pytest.mark.parametrize("flag", sorted(REPEAT_FLAGS))
def test_measurement_status_flags_ask_for_a_repeat(flag: str) -> None:
    bp = reading(
        Kind.BLOOD_PRESSURE,
        {Code.SYSTOLIC: 85.0, Code.DIASTOLIC: 60.0, Code.HEART_RATE: 70.0},
        frozenset({flag}),
    )
    profile = PROFILES["heart-failure"]
    state, events = triage.step_spot(triage.SpotState(), bp, T0, profile, Settings())
    assert [e.kind for e in events] == [EventKind.MEASUREMENT_DUE, EventKind.SUPPRESSED_ALERT]
    assert events[1].details["reason"] == "measurement-status" and events[1].level is Level.RED
    assert state == triage.SpotState()


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({Code.SPO2: None}, "no value for spo2"),
        ({Code.SPO2: 30.0}, "implausible spo2"),
        ({Code.SYSTOLIC: 70.0, Code.DIASTOLIC: 80.0}, "not above diastolic"),
    ],
)
def test_implausible_readings_ask_for_a_repeat(values: dict, fragment: str) -> None:
    a = triage.assess(reading(Kind.SPO2_SPOT, values), GENERAL)
    assert a.level is None
    assert any(fragment in r for r in a.reasons)


def test_heart_failure_weight_gain_over_three_days() -> None:
    profile = PROFILES["heart-failure"]
    settings = Settings()
    state = triage.SpotState()
    levels = []
    for day, kg in enumerate([80.0, 80.4, 81.1, 82.6, 82.4]):
        w = reading(Kind.WEIGHT, {Code.BODY_WEIGHT: kg}, n=day)
        state, _ = triage.step_spot(state, w, T0 + timedelta(days=day), profile, settings)
        levels.append(state.level)
    # day 3: 82.6 − 80.0 = 2.6 kg in 3 days; day 4: 82.4 − 80.4 = 2.0, not above 2
    assert levels == [Level.GREEN, Level.GREEN, Level.GREEN, Level.RED, Level.GREEN]


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [(141, 84, Level.YELLOW), (128, 86, Level.YELLOW), (126, 79, Level.GREEN)],
)
def test_hypertension_home_mean_over_seven_days(
    systolic: float, diastolic: float, expected: Level
) -> None:
    profile = PROFILES["hypertension"]
    state = triage.SpotState()
    seen = []
    for i in range(14):  # morning and evening for 7 days
        bp = reading(Kind.BLOOD_PRESSURE, {Code.SYSTOLIC: systolic, Code.DIASTOLIC: diastolic}, n=i)
        state, _ = triage.step_spot(state, bp, T0 + timedelta(hours=12 * i), profile, Settings())
        seen.append(state.level)
    # the first day is discarded and 12 readings are needed: only the last reading qualifies
    assert seen[:-1] == [Level.GREEN] * 13
    assert seen[-1] is expected


def test_news2_partial_scores_what_the_hub_has() -> None:
    result = triage.news2_partial(
        {Code.HEART_RATE: 131, Code.SYSTOLIC: 90, Code.BODY_TEMPERATURE: 39.1}, 1
    )
    assert (result.score, result.risk) == (8, "high")
    assert set(result.subscores) == {"pulse", "systolic", "temp"}
    assert triage.news2_partial({Code.SPO2: 93}, 2).score == 0  # scale 2 on air


def test_news2_pathway_aggregate_turns_red_without_a_single_red_value() -> None:
    profile = PROFILES["news2"]
    state = triage.SpotState()
    vitals = [
        (Kind.RESPIRATORY_RATE, {Code.RESPIRATORY_RATE: 24.0}),  # 2
        (Kind.HEART_RATE, {Code.HEART_RATE: 130.0}),  # 2
        (Kind.TEMPERATURE, {Code.BODY_TEMPERATURE: 39.1}),  # 2
        (Kind.SPO2_SPOT, {Code.SPO2: 95.0}),  # 1 → aggregate 7
    ]
    for i, (kind, values) in enumerate(vitals):
        state, events = triage.step_spot(
            state, reading(kind, values, n=i), T0 + timedelta(minutes=i), profile, Settings()
        )
    assert state.level is Level.RED
    assert "NEWS2 partial score 7" in events[-1].details["reasons"]


spo2_values = arrays(
    np.float64,
    st.integers(0, 400),
    elements=st.one_of(st.just(np.nan), st.integers(80, 100).map(float)),
)


@settings(max_examples=60, deadline=None)
@given(spo2_values, st.integers(1, 150))
def test_stream_triage_is_chunking_invariant_on_any_input(values: np.ndarray, chunk: int) -> None:
    config = Settings(persist_k=8, persist_n=10, clear_k=5, min_valid=4, stale_s=30)
    whole_state, whole = triage.step_stream(
        triage.StreamState(Code.SPO2), T0, values, SPO2_BAND, config
    )
    state, pieces = triage.StreamState(Code.SPO2), []
    for i in range(0, len(values), chunk):
        state, events = triage.step_stream(
            state, T0 + timedelta(seconds=i), values[i : i + chunk], SPO2_BAND, config
        )
        pieces += events
    assert (state.level, state.quality) == (whole_state.level, whole_state.quality)

    def transitions(evs: list) -> list:
        return [(e.kind, e.level, e.time) for e in evs if e.kind is not EventKind.SUPPRESSED_ALERT]

    assert transitions(pieces) == transitions(whole)
    assert all(T0 <= e.time < T0 + timedelta(seconds=max(len(values), 1)) for e in whole)
