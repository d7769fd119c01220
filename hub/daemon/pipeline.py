"""From a decoded reading to what the store keeps: stable ids, clock flags, triage, summaries.

Pure apart from its own state (triage state, open streams): the daemon passes the time and the
clock-sync state in and does the I/O with what comes out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from hub.daemon.stable_ids import record_key, stable_id, summary_id
from hub.daemon.streams import MinuteSummary, Stream
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

    def extend(self, other: Outcome) -> None:
        self.readings += other.readings
        self.events += other.events
        self.urgent |= other.urgent


class Pipeline:
    def __init__(self, profile: Profile, settings: Settings, secret: bytes) -> None:
        self.profile = profile
        self.settings = settings
        self._secret = secret
        self.spot = triage.SpotState()
        self.streams: dict[tuple[str, Code], Stream] = {}

    def reconfigure(self, profile: Profile, settings: Settings) -> None:
        """New rules (a reloaded config): streams keep their data, new bands apply."""
        self.profile, self.settings = profile, settings
        for stream in self.streams.values():
            stream.band = profile.bands.get(stream.code)

    def stable(self, reading: Reading) -> Reading:
        """The reading under its restart-proof id, when it is a record a device may resend."""
        key = record_key(reading)
        if key is None:
            return reading
        when = reading.device_time or reading.received
        if when.tzinfo is None:
            when = when.replace(tzinfo=reading.received.tzinfo)
        return dataclasses.replace(reading, id=stable_id(self._secret, reading.device, key, when))

    def reading(self, reading: Reading, now: datetime, *, clock_synced: bool) -> Outcome:
        """Triage and tag one new reading (already under its stable id, not stored before)."""
        tags: dict[str, object] = {"clock_sync": "synced" if clock_synced else "unsynced"}
        if reading.kind in SPOT_KINDS:
            self.spot, events = triage.step_spot(
                self.spot, reading, now, self.profile, self.settings
            )
            level = triage.assess(reading, self.profile).level
            if level is not None:
                tags["level"] = level.value
            tagged = _tag(reading, tags)
            return Outcome([tagged], events, urgent=level is Level.RED)
        if reading.kind in STREAM_KINDS:
            for code in STREAM_CODES:
                value = reading.value_of(code)
                rr = reading.details.get("rr_intervals_s") if code is Code.HEART_RATE else None
                if value is None and not rr and not _has(reading, code):
                    continue
                self._stream(reading.device, code).add(
                    reading.received, value, tuple(rr) if isinstance(rr, tuple | list) else ()
                )
            stream = self.streams.get((reading.device, Code.SPO2)) or self.streams.get(
                (reading.device, Code.HEART_RATE)
            )
            if stream is not None and stream.band is not None:
                tags["level"] = stream.state.level.value
        return Outcome([_tag(reading, tags)])

    def tick(self, now: datetime, *, final: bool = False) -> Outcome:
        """Advance every stream to `now`: triage events, closed minutes as summary readings,
        streams gone quiet marked as no data. `final` (stopping) summarises the minute in
        progress too."""
        out = Outcome()
        for stream in self.streams.values():
            events, minutes = stream.advance(now, self.settings, final=final)
            stream.state, stale = triage.check_stale(stream.state, now, self.settings)
            out.events += events + stale
            out.readings += [self._summary(m, now) for m in minutes]
            out.urgent |= any(e.level is Level.RED for e in events)
        return out

    def _stream(self, device: str, code: Code) -> Stream:
        key = (device, code)
        if key not in self.streams:
            self.streams[key] = Stream.new(device, code, self.profile.bands.get(code))
        return self.streams[key]

    def _summary(self, m: MinuteSummary, now: datetime) -> Reading:
        obs = Observation(m.code, round(m.mean, 2), canonical_unit(m.code))
        details: dict[str, object] = {
            "period_start": m.start.isoformat(),
            "period_s": 60,
            "min": m.low,
            "max": m.high,
            "valid_s": m.valid_s,
            "level": m.level.value,
            "clock_sync": "synced",
            **m.hrv,
        }
        return Reading(
            id=summary_id(self._secret, m.device, Kind.SUMMARY, m.code.value, m.start),
            device=m.device,
            kind=Kind.SUMMARY,
            device_time=None,
            received=now,
            observations=(obs,),
            details=details,
        )


def _has(reading: Reading, code: Code) -> bool:
    return any(o.code is code for o in reading.observations)


def _tag(reading: Reading, tags: dict[str, object]) -> Reading:
    return dataclasses.replace(reading, details={**reading.details, **tags})
