"""Shared by the enrollment, identity and hospital tests: the `hub` command as a subprocess,
a hospital made with `hub hospital init`, its Mosquitto started from the config that init
wrote (stopped by its own pid), hubs given an identity through the real commands, and the
uplink a hub's daemon would run, built from the hub's configuration file."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from waiting import wait_for

from hub import config
from hub.hospital.layout import OPS, HospitalDir
from hub.ids import ReadingIds
from hub.keyfiles import load_ed25519_private, load_x25519_private, load_x25519_public
from hub.model import Reading
from hub.receiver.db import ReceiverDb
from hub.receiver.enrolled import EnrollmentDir
from hub.receiver.service import Ingest, Receiver, ReceiverSettings
from hub.testbed.broker import MOSQUITTO, free_port
from hub.wire.envelope import seal
from hub.wire.fhir import bundle_json

if TYPE_CHECKING:
    from mqtt_support import HubLoop

HUB = [sys.executable, "-m", "hub.cli"]
ROOT = Path(__file__).resolve().parent.parent


def hub_command(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`hub ARGS...` in a child process; with `check`, a failure shows its stderr."""
    done = subprocess.run([*HUB, *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(f"hub {' '.join(map(str, args))}: {done.returncode}\n{done.stderr}")
    return done


def make_hospital(root: Path, port: int) -> HospitalDir:
    hub_command("hospital", "init", "--dir", root, "--broker-host", "127.0.0.1",
                "--broker-port", str(port), "--listen", "127.0.0.1")  # fmt: skip
    return HospitalDir(root)


def write_hub_config(directory: Path, hub: str, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hub.toml"
    path.write_text(f'[hub]\nid = "{hub}"\ndata_dir = "{directory / "data"}"\n{extra}')
    return path


def give_identity(place: HospitalDir, hub_toml: Path) -> str:
    """init, request, enroll, import: the technician's and the hospital's commands in order.
    The fingerprint the hub printed must be the one the hospital printed; returns it."""
    request = hub_toml.parent / "request.json"
    hub_command("identity", "init", "--config", hub_toml)
    printed = hub_command("identity", "request", "--config", hub_toml, "--out", request).stdout
    enrolled = hub_command("hospital", "enroll", request, "--dir", place.root).stdout
    hub_command("identity", "import", hub_toml.parent / "request.response.json",
                "--config", hub_toml)  # fmt: skip
    code = printed.split("fingerprint ")[1].split()[0]
    assert f"request fingerprint {code} " in enrolled, (printed, enrolled)
    return code


@dataclass
class HospitalBroker:
    """Mosquitto run from the config `hub hospital init` wrote."""

    place: HospitalDir
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.place.broker / "mosquitto.conf"
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)  # fmt: skip
        wait_for(self._accepts_tls, "the hospital's broker to accept TLS", timeout=30)
        pid_file = self.place.load_settings().pid_file
        wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip() == str(self.pid),
                 "the broker's pid file")  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def _accepts_tls(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = self.place.broker / "mosquitto.log"
            raise AssertionError(f"mosquitto exited: {log.read_text() if log.exists() else ''}")
        cert, key = self.place.service(OPS)
        return tls_accepted(self.place.ca, cert, key, self.port)


def tls_accepted(ca: Path, cert: Path, key: Path, port: int) -> bool:
    """True when the broker answers an MQTT v5 CONNECT with this identity with success. With
    TLS 1.3 a refused certificate shows only as a dropped connection, so wait for either."""
    answer: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         client_id=f"probe-{time.monotonic_ns()}")  # fmt: skip
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    client.tls_set_context(ctx)
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(not reason.is_failure)
    client.on_disconnect = lambda *_args: answer.append(False)
    try:
        client.connect("127.0.0.1", port)
    except (OSError, ssl.SSLError):
        return False
    deadline = time.monotonic() + 10
    while not answer and time.monotonic() < deadline:
        if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
            break
    with contextlib.suppress(OSError, ssl.SSLError):
        client.disconnect()
    return bool(answer) and answer[0]


@contextmanager
def hospital_with_broker(root: Path) -> Iterator[HospitalBroker]:
    port = free_port()
    broker = HospitalBroker(make_hospital(root, port), port)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextmanager
def receiver(place: HospitalDir, port: int, db: Path) -> Iterator[Receiver]:
    """The hospital's receiver, in this process, following the enrollment directory."""
    cert, key = place.service("receiver")
    enrolled = EnrollmentDir(place.enrollment)
    ingest = Ingest(ReceiverDb(db), enrolled.keys,
                    [load_x25519_private(place.key("hospital.enc.key"))])  # fmt: skip
    ingest.update_enrollment(enrolled)
    settings = ReceiverSettings("127.0.0.1", port, place.ca, cert, key, db, "receiver-1")
    signing = load_ed25519_private(place.key("hospital.sign.key"))
    running = Receiver(settings, ingest, signing, enrolled=enrolled)
    running.start()
    try:
        wait_for(running.connected.is_set, "the receiver to connect")
        yield running
    finally:
        running.stop()
        ingest.db.close()


@contextmanager
def receiver_process(place: HospitalDir, port: int, db: Path) -> Iterator[Path]:
    """`hub receiver` as its own process with the files `hub hospital init` made; yields its
    log. Stopped by its own pid."""
    cert, key = place.service("receiver")
    log = db.with_suffix(".log")
    args = ["receiver", "--host", "127.0.0.1", "--port", str(port), "--ca", place.ca,
            "--cert", cert, "--key", key, "--enrollment", place.enrollment,
            "--encryption-key", place.key("hospital.enc.key"),
            "--signing-key", place.key("hospital.sign.key"), "--db", db]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen([*HUB, *map(str, args)], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, cwd=ROOT, start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), "the receiver to subscribe")
        yield log
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def hub_loop(hub_toml: Path) -> Iterator[HubLoop]:
    """The uplink `hub run` builds from this configuration (the identity merged in by the
    loader) over a store in the data directory, with short timers for a test. Imported here:
    the uplink's and the store's interfaces are still moving."""
    from mqtt_support import HubLoop, Recorder

    from hub.uplink.setup import keys_from, settings_from

    cfg = config.load(hub_toml)
    source = str(hub_toml)
    settings = replace(settings_from(cfg, source), batch_seconds=0.2, ack_timeout_s=2.0,
                       backoff_base_s=0.1, backoff_max_s=1.0)  # fmt: skip
    loop = HubLoop(settings, keys_from(cfg, source), cfg.hub.data_dir / "store", Recorder())
    try:
        yield loop
    finally:
        loop.close()


