"""`hub bench e2e`: the whole chain — simulated devices → daemon → TLS Mosquitto → receiver.

Figures for the hub (the real daemon, `hub demo`'s configuration) and, in the same run, for a
peer: a minimal bleak-to-paho forwarder (the same device manager, one QoS 1 message per
reading, no store, no triage, no acks) that also loads numpy, cryptography and sqlite3 as the
hub does, so that `rss_vs_peer_same_libs` measures our own code (numpy alone is ~15 MiB).
Each runs as its own process with the simulated patient on the Bumble virtual link in that
process (the link is in-memory, so devices and hub cannot be split); a third process runs the
simulated patient alone, and its RSS is subtracted from both, with the bare interpreter's RSS
added back:
rss = RSS(process) − RSS(simulated patient alone) + RSS(python -c '').
Idle CPU is the whole process's CPU over 5 s with four devices connected and nothing
measured (the simulated devices idle too). Latency: hub — from the moment a red cuff record
was made, or a stream-minute ended (its block's period end; the hub sends raw stream samples
as one block per minute), to the receiver's commit of its batch; peer — from the moment a
red cuff record was made or a stream sample received, to the arrival of its message at a
subscriber (the peer stores nothing, so that is its end).
"""

from __future__ import annotations

import json
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.bench import BenchResult, Target
from hub.model import Code
from hub.testbed.world import World
from hub.wire import topics

TIMEOUT_S = 240


def _spawn(role: str, work: Path) -> tuple[float, dict[str, Any]]:
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "hub.bench.e2e_side", role, str(work)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{role} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return started, json.loads((work / f"{role}.json").read_text())


def _bare_rss_kib() -> int:
    code = (
        "import pathlib;print([l.split()[1] for l in pathlib.Path('/proc/self/status')"
        ".read_text().splitlines() if l.startswith('VmRSS')][0])"
    )
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True).stdout)


def _hub_latencies(db: Path, made: dict[str, float]) -> tuple[list[float], list[float]]:
    """(SpO2 stream-minute end → commit of its block, red record made → commit) in seconds,
    from the receiver db."""
    blocks, red = [], []
    with sqlite3.connect(db) as conn:
        for received, blob in conn.execute("SELECT received, bundle FROM batches"):
            committed = datetime.fromisoformat(received).timestamp()
            for entry in json.loads(zlib.decompress(blob))["entry"]:
                res = entry["resource"]
                if res.get("resourceType") != "Observation":
                    continue
                code = res["identifier"][0]["value"].rsplit("/", 1)[1]
                if "valueSampledData" in res and code == Code.SPO2.value:
                    end = datetime.fromisoformat(res["effectivePeriod"]["end"])
                    blocks.append(committed - end.timestamp())
                elif code == Code.BP_PANEL.value and "effectiveDateTime" in res:
                    when = datetime.fromisoformat(res["effectiveDateTime"])
                    key = when.replace(tzinfo=None).isoformat()
                    if key in made:
                        red.append(committed - made[key])
    return blocks, red


class _Subscriber:
    """The peer's end: arrival time of each forwarded message."""

    def __init__(self, world: World) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        p = world.pki
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub")
        ctx = ssl.create_default_context(cafile=str(p.ca))
        ctx.load_cert_chain(str(p.receiver.cert), str(p.receiver.key))
        self.client.tls_set_context(ctx)
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.connect("127.0.0.1", world.broker.port)
        self.client.subscribe(topics.up("+"), qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.arrivals.append((time.time(), json.loads(msg.payload)))
        except ValueError:
            return

    def latencies(self, made: dict[str, float]) -> tuple[list[float], list[float]]:
        streams, red = [], []
        for arrived, body in self.arrivals:
            if body.get("kind") == "spo2-continuous":
                streams.append(arrived - datetime.fromisoformat(body["received"]).timestamp())
            elif body.get("kind") == "blood-pressure" and body.get("device_time") in made:
                red.append(arrived - made[body["device_time"]])
        return streams, red

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run() -> BenchResult:
    result = BenchResult("e2e")
    with tempfile.TemporaryDirectory(prefix="hub-bench-e2e-") as tmp:
        world = World.create(Path(tmp))
        config = world.config_path.read_text()
        world.config_path.write_text(
            config.replace("repeat_before_red = 1", "repeat_before_red = 0")
        )
        world.start()
        try:
            bare = _bare_rss_kib()
            _, sims = _spawn("sims", world.work)
            started, hub = _spawn("hub", world.work)
            hub_blocks, hub_red = _hub_latencies(world.receiver_db, hub["made"])
            world.stop_receiver()
            subscriber = _Subscriber(world)
            subscriber.subscribed.wait(10)
            peer_started, peer = _spawn("peer", world.work)
            peer_streams, peer_red = subscriber.latencies(peer["made"])
            subscriber.stop()
        finally:
            world.stop()
    base = sims["rss_kib"] - bare
    rss = (hub["rss_kib"] - base) / 1024
    peer_rss = (peer["rss_kib"] - base) / 1024
    f = result.figures
    f.update(
        block_p50_latency_s=_pct(hub_blocks, 50),
        block_p99_latency_s=_pct(hub_blocks, 99),
        stream_blocks=len(hub_blocks),
        red_p50_latency_s=_pct(hub_red, 50),
        red_p99_latency_s=_pct(hub_red, 99),
        red_readings=len(hub_red),
        start_to_ready_s=hub["ready"] - started,
        rss_mib=rss,
        idle_cpu_percent=hub["idle_cpu_percent"],
        connected_when_idle=hub["connected"],
        peer_p50_latency_s=_pct(peer_streams, 50),
        peer_p99_latency_s=_pct(peer_streams, 99),
        peer_red_p99_latency_s=_pct(peer_red, 99),
        peer_start_to_ready_s=peer["ready"] - peer_started,
        peer_rss_mib=peer_rss,
        peer_same_libs_mib=peer["libs_kib"] / 1024,
        peer_idle_cpu_percent=peer["idle_cpu_percent"],
        sims_rss_mib=sims["rss_kib"] / 1024,
        bare_python_rss_mib=bare / 1024,
    )
    f["rss_vs_peer_same_libs"] = rss / peer_rss
    result.targets.update(
        rss_vs_peer_same_libs=Target(f["rss_vs_peer_same_libs"], 1.3, higher_is_better=False),
        rss_mib=Target(rss, 90, higher_is_better=False),
        idle_cpu_percent=Target(f["idle_cpu_percent"], 1, higher_is_better=False),
        red_p99_latency_s=Target(f["red_p99_latency_s"], 1, higher_is_better=False),
    )
    return result
