"""`hub bench uplink`: drain a stored backlog through TLS Mosquitto to the receiver, with acks.

Ours: the real store, the real uplink (FHIR Bundles, sealed envelopes, QoS 1, the hospital's
acks) and the real receiver (`hub receiver`, its own process). The peer, in the same run: the
common BLE-to-MQTT gateway style — one QoS 1 paho message (a small JSON) per reading, read
from the same kind of store and deleted on PUBACK, received and stored in SQLite by a plain
subscriber process. Ours runs as in the daemon: the uplink on an asyncio loop, the store behind
its owner's one thread. Hub CPU is this process's CPU time, all threads (the receiver, the
subscriber and the broker are other processes); wire bytes are what TCP carried on the hub's
own connection (TLS included), both ways, from the kernel's TCP_INFO counters.

Run as `python -m hub.bench.uplink subscriber PORT CA CERT KEY DB` it is the peer's subscriber.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.bench import BenchResult, Target
from hub.ids import ReadingIds
from hub.keyfiles import load_ed25519_private, load_ed25519_public, load_x25519_public
from hub.model import Code, DeviceInfo, Event, Kind, Observation, Reading
from hub.store import KeySource, Store, StoreOptions
from hub.store.owner import StoreOwner
from hub.testbed.broker import Broker
from hub.testbed.pki import Pki, make_pki
from hub.uplink.client import Uplink
from hub.uplink.settings import UplinkKeys, UplinkSettings
from hub.wire import topics
from hub.wire.messages import DownlinkConfig

Figures = dict[str, float]
BACKLOG = 200_000
PEER_BACKLOG = 40_000  # the peer is ~10x slower; its rate is measured on a subset
BATCH = 500
HUB = "hub-bench"
_TCP_INFO_BYTES = struct.Struct("<QQ")  # tcpi_bytes_acked, tcpi_bytes_received
_TCP_INFO_OFFSET = 120


def backlog(n: int) -> list[Reading]:
    """A day-in-the-life mix: blood pressure with pulse, SpO2 spot checks, heart rate."""
    ids = ReadingIds()
    start = datetime(2026, 11, 21, 6, tzinfo=UTC)
    out = []
    for i in range(n):
        when = start + timedelta(seconds=20 * i)
        kind = (Kind.BLOOD_PRESSURE, Kind.SPO2_SPOT, Kind.HEART_RATE)[i % 3]
        if kind is Kind.BLOOD_PRESSURE:
            obs = (
                Observation(Code.SYSTOLIC, 110.0 + i % 50, "mm[Hg]"),
                Observation(Code.DIASTOLIC, 70.0 + i % 25, "mm[Hg]"),
                Observation(Code.MEAN_ARTERIAL, 85.0 + i % 30, "mm[Hg]"),
                Observation(Code.HEART_RATE, 55.0 + i % 40, "/min"),
            )
        elif kind is Kind.SPO2_SPOT:
            obs = (
                Observation(Code.SPO2, 90.0 + i % 10, "%"),
                Observation(Code.HEART_RATE, 60.0 + i % 30, "/min"),
            )
        else:
            obs = (Observation(Code.HEART_RATE, 50.0 + i % 60, "/min"),)
        out.append(
            Reading(
                id=ids.new(),
                device=("C0:11:22:33:44:55", "C0:11:22:33:44:66", "C0:11:22:33:44:77")[i % 3],
                kind=kind,
                device_time=when.replace(tzinfo=None),
                received=when + timedelta(seconds=2),
                observations=obs,
                details={"level": "green", "clock_sync": "synced"},
            )
        )
    return out


def tcp_bytes(sock: socket.socket) -> int:
    """Bytes this TCP connection has carried so far (sent and acknowledged + received)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    acked, received = _TCP_INFO_BYTES.unpack_from(info, _TCP_INFO_OFFSET)
    return int(acked + received)


