"""The processes `hub bench e2e` measures: `python -m hub.bench.e2e_side ROLE WORK`.

* `hub`: the real daemon on the Bumble backend with the simulated patient (as `hub demo`).
* `peer`: the same patient and the same bleak device manager, each reading forwarded as one
  QoS 1 paho message (a small JSON), nothing stored. It loads the libraries the hub loads
  besides paho and bleak (numpy, cryptography, sqlite3), so that the ratio of the two RSS
  measures our own code, not the libraries.
* `sims`: the simulated patient alone — the baseline subtracted from both, because the
  simulated devices share the process with what is measured. Each role imports only what it
  uses, so the baseline holds none of the daemon's or the forwarder's modules.

Each writes WORK/<role>.json: when it was ready, its RSS and CPU time while idle with four
devices connected, and when each red cuff record was made. The hub measures until it stored
one stream-minute block at least and the hospital acknowledged it (a block closes when its
minute ends), then idles.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import ssl
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.ble.session import SessionOptions
from hub.ids import IdMinter
from hub.lean import block_unused_imports
from hub.sim.air import VirtualAir
from hub.sim.backend import hub_adapter
from hub.testbed.patient import Patient, Script

MEASURE_S = 8.0
BLOCK_WAIT_S = 90.0  # a stream-minute block closes at most a minute and LAG_S after the start
IDLE_S = 5.0
# Devices stay connected (short-lived ones too) so idle means four connected devices.
STAY = SessionOptions(idle_s=3600.0)
SCRIPT = Script(
    cuff_every_s=1.0, scale_every_s=2.0, deteriorate_after_s=0.0, live=True, linger_s=3600.0
)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def idle_figures(patient: Patient) -> dict[str, float]:
    """Stop measuring, let the last frames go, then CPU and RSS over an idle window."""
    await patient.stop_measuring()
    await asyncio.sleep(2.0)
    connected = sum(d.connected for d in patient.devices)
    start_cpu, start = cpu_s(), time.monotonic()
    await asyncio.sleep(IDLE_S)
    elapsed = time.monotonic() - start
    return {
        "idle_cpu_percent": 100.0 * (cpu_s() - start_cpu) / elapsed,
        "rss_kib": rss_kib(),
        "connected": connected,
    }


def made_times(patient: Patient) -> dict[str, float]:
    """Cuff device time (ISO, as the receiver shows it) → when the record was made."""
    return dict(patient.made)


async def hub_role(work: Path) -> dict[str, Any]:
    from hub.testbed.hub_side import DemoHub

    demo_hub = DemoHub(work / "hub.toml", work / "devices-hub", SCRIPT, session_options=STAY)
    async with demo_hub as demo:
        assert demo.patient is not None
        await asyncio.sleep(MEASURE_S)
        deadline = time.monotonic() + BLOCK_WAIT_S
        while demo.intake.stream_blocks == 0 or await demo.queue_depth() > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("no stream-minute block stored and acknowledged in time")
            await asyncio.sleep(0.2)
        figures = await idle_figures(demo.patient)
        return {"ready": demo.ready_at, "made": made_times(demo.patient), **figures}


def load_same_libs() -> int:
    """Load (and touch once) numpy, cryptography and sqlite3 as the hub does; the KiB of RSS
    that cost."""
    before = rss_kib()
    import sqlite3

    import numpy
    from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sqlite3.connect(":memory:").close()
    numpy.zeros(1).sum()
    AESGCM(AESGCM.generate_key(bit_length=256))
    ed25519.Ed25519PrivateKey.generate()
    x25519.X25519PrivateKey.generate()
    return rss_kib() - before


async def peer_role(work: Path) -> dict[str, Any]:
    libs_kib = load_same_libs()
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from hub.ble.manager import DeviceManager
    from hub.config import load
    from hub.model import Reading
    from hub.sim.backend import bleak_backend
    from hub.wire import topics

    cfg = load(work / "hub.toml")
    up = cfg.uplink
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="peer", protocol=mqtt.MQTTv5)
    ctx = ssl.create_default_context(cafile=str(up.ca_file))
    ctx.load_cert_chain(str(up.cert_file), str(up.key_file))
    client.tls_set_context(ctx)
    client.connect(up.host, up.port)
    client.loop_start()
    air = VirtualAir()
    patient = Patient(air, work / "devices-peer", SCRIPT)
    adapter = await hub_adapter(air)
    manager = DeviceManager(
        cfg,
        backend=bleak_backend(adapter),
        clock_synced=lambda: True,
        ids=IdMinter(bytes(32)),
        session_options=STAY,
    )
    topic = topics.up(cfg.hub.id)

    async def forward() -> None:
        while True:
            item = await manager.output.get()
            if isinstance(item, Reading):
                body = {
                    "id": item.id,
                    "device": item.device,
                    "kind": item.kind.value,
                    "received": item.received.isoformat(),
                    "device_time": item.device_time.isoformat() if item.device_time else None,
                    "values": {o.code.value: o.value for o in item.observations},
                }
                client.publish(topic, json.dumps(body), qos=1)

    try:
        async with manager:
            ready = time.time()
            await patient.start()
            task = asyncio.create_task(forward())
            await asyncio.sleep(MEASURE_S)
            figures = await idle_figures(patient)
            task.cancel()
        return {"ready": ready, "made": made_times(patient), "libs_kib": libs_kib, **figures}
    finally:
        await patient.stop()
        client.loop_stop()
        client.disconnect()


async def sims_role(work: Path) -> dict[str, Any]:
    air = VirtualAir()
    patient = Patient(air, work / "devices-sims", SCRIPT)
    await hub_adapter(air)
    await patient.start()
    try:
        ready = time.time()
        await asyncio.sleep(MEASURE_S / 2)
        figures = await idle_figures(patient)
        return {"ready": ready, "made": {}, **figures}
    finally:
        await patient.stop()


ROLES = {"hub": hub_role, "peer": peer_role, "sims": sims_role}


def main() -> None:
    block_unused_imports()  # as `hub run` does
    role, work = sys.argv[1], Path(sys.argv[2])
    result = asyncio.run(ROLES[role](work))
    result["pid"] = os.getpid()
    result["finished"] = datetime.now(UTC).isoformat()
    (work / f"{role}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
