"""Aging a store to a realistic patient's days, time-compressed, through the store's own API.

The patient of issue 10: two 1 Hz streams (the oximeter's SpO2, the band's heart rate) eight
hours a night, from 22:00 to 06:00, and the spot readings of the schedule in force (four a
day in `hub bench soak`), each a few minutes after its slot's measurement-due event.

Readings are made as the daemon makes them. A spot reading is a device frame decoded by the
real decoder, with its id from `IdMinter.for_measurement`, triaged and tagged by the daemon's
own `Pipeline`. Each closed stream-minute is two readings shaped as `hub.daemon.pipeline`
makes them — its summary and its raw samples as one `SampleBlock` (NaN marks a gap) — with
ids from `IdMinter.for_period`, received `LAG_S` after the minute ended, as the stream tick
closes it.

They reach the store the way the daemon and the uplink leave them: `Store.add` (one group
commit per simulated day), events through `record_event`, then every reading whose id time
lies before `Plan.cutoff` is taken by `next_batch` and acknowledged, batch by batch, as the
hospital acknowledges; the last hours stay `new`. With `Plan.purge`, the store's retention
steps run at each simulated midnight, as the daemon's daily job would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from hub.ble.profiles import blood_pressure, heart_rate, plx, weight
from hub.daemon.pipeline import Pipeline
from hub.daemon.streams import LAG_S
from hub.ids import IdMinter, uuid7_time_ms
from hub.model import Code, Event, Kind, Level, Observation, Reading, SampleBlock, canonical_unit
from hub.schedule import ScheduleItem, Slot, SlotStatus, events_to_report
from hub.store import Store
from hub.testbed.patient import BAND, CUFF, OXIMETER, SCALE

NIGHT_START = time(22, 0)
NIGHT_MINUTES = 8 * 60
STREAMS = ((OXIMETER, Code.SPO2), (BAND, Code.HEART_RATE))
SPOT_DEVICES = {"blood-pressure": CUFF, "weight": SCALE, "spo2-spot": OXIMETER}
MEASURED_AFTER = timedelta(minutes=4)  # the patient measures a few minutes after the reminder
GAP_FRACTION = 0.01  # seconds without a sample (a finger moved, a strap slipped)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Plan:
    """Aging from `end - days` to `end`; what was received in the last `pending_hours` stays
    unacknowledged (the uplink has been down since)."""

    end: datetime
    days: float
    pending_hours: float = 6.0
    purge: bool = False  # run the store's retention steps at each simulated midnight
    # The uplink's default `batch_max`. A real uplink also cuts a batch every `batch_seconds`
    # (30 s), so its batches are smaller and the `batches` table has more rows.
    batch_max: int = 200

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def cutoff(self) -> datetime:
        return self.end - timedelta(hours=self.pending_hours)

    def windows(self) -> Iterator[tuple[datetime, datetime]]:
        """Calendar days (UTC) overlapping the aging span, clipped to it."""
        day = datetime.combine(self.start.date(), time(), UTC)
        while day < self.end:
            yield max(day, self.start), min(day + DAY, self.end)
            day += DAY


@dataclass(frozen=True)
class DayContent:
    readings: tuple[Reading, ...]  # in id order
    events: tuple[Event, ...]
    acked: int  # readings whose id time lies before the plan's cutoff


@dataclass
class Aged:
    """What the aging wrote, by kind, and where the rows were left."""

    readings: int = 0
    blocks: int = 0
    summaries: int = 0
    spots: int = 0
    events: int = 0
    acknowledged: int = 0
    pending: int = 0
    batches: int = 0
    purged: int = 0
    nights: set[datetime] = field(default_factory=set)

    def merged(self, other: Aged) -> Aged:
        """Both agings' counts (of two spans written one after the other)."""
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "nights"
        }
        return Aged(**counts, nights=self.nights | other.nights)

    def count(self, day: DayContent) -> None:
        kinds = [r.kind for r in day.readings]
        self.readings += len(kinds)
        self.blocks += kinds.count(Kind.STREAM_BLOCK)
        self.summaries += kinds.count(Kind.SUMMARY)
        self.spots += len(kinds) - kinds.count(Kind.STREAM_BLOCK) - kinds.count(Kind.SUMMARY)
        self.events += len(day.events)