def _filled_store(directory: Path, readings: list[Reading]) -> Store:
    store = Store.open(
        directory / "hub.db", KeySource(directory / "data.key"), StoreOptions(flush_max=5000)
    )
    for i in range(0, len(readings), 5000):
        store.add(readings[i : i + 5000])
    store.flush()
    return store


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out waiting for {what}")
        time.sleep(0.01)


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _start_and_wait(cmd: list[str], marker: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if marker in line:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining
            return proc
    raise RuntimeError(f"bench: {cmd[2]} exited before it was ready")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Quiet:
    """The bench's uplink listener and device directory: nobody to tell, no devices known."""

    def uplink_event(self, event: Event) -> None:
        pass

    def downlink_config(self, config: DownlinkConfig, raw: bytes) -> None:
        pass

    def info(self, address: str) -> DeviceInfo | None:
        return None


def _thread_cpu(prefix: str) -> float:
    """CPU seconds so far of this process's thread named `prefix`… (the store owner's)."""
    thread = next(t for t in threading.enumerate() if t.name.startswith(prefix))
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=30)


def _ours(pki: Pki, port: int, root: Path, n: int) -> Figures:
    db = root / "receiver.db"
    receiver = _start_and_wait(
        [sys.executable, "-m", "hub.cli", "receiver", "--port", str(port), "--ca", str(pki.ca),
         "--cert", str(pki.receiver.cert), "--key", str(pki.receiver.key),
         "--enrollment", str(pki.enrollment), "--encryption-key", str(pki.hospital_enc_key),
         "--signing-key", str(pki.hospital_sign_key), "--db", str(db)],
        "subscribed",
    )  # fmt: skip
    _filled_store(root / "hub", backlog(n)).close()
    settings = UplinkSettings(
        hub=HUB, host="127.0.0.1", port=port, ca=pki.ca, cert=pki.hubs[HUB].cert,
        key=pki.hubs[HUB].key, patient="bench-patient", batch_max=BATCH, batch_seconds=0.05,
    )  # fmt: skip
    keys = UplinkKeys(
        load_ed25519_private(pki.hub_sign_key(HUB)),
        load_x25519_public(pki.hospital_enc_pub),
        load_ed25519_public(pki.hospital_sign_pub),
    )
    try:
        receiver_cpu = _cpu_seconds(receiver.pid)
        figures = asyncio.run(_drain(settings, keys, root / "hub", n))
        receiver_cpu = _cpu_seconds(receiver.pid) - receiver_cpu
    finally:
        _stop(receiver)
    if _count(db, "observations") == 0:
        raise RuntimeError("bench: the receiver stored nothing")
    figures["receiver_cpu_us"] = receiver_cpu / n * 1e6
    return figures


async def _drain(settings: UplinkSettings, keys: UplinkKeys, store_dir: Path, n: int) -> Figures:
    """Our uplink drains the stored backlog of `n` readings on this loop, as in the daemon."""
    store = await StoreOwner.open(
        store_dir / "hub.db", KeySource(store_dir / "data.key"), StoreOptions(flush_max=5000)
    )
    quiet = _Quiet()
    uplink = Uplink(settings, store, keys, devices=quiet, listener=quiet)
    try:
        await store.unsent_count()  # the owner's thread exists from here on
        store_cpu = _thread_cpu("store")
        cpu, wall = time.process_time(), time.perf_counter()
        run = asyncio.create_task(uplink.run())
        deadline = time.monotonic() + 600
        while uplink.stats.acked_readings < n and not run.done():
            if time.monotonic() > deadline:
                raise RuntimeError("bench: timed out waiting for our backlog to drain")
            await asyncio.sleep(0.01)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        store_cpu = _thread_cpu("store") - store_cpu
        sock = uplink.socket()
        wire = tcp_bytes(sock) if sock is not None else 0
        uplink.stop()
        await run
    finally:
        await store.close()
    return {
        "rate": n / wall,
        "cpu_us": cpu / n * 1e6,
        "wire": wire / n,
        "envelope": uplink.stats.envelope_bytes / n,
        "store_cpu_us": store_cpu / n * 1e6,
    }


def _peer_message(r: Reading) -> bytes:
    return json.dumps(
        {
            "id": r.id,
            "device": r.device,
            "kind": r.kind.value,
            "time": r.device_time.isoformat() if r.device_time else None,
            "received": r.received.isoformat(),
            "obs": [[o.code.value, o.value, o.unit] for o in r.observations],
        },
        separators=(",", ":"),
    ).encode()