def files_under(directory: Path) -> dict[str, bytes]:
    """Every file below `directory` (symlinks by target), to show that nothing changed."""
    out: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        if path.is_symlink():
            out[rel] = os.readlink(path).encode()
        elif path.is_file():
            out[rel] = path.read_bytes()
        else:
            out[rel] = b"<dir>"
    return out


class HubConnection:
    """One MQTT v5 connection with a hub's imported identity; `publish` returns the broker's
    PUBACK reason (so an ACL refusal shows as 'Not authorized')."""

    def __init__(self, data_dir: Path, hub: str, port: int) -> None:
        current = data_dir / "identity" / "current"
        self.hub = hub
        self.acks: list[str] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{hub}",
                                  protocol=mqtt.MQTTv5)  # fmt: skip
        ctx = ssl.create_default_context(cafile=str(current / "ca.crt"))
        ctx.load_cert_chain(str(current / "hub.crt"), str(current / "tls.key"))
        self.client.tls_set_context(ctx)
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.messages: dict[str, bytes] = {}
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, _c: mqtt.Client, _u: object, _m: int, reason: Any, _p: object) -> None:
        self.acks.append(str(reason))

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.messages[msg.topic] = msg.payload

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> str:
        before = len(self.acks)
        self.client.publish(topic, payload, qos=1, retain=retain)
        wait_for(lambda: len(self.acks) > before, f"the broker's answer to {self.hub}")
        return self.acks[before]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def envelope(data_dir: Path, hub: str, batch: list[Reading], hospital_enc: Path) -> bytes:
    """A batch sealed as the hub's uplink seals it, with the hub's own signing key."""
    created = datetime.now(UTC)
    batch_id = ReadingIds().new()
    return seal(
        bundle_json(batch_id, hub, f"patient-{hub}", batch, created).encode(),
        hub=hub,
        batch=batch_id,
        sequence=1,
        created=created.isoformat(),
        count=len(batch),
        signer=load_ed25519_private(data_dir / "uplink-sign.key"),
        recipient=load_x25519_public(hospital_enc),
        ephemeral=X25519PrivateKey.generate(),
    )
