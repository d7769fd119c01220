"""The patient screen's decision, status → plain statements, and which spoken prompts are
new: many status shapes, and hypothesis for odd or malformed ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hub.ui import texts
from hub.ui.i18n import LANGUAGES, translator
from hub.ui.prompts import Prompt, new_prompts, occurrences
from hub.ui.statements import Say, Statement, Unreachable, statements

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
OSLO = ZoneInfo("Europe/Oslo")
CUFF = "C0:00:00:00:00:01"


def status(**changes: Any) -> dict[str, Any]:
    """A status as the daemon's `build_status` writes it: one cuff, uplink fine."""
    body: dict[str, Any] = {
        "state": "online",
        "hub": "hub-a",
        "version": "0.1.0",
        "uptime_s": 12.0,
        "devices": [
            {
                "address": CUFF,
                "kind": "blood-pressure",
                "name": "",
                "state": "idle",
                "battery": 80,
                "last_seen": (NOW - timedelta(hours=3)).isoformat(),
            }
        ],
        "queue_depth": 0,
        "disk": {"free_bytes": 10**9, "low": False, "full": False, "raw_shed": 0},
        "clock_synced": True,
        "uplink": {"enabled": True, "problem": "none", "last_ack": NOW.isoformat()},
        "errors": [],
        "events": [],
        "attention": False,
        "config": {"version": 3, "refused": None},
        "schedule": {"items": 1, "last_check": NOW.isoformat()},
        "retention": {"last_purge": None, "purged_readings": 0, "purged_events": 0},
    }
    body.update(changes)
    return body


def says(body: object, now: datetime = NOW) -> list[Say]:
    return [s.says for s in statements(body, now)]


def event(kind: str, ago: timedelta, device: str | None = None) -> dict[str, Any]:
    return {"kind": kind, "time": (NOW - ago).isoformat(), "device": device}


def test_all_is_well() -> None:
    assert statements(status(), NOW) == [Statement(Say.ALL_WELL)]


def test_unreachable_daemon_is_one_plain_statement() -> None:
    assert says(Unreachable.NOT_RUNNING) == [Say.HUB_NOT_RUNNING]
    assert says(Unreachable.NO_ACCESS) == [Say.NO_ACCESS]
    assert says(Unreachable.NO_ANSWER) == [Say.NO_ANSWER]
    assert says(["not", "a", "status"]) == [Say.UNREADABLE]


def test_not_set_up() -> None:
    assert says(status(devices=[])) == [Say.NOT_SET_UP]
    assert says(status(state="not-provisioned")) == [Say.NOT_SET_UP]
    assert says({}) == [Say.NOT_SET_UP]


def test_attention_is_the_only_clinical_word() -> None:
    events = [event("alert", timedelta(minutes=5), CUFF)]
    assert says(status(attention=True, events=events)) == [Say.CONTACT_CLINIC]
    assert says(status(attention=False, events=events)) == [Say.ALL_WELL]
    assert says(status(attention="yes")) == [Say.ALL_WELL]  # only a real true counts


def test_uplink_problems() -> None:
    since = (NOW - timedelta(hours=5)).isoformat()
    lost = statements(status(uplink={"enabled": True, "problem": "outage", "last_ack": since}), NOW)
    assert lost == [Statement(Say.NO_CONNECTION, since=NOW - timedelta(hours=5))]
    never = statements(status(uplink={"enabled": True, "problem": "outage", "last_ack": None}), NOW)
    assert never == [Statement(Say.NO_CONNECTION)]
    for problem in ("auth", "not-authorized", "refused"):
        body = status(uplink={"enabled": True, "problem": problem, "last_ack": since})
        assert says(body) == [Say.DELIVERY_REFUSED]
    assert says(status(uplink={"enabled": False})) == [Say.ALL_WELL]


def test_battery_low_names_the_device_kind() -> None:
    device = {**status()["devices"][0], "battery": 20}
    assert statements(status(devices=[device]), NOW) == [
        Statement(Say.BATTERY_LOW, device_kind="blood-pressure")
    ]
    device["battery"] = 21
    assert says(status(devices=[device])) == [Say.ALL_WELL]
    device["battery"] = None
    assert says(status(devices=[device])) == [Say.ALL_WELL]


def test_measurement_due_until_a_device_delivers() -> None:
    due = event("measurement-due", timedelta(minutes=30))
    assert statements(status(events=[due]), NOW) == [
        Statement(Say.MEASUREMENT_DUE, since=NOW - timedelta(minutes=30))
    ]
    device = {**status()["devices"][0], "last_seen": (NOW - timedelta(minutes=1)).isoformat()}
    assert says(status(events=[due], devices=[device])) == [Say.ALL_WELL]
    stale = event("measurement-due", timedelta(hours=5))
    assert says(status(events=[stale])) == [Say.ALL_WELL]
    future = event("measurement-due", -timedelta(minutes=5))
    assert says(status(events=[future])) == [Say.ALL_WELL]


def test_repeat_request_names_the_device() -> None:
    again = event("measurement-due", timedelta(minutes=2), CUFF)
    assert statements(status(events=[again]), NOW)[0].device_kind == "blood-pressure"


def test_missed_after_due_replaces_it() -> None:
    due = event("measurement-due", timedelta(hours=2))
    missed = event("measurement-missed", timedelta(hours=1))
    assert says(status(events=[due, missed])) == [Say.MEASUREMENT_MISSED]
    assert says(status(events=[event("measurement-missed", timedelta(hours=13))])) == [Say.ALL_WELL]


