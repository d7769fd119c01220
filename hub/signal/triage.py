"""Local triage: green/yellow/red for spot readings and continuous 1 Hz streams, without
alarm fatigue.

Both are pure state machines: (state, input, time) in, (new state, events) out; the caller
owns the clock. Data quality ("no data", "bad signal") is a separate axis from the clinical
colour, and every alert the rules hold back is returned as a SUPPRESSED_ALERT event so the
hospital can audit what the hub did not raise.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np

from hub.model import Code, Event, EventKind, Kind, Level, Reading
from hub.signal import news2, trends
from hub.signal.filters import moving_sum, runs
from hub.signal.plausibility import check
from hub.signal.rules import GREEN, LEVELS, RED, YELLOW, Band, Profile, Settings


class Quality(enum.StrEnum):
    OK = "ok"
    BAD_SIGNAL = "bad-signal"
    NO_DATA = "no-data"


_QUALITIES = (Quality.OK, Quality.BAD_SIGNAL, Quality.NO_DATA)


def _transition(
    old: Level | None,
    new: Level,
    time: datetime,
    device: str | None,
    what: str,
    details: dict[str, Any],
) -> Event | None:
    """ALERT when the colour gets worse, ALL_CLEAR back to green, STATUS for red → yellow."""
    if old == new or (old is None and new is Level.GREEN):
        return None
    rank = LEVELS.index
    if old is None or rank(new) > rank(old):
        return Event(EventKind.ALERT, time, f"{what} {new}", device, new, details)
    kind = EventKind.ALL_CLEAR if new is Level.GREEN else EventKind.STATUS
    return Event(kind, time, f"{what} back to {new}", device, new, details)


# --- continuous streams ---------------------------------------------------------------


@dataclass(frozen=True)
class StreamState:
    """Where a 1 Hz stream's triage stands: colour, data quality, and the last
    persist_n − 1 seconds (NaN = invalid) so the next chunk's windows continue seamlessly."""

    code: Code
    device: str | None = None
    level: Level = Level.GREEN
    quality: Quality = Quality.NO_DATA
    history: tuple[float, ...] = ()
    last_valid: datetime | None = None


def _latch(on: np.ndarray, off: np.ndarray, initial: bool) -> np.ndarray:
    """A set/reset latch: True from each `on` until the next `off` (`on` wins a tie)."""
    idx = np.arange(len(on))
    last_on = np.maximum.accumulate(np.where(on, idx, -1))
    last_off = np.maximum.accumulate(np.where(off & ~on, idx, -1))
    return np.where((last_on < 0) & (last_off < 0), initial, last_on > last_off)