class PatientDays:
    """Makes the readings and events of one window of a patient's day (pure but for the
    pipeline's triage state, which carries from one spot reading to the next)."""

    def __init__(
        self, ids: IdMinter, pipeline: Pipeline, schedule: Sequence[ScheduleItem], tz: ZoneInfo
    ) -> None:
        unknown = {item.kind for item in schedule} - SPOT_DEVICES.keys()
        if unknown:
            raise ValueError(f"no simulated device measures {', '.join(sorted(unknown))}")
        self._ids = ids
        self._pipeline = pipeline
        self._schedule = tuple(schedule)
        self._tz = tz

    def window(self, start: datetime, end: datetime, cutoff: datetime) -> DayContent:
        readings: list[Reading] = []
        events: list[Event] = []
        for slot in self._slots(start, end):
            reading = self._spot(slot)
            if start <= reading.received < end:
                events += events_to_report([slot], frozenset(), slot.start)
                outcome = self._pipeline.reading(reading, reading.received, clock_synced=True)
                readings += outcome.readings
                events += outcome.events
        readings += self.stream_minutes(list(_minutes(start, end)))
        readings.sort(key=lambda r: r.id)
        before = int(cutoff.timestamp() * 1000)
        acked = sum(1 for r in readings if uuid7_time_ms(r.id) < before)
        return DayContent(tuple(readings), tuple(events), acked)

    def _slots(self, start: datetime, end: datetime) -> Iterator[Slot]:
        """The schedule's slots (local times in the hub's zone) that begin in [start, end)."""
        local = start.astimezone(self._tz).date()
        for day in (local - DAY, local, local + DAY):
            for item in self._schedule:
                for at in item.times:
                    begins = datetime.combine(day, at, self._tz).astimezone(UTC)
                    opens = begins - timedelta(minutes=item.early_minutes)
                    closes = begins + timedelta(minutes=item.window_minutes)
                    if start <= begins < end:
                        yield Slot(item.kind, begins, opens, closes, SlotStatus.DUE)

    def _spot(self, slot: Slot) -> Reading:
        measured = slot.start + MEASURED_AFTER
        device_time = measured.astimezone(self._tz).replace(tzinfo=None)  # local and naive
        n = measured.toordinal() + measured.hour  # values vary from reading to reading
        if slot.kind == "blood-pressure":
            sys_, dia = 118 + n % 17, 74 + n % 9
            frame = blood_pressure.encode_measurement(
                sys_, dia, (sys_ + 2 * dia) // 3, time=device_time, pulse=60 + n % 13
            )
            measurement = blood_pressure.decode_measurement(frame)
        elif slot.kind == "weight":
            measurement = weight.decode_measurement(
                weight.encode_measurement(80.0 + (n % 7) / 10, time=device_time)
            )
        else:
            frame = plx.encode_spot_check(95 + n % 4, 62 + n % 11, time=device_time)
            measurement = plx.decode_spot_check(frame)
        device = SPOT_DEVICES[slot.kind]
        rid = self._ids.for_measurement(device, measurement, measured)
        return Reading.of(measurement, id=rid, device=device, received=measured)

    def stream_minutes(self, minutes: Sequence[datetime]) -> list[Reading]:
        """Each stream's closed minutes: a summary and a block of raw samples each."""
        if not minutes:
            return []
        rng = np.random.default_rng(int(minutes[0].timestamp()))
        out = []
        for device, code in STREAMS:
            centre, spread = (96.0, 1.2) if code is Code.SPO2 else (62.0, 4.0)
            values = np.round(centre + spread * rng.standard_normal((len(minutes), 60)))
            values[rng.random(values.shape) < GAP_FRACTION] = math.nan
            blocks = values.astype("<f4")
            means = np.round(np.nanmean(values, axis=1), 2).tolist()
            lows = np.nanmin(values, axis=1).tolist()
            highs = np.nanmax(values, axis=1).tolist()
            valid = np.count_nonzero(~np.isnan(values), axis=1).tolist()
            hrv = (
                {"rmssd_ms": 31.4, "sdnn_ms": 42.7, "pnn50": 0.12}
                if code is Code.HEART_RATE
                else {}
            )
            unit = canonical_unit(code)
            for i, minute in enumerate(minutes):
                summary = {
                    "period_start": minute.isoformat(),
                    "period_s": 60,
                    "min": lows[i],
                    "max": highs[i],
                    "valid_s": valid[i],
                    "level": Level.GREEN.value,
                    "clock_sync": "synced",
                    **hrv,
                }
                mean = Observation(code, means[i], unit)
                block = SampleBlock(code, minute, 1.0, blocks[i].tobytes())
                tags = {"level": Level.GREEN.value, "clock_sync": "synced"}
                out += [
                    self._derived(Kind.SUMMARY, device, code, minute, (mean,), summary, None),
                    self._derived(Kind.STREAM_BLOCK, device, code, minute, (), tags, block),
                ]
        return out

    def _derived(
        self,
        kind: Kind,
        device: str,
        code: Code,
        minute: datetime,
        observations: tuple[Observation, ...],
        details: dict[str, object],
        samples: SampleBlock | None,
    ) -> Reading:
        """What the pipeline derives from a stream-minute, received as the tick closes it."""
        return Reading(
            id=self._ids.for_period(device, kind, code, minute),
            device=device,
            kind=kind,
            device_time=None,
            received=minute + timedelta(seconds=60 + LAG_S),
            observations=observations,
            details=details,
            samples=samples,
        )


