"""Shared helpers for the wire, uplink and receiver tests: readings, a real store, a real
Mosquitto (hub.testbed.broker), the receiver, and an uplink run in-process or as a child process.

Run as a script (`python tests/mqtt_support.py hub ...`) it is that child process: an uplink
draining a store, which the hub-restart test SIGKILLs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

from waiting import wait_for  # noqa: E402

from hub.ids import ReadingIds  # noqa: E402
from hub.keyfiles import (  # noqa: E402
    load_ed25519_private,
    load_ed25519_public,
    load_enrollment,
    load_x25519_private,
    load_x25519_public,
)
from hub.model import Code, Kind, Observation, Reading  # noqa: E402
from hub.receiver.db import ReceiverDb  # noqa: E402
from hub.receiver.service import Ingest, Receiver, ReceiverSettings  # noqa: E402
from hub.store import KeySource, Store  # noqa: E402
from hub.testbed.broker import Broker  # noqa: E402
from hub.testbed.pki import Pki, make_pki, pki_paths  # noqa: E402
from hub.uplink.client import Uplink, UplinkKeys, UplinkSettings  # noqa: E402

HUBS = ["hub-a", "hub-b"]
T0 = datetime(2026, 11, 21, 8, tzinfo=UTC)


def readings(n: int, *, start: int = 0, device: str = "C0:11:22:33:44:55") -> list[Reading]:
    """Blood-pressure readings (panel + pulse) with triage levels, some with special values."""
    ids = ReadingIds()
    out = []
    for i in range(start, start + n):
        systolic = (
            Observation(Code.SYSTOLIC, None, "mm[Hg]", special="nres")
            if i % 97 == 0
            else Observation(Code.SYSTOLIC, 110.0 + i % 60, "mm[Hg]")
        )
        out.append(
            Reading(
                id=ids.new(),
                device=device,
                kind=Kind.BLOOD_PRESSURE,
                device_time=(T0 + timedelta(minutes=i)).replace(tzinfo=None),
                received=T0 + timedelta(minutes=i, seconds=2),
                observations=(
                    systolic,
                    Observation(Code.DIASTOLIC, 70.0 + i % 20, "mm[Hg]"),
                    Observation(Code.MEAN_ARTERIAL, 90.0, "mm[Hg]"),
                    Observation(Code.HEART_RATE, 55.0 + i % 30, "/min"),
                ),
                flags=frozenset({"irregular-pulse"}) if i % 13 == 0 else frozenset(),
                details={"level": ("green", "yellow", "red")[i % 3], "clock_sync": "synced"},
            )
        )
    return out


def open_store(directory: Path) -> Store:
    directory.mkdir(parents=True, exist_ok=True)
    return Store.open(directory / "hub.db", KeySource(directory / "data.key"), flush_ms=20)


def fill_store(directory: Path, batch: list[Reading]) -> None:
    store = open_store(directory)
    try:
        for i in range(0, len(batch), 1000):
            store.add(batch[i : i + 1000])
        store.flush()
    finally:
        store.close()


def make_ingest(pki: Pki, db: Path) -> Ingest:
    """The receiver's ingest over a new database at `db`, knowing every hub of `pki`."""
    return Ingest(
        ReceiverDb(db), load_enrollment(pki.enrollment), [load_x25519_private(pki.hospital_enc_key)]
    )


@dataclass
class Chain:
    """A PKI and a running broker; receivers and uplinks are made per test."""

    root: Path
    pki: Pki
    port: int
    broker: Broker | None  # None in a child process: the parent runs the broker

    def hub_settings(self, hub: str, **overrides: Any) -> UplinkSettings:
        ident = self.pki.hubs[hub]
        base = UplinkSettings(
            hub=hub,
            host="127.0.0.1",
            port=self.port,
            ca=self.pki.ca,
            cert=ident.cert,
            key=ident.key,
            patient=f"patient-{hub}",
            batch_max=200,
            batch_seconds=0.2,
            ack_timeout_s=2.0,
            backoff_base_s=0.1,
            backoff_max_s=1.0,
            auth_retry_s=120.0,
        )
        return replace(base, **overrides)

    def hub_keys(self, hub: str) -> UplinkKeys:
        return UplinkKeys(
            signing=load_ed25519_private(self.pki.hub_sign_key(hub)),
            hospital=load_x25519_public(self.pki.hospital_enc_pub),
            hospital_signing=load_ed25519_public(self.pki.hospital_sign_pub),
        )

    def uplink(self, hub: str, store: Store, **overrides: Any) -> Uplink:
        return Uplink(self.hub_settings(hub, **overrides), store, self.hub_keys(hub))

    @contextmanager
    def receiver(self, db: Path, client_id: str = "receiver-1") -> Iterator[Receiver]:
        ingest = make_ingest(self.pki, db)
        settings = ReceiverSettings(
            host="127.0.0.1",
            port=self.port,
            ca=self.pki.ca,
            cert=self.pki.receiver.cert,
            key=self.pki.receiver.key,
            db=db,
            client_id=client_id,
        )
        receiver = Receiver(settings, ingest, load_ed25519_private(self.pki.hospital_sign_key))
        receiver.start()
        try:
            wait_for(receiver.connected.is_set, "the receiver to connect")
            yield receiver
        finally:
            receiver.stop()
            ingest.db.close()


@contextmanager
def chain(root: Path) -> Iterator[Chain]:
    pki = make_pki(root / "pki", HUBS, now=datetime.now(UTC))
    broker = Broker(pki, root / "broker")
    broker.start()
    try:
        yield Chain(root, pki, broker.port, broker)
    finally:
        broker.stop()


def reading_ids(db: ReceiverDb) -> list[str]:
    """Reading ids of every stored Observation (one per identifier)."""
    return [ident.split("/")[1] for ident in db.identifiers()]


@contextmanager
def running(uplink: Uplink) -> Iterator[Uplink]:
    uplink.start()
    try:
        yield uplink
    finally:
        uplink.stop()


def spawn_hub(c: Chain, hub: str, store_dir: Path) -> subprocess.Popen[bytes]:
    """An uplink in a child process draining the store in `store_dir`; it exits when the
    outbox is empty."""
    return subprocess.Popen(
        [sys.executable, __file__, "hub", str(c.root), str(c.port), hub, str(store_dir)],
        stdin=subprocess.DEVNULL,
    )


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _hub_main(root: Path, port: int, hub: str, store_dir: Path) -> None:
    c = Chain(root, pki_paths(root / "pki", HUBS), port, None)
    store = open_store(store_dir)
    uplink = c.uplink(hub, store, batch_max=100)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    uplink.start()
    while store.queue_depth() > 0 and not done.wait(0.05):
        continue  # exits once every reading is acknowledged (or on SIGTERM)
    uplink.stop()
    store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["hub"])
    parser.add_argument("root", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("hub")
    parser.add_argument("store", type=Path)
    args = parser.parse_args()
    _hub_main(args.root, args.port, args.hub, args.store)
