"""Measurement schedule: what the patient should measure and when, from the hospital's config.

Pure: the caller passes the current time and when each kind was last measured, and gets each
slot's state; `events_to_report` turns slots that became due or missed into events. This is what
makes the follow-up patient-driven: the hub asks, and the hospital learns what was missed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hub.model import Event, EventKind


class SlotStatus(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    DONE = "done"
    MISSED = "missed"


@dataclasses.dataclass(frozen=True)
class ScheduleItem:
    """Measure `kind` at each local time in `times` on `weekdays` (0 Monday … 6 Sunday).

    A reading counts for a slot from `early_minutes` before its time until `window_minutes`
    after it; after the window, the slot is missed."""

    kind: str
    times: tuple[time, ...]
    window_minutes: int = 60
    early_minutes: int = 30
    weekdays: frozenset[int] = frozenset(range(7))


@dataclasses.dataclass(frozen=True)
class Slot:
    kind: str
    start: datetime  # the scheduled time (aware)
    opens: datetime
    closes: datetime
    status: SlotStatus


def slots(
    items: Iterable[ScheduleItem],
    measured: Mapping[str, Sequence[datetime]],
    now: datetime,
    tz: ZoneInfo,
) -> list[Slot]:
    """Every slot of yesterday and today (local days in `tz`) with its status at `now`."""
    today = now.astimezone(tz).date()
    found: list[Slot] = []
    for item in items:
        for day in (today - timedelta(days=1), today):
            if day.weekday() in item.weekdays:
                found.extend(_slot(item, day, at, measured.get(item.kind, ()), now, tz)
                             for at in item.times)  # fmt: skip
    return sorted(found, key=lambda s: (s.start, s.kind))


def _slot(
    item: ScheduleItem,
    day: date,
    at: time,
    measured: Sequence[datetime],
    now: datetime,
    tz: ZoneInfo,
) -> Slot:
    start = datetime.combine(day, at, tzinfo=tz)
    opens = start - timedelta(minutes=item.early_minutes)
    closes = start + timedelta(minutes=item.window_minutes)
    if any(opens <= m < closes and m <= now for m in measured):
        status = SlotStatus.DONE
    elif now >= closes:
        status = SlotStatus.MISSED
    elif now >= start:
        status = SlotStatus.DUE
    else:
        status = SlotStatus.UPCOMING
    return Slot(item.kind, start, opens, closes, status)


def slot_key(slot: Slot) -> str:
    """Stable key of a slot's reportable state, for remembering what was already reported."""
    return f"{slot.kind}@{slot.start.isoformat()}:{slot.status}"


def events_to_report(
    current: Iterable[Slot], reported: AbstractSet[str], now: datetime
) -> list[Event]:
    """Due and missed slots not yet reported (`reported` holds `slot_key`s, kept by the
    caller across restarts so a restart does not report the same missed slot twice)."""
    events = []
    for slot in current:
        if slot.status is SlotStatus.DUE:
            kind, verb = EventKind.MEASUREMENT_DUE, "is due"
        elif slot.status is SlotStatus.MISSED:
            kind, verb = EventKind.MEASUREMENT_MISSED, "was missed"
        else:
            continue
        if slot_key(slot) in reported:
            continue
        events.append(
            Event(
                kind,
                now,
                f"{slot.kind} measurement of {slot.start:%Y-%m-%d %H:%M} {verb}",
                details={"kind": slot.kind, "slot": slot.start.isoformat(), "key": slot_key(slot)},
            )
        )
    return events