def test_worst_first() -> None:
    device = {**status()["devices"][0], "battery": 5}
    body = status(
        attention=True,
        devices=[device],
        disk={"full": True},
        events=[event("measurement-due", timedelta(minutes=1))],
        uplink={"enabled": True, "problem": "outage", "last_ack": None},
    )
    found = statements(body, NOW)
    assert [s.says for s in found] == [
        Say.CONTACT_CLINIC,
        Say.NEEDS_SERVICE,
        Say.NO_CONNECTION,
        Say.BATTERY_LOW,
        Say.MEASUREMENT_DUE,
    ]
    severities = [s.severity for s in found]
    assert severities == sorted(severities, reverse=True)


def test_malformed_fields_count_as_absent() -> None:
    body = status(
        devices=[{"kind": 3, "battery": "low", "last_seen": "yesterday"}, "junk", None],
        uplink=["enabled"],
        events=[{"kind": "measurement-due", "time": "2026-12-02T10:00:00"}, 7],  # naive time
        disk=None,
    )
    assert says(body) == [Say.ALL_WELL]


def test_rendered_in_both_languages_with_local_times() -> None:
    lost = Statement(Say.NO_CONNECTION, since=datetime(2026, 12, 2, 9, 5, tzinfo=UTC))
    nb, en = translator("nb"), translator("en")
    assert texts.statement(lost, nb, NOW, OSLO).startswith(
        "Ingen forbindelse med sykehuset siden i dag kl. 10:05."
    )
    older = Statement(Say.NO_CONNECTION, since=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    assert "since 1.12. at 00:30." in texts.statement(older, en, NOW, OSLO)
    battery = Statement(Say.BATTERY_LOW, device_kind="weight-scale")
    assert texts.statement(battery, nb, NOW, OSLO) == (
        "Batteriet i vekten er nesten tomt. Vennligst bytt eller lad det."
    )
    assert texts.statement(Statement(Say.ALL_WELL), nb, NOW, OSLO) == "Alt er i orden."
    unknown = Statement(Say.MEASUREMENT_DUE, device_kind="toaster")
    assert (
        texts.statement(unknown, en, NOW, OSLO) == "Please measure again with the measuring device."
    )


# Hypothesis: any JSON-ish value, and statuses with fields replaced by odd values.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
_times = st.datetimes(timezones=st.sampled_from([UTC, OSLO])).map(datetime.isoformat)
_odd = _json | _times | st.sampled_from(["outage", "measurement-due", "measurement-missed"])


def _check(found: list[Statement], now: datetime) -> None:
    assert found, "there is always something to say"
    severities = [s.severity for s in found]
    assert severities == sorted(severities, reverse=True)
    for language in LANGUAGES:  # every statement renders, in both languages
        for said in found:
            assert texts.statement(said, translator(language), now, OSLO)


@given(_json)
def test_any_json_value_gives_statements(body: object) -> None:
    _check(statements(body, NOW), NOW)


@given(
    st.dictionaries(st.sampled_from(sorted(status())), _odd, max_size=6),
    st.lists(st.dictionaries(st.sampled_from(["kind", "time", "device"]), _odd), max_size=5),
    st.dictionaries(st.sampled_from(["battery", "last_seen", "kind", "address"]), _odd),
)
def test_odd_fields_give_statements(
    changes: dict[str, Any], events: list[dict[str, Any]], device: dict[str, Any]
) -> None:
    body = status(**changes)
    if isinstance(body.get("devices"), list):
        body["devices"] = [*body["devices"], device]
    body.setdefault("events", events)
    before = repr(body)
    found = statements(body, NOW)
    _check(found, NOW)
    assert repr(body) == before  # the status is only read
    assert all(isinstance(p, Prompt) for p, _ in occurrences(body, found))


def test_prompts_once_per_occurrence() -> None:
    due = event("measurement-due", timedelta(minutes=1))
    quiet = status()
    asked = status(events=[due])
    first = occurrences(quiet, statements(quiet, NOW))
    assert new_prompts(None, first) == []  # a device's last delivery at start is no news
    now_due = occurrences(asked, statements(asked, NOW))
    assert new_prompts(first, now_due) == [Prompt.MEASUREMENT_DUE]
    assert new_prompts(now_due, now_due) == []  # the next poll: said already
    device = {**status()["devices"][0], "last_seen": NOW.isoformat()}
    delivered = status(events=[due], devices=[device])
    after = occurrences(delivered, statements(delivered, NOW))
    assert new_prompts(now_due, after) == [Prompt.MEASUREMENT_RECEIVED]
    lost = status(uplink={"enabled": True, "problem": "outage", "last_ack": None})
    went = occurrences(lost, statements(lost, NOW))
    assert new_prompts(first, went) == [Prompt.CONNECTION_LOST]
    assert new_prompts(went, went) == []
    assert new_prompts(went, first) == []  # back: nothing to say ...
    assert new_prompts(first, went) == [Prompt.CONNECTION_LOST]  # ... lost again: said again
    assert new_prompts(None, now_due) == [Prompt.MEASUREMENT_DUE]  # due at start: said


_occurrence = st.tuples(st.sampled_from(list(Prompt)), st.text(max_size=8))
_occurrences = st.frozensets(_occurrence, max_size=8)


@given(st.none() | _occurrences, _occurrences)
def test_prompts_are_the_kinds_of_new_occurrences_only(
    before: frozenset[tuple[Prompt, str]] | None, after: frozenset[tuple[Prompt, str]]
) -> None:
    spoken = new_prompts(before, after)
    assert len(spoken) == len(set(spoken))  # each kind once
    assert new_prompts(after, after) == []  # the next poll with nothing new says nothing
    fresh = after - (before or set())
    assert set(spoken) <= {kind for kind, _ in fresh}
    if before is None:
        assert Prompt.MEASUREMENT_RECEIVED not in spoken  # the start-up baseline
    else:
        assert set(spoken) == {kind for kind, _ in fresh}
