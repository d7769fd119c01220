"""Continuous 1 Hz streams: second grid, stream triage and per-minute summaries.

A stream is one code of one device (SpO2 of an oximeter, heart rate of a band). Samples are
placed on a one-second grid by their receive time; `advance` hands each completed stretch of
seconds to `hub.signal.triage.step_stream` (missing seconds as NaN) and closes every completed
minute into a summary: mean, min, max and valid seconds (`hub.signal.oximetry.per_minute`),
with HRV of the minute's RR intervals for a heart-rate band (`hub.signal.hrv`), and the
minute's raw samples as one `SampleBlock` (the stream-minute the store keeps as one row). No
I/O and no clock reads: the caller passes the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from hub.model import Code, Event, Level, SampleBlock
from hub.signal import hrv, oximetry, triage
from hub.signal.rules import Band, Settings

LAG_S = 2  # seconds a sample may arrive late and still count in its second


@dataclass(frozen=True)
class MinuteSummary:
    device: str
    code: Code
    start: datetime
    mean: float
    low: float
    high: float
    valid_s: int
    level: Level
    samples: SampleBlock
    hrv: dict[str, float] = field(default_factory=dict)


@dataclass
class Stream:
    device: str
    code: Code
    band: Band | None
    state: triage.StreamState
    samples: dict[int, float] = field(default_factory=dict)  # epoch second → value
    minutes: dict[int, dict[int, float]] = field(default_factory=dict)  # minute → its samples
    rr_ms: dict[int, list[float]] = field(default_factory=dict)  # minute → RR intervals
    next_s: int | None = None  # first second not yet handed to triage

    @classmethod
    def new(cls, device: str, code: Code, band: Band | None) -> Stream:
        return cls(device, code, band, triage.StreamState(code, device))

    def add(self, when: datetime, value: float | None, rr_s: tuple[float, ...] = ()) -> None:
        second = math.floor(when.timestamp())
        if self.next_s is None:
            self.next_s = second
        if second < self.next_s:
            return  # too late for its second: already handed on
        sample = math.nan if value is None else float(value)
        self.samples[second] = sample
        self.minutes.setdefault(second // 60, {})[second] = sample
        if rr_s:
            self.rr_ms.setdefault(second // 60, []).extend(x * 1000.0 for x in rr_s)

    def advance(
        self, now: datetime, settings: Settings, *, final: bool = False
    ) -> tuple[list[Event], list[MinuteSummary]]:
        """Hand every second older than LAG_S to triage; close each minute that ended (with
        `final`, the minute in progress too: the hub is stopping)."""
        if self.next_s is None:
            return [], []
        end = math.floor(now.timestamp()) - LAG_S
        events: list[Event] = []
        if end > self.next_s:
            # Over a long silence, feed only the last persist_n empty seconds, not hours.
            first_sample = min(self.samples, default=end)
            self.next_s = max(self.next_s, min(first_sample, end - settings.persist_n))
            seconds = range(self.next_s, end)
            values = np.array([self.samples.pop(s, math.nan) for s in seconds], dtype=float)
            if self.band is not None and len(values):
                start = datetime.fromtimestamp(self.next_s, UTC)
                self.state, events = triage.step_stream(
                    self.state, start, values, self.band, settings
                )
            self.next_s = end
        return events, self._close_minutes(end + 60 if final else end)

    def _close_minutes(self, end: int) -> list[MinuteSummary]:
        out = []
        for minute in sorted(m for m in self.minutes if (m + 1) * 60 <= end):
            samples = self.minutes.pop(minute)
            rr = self.rr_ms.pop(minute, [])
            grid = np.full(60, math.nan)
            grid[np.fromiter(samples, int) - minute * 60] = np.fromiter(samples.values(), float)
            m = oximetry.per_minute(grid)
            if m.valid[0] == 0:
                continue
            start = datetime.fromtimestamp(minute * 60, UTC)
            out.append(
                MinuteSummary(
                    self.device,
                    self.code,
                    start,
                    float(m.mean[0]),
                    float(m.min[0]),
                    float(m.max[0]),
                    int(m.valid[0]),
                    self.state.level,
                    SampleBlock(self.code, start, 1.0, grid.astype("<f4").tobytes()),
                    _hrv(rr),
                )
            )
        return out


def _hrv(rr_ms: list[float]) -> dict[str, float]:
    """RMSSD, SDNN and pNN50 of one minute of RR intervals after artifact correction."""
    if len(rr_ms) < 3:
        return {}
    fixed = hrv.correct(np.array(rr_ms))
    w = hrv.windows(fixed.rr, fixed.corrected, window_s=1e9)
    result = {"rmssd_ms": w.rmssd[0], "sdnn_ms": w.sdnn[0], "pnn50": w.pnn50[0]}
    return {k: round(float(v), 3) for k, v in result.items() if not math.isnan(v)}
