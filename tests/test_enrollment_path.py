"""From an empty hub data directory and an empty hospital directory to the first acknowledged
reading, with only the commands: hospital init, identity init, request, enroll, import. Real
Mosquitto (run from the config init wrote), the receiver following the enrollment directory,
and the uplink `hub run` builds from the hub's configuration."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from enrollment_support import (
    give_identity,
    hospital_with_broker,
    hub_command,
    hub_loop,
    receiver_process,
    tls_accepted,
    write_hub_config,
)
from mqtt_support import reading_ids, readings
from waiting import wait_for

from hub import config
from hub.identity.files import UPLINK_SETTINGS
from hub.receiver.db import ReceiverDb

pytestmark = pytest.mark.slow


def test_empty_directories_to_the_first_acknowledged_reading(tmp_path: Path) -> None:
    hub_toml = write_hub_config(tmp_path / "hub-a", "hub-a")
    data = tmp_path / "hub-a" / "data"
    db = tmp_path / "receiver.db"
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place = broker.place
        # the receiver runs before the hub exists; it picks up the enrollment while running
        with receiver_process(place, broker.port, db) as log:
            assert "0 hubs enrolled" in log.read_text()
            give_identity(place, hub_toml)
            sent = readings(3)
            with hub_loop(hub_toml) as hub:
                hub.start()
                hub.add(sent, urgent=True)
                wait_for(lambda: hub.unacked() == 0, "the first acknowledged readings")
        stored = ReceiverDb(db)
        try:
            assert sorted(set(reading_ids(stored))) == sorted(r.id for r in sent)
        finally:
            stored.close()
        # keys never left the hub: private files are the owner's only, in an owner-only dir
        for path in (data / "uplink-sign.key", data / "identity" / "current" / "tls.key"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "identity").stat().st_mode) == 0o700
        hospital_private = {p.name for p in place.root.rglob("*.key")}
        assert not hospital_private & {"tls.key", "uplink-sign.key"}
        # a certificate from this hospital that is not a hub's may connect but do nothing
        cert, key = place.service("ops")
        assert tls_accepted(place.ca, cert, key, broker.port)


def test_the_config_loader_and_the_identity_agree_on_the_file(tmp_path: Path) -> None:
    assert config.IDENTITY_UPLINK == UPLINK_SETTINGS


def test_show_walks_through_the_states(tmp_path: Path) -> None:
    hub_toml = write_hub_config(tmp_path / "hub", "hub-x")
    show = ["identity", "show", "--json", "--config", hub_toml]
    assert '"state": "not-initialised"' in hub_command(*show).stdout
    hub_command("identity", "init", "--config", hub_toml)
    hub_command("identity", "request", "--config", hub_toml)
    shown = hub_command(*show).stdout
    assert '"state": "awaiting-response"' in shown and '"fingerprint"' in shown
    again = hub_command("identity", "init", "--config", hub_toml, check=False)
    assert again.returncode == 2
    assert "already has an identity" in again.stderr and again.stderr.count("\n") == 1