def _suppressed(mask: np.ndarray, raises: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs of `mask` not followed by a raise within `gap` samples of their end, merged into
    episodes where less than `gap` samples apart."""
    starts, stops = runs(mask)
    nxt = np.searchsorted(raises, starts)
    led = nxt < len(raises)
    led[led] = raises[nxt[led]] < stops[led] + gap
    starts, stops = starts[~led], stops[~led]
    if len(starts) == 0:
        return starts, stops
    split = starts[1:] - stops[:-1] >= gap
    return starts[np.r_[True, split]], stops[np.r_[split, True]]


def step_stream(
    state: StreamState, start: datetime, values: np.ndarray, band: Band, settings: Settings
) -> tuple[StreamState, list[Event]]:
    """Feed one chunk of 1 Hz values (NaN = invalid; the first at `start`). Chunks must follow
    each other second by second: for seconds with no sample, pass NaN.

    A colour gets worse only when persist_k of the last persist_n seconds are valid and at
    that colour or worse, and only while the data quality is OK; it clears when clear_k of
    the last persist_n seconds are better by `hysteresis`. Runs of values worse than the
    current colour that did not lead to an alert within persist_n seconds are logged as
    SUPPRESSED_ALERT events, one per episode (runs less than persist_n seconds apart merged),
    with the reason: the worst data quality during the episode, or "persistence" when the
    data were good and the values just did not last.

    Feed it valid values, not despiked ones: spikes are what persistence is for, and each
    one that it holds back must be logged."""
    new = np.asarray(values, dtype=float)
    n_new = len(new)
    if n_new == 0:
        return state, []
    n = settings.persist_n
    prior = np.array(state.history, dtype=float)
    h = len(prior)
    v = np.concatenate((prior, new))
    valid = ~np.isnan(v)
    raw = band.levels(v)
    clear = band.levels(v, settings.hysteresis)

    def window(mask: np.ndarray) -> np.ndarray:
        return moving_sum(mask, n)[h:]

    idx = np.arange(n_new)
    before = -np.inf if state.last_valid is None else (state.last_valid - start).total_seconds()
    last_valid = np.maximum.accumulate(np.where(valid[h:], idx, before))
    quality = np.where(
        idx - last_valid >= settings.stale_s,
        2,
        np.where(window(valid) < settings.min_valid, 1, 0),
    )
    ok = quality == 0
    k, kc = settings.persist_k, settings.clear_k
    current = LEVELS.index(state.level)
    red_on = _latch(
        ok & (window(raw >= RED) >= k), window(valid & (clear < RED)) >= kc, current >= RED
    )
    yellow_on = _latch(
        ok & (window(raw >= YELLOW) >= k),
        window(valid & (clear < YELLOW)) >= kc,
        current >= YELLOW,
    )
    level = np.where(red_on, RED, np.where(yellow_on, YELLOW, GREEN))

    events: list[Event] = []
    what = f"{state.code.name.lower()} ({state.code.value})"

    def at(i: int) -> datetime:
        return start + timedelta(seconds=int(i))

    q0 = _QUALITIES.index(state.quality)
    for i in np.flatnonzero(np.diff(quality, prepend=q0)):
        q = _QUALITIES[quality[i]]
        events.append(
            Event(EventKind.STATUS, at(i), f"{what}: {q}", state.device, None, {"quality": q})
        )
    levels = np.concatenate(([current], level))
    for i in np.flatnonzero(np.diff(levels)):
        details = {"code": state.code.value, "value": float(v[h + i])}
        old, new_level = LEVELS[levels[i]], LEVELS[levels[i + 1]]
        event = _transition(old, new_level, at(i), state.device, what, details)
        if event is not None:
            events.append(event)
    raises = np.flatnonzero(np.diff(levels) > 0)
    starts, stops = _suppressed(raw[h:] > levels[:-1], raises, n)
    for s, e in zip(starts, stops, strict=True):  # one per episode, not per sample
        worst_quality = int(quality[s:e].max())
        reason = "persistence" if worst_quality == 0 else _QUALITIES[worst_quality].value
        worst = LEVELS[int(raw[h + s : h + e].max())]
        details = {
            "code": state.code.value,
            "reason": reason,
            "seconds": int(e - s),
            "min": float(np.nanmin(v[h + s : h + e])),
            "max": float(np.nanmax(v[h + s : h + e])),
        }
        events.append(
            Event(
                EventKind.SUPPRESSED_ALERT,
                at(s),
                f"{what} {worst} for {e - s} s not raised ({reason})",
                state.device,
                worst,
                details,
            )
        )
    events.sort(key=lambda ev: ev.time)
    valid_new = np.flatnonzero(valid[h:])
    new_state = replace(
        state,
        level=LEVELS[int(level[-1])],
        quality=_QUALITIES[int(quality[-1])],
        history=tuple(v[-(n - 1) :].tolist()) if n > 1 else (),
        last_valid=at(valid_new[-1]) if len(valid_new) else state.last_valid,
    )
    return new_state, events


def check_stale(
    state: StreamState, now: datetime, settings: Settings
) -> tuple[StreamState, list[Event]]:
    """Mark a stream with no valid sample for `stale_s` as NO_DATA (for when none arrive)."""
    fresh = (
        state.last_valid is not None and (now - state.last_valid).total_seconds() < settings.stale_s
    )
    if fresh or state.quality is Quality.NO_DATA:
        return state, []
    what = f"{state.code.name.lower()} ({state.code.value})"
    event = Event(
        EventKind.STATUS,
        now,
        f"{what}: {Quality.NO_DATA}",
        state.device,
        None,
        {"quality": Quality.NO_DATA},
    )
    return replace(state, quality=Quality.NO_DATA), [event]


# --- spot readings --------------------------------------------------------------------


@dataclass(frozen=True)
class SpotState:
    """A patient's spot-reading triage: overall colour (the worst of the latest colour of each
    reading kind and of the trend rules), unconfirmed reds per reading kind (first seen, reds
    so far), and recent values per code for the trend rules."""

    level: Level | None = None
    kinds: Mapping[Kind, Level] = field(default_factory=dict)
    pending: Mapping[Kind, tuple[datetime, int]] = field(default_factory=dict)
    history: Mapping[Code, tuple[tuple[datetime, float], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Assessment:
    level: Level | None  # None: not triaged (the patient is asked to repeat)
    would_be: Level | None  # the colour the values alone give, even when not triaged
    reasons: tuple[str, ...]


def assess(reading: Reading, profile: Profile) -> Assessment:
    """Colour of one spot reading by the profile's bands, after the plausibility check."""
    checked = check(reading)
    ranks = [
        LEVELS.index(profile.bands[code].level(value))
        for code, value in checked.values.items()
        if code in profile.bands
    ]
    colour = LEVELS[max(ranks)] if ranks else None
    if checked.repeat:
        return Assessment(None, colour, checked.reasons)
    return Assessment(colour or Level.GREEN, colour, ())


