"""The daemon's event log: every event is logged (its kind only when it may carry a health
value), kept in a short recent list for the status, and written to the store in order.

`report` is a plain call, safe from any callback on the loop (device manager, uplink,
triage); the store writes happen in `run`, the one task that drains the queue.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from datetime import UTC, datetime

from hub.model import Event, EventKind
from hub.store.owner import StoreOwner

log = logging.getLogger("hub")

RECENT_EVENTS = 20
RECENT_ERRORS = 10
# Events whose message may carry a health value: logged by kind only.
CLINICAL = frozenset(
    {
        EventKind.ALERT,
        EventKind.SUPPRESSED_ALERT,
        EventKind.ALL_CLEAR,
        EventKind.MEASUREMENT_DUE,
    }
)


class EventLog:
    def __init__(self) -> None:
        self.recent: collections.deque[Event] = collections.deque(maxlen=RECENT_EVENTS)
        self.errors: collections.deque[str] = collections.deque(maxlen=RECENT_ERRORS)
        self.counts: collections.Counter[EventKind] = collections.Counter()
        self._unwritten: asyncio.Queue[Event] = asyncio.Queue()

    def report(self, event: Event, *, clinical: bool = False) -> None:
        """Log and keep `event`; `clinical` (triage's events) never logs its text."""
        if clinical or event.kind in CLINICAL:
            log.info("event %s device=%s", event.kind, event.device or "-")
        else:
            log.info("event %s device=%s: %s", event.kind, event.device or "-", event.message)
        if event.kind is EventKind.ERROR:
            self.errors.append(str(event.kind) if clinical else event.message)
        self.recent.append(event)
        self.counts[event.kind] += 1
        self._unwritten.put_nowait(event)

    def error(self, message: str) -> None:
        self.report(Event(EventKind.ERROR, datetime.now(UTC), message))

    async def run(self, store: StoreOwner) -> None:
        """Write events to the store, in order, until cancelled."""
        while True:
            event = await self._unwritten.get()
            try:  # an alert is committed at once; the rest with the next group commit
                await store.record_event(event, urgent=event.kind is EventKind.ALERT)
            except Exception as exc:
                log.exception("event not stored")
                self.errors.append(f"event not stored: {exc}")

    async def flush(self, store: StoreOwner) -> None:
        """Write what is still queued (at stop, after `run` was cancelled)."""
        while not self._unwritten.empty():
            await store.record_event(self._unwritten.get_nowait())
