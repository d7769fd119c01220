from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from hub.model import EventKind
from hub.schedule import ScheduleItem, SlotStatus, events_to_report, slot_key, slots

OSLO = ZoneInfo("Europe/Oslo")
BP = ScheduleItem("blood-pressure", (time(8, 0), time(20, 0)), window_minutes=60)


def at(hour: int, minute: int = 0, day: int = 21) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=OSLO)


def statuses(now: datetime, measured: list[datetime]) -> dict[str, SlotStatus]:
    return {
        s.start.strftime("%d %H:%M"): s.status
        for s in slots([BP], {"blood-pressure": measured}, now.astimezone(UTC), OSLO)
    }


def test_slot_states_through_a_day() -> None:
    assert statuses(at(7), [])["21 08:00"] is SlotStatus.UPCOMING
    assert statuses(at(8, 30), [])["21 08:00"] is SlotStatus.DUE
    assert statuses(at(9, 0), [])["21 08:00"] is SlotStatus.MISSED
    assert statuses(at(9, 0), [at(7, 45)])["21 08:00"] is SlotStatus.DONE  # early window
    assert statuses(at(9, 0), [at(7, 15)])["21 08:00"] is SlotStatus.MISSED  # too early
    view = statuses(at(9, 0), [at(8, 59)])
    assert view["21 08:00"] is SlotStatus.DONE
    assert view["21 20:00"] is SlotStatus.UPCOMING
    assert view["20 20:00"] is SlotStatus.MISSED  # yesterday evening


def test_weekdays_limit_slots() -> None:
    weekly = ScheduleItem("weight", (time(7, 0),), weekdays=frozenset({0}))  # Mondays
    found = slots([weekly], {}, at(12, day=23), OSLO)  # Monday 23 Nov 2026
    assert [s.start.day for s in found] == [23]


def test_events_are_reported_once() -> None:
    now = at(8, 30)
    current = slots([BP], {}, now, OSLO)
    first = events_to_report(current, set(), now)
    assert [(e.kind, e.details["slot"]) for e in first] == [
        (EventKind.MEASUREMENT_MISSED, at(8, day=20).isoformat()),
        (EventKind.MEASUREMENT_MISSED, at(20, day=20).isoformat()),
        (EventKind.MEASUREMENT_DUE, at(8).isoformat()),
    ]
    reported = {e.details["key"] for e in first}
    assert events_to_report(current, reported, now) == []
    later = slots([BP], {}, at(9, 5), OSLO)
    assert later[2].start == at(8)
    again = events_to_report(later, reported, at(9, 5))
    assert [(e.kind, e.details["key"]) for e in again] == [
        (EventKind.MEASUREMENT_MISSED, slot_key(later[2]))
    ]