def _trend_level(
    history: Mapping[Code, tuple[tuple[datetime, float], ...]], profile: Profile
) -> tuple[Level, list[str]]:
    """Colour from the history rules: weight gain, home BP mean, NEWS2 aggregate."""
    level, why = Level.GREEN, []

    def series(code: Code) -> tuple[np.ndarray, np.ndarray]:
        items = history.get(code, ())
        t = np.array([ts.timestamp() for ts, _ in items], dtype=float)
        return t, np.array([val for _, val in items], dtype=float)

    if profile.weight_gain_kg is not None:
        gain = trends.weight_gain(*series(Code.BODY_WEIGHT), profile.weight_days)
        if gain > profile.weight_gain_kg:
            level = Level.RED
            why.append(f"weight gain {gain:.1f} kg in {profile.weight_days:g} days")
    if profile.home_bp_limit is not None:
        ts, sys_ = series(Code.SYSTOLIC)
        td, dia = series(Code.DIASTOLIC)
        mean = None
        if len(ts) == len(td) and np.array_equal(ts, td):
            mean = trends.home_bp_mean(
                ts, sys_, dia, profile.home_bp_days, profile.home_bp_min_readings
            )
        if mean is not None and (
            mean[0] >= profile.home_bp_limit[0] or mean[1] >= profile.home_bp_limit[1]
        ):
            level = max(level, Level.YELLOW, key=LEVELS.index)
            why.append(f"home BP mean {mean[0]:.0f}/{mean[1]:.0f}")
    if profile.news2_scale:
        partial = news2_partial(
            {code: items[-1][1] for code, items in history.items() if items}, profile.news2_scale
        )
        if partial.score >= 5:
            level = max(level, Level.RED if partial.score >= 7 else Level.YELLOW, key=LEVELS.index)
            why.append(f"NEWS2 partial score {partial.score}")
    return level, why


def news2_partial(latest: Mapping[Code, float], scale: int) -> news2.Result:
    """NEWS2 from the parameters the hub has (a missing one scores 0; patients at home are
    taken as alert and on air)."""
    subscores: dict[str, int] = {}
    for code, name in (
        (Code.RESPIRATORY_RATE, "resp_rate"),
        (Code.SYSTOLIC, "systolic"),
        (Code.HEART_RATE, "pulse"),
        (Code.BODY_TEMPERATURE, "temp"),
    ):
        if code in latest:
            subscores[name] = news2.subscore(name, latest[code])
    if Code.SPO2 in latest:
        subscores["spo2"] = news2.spo2_subscore(latest[Code.SPO2], scale, on_oxygen=False)
    total = sum(subscores.values())
    return news2.Result(total, MappingProxyType(subscores), news2.risk(total, subscores))


