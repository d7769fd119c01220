"""`hub hospital fleet` from the retained status topics (a hub that stopped sending shows as
silent), and `hub hospital config` (difference shown, then signed, published retained, and
received by the hub as a newer verified config). Real Mosquitto, the hubs' own certificates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from enrollment_support import (
    HospitalBroker,
    HubConnection,
    give_identity,
    hospital_with_broker,
    hub_command,
    write_hub_config,
)
from waiting import wait_for

from hub.keyfiles import load_ed25519_public
from hub.wire import topics
from hub.wire.messages import parse_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HospitalBroker]:
    root = tmp_path_factory.mktemp("fleet")
    with hospital_with_broker(root / "hospital") as broker:
        for hub in ("hub-a", "hub-b", "hub-c"):
            give_identity(broker.place, write_hub_config(root / hub, hub))
        yield broker


def _connect(broker: HospitalBroker, hub: str) -> HubConnection:
    data = broker.place.root.parent / hub / "data"
    return HubConnection(data, hub, broker.port)


def _status(hub: str) -> bytes:
    """What the daemon publishes (hub.daemon.status), with the time it was made."""
    now = datetime.now(UTC).isoformat()
    body = {"state": "online", "hub": hub, "version": "0.1.0", "time": now,
            "devices": [{"kind": "blood-pressure", "battery": 80}], "queue_depth": 0,
            "clock_synced": True, "uplink": {"problem": "none"}, "errors": [],
            "config": {"version": 1, "refused": None}}  # fmt: skip
    return json.dumps(body).encode()


def _fleet(broker: HospitalBroker, silent_after: float) -> dict[str, dict[str, object]]:
    out = hub_command("hospital", "fleet", "--dir", broker.place.root, "--json",
                      "--silent-after", str(silent_after)).stdout  # fmt: skip
    return {row["hub"]: row for row in json.loads(out)}


def test_fleet_marks_a_hub_that_stopped_sending_as_silent(hospital: HospitalBroker) -> None:
    a, b = _connect(hospital, "hub-a"), _connect(hospital, "hub-b")
    try:
        for conn in (a, b):
            assert conn.publish(topics.status(conn.hub), _status(conn.hub), retain=True) == (
                "No matching subscribers"
            )
        b.close()  # hub-b stops sending; hub-a goes on

        def b_silent_a_online() -> bool:
            a.publish(topics.status("hub-a"), _status("hub-a"), retain=True)
            rows = _fleet(hospital, silent_after=2.0)
            return rows["hub-b"]["state"] == "silent" and rows["hub-a"]["state"] == "online"

        wait_for(b_silent_a_online, "hub-b marked silent while hub-a stays online")
    finally:
        a.close()
    rows = _fleet(hospital, silent_after=3600)
    assert rows["hub-c"]["state"] == "never-seen"
    assert rows["hub-a"]["devices"] == "blood-pressure 80%"
    assert rows["hub-a"]["config_version"] == 1 and rows["hub-a"]["clock_synced"] is True
    table = hub_command("hospital", "fleet", "--dir", hospital.place.root,
                        "--silent-after", "3600").stdout  # fmt: skip
    assert table.splitlines()[0].split()[:2] == ["hub", "state"]
    assert any(line.startswith("hub-c") and "never-seen" in line for line in table.splitlines())


def test_config_shows_the_difference_then_publishes_signed_and_retained(
    hospital: HospitalBroker, tmp_path: Path
) -> None:
    place = hospital.place
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text('[thresholds."8480-6"]\nyellow_high = 150\nred_high = 170\n')
    base = ["hospital", "config", "hub-a", "--dir", place.root]
    shown = hub_command(*base, "--patient", "p-17", "--pathway", "copd",
                        "--thresholds", thresholds).stdout  # fmt: skip
    assert '+ "pathway": "copd",' in shown and "not published" in shown
    assert not place.configs("hub-a").exists()

    hub_conn = _connect(hospital, "hub-a")
    try:
        done = hub_command(*base, "--patient", "p-17", "--pathway", "copd",
                           "--thresholds", thresholds, "--yes").stdout  # fmt: skip
        assert "config version 1 published to hub-a" in done
        hub_conn.subscribe(topics.config("hub-a"))
        wait_for(lambda: topics.config("hub-a") in hub_conn.messages, "the retained config")
        key = load_ed25519_public(
            place.root.parent / "hub-a" / "data" / "identity" / "current" / "hospital.sign.pub"
        )
        first = parse_config(hub_conn.messages[topics.config("hub-a")], key, "hub-a", None)
        assert (first.version, first.patient, first.pathway) == (1, "p-17", "copd")
        assert first.thresholds == {"8480-6": {"yellow_high": 150, "red_high": 170}}

        thresholds.write_text('[thresholds."8480-6"]\nyellow_high = 140\nred_high = 170\n')
        done = hub_command(*base, "--thresholds", thresholds, "--yes").stdout
        assert '-   "yellow_high": 150' in done and '+   "yellow_high": 140' in done
        assert "pathway" not in done  # only what changed is shown
        wait_for(lambda: b'"version":2' in hub_conn.messages[topics.config("hub-a")],
                 "the second config")  # fmt: skip
        second = parse_config(hub_conn.messages[topics.config("hub-a")], key, "hub-a", 1)
        assert second.thresholds == {"8480-6": {"yellow_high": 140, "red_high": 170}}
        assert second.pathway == "copd"  # kept from the first
    finally:
        hub_conn.close()
    same = hub_command(*base, "--thresholds", thresholds, "--yes").stdout
    assert "no change" in same
    assert sorted(p.name for p in place.configs("hub-a").iterdir()) == ["1.json", "2.json"]
    bad = hub_command(*base, "--pathway", "copd", "--from", thresholds.with_name("x.toml"),
                      check=False)  # fmt: skip
    assert bad.returncode == 2 and "x.toml" in bad.stderr
