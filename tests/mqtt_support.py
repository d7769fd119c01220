"""Shared helpers for the wire, uplink and receiver tests: readings, a real store, a real
Mosquitto (hub.testbed.broker), the receiver, and an uplink run in-process (on an asyncio loop
in a thread of the test, with its store's owner, as the daemon runs them) or as a child process.

Run as a script (`python tests/mqtt_support.py hub ...`) it is that child process: an uplink
draining a store, which the hub-restart test SIGKILLs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

from waiting import DEADLINE_S, wait_for  # noqa: E402

from hub.ids import ReadingIds  # noqa: E402
from hub.keyfiles import (  # noqa: E402
    load_ed25519_private,
    load_ed25519_public,
    load_enrollment,
    load_x25519_private,
    load_x25519_public,
)
from hub.model import Code, DeviceInfo, Event, Kind, Observation, Reading  # noqa: E402
from hub.receiver.db import ReceiverDb  # noqa: E402
from hub.receiver.service import Ingest, Receiver, ReceiverSettings  # noqa: E402
from hub.store import Batch, KeySource, Store  # noqa: E402
from hub.store.owner import StoreOwner  # noqa: E402
from hub.testbed.broker import Broker  # noqa: E402
from hub.testbed.pki import Pki, make_pki, pki_paths  # noqa: E402
from hub.uplink.client import Uplink  # noqa: E402
from hub.uplink.settings import UplinkKeys, UplinkSettings  # noqa: E402
from hub.wire.messages import DownlinkConfig  # noqa: E402

T = TypeVar("T")
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
    """The store in `directory`, for this thread only (a running hub's store is its owner's)."""
    directory.mkdir(parents=True, exist_ok=True)
    return Store.open(directory / "hub.db", KeySource(directory / "data.key"))


def fill_store(directory: Path, batch: list[Reading]) -> None:
    with open_store(directory) as store:
        for i in range(0, len(batch), 1000):
            store.add(batch[i : i + 1000])
        store.flush()


def unacked_in(directory: Path) -> int:
    """Readings not yet acknowledged in the store in `directory` (no hub running on it)."""
    with open_store(directory) as store:
        return store.queue_depth()


class NoDevices:
    def info(self, address: str) -> DeviceInfo | None:
        return None


class Recorder:
    """An uplink listener that keeps what it is told; `follow` takes the patient pseudonym of
    each config handed on, as the daemon does once it applied one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.configs: list[DownlinkConfig] = []
        self.follow: Uplink | None = None

    def uplink_event(self, event: Event) -> None:
        self.events.append(event)

    def downlink_config(self, config: DownlinkConfig, raw: bytes) -> None:
        self.configs.append(config)
        if self.follow is not None and config.patient:
            self.follow.set_patient(config.patient)


class CountingOutbox:
    """The store's owner as the uplink's outbox, counting the calls it gets."""

    def __init__(self, owner: StoreOwner) -> None:
        self.owner = owner
        self.calls: collections.Counter[str] = collections.Counter()

    async def next_batch(self, limit: int) -> Batch | None:
        self.calls["next_batch"] += 1
        return await self.owner.next_batch(limit)

    async def unacked_batches(self, sent_before: datetime) -> Sequence[Batch]:
        self.calls["unacked_batches"] += 1
        return await self.owner.unacked_batches(sent_before)

    async def acknowledge(self, batch_id: str) -> int:
        self.calls["acknowledge"] += 1
        return await self.owner.acknowledge(batch_id)

    async def unsent_count(self) -> int:
        self.calls["unsent_count"] += 1
        return await self.owner.unsent_count()


class HubLoop:
    """An uplink and its store's owner on an asyncio loop of their own, in a thread."""

    def __init__(
        self, settings: UplinkSettings, keys: UplinkKeys, store_dir: Path, listener: Recorder
    ) -> None:
        store_dir.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="hub-loop")
        self._thread.start()
        self.listener = listener
        self.store = self.call(
            StoreOwner.open(store_dir / "hub.db", KeySource(store_dir / "data.key"), flush_ms=20)
        )
        self._outbox = CountingOutbox(self.store)
        self.uplink = Uplink(settings, self._outbox, keys, devices=NoDevices(), listener=listener)
        self._run: concurrent.futures.Future[None] | None = None

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(DEADLINE_S)

    def start(self) -> None:
        self._run = asyncio.run_coroutine_threadsafe(self.uplink.run(), self.loop)

    def stop(self) -> None:
        """Stop the uplink and wait until `run()` returned (offline status published)."""
        if self._run is not None:
            self.loop.call_soon_threadsafe(self.uplink.stop)
            self._run.result(DEADLINE_S)
            self._run = None

    def close(self) -> None:
        try:
            self.stop()
            self.call(self.store.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self.loop.close()

    def unacked(self) -> int:
        return self.call(self.store.queue_depth())

    @property
    def outbox_calls(self) -> dict[str, int]:
        return dict(self._outbox.calls)

    def add(self, batch: Sequence[Reading], *, urgent: bool = False) -> None:
        """Store readings and wake the uplink, as the daemon's intake does."""
        self.call(self._add(batch, urgent))

    async def _add(self, batch: Sequence[Reading], urgent: bool) -> None:
        await self.store.add(batch, urgent=urgent)
        self.uplink.wake(urgent=urgent)


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

    @contextmanager
    def hub_loop(
        self,
        hub: str,
        store_dir: Path,
        *,
        keys: UplinkKeys | None = None,
        listener: Recorder | None = None,
        **overrides: Any,
    ) -> Iterator[HubLoop]:
        """An uplink for `hub` over the store in `store_dir`, not yet started (`running`)."""
        settings = self.hub_settings(hub, **overrides)
        loop = HubLoop(settings, keys or self.hub_keys(hub), store_dir, listener or Recorder())
        try:
            yield loop
        finally:
            loop.close()

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
def running(hub: HubLoop) -> Iterator[Uplink]:
    hub.start()
    try:
        yield hub.uplink
    finally:
        hub.stop()


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


async def _hub_main(root: Path, port: int, hub: str, store_dir: Path) -> None:
    """Exits once every reading is acknowledged (or on SIGTERM)."""
    c = Chain(root, pki_paths(root / "pki", HUBS), port, None)
    store = await StoreOwner.open(store_dir / "hub.db", KeySource(store_dir / "data.key"))
    uplink = Uplink(c.hub_settings(hub, batch_max=100), store, c.hub_keys(hub),
                    devices=NoDevices(), listener=Recorder())  # fmt: skip
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, uplink.stop)
    run = asyncio.create_task(uplink.run())
    while not run.done() and await store.queue_depth() > 0:
        await asyncio.sleep(0.05)
    uplink.stop()
    await run
    await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["hub"])
    parser.add_argument("root", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("hub")
    parser.add_argument("store", type=Path)
    args = parser.parse_args()
    asyncio.run(_hub_main(args.root, args.port, args.hub, args.store))
