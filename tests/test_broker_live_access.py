"""A hub enrolled or revoked while the hospital's Mosquitto runs gets exactly its access at
once: `hub hospital enroll` and `revoke` tell the running broker's dynamic-security plugin
(hub.hospital.dynsec) through its control topic, as the broker-admin certificate, and keep
`dynsec.json` in step so a restarted broker answers the same. Real Mosquitto started from the
config `hub hospital init` wrote; no restart between an enrollment and its check."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from enrollment_support import (
    HospitalBroker,
    give_identity,
    hospital_with_broker,
    hub_command,
    make_hospital,
    tls_accepted,
    write_hub_config,
)
from mqtt_session import Session
from waiting import wait_for

from hub.hospital import dynsec
from hub.hospital.broker import ADMIN, CONTROL, CONTROL_RESPONSE
from hub.hospital.layout import OPS, RECEIVER, HospitalDir
from hub.testbed.broker import free_port
from hub.testbed.pki import Identity
from hub.wire import topics

pytestmark = pytest.mark.slow

NOT_AUTHORIZED = 0x87
ASKED = [topics.shared_up(), f"{topics.ROOT}/+/up", topics.ack("hub-a"), topics.config("hub-a")]
CONFINED = [NOT_AUTHORIZED, NOT_AUTHORIZED, 1, 1]  # granted QoS 1 for its own topics


def hub_identity(tmp_path: Path, hub: str) -> Identity:
    current = tmp_path / hub / "data" / "identity" / "current"
    return Identity(current / "hub.crt", current / "tls.key")


def answers(place: HospitalDir, port: int, ident: Identity, asked: list[str]) -> list[int]:
    """The SUBACK reason code for each topic filter, on one fresh connection."""
    session = Session(place.ca, port, ident)
    try:
        return [session.subscribe(topic) for topic in asked]
    finally:
        session.close()


def plugin_users(place: HospitalDir, port: int) -> set[str]:
    """The users the running broker's plugin knows, asked with Mosquitto's own `mosquitto_ctrl`
    as the broker admin."""
    cert, key = place.service(ADMIN)
    done = subprocess.run(["mosquitto_ctrl", "-h", "127.0.0.1", "-p", str(port), "--cafile",
                           place.ca, "--cert", cert, "--key", key, "dynsec", "listClients"],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return set(done.stdout.split())


def test_enroll_and_revoke_change_the_running_broker_at_once(tmp_path: Path) -> None:
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place, port = broker.place, broker.port
        pid = broker.pid
        enrolled = _enroll(place, _request(tmp_path, "hub-a"))
        give_identity(place, write_hub_config(tmp_path / "hub-b", "hub-b"))
        ident = hub_identity(tmp_path, "hub-a")
        assert broker.pid == pid  # no restart
        assert answers(place, port, ident, ASKED) == CONFINED
        assert plugin_users(place, port) == {RECEIVER, OPS, ADMIN, "hub-a", "hub-b"}
        assert "subscription rules applied at once (createRole hub-a" in enrolled.stdout

        # an open connection of the hub is closed by the revocation and cannot come back
        session = Session(place.ca, port, ident)
        try:
            revoked = hub_command("hospital", "revoke", "hub-a", "--dir", place.root).stdout
            assert "deleteClient hub-a, deleteRole hub-a" in revoked
            wait_for(lambda: not session.client.is_connected(), "the revoked hub's disconnect")
        finally:
            session.close()
        assert not tls_accepted(place.ca, ident.cert, ident.key, port)  # the CRL
        assert plugin_users(place, port) == {RECEIVER, OPS, ADMIN, "hub-b"}
        assert answers(place, port, hub_identity(tmp_path, "hub-b"), [topics.shared_up()]) == [
            NOT_AUTHORIZED
        ]

        # the file was kept in step: it says what the plugin holds, and a restarted broker
        # knows the same users and answers the same
        document = {"data": json.loads((place.broker / "dynsec.json").read_text())}
        assert dynsec.parse_state(document, document) == dynsec.wanted(["hub-b"])
        _restart(broker)
        assert plugin_users(place, port) == {RECEIVER, OPS, ADMIN, "hub-b"}
        hub_b = hub_identity(tmp_path, "hub-b")
        asked_b = [topics.shared_up(), f"{topics.ROOT}/+/up", topics.ack("hub-b")]
        assert answers(place, port, hub_b, asked_b) == [NOT_AUTHORIZED, NOT_AUTHORIZED, 1]


def test_only_the_broker_admin_may_use_the_control_topic(tmp_path: Path) -> None:
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place, port = broker.place, broker.port
        give_identity(place, write_hub_config(tmp_path / "hub-a", "hub-a"))
        others = {
            "hub-a": hub_identity(tmp_path, "hub-a"),
            OPS: Identity(*place.service(OPS)),
            RECEIVER: Identity(*place.service(RECEIVER)),
        }
        control = ["$CONTROL/#", "$CONTROL/dynamic-security/#", CONTROL_RESPONSE]
        for name, ident in others.items():
            assert answers(place, port, ident, control) == [NOT_AUTHORIZED] * 3, name
            session = Session(place.ca, port, ident)
            try:
                assert session.publish(CONTROL, b'{"commands":[]}') == NOT_AUTHORIZED, name
            finally:
                session.close()
        admin = Identity(*place.service(ADMIN))
        assert answers(place, port, admin, [CONTROL_RESPONSE, topics.shared_up(), "#"]) == [
            1,
            NOT_AUTHORIZED,
            NOT_AUTHORIZED,
        ]


def test_with_the_broker_stopped_the_files_are_enough_and_a_start_applies_them(
    tmp_path: Path,
) -> None:
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place, port = broker.place, broker.port
        broker.stop()
        enrolled = _enroll(place, _request(tmp_path, "hub-a"))
        assert "broker not running" in enrolled.stdout
        broker.start()
        assert answers(place, port, hub_identity(tmp_path, "hub-a"), ASKED) == CONFINED


def test_a_broker_that_does_not_answer_makes_enroll_and_revoke_fail_clearly(
    tmp_path: Path,
) -> None:
    """A stopped (SIGSTOP) broker holds the connection without answering: enroll says the
    access is not confirmed, gives out no response and exits non-zero; once the broker
    answers, enrolling again applies it. The same for revoke, which a second run completes."""
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place, port = broker.place, broker.port
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGSTOP)
        request = _request(tmp_path, "hub-a")
        try:
            refused = _enroll(place, request)
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        assert refused.returncode == 2
        assert "subscription rules are NOT confirmed" in refused.stderr
        assert "response for hub-a was not written" in refused.stderr
        assert not (tmp_path / "hub-a" / "request.response.json").exists()

        assert _enroll(place, request).returncode == 0
        assert answers(place, port, hub_identity(tmp_path, "hub-a"), ASKED) == CONFINED

        broker.proc.send_signal(signal.SIGSTOP)
        try:
            revoke = ("hospital", "revoke", "hub-a", "--dir", place.root)
            refused = hub_command(*revoke, check=False)
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        assert refused.returncode == 2
        assert "subscription rules are NOT confirmed" in refused.stderr
        assert "hub-a" in plugin_users(place, port)
        again = hub_command(*revoke).stdout
        assert "already revoked" in again and "deleteClient hub-a" in again
        assert "hub-a" not in plugin_users(place, port)


def _request(tmp_path: Path, hub: str) -> Path:
    """A hub's enrollment request, made with the hub's own commands."""
    hub_toml = write_hub_config(tmp_path / hub, hub)
    request = hub_toml.parent / "request.json"
    hub_command("identity", "init", "--config", hub_toml)
    hub_command("identity", "request", "--config", hub_toml, "--out", request)
    return request


def _enroll(place: HospitalDir, request: Path) -> subprocess.CompletedProcess[str]:
    """`hub hospital enroll` (its result returned, failed or not) and, when it succeeded, the
    hub's import of the response."""
    done = hub_command("hospital", "enroll", request, "--dir", place.root, check=False)
    if done.returncode == 0:
        response = request.with_name("request.response.json")
        hub_command("identity", "import", response, "--config", request.with_name("hub.toml"))
    return done


def _restart(broker: HospitalBroker) -> None:
    broker.stop()
    broker.start()


@pytest.mark.parametrize("name", [ADMIN, OPS, RECEIVER])
def test_a_hub_may_not_take_a_hospital_services_name(tmp_path: Path, name: str) -> None:
    """A hub enrolled as `broker-admin` would be given the broker's control topic."""
    place = make_hospital(tmp_path / "hospital", free_port())
    refused = _enroll(place, _request(tmp_path, name))
    assert refused.returncode == 2
    assert f"{name!r} names a hospital service" in refused.stderr
    assert not place.record(name).exists()
