"""The daemon's timed work, each job a small class with one `run_once` and its interval:

- `StreamTick` (1 s): the systemd watchdog, and the streams advanced (triage of the seconds
  that passed, closed minutes stored as summaries and blocks of raw samples);
- `Housekeeping` (`Hooks.housekeeping_s`): the hub clock's first sync, due and missed
  measurement slots;
- `Retention` (at start, then daily): acknowledged readings and old events purged in bounded
  steps, yielding to intake between steps;
- the status heartbeat lives with the status (`hub.daemon.status`).

None of them costs more as the store ages: the store answers each question by index, and
retention keeps the store to its window.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from hub import schedule
from hub.daemon.clockwatch import ClockWatch
from hub.daemon.events import EventLog
from hub.daemon.intake import Intake
from hub.daemon.layers import Rules
from hub.model import EventKind, Kind
from hub.sdnotify import Notifier, watchdog_interval_s
from hub.store.owner import StoreOwner

log = logging.getLogger("hub")

TICK_S = 1.0
REPORTED_KEEP = timedelta(days=3)  # slot keys older than the schedule looks back are dropped


class Job(Protocol):
    interval_s: float

    async def run_once(self) -> None: ...


async def run_every(job: Job, events: EventLog) -> None:
    """`job.run_once()` now and then every `job.interval_s`, until cancelled; a failure is
    reported and the job carries on at its next time."""
    while True:
        try:
            await job.run_once()
        except Exception as exc:
            log.exception("%s failed", type(job).__name__)
            events.error(f"{type(job).__name__} failed: {exc}")
        await asyncio.sleep(job.interval_s)


class StreamTick:
    def __init__(
        self, intake: Intake, clock: ClockWatch, notifier: Notifier, environ: Mapping[str, str]
    ) -> None:
        self._intake = intake
        self._clock = clock
        self._notifier = notifier
        self._watchdog_s = watchdog_interval_s(environ, os.getpid())
        self._pinged = 0.0
        self.interval_s = min(TICK_S, self._watchdog_s or TICK_S)

    async def run_once(self) -> None:
        now_mono = time.monotonic()
        if self._watchdog_s is not None and now_mono - self._pinged >= self._watchdog_s:
            self._notifier.send(WATCHDOG="1")
            self._pinged = now_mono
        pipeline = self._intake.pipeline
        await self._intake.write(pipeline.tick(datetime.now(UTC), clock_synced=self._clock.synced))

    async def final(self) -> None:
        """Stopping: the minutes in progress are closed and stored too."""
        pipeline = self._intake.pipeline
        now = datetime.now(UTC)
        await self._intake.write(pipeline.tick(now, clock_synced=self._clock.synced, final=True))


class RulesSource(Protocol):
    @property
    def rules(self) -> Rules: ...


class Housekeeping:
    def __init__(
        self,
        clock: ClockWatch,
        store: StoreOwner,
        events: EventLog,
        rules: RulesSource,
        interval_s: float,
    ) -> None:
        self._clock = clock
        self._store = store
        self._events = events
        self._rules = rules
        self._reported: dict[str, datetime] = {}
        self.interval_s = interval_s
        self.last_check: datetime | None = None  # of the schedule (None: no schedule, or unsynced)

    async def load_reported(self) -> None:
        """Slot keys already reported (from the stored events), so a restart reports none
        twice; only those of the days the schedule still looks at."""
        since = datetime.now(UTC) - REPORTED_KEEP
        kinds = (EventKind.MEASUREMENT_DUE, EventKind.MEASUREMENT_MISSED)
        for event in (await self._store.events(since=since)).items:
            if event.kind in kinds and "key" in event.details:
                self._reported[str(event.details["key"])] = event.time

    async def run_once(self) -> None:
        await self._clock.check(self._store)
        await self._check_schedule(datetime.now(UTC))

    async def _check_schedule(self, now: datetime) -> None:
        rules = self._rules.rules
        if not rules.items or not self._clock.synced:
            return  # a wrong clock would report slots as missed that were not
        self.last_check = now
        kinds = [Kind(i.kind) for i in rules.items]
        measured = await self._store.received_times(kinds, now - timedelta(days=2))
        current = schedule.slots(
            rules.items, {str(k): v for k, v in measured.items()}, now, rules.tz
        )
        for event in schedule.events_to_report(current, self._reported.keys(), now):
            self._reported[event.details["key"]] = now
            self._events.report(event)
        horizon = now - REPORTED_KEEP
        self._reported = {k: t for k, t in self._reported.items() if t >= horizon}


class Retention:
    """Purges in steps of `batch_rows`: each step one short transaction on the store's
    thread, with the loop free between steps, so intake never waits for a whole purge."""

    def __init__(self, store: StoreOwner, interval_s: float, batch_rows: int = 2000) -> None:
        self._store = store
        self._batch_rows = batch_rows
        self.interval_s = interval_s

    async def run_once(self) -> None:
        now = datetime.now(UTC)
        readings = events = 0
        while True:
            purged = await self._store.purge_expired(now, batch_rows=self._batch_rows)
            readings += purged.readings
            events += purged.events
            if not purged.more:
                break
            await asyncio.sleep(0)
        log.info("retention: purged %d readings and %d events", readings, events)
