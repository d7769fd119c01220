"""`hub diagnose` as a technician runs it: a real config file, a real Mosquitto and
receiver, the `hub` command in a child process."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_support import Chain, chain
from waiting import DEADLINE_S

from hub.testbed.broker import free_port

pytestmark = pytest.mark.slow

HUB = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "hub"


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with chain(tmp_path_factory.mktemp("diagnose-cli")) as started:
        yield started


def hub_config(c: Chain, root: Path, *, port: int | None = None) -> Path:
    """hub-a's configuration with its uplink files from the test PKI."""
    state = root / "state"
    state.mkdir(parents=True)
    shutil.copy(c.pki.hub_sign_key("hub-a"), state / "uplink-sign.key")
    ident = c.pki.hubs["hub-a"]
    path = root / "hub.toml"
    path.write_text(
        f"""[hub]
id = "hub-a"
data_dir = "{state}"
runtime_dir = "{root}/run"

[uplink]
host = "127.0.0.1"
port = {port or c.port}
ca_file = "{c.pki.ca}"
cert_file = "{ident.cert}"
key_file = "{ident.key}"
hospital_key_file = "{c.pki.hospital_enc_pub}"
hospital_signing_key_file = "{c.pki.hospital_sign_pub}"
"""
    )
    return path


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUB), "diagnose", *args], capture_output=True, text=True, timeout=DEADLINE_S * 2
    )


def test_all_green_as_json(c: Chain, tmp_path: Path) -> None:
    config = hub_config(c, tmp_path)
    with c.receiver(tmp_path / "receiver.db"):
        done = hub("--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert [s["step"] for s in report["steps"]] == ["dns", "tcp", "tls", "mqtt", "access", "ack"]
    assert all(s["ok"] and s["todo"] == "" for s in report["steps"])


def test_a_failure_is_printed_with_what_to_do(c: Chain, tmp_path: Path) -> None:
    port = free_port()
    done = hub("--config", str(hub_config(c, tmp_path, port=port)))
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "ok     dns    The broker's address 127.0.0.1 needs no name lookup.",
        f"FAILED tcp    The broker's computer refused the connection on port {port}.",
        "       What to do: Check the port number; if it is right, the broker is not running.",
        "       Detail: ConnectionRefusedError: [Errno 111] Connection refused",
    ]


def test_missing_uplink_files_are_a_usage_error(c: Chain, tmp_path: Path) -> None:
    config = hub_config(c, tmp_path)
    (tmp_path / "state" / "uplink-sign.key").unlink()
    done = hub("--config", str(config))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("hub diagnose: ") and "cannot load a key" in done.stderr
