"""The hub's surroundings for the demo, the benchmarks and the tests: a throw-away PKI, a local
Mosquitto with TLS and an ACL, the hospital's receiver as its own process, and the hub's
configuration — all under one working directory, every process stopped by its own pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.testbed.broker import MOSQUITTO, Broker
from hub.testbed.patient import DEVICES
from hub.testbed.pki import Pki, make_pki, pki_paths
from hub.uplink.setup import SIGNING_KEY_NAME

HUB_ID = "demo-hub"
INSTALL_HINT = "sudo apt-get install mosquitto"


class DemoError(Exception):
    """The demo cannot run here; the message says what to do."""


def check_mosquitto() -> None:
    if not Path(MOSQUITTO).is_file() or not os.access(MOSQUITTO, os.X_OK):
        raise DemoError(f"Mosquitto is not installed ({MOSQUITTO}); install it: {INSTALL_HINT}")


@dataclass
class World:
    work: Path
    pki: Pki
    broker: Broker
    receiver: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.work / "hub.toml"

    @property
    def receiver_db(self) -> Path:
        return self.work / "receiver.db"

    @classmethod
    def create(cls, work: Path, port: int | None = None) -> World:
        """A PKI and a broker configuration under `work` (nothing started yet)."""
        check_mosquitto()
        work.mkdir(parents=True, exist_ok=True)
        pki_dir = work / "pki"
        if (pki_dir / "ca.crt").exists():
            pki = pki_paths(pki_dir, [HUB_ID])
        else:
            pki = make_pki(pki_dir, [HUB_ID], now=datetime.now(UTC))
        broker = Broker(pki, work / "broker", port)
        world = cls(work, pki, broker)
        world.config_path.write_text(hub_config(world))
        _install_signing_key(pki.hub_sign_key(HUB_ID), work / "state" / SIGNING_KEY_NAME)
        return world

    def start(self) -> None:
        self.broker.start()
        self.start_receiver()

    def start_receiver(self) -> None:
        p = self.pki
        args = [
            sys.executable, "-m", "hub.cli", "receiver",
            "--host", "127.0.0.1", "--port", str(self.broker.port),
            "--ca", str(p.ca), "--cert", str(p.receiver.cert), "--key", str(p.receiver.key),
            "--enrollment", str(p.enrollment), "--encryption-key", str(p.hospital_enc_key),
            "--signing-key", str(p.hospital_sign_key), "--db", str(self.receiver_db),
            "--client-id", "demo-receiver",
        ]  # fmt: skip
        log = (self.work / "receiver.log").open("ab")
        # Its own session: a Ctrl-C in the terminal reaches only the demo, which drains
        # through the receiver and then stops it by its pid.
        self.receiver = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        log.close()

    def stop_receiver(self) -> None:
        proc, self.receiver = self.receiver, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)

    def stop(self) -> None:
        self.stop_receiver()
        self.broker.stop()


def _install_signing_key(source: Path, target: Path) -> None:
    """The hub's payload-signing key where the daemon looks for it (as on a provisioned hub,
    where it is generated in place and only its public half leaves)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source.read_bytes())


def hub_config(world: World) -> str:
    """The hub's TOML: data under the working directory, a fast demo cadence (short batches,
    short triage windows so the scripted deterioration shows within seconds)."""
    p, w = world.pki, world.work
    devices = "".join(
        f'\n[[devices]]\naddress = "{address}"\nkind = "{kind}"\nname = "{name}"\n'
        for address, kind, name in DEVICES
    )
    return f"""[hub]
id = "{HUB_ID}"
data_dir = "{w / "state"}"
runtime_dir = "{w / "run"}"
language = "en"
status_interval_s = 5.0

[store]
flush_ms = 100
disk_floor_mb = 0

[uplink]
host = "127.0.0.1"
port = {world.broker.port}
ca_file = "{p.ca}"
cert_file = "{p.hubs[HUB_ID].cert}"
key_file = "{p.hubs[HUB_ID].key}"
hospital_key_file = "{p.hospital_enc_pub}"
hospital_signing_key_file = "{p.hospital_sign_pub}"
batch_seconds = 0.5
ack_timeout_s = 5.0

[ble]
max_connections = 4

[patient]
id = "demo-patient"
pathway = "news2"

[triage]
repeat_before_red = 1
persist_k = 6
persist_n = 10
clear_k = 5
min_valid = 5
{devices}"""
