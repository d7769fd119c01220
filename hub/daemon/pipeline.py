"""From a decoded reading to what the store keeps: clock flags, triage, stream-minutes.

Pure apart from its own state (triage state, open streams): the daemon passes the time and the
clock-sync state in and does the I/O with what comes out. Readings arrive under the id they
were given where they were decoded (`hub.ids.IdMinter`) and keep it; what the pipeline derives
(minute summaries, blocks of raw samples) gets its id from the same minter.

Spot readings are triaged once each (`triage.assess`, then `triage.step_assessed` with that
assessment) and stored one row each. 1 Hz stream samples are not stored one by one: they go
into their stream, and each closed minute becomes two readings, its summary and its raw
samples as one block.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from hub.daemon.streams import MinuteSummary, Stream
from hub.ids import IdMinter
from hub.model import Code, Event, Kind, Level, Observation, Reading, canonical_unit
from hub.signal import triage
from hub.signal.rules import Profile, Settings

STREAM_KINDS = frozenset({Kind.HEART_RATE, Kind.SPO2_CONTINUOUS})
SPOT_KINDS = frozenset(
    {
        Kind.BLOOD_PRESSURE,
        Kind.SPO2_SPOT,
        Kind.TEMPERATURE,
        Kind.WEIGHT,
        Kind.GLUCOSE,
        Kind.RESPIRATORY_RATE,
    }
)
STREAM_CODES = (Code.SPO2, Code.HEART_RATE)


@dataclass
class Outcome:
    """What to store (urgent: commit and send at once) and which events to record."""

    readings: list[Reading] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    urgent: bool = False


class Pipeline:
    def __init__(self, profile: Profile, settings: Settings, ids: IdMinter) -> None:
        self.profile = profile
        self.settings = settings
        self._ids = ids
        self.spot = triage.SpotState()
        self.streams: dict[tuple[str, Code], Stream] = {}

    def reconfigure(self, profile: Profile, settings: Settings) -> None:
        """New rules (a reloaded or downlinked config): streams keep their data, new bands
        apply from the next sample and the next spot reading on."""
        self.profile, self.settings = profile, settings
        for stream in self.streams.values():
            stream.band = profile.bands.get(stream.code)

    def reading(self, reading: Reading, now: datetime, *, clock_synced: bool) -> Outcome:
        """Triage and tag one new reading (not stored before: the caller de-duplicates)."""
        sync = "synced" if clock_synced else "unsynced"
        if reading.kind in SPOT_KINDS:
            assessment = triage.assess(reading, self.profile)
            self.spot, events = triage.step_assessed(
                self.spot, reading, assessment, now, self.profile, self.settings
            )
            tags: dict[str, object] = {"clock_sync": sync}
            if assessment.level is not None:
                tags["level"] = assessment.level.value
            return Outcome([_tag(reading, tags)], events, urgent=assessment.level is Level.RED)
        if reading.kind in STREAM_KINDS:
            self._into_streams(reading)
            return Outcome()
        return Outcome([_tag(reading, {"clock_sync": sync})])

    def tick(self, now: datetime, *, clock_synced: bool, final: bool = False) -> Outcome:
        """Advance every stream to `now`: triage events, each closed minute as its summary
        and its block of raw samples, streams gone quiet marked as no data. `final`
        (stopping) closes the minute in progress too."""
        out = Outcome()
        sync = "synced" if clock_synced else "unsynced"
        for stream in self.streams.values():
            events, minutes = stream.advance(now, self.settings, final=final)
            stream.state, stale = triage.check_stale(stream.state, now, self.settings)
            out.events += events + stale
            for minute in minutes:
                out.readings += [self._summary(minute, now, sync), self._block(minute, now, sync)]
            out.urgent |= any(e.level is Level.RED for e in events)
        return out

    def _into_streams(self, reading: Reading) -> None:
        for code in STREAM_CODES:
            value = reading.value_of(code)
            rr = reading.details.get("rr_intervals_s") if code is Code.HEART_RATE else None
            if value is None and not rr and not _has(reading, code):
                continue
            self._stream(reading.device, code).add(
                reading.received, value, tuple(rr) if isinstance(rr, tuple | list) else ()
            )

    def _stream(self, device: str, code: Code) -> Stream:
        key = (device, code)
        if key not in self.streams:
            self.streams[key] = Stream.new(device, code, self.profile.bands.get(code))
        return self.streams[key]

    def _summary(self, m: MinuteSummary, now: datetime, sync: str) -> Reading:
        obs = Observation(m.code, round(m.mean, 2), canonical_unit(m.code))
        details: dict[str, object] = {
            "period_start": m.start.isoformat(),
            "period_s": 60,
            "min": m.low,
            "max": m.high,
            "valid_s": m.valid_s,
            "level": m.level.value,
            "clock_sync": sync,
            **m.hrv,
        }
        return Reading(
            id=self._ids.for_period(m.device, Kind.SUMMARY, m.code, m.start),
            device=m.device,
            kind=Kind.SUMMARY,
            device_time=None,
            received=now,
            observations=(obs,),
            details=details,
        )

    def _block(self, m: MinuteSummary, now: datetime, sync: str) -> Reading:
        return Reading(
            id=self._ids.for_period(m.device, Kind.STREAM_BLOCK, m.code, m.start),
            device=m.device,
            kind=Kind.STREAM_BLOCK,
            device_time=None,
            received=now,
            observations=(),
            details={"level": m.level.value, "clock_sync": sync},
            samples=m.samples,
        )


def _has(reading: Reading, code: Code) -> bool:
    return any(o.code is code for o in reading.observations)


def _tag(reading: Reading, tags: dict[str, object]) -> Reading:
    return dataclasses.replace(reading, details={**reading.details, **tags})