def live_second(ids: IdMinter, when: datetime) -> tuple[Reading, Reading]:
    """What the oximeter and the band send in one second, decoded as the BLE edge decodes it
    (fresh ids: live samples carry neither a device time nor a sequence number)."""
    n = int(when.timestamp())
    pulse = 58 + n % 9
    rr = 60.0 / pulse
    frames = (
        (OXIMETER, plx.decode_continuous(plx.encode_continuous(96 + n % 3, pulse))),
        (
            BAND,
            heart_rate.decode_measurement(
                heart_rate.encode_measurement(pulse, rr_intervals_s=[rr])
            ),
        ),
    )
    oximeter, band = (
        Reading.of(m, id=ids.for_measurement(device, m, when), device=device, received=when)
        for device, m in frames
    )
    return oximeter, band


def age(store: Store, days: PatientDays, plan: Plan) -> Aged:
    """Write the plan's days into `store`; see the module's docstring."""
    aged = Aged()
    quota = 0  # committed readings before the cutoff, not yet batched
    for start, end in plan.windows():
        if plan.purge and start > plan.start:  # the daily job, at each simulated midnight
            aged.purged += purge(store, start)
        day = days.window(start, end, plan.cutoff)
        aged.count(day)
        aged.nights |= {_night_of(r.samples.start) for r in day.readings if r.samples}
        store.add(day.readings)
        store.flush()
        for event in day.events:
            store.record_event(event)
        quota += day.acked
        while quota:
            batch = store.next_batch(min(plan.batch_max, quota))
            if batch is None:
                raise RuntimeError("the store has fewer new readings than were written")
            quota -= len(batch.readings)
            aged.acknowledged += store.acknowledge(batch.id)
            aged.batches += 1
    aged.pending = aged.readings - aged.acknowledged
    return aged


def purge(store: Store, now: datetime) -> int:
    """The daemon's retention job at `now`: bounded steps until nothing expired is left."""
    purged = store.purge_expired(now)
    total = purged.readings
    while purged.more:
        purged = store.purge_expired(now)
        total += purged.readings
    return total


def _minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    """Starts of the stream-minutes of the nights whose minute closes within [start, end)."""
    first = datetime.combine(start.date() - DAY, NIGHT_START, UTC)
    while first < end:
        for i in range(NIGHT_MINUTES):
            minute = first + timedelta(minutes=i)
            closed = minute + timedelta(seconds=60 + LAG_S)
            if start <= closed < end:
                yield minute
        first += DAY


def _night_of(minute: datetime) -> datetime:
    """The start of the night a stream-minute belongs to."""
    night = datetime.combine(minute.date(), NIGHT_START, UTC)
    return night if minute >= night else night - DAY
