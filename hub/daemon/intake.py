"""Intake: what the devices hand over → one de-duplication → triage → the store.

The one place a reading is de-duplicated on the hub is here, against the store (`known`, a
primary-key lookup that sees committed and still-buffered rows), and only for records a device
may send again: those carry a stable id derived from their content (`hub.ids`). That is enough
after a pulled plug too: a record committed before the cut is found and skipped; one that was
not committed is still in the device's memory and comes back under the same id, to be stored
then. Live 1 Hz samples carry fresh ids and are never looked up. Triage runs once per new
reading, after this check, so a repeated record raises no second alert.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

from hub.daemon.clockwatch import ClockWatch
from hub.daemon.events import EventLog
from hub.daemon.observer import IntakeObserver
from hub.daemon.pipeline import Outcome, Pipeline
from hub.ids import record_key
from hub.model import DeviceInfo, Event, EventKind, Reading
from hub.store.owner import StoreOwner

log = logging.getLogger("hub")

DeviceOutput = Reading | DeviceInfo | Event


class Wakeable(Protocol):
    def wake(self, *, urgent: bool = False) -> None: ...


class DeviceDirectory:
    """What the devices said about themselves this run (Device Information, battery), for
    the uplink's FHIR Device resources and the status."""

    def __init__(self) -> None:
        self._infos: dict[str, DeviceInfo] = {}

    def info(self, address: str) -> DeviceInfo | None:
        return self._infos.get(address)

    def learn(self, info: DeviceInfo) -> None:
        self._infos[info.address] = info


class Intake:
    def __init__(
        self,
        pipeline: Pipeline,
        store: StoreOwner,
        events: EventLog,
        clock: ClockWatch,
        directory: DeviceDirectory,
        observer: IntakeObserver | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.uplink: Wakeable | None = None
        self.taken = 0
        self.resent = 0
        self._store = store
        self._events = events
        self._clock = clock
        self.directory = directory
        self._observer = observer

    async def take(self, item: DeviceOutput) -> None:
        """One item a device handed over (the device consumers call this, in order)."""
        if isinstance(item, Reading):
            if self._observer is not None:
                self._observer.received(item)
            await self._reading(item)
        elif isinstance(item, DeviceInfo):
            self.directory.learn(item)
            await self._store.record_device(item, bond_state="bonded", last_seen=datetime.now(UTC))
        elif item.kind is EventKind.STATUS and "state" in item.details:
            log.info("device %s %s", item.device, item.message)  # connection states: log only
        else:
            self._events.report(item)

    async def _reading(self, reading: Reading) -> None:
        if record_key(reading) is not None and await self._store.known([reading.id]):
            self.resent += 1
            if self._observer is not None:
                self._observer.resent(reading.device, reading.id)
            return
        stamp = self._clock.stamp()
        outcome = self.pipeline.reading(reading, stamp.wall, clock_synced=self._clock.synced)
        await self.write(outcome)

    async def write(self, outcome: Outcome) -> None:
        """Events recorded, readings stored (urgent: committed and sent at once)."""
        for event in outcome.events:
            self._events.report(event, clinical=True)
        if not outcome.readings:
            return
        await self._store.add(outcome.readings, urgent=outcome.urgent)
        self.taken += len(outcome.readings)
        self._clock.taken(outcome.readings, self._clock.stamp())
        if self.uplink is not None:
            self.uplink.wake(urgent=outcome.urgent)
        if self._observer is not None:
            self._observer.taken(outcome.readings)