def _peer(pki: Pki, port: int, root: Path, n: int) -> Figures:
    db = root / "peer.db"
    ident = pki.hubs[HUB]
    subscriber = _start_and_wait(
        [sys.executable, "-m", "hub.bench.uplink", "subscriber", str(port), str(pki.ca),
         str(pki.receiver.cert), str(pki.receiver.key), str(db)],
        "subscribed",
    )  # fmt: skip
    store = _filled_store(root / "peer-hub", backlog(n))
    client = mqtt.Client(CallbackAPIVersion.VERSION2, "peer-gateway", protocol=mqtt.MQTTv5)
    client.tls_set(str(pki.ca), str(ident.cert), str(ident.key))
    window = threading.Semaphore(50)  # within the broker's Receive Maximum (100)
    client.on_publish = lambda *_: window.release()
    client.max_inflight_messages_set(50)
    try:
        client.connect("127.0.0.1", port)
        client.loop_start()
        cpu, wall = time.process_time(), time.perf_counter()
        topic = topics.up(HUB)
        while (batch := store.next_batch(BATCH)) is not None:
            infos = []
            for reading in batch.readings:
                window.acquire()
                infos.append(client.publish(topic, _peer_message(reading), qos=1))
            for info in infos:
                info.wait_for_publish()
            store.acknowledge(batch.id)  # gateway style: gone once the broker has it
        hub_cpu = time.process_time() - cpu
        _wait(lambda: _count(db, "readings") >= n, 600, "the peer's messages to be stored")
        wall = time.perf_counter() - wall
        wire = tcp_bytes(client.socket())
    finally:
        client.disconnect()
        client.loop_stop()
        store.close()
        _stop(subscriber)
    return {"rate": n / wall, "cpu_us": hub_cpu / n * 1e6, "wire": wire / n}


def run(backlog_size: int = BACKLOG, peer_size: int = PEER_BACKLOG) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="hub-bench-uplink-") as tmp:
        root = Path(tmp)
        pki = make_pki(root / "pki", [HUB], now=datetime.now(UTC))
        broker = Broker(pki, root / "broker")
        broker.start()
        try:
            ours = _ours(pki, broker.port, root, backlog_size)
            peer = _peer(pki, broker.port, root, peer_size)
        finally:
            broker.stop()
    result = BenchResult("uplink")
    result.figures = {
        "backlog_readings": float(backlog_size),
        "readings_per_s": ours["rate"],
        "hub_cpu_us_per_reading": ours["cpu_us"],
        "wire_bytes_per_reading": ours["wire"],
        "envelope_bytes_per_reading": ours["envelope"],
        "hub_store_cpu_us_per_reading": ours["store_cpu_us"],
        "receiver_cpu_us_per_reading": ours["receiver_cpu_us"],
        "peer_readings": float(peer_size),
        "peer_readings_per_s": peer["rate"],
        "peer_hub_cpu_us_per_reading": peer["cpu_us"],
        "peer_wire_bytes_per_reading": peer["wire"],
    }
    result.targets = {
        "vs_peer_rate": Target(ours["rate"] / peer["rate"], 3.0),
        "cpu_vs_peer": Target(ours["cpu_us"] / peer["cpu_us"], 0.333, higher_is_better=False),
        "wire_bytes_per_reading": Target(ours["wire"], 100.0, higher_is_better=False),
    }
    return result


def _subscriber(port: int, ca: str, cert: str, key: str, db_path: str) -> None:
    """The peer's plain subscriber: every message a row, committed in groups."""
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE IF NOT EXISTS readings (id TEXT PRIMARY KEY, body TEXT)")
    rows: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        with lock:
            rows.append((body["id"], msg.payload.decode()))

    def commit_loop() -> None:
        while True:
            time.sleep(0.02)
            with lock:
                batch, rows[:] = rows[:], []
            if batch:
                db.execute("BEGIN")
                db.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?)", batch)
                db.execute("COMMIT")

    client = mqtt.Client(CallbackAPIVersion.VERSION2, "peer-subscriber", protocol=mqtt.MQTTv5)
    client.tls_set(ca, cert, key, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.on_message = on_message
    client.on_connect = lambda cl, *_: cl.subscribe(topics.up("+"), qos=1)
    client.on_subscribe = lambda *_: print("subscribed", file=sys.stderr, flush=True)
    threading.Thread(target=commit_loop, daemon=True).start()
    client.connect("127.0.0.1", port)
    client.loop_forever()


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "subscriber":
        _subscriber(int(sys.argv[2]), *sys.argv[3:7])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    os._exit(0)
