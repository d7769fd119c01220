"""What the harness counts of the daemon's intake, through the observer the daemon offers
(`Hooks.observer`, a `hub.daemon.observer.IntakeObserver`): the daemon itself keeps no state
for the demo, the benchmarks or the tests."""

from __future__ import annotations

import collections
from collections.abc import Sequence

from hub.model import Kind, Reading
from hub.testbed.patient import CUFF, SCALE

# The simulated devices that keep records in memory, and the kind of their records.
RECORD_KINDS = {CUFF: Kind.BLOOD_PRESSURE, SCALE: Kind.WEIGHT}


class IntakeCounter:
    """Reading ids the hub took on, their triage levels, and the device records it fetched
    (new or already stored) per device."""

    def __init__(self) -> None:
        self.measured_ids: set[str] = set()
        self.stream_blocks = 0  # stream-minute blocks of raw samples
        self.levels: collections.Counter[str] = collections.Counter()
        self.records: collections.defaultdict[str, set[str]] = collections.defaultdict(set)
        self.last: dict[str, Reading] = {}  # the latest reading each device handed over

    def received(self, reading: Reading) -> None:
        self.last[reading.device] = reading

    def taken(self, readings: Sequence[Reading]) -> None:
        for reading in readings:
            self.measured_ids.add(reading.id)
            self.levels[str(reading.details.get("level", "none"))] += 1
            if reading.kind is Kind.STREAM_BLOCK:
                self.stream_blocks += 1
            if RECORD_KINDS.get(reading.device) is reading.kind:
                self.records[reading.device].add(reading.id)

    def resent(self, device: str, reading_id: str) -> None:
        if device in RECORD_KINDS:
            self.records[device].add(reading_id)
