"""The hospital's pure parts and its guard rails: the ACL file Mosquitto reads, the next
downlink config and its difference, the fleet's states, and a pid file that does not name a
Mosquitto process (never signalled)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.hospital import broker, downlink, fleet
from hub.hospital.layout import HospitalError
from hub.wire import topics

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def test_acl_gives_each_hub_its_own_topics_and_no_patterns() -> None:
    text = broker.acl_text(["hub-a", "hub-b"])
    assert "pattern" not in text
    block = text.split("user hub-a\n")[1].split("user ")[0].splitlines()
    assert block == [
        f"topic write {topics.up('hub-a')}",
        f"topic write {topics.status('hub-a')}",
        f"topic read {topics.ack('hub-a')}",
        f"topic read {topics.config('hub-a')}",
    ]
    assert "user hub-c" not in text
    assert broker.acl_text([]).count("user ") == 3  # receiver, operations, broker admin


def test_a_pid_file_naming_another_process_is_refused(tmp_path: Path) -> None:
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # this Python process, not a broker
    with pytest.raises(HospitalError, match="not mosquitto"):
        broker.reload(pid_file)
    assert "no pid file" in broker.reload(tmp_path / "absent.pid")


def test_next_config_counts_versions_keeps_what_was_not_given_and_diffs() -> None:
    first = downlink.next_config("hub-a", None, {"patient": "p-1", "pathway": "copd"})
    assert first.config.version == 1 and first.diff[0].startswith("--- (none)")
    body = first.config.body()
    same = downlink.next_config("hub-a", body, {"pathway": "copd"})
    assert same.diff == []
    second = downlink.next_config("hub-a", body, {"schedule": [{"kind": "weight",
                                                               "times": ["08:00"]}]})  # fmt: skip
    assert (second.config.version, second.config.pathway) == (2, "copd")
    assert any(line.startswith('+   "kind": "weight"') for line in second.diff)
    with pytest.raises(HospitalError, match="unknown config field 'colour'"):
        downlink.next_config("hub-a", body, {"colour": "red"})
    with pytest.raises(HospitalError, match="needs a patient"):
        downlink.next_config("hub-a", None, {"pathway": "copd"})
    with pytest.raises(HospitalError, match="schedule must be a list of tables"):
        downlink.next_config("hub-a", body, {"schedule": ["08:00"]})


def _status(seconds_ago: float, **extra: object) -> bytes:
    body = {"state": "online", "time": (NOW - timedelta(seconds=seconds_ago)).isoformat()}
    return json.dumps({**body, **extra}).encode()


def test_fleet_states() -> None:
    statuses = {
        topics.status("hub-on"): _status(
            5,
            uplink={"problem": "auth"},
            config={"version": 2, "refused": {"version": 3, "key": "thresholds.8480-6"}},
        ),
        topics.status("hub-quiet"): _status(3600),
        topics.status("hub-gone"): b'{"state":"offline"}',
        topics.status("hub-bad"): b"\xff",
        topics.status("hub-lost"): _status(1),
    }
    rows = {r.hub: r for r in fleet.rows(statuses, ["hub-on", "hub-quiet", "hub-gone",
                                                    "hub-bad", "hub-new"], ["hub-lost"],
                                         NOW, 900)}  # fmt: skip
    assert {h: r.state for h, r in rows.items()} == {
        "hub-on": "online", "hub-quiet": "silent", "hub-gone": "offline",
        "hub-bad": "silent", "hub-new": "never-seen", "hub-lost": "revoked",
    }  # fmt: skip
    assert rows["hub-on"].problems == "uplink: auth; config 3 refused at thresholds.8480-6"
    assert rows["hub-quiet"].silent_s == 3600.0
    assert rows["hub-on"].config_version == 2


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    [
        "state",
        "time",
        "devices",
        "uplink",
        "errors",
        "version",
        "queue_depth",
        "clock_synced",
        "config_version",
        "kind",
        "battery",
    ]
)
_STATUS = st.binary(max_size=100) | st.dictionaries(_FIELDS, _JSON).map(
    lambda body: json.dumps(body).encode())  # fmt: skip


@given(st.dictionaries(st.sampled_from([topics.status("hub-x"), topics.up("hub-x"), "other"]),
                       _STATUS))  # fmt: skip
def test_fleet_rows_take_any_payload(statuses: dict[str, bytes]) -> None:
    rows = fleet.rows(statuses, ["hub-x"], [], NOW, 60)
    assert [r.hub for r in rows] == ["hub-x"]
    fleet.table(rows)
