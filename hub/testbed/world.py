"""The hub's surroundings for the demo, the benchmarks and the tests: a hospital and a hub put
into service (`provision`), the local Mosquitto the hospital configured (TLS, per-hub ACL,
CRL), the hospital's receiver as its own process, and the hub's configuration — all under one
working directory, every process stopped by its own pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.testbed.broker import MOSQUITTO, Broker, free_port
from hub.testbed.patient import DEVICES
from hub.testbed.provision import HospitalPki, provision

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
    pki: HospitalPki
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
        """The hospital and the hub put into service under `work` the way a real pair is
        (`hub.testbed.provision`), and the broker the hospital configured (not started)."""
        check_mosquitto()
        work.mkdir(parents=True, exist_ok=True)
        made = provision(work / "hospital", work / "state", HUB_ID, port or free_port(),
                         datetime.now(UTC))  # fmt: skip
        broker = Broker(made.pki, made.hospital.broker, made.port, conf=made.broker_conf)
        world = cls(work, made.pki, broker)
        world.config_path.write_text(hub_config(world))
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


def hub_config(world: World) -> str:
    """The hub's TOML: data under the working directory, a fast demo cadence (short batches,
    short triage windows so the scripted deterioration shows within seconds). The broker's
    address and the identity's files come from the imported identity, as on a real hub."""
    w = world.work
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
