"""The hub clock's sync state, and the receive times to correct once it syncs.

A Raspberry Pi has no real-time clock: until NTP syncs, readings carry a wall-clock receive
time that may be years off, and a monotonic stamp beside it (`hub.clock`). When the clock
first syncs, the readings taken before are amended in the store with their true receive time.
The list is bounded (`UNSYNCED_MAX`); beyond it readings keep their "unsynced" tag only.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from hub import clock
from hub.model import Reading
from hub.store.owner import StoreOwner

log = logging.getLogger("hub")

UNSYNCED_MAX = 20_000


class ClockWatch:
    def __init__(self, is_synced: Callable[[], bool]) -> None:
        self._is_synced = is_synced
        self.synced = is_synced()
        self._unsynced: dict[str, clock.ClockStamp] = {}

    def is_synced(self) -> bool:
        """As the device manager asks (it sets a device's clock only from a synced one)."""
        return self.synced

    def stamp(self) -> clock.ClockStamp:
        return clock.ClockStamp(datetime.now(UTC), time.monotonic())

    def taken(self, readings: Sequence[Reading], stamp: clock.ClockStamp) -> None:
        """Remember readings taken while unsynced, to correct them later."""
        if self.synced:
            return
        for reading in readings:
            if len(self._unsynced) >= UNSYNCED_MAX:
                return
            self._unsynced[reading.id] = stamp

    async def check(self, store: StoreOwner) -> None:
        """On the first sync, correct the earlier receive times."""
        if self.synced or not self._is_synced():
            return
        self.synced = True
        synced_at = self.stamp()
        pending, self._unsynced = self._unsynced, {}
        log.info("hub clock synchronised; correcting %d earlier receive times", len(pending))
        await store.flush()  # `readings` reads committed rows: the buffered ones too
        found = (await store.readings(list(pending))).items
        await store.amend([corrected(r, pending[r.id], synced_at) for r in found])


def corrected(reading: Reading, stamp: clock.ClockStamp, synced_at: clock.ClockStamp) -> Reading:
    """`hub.clock.mark_corrected`, with a block of samples moved by the same amount."""
    fixed = clock.mark_corrected(reading, stamp, synced_at)
    if reading.samples is None:
        return fixed
    shift = fixed.received - reading.received
    block = dataclasses.replace(reading.samples, start=reading.samples.start + shift)
    return dataclasses.replace(fixed, samples=block)