def step_spot(
    state: SpotState, reading: Reading, now: datetime, profile: Profile, settings: Settings
) -> tuple[SpotState, list[Event]]:
    """Triage one spot reading at time `now` (`assess`, then `step_assessed`)."""
    return step_assessed(state, reading, assess(reading, profile), now, profile, settings)


def step_assessed(
    state: SpotState,
    reading: Reading,
    a: Assessment,
    now: datetime,
    profile: Profile,
    settings: Settings,
) -> tuple[SpotState, list[Event]]:
    """Triage one spot reading already assessed (`a`, its colour by the profile's bands) at
    time `now`; the caller keeps `a` to tag the reading, so the bands are applied once.

    A reading the plausibility check rejects asks for a repeat (MEASUREMENT_DUE) and changes
    nothing. A red reading needs `repeat_before_red` confirming red repeats of the same kind
    within `repeat_window_s`; until then it is a SUPPRESSED_ALERT plus a request to repeat."""
    device = reading.device
    base = {"reading": reading.id, "kind": reading.kind.value}
    if a.level is None:
        events = [
            Event(
                EventKind.MEASUREMENT_DUE,
                now,
                "please repeat: " + "; ".join(a.reasons),
                device,
                None,
                {**base, "reasons": list(a.reasons)},
            )
        ]
        if a.would_be in (Level.YELLOW, Level.RED):
            events.append(
                Event(
                    EventKind.SUPPRESSED_ALERT,
                    now,
                    f"{a.would_be} reading not triaged",
                    device,
                    a.would_be,
                    {**base, "reason": "measurement-status"},
                )
            )
        return state, events

    pending = dict(state.pending)
    if a.level is Level.RED and settings.repeat_before_red > 0:
        first, reds = pending.get(reading.kind, (now, 0))
        if (now - first).total_seconds() > settings.repeat_window_s:
            first, reds = now, 0
        if reds < settings.repeat_before_red:
            pending[reading.kind] = (first, reds + 1)
            events = [
                Event(
                    EventKind.SUPPRESSED_ALERT,
                    now,
                    "red reading awaits a repeat",
                    device,
                    Level.RED,
                    {**base, "reason": "awaiting-repeat"},
                ),
                Event(
                    EventKind.MEASUREMENT_DUE,
                    now,
                    "please repeat the measurement to confirm",
                    device,
                    None,
                    {**base, "reasons": ["confirm a red reading"]},
                ),
            ]
            return replace(state, pending=MappingProxyType(pending)), events
    pending.pop(reading.kind, None)

    history = _updated_history(state.history, reading, now, profile)
    trend, why = _trend_level(history, profile)
    kinds = {**state.kinds, reading.kind: a.level}
    level = max((*kinds.values(), trend), key=LEVELS.index)
    details = {**base, "kinds": {k.value: v.value for k, v in kinds.items()}, "reasons": why}
    event = _transition(state.level, level, now, device, "patient", details)
    new_state = SpotState(
        level, MappingProxyType(kinds), MappingProxyType(pending), MappingProxyType(history)
    )
    return new_state, [event] if event else []


def _updated_history(
    history: Mapping[Code, tuple[tuple[datetime, float], ...]],
    reading: Reading,
    now: datetime,
    profile: Profile,
) -> dict[Code, tuple[tuple[datetime, float], ...]]:
    """History with the reading's plausible values added, older than the rules need dropped."""
    keep_days = max(profile.weight_days, profile.home_bp_days, 1.0)
    horizon = now - timedelta(days=keep_days)
    out = {code: tuple(x for x in items if x[0] >= horizon) for code, items in history.items()}
    for code, value in check(reading).values.items():
        out[code] = (*out.get(code, ()), (now, value))
    return out
