"""From an empty hub data directory and an empty hospital directory to the first acknowledged
reading, with only the commands: hospital init, identity init, request, enroll, import. Real
Mosquitto (run from the config init wrote), the receiver following the enrollment directory,
and the uplink `hub run` builds from the hub's configuration."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from enrollment_support import (
    files_under,
    give_identity,
    hospital_with_broker,
    hub_command,
    hub_loop,
    receiver,
    tls_accepted,
    write_hub_config,
)
from mqtt_support import reading_ids, readings
from waiting import wait_for

from hub import config
from hub.identity.files import UPLINK_SETTINGS

pytestmark = pytest.mark.slow


def test_empty_directories_to_the_first_acknowledged_reading(tmp_path: Path) -> None:
    hub_toml = write_hub_config(tmp_path / "hub-a", "hub-a")
    data = tmp_path / "hub-a" / "data"
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place = broker.place
        with receiver(place, broker.port, tmp_path / "receiver.db") as rx:
            assert rx.ingest.hub_keys == {}  # nothing enrolled when the receiver started
            code = give_identity(place, hub_toml)
            enrolled = (tmp_path / "hub-a" / "request.json").read_text()
            assert '"hub": "hub-a"' in enrolled
            # the hub printed the fingerprint the hospital's enroll printed too
            assert len(code) == 19 and code.count("-") == 3
            sent = readings(3)
            with hub_loop(hub_toml) as hub:
                hub.start()
                hub.add(sent, urgent=True)
                wait_for(lambda: hub.unacked() == 0, "the first acknowledged readings")
            assert sorted(set(reading_ids(rx.ingest.db))) == sorted(r.id for r in sent)
            assert rx.ingest.refused == {}
        # keys never left the hub: private files are the owner's only, in an owner-only dir
        for path in (data / "uplink-sign.key", data / "identity" / "current" / "tls.key"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "identity").stat().st_mode) == 0o700
        private = [p for p in files_under(place.root) if p.endswith(".key")]
        assert not any("tls" in p or "uplink-sign" in p for p in private)
        # a certificate from this hospital that was never enrolled may connect but do nothing
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
