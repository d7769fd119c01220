"""A pulled plug loses nothing; SIGTERM loses nothing in flight; outages only delay.

The hub side (daemon + simulated devices, `python -m hub.testbed.hub_process --work DIR`) runs
as one process that the test kills; the broker and the receiver run on as their own processes.
The devices keep their records in files (their flash), so each restarted process offers them
again, as a real cuff offers its memory to the next connection.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_for

from hub.store import KeySource, Store
from hub.testbed.world import World

CYCLES = 32
HUB_PROCESS = "hub.testbed.hub_process"


@contextmanager
def demo_world(root: Path) -> Iterator[World]:
    world = World.create(root)
    world.start()
    try:
        yield world
    finally:
        world.stop()


def spawn(world: World, *extra: str) -> subprocess.Popen[bytes]:
    socket_path = world.work / "run" / "control.sock"
    socket_path.unlink(missing_ok=True)
    log = (world.work / "hub-side.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", HUB_PROCESS, "--work", str(world.work), "--every", "1.0", *extra],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    log.close()
    return proc


def running(world: World, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the daemon in `proc` serves its control socket (it is past READY)."""
    sock = world.work / "run" / "control.sock"
    wait_for(lambda: sock.exists() or proc.poll() is not None, "the hub to start")
    assert proc.poll() is None, (world.work / "hub-side.log").read_text()[-3000:]


def drain(world: World, seconds: float = 2.0) -> dict[str, Any]:
    """A last run that measures a little, then waits until the hospital acknowledged all."""
    result_file = world.work / "result.json"
    result_file.unlink(missing_ok=True)
    proc = spawn(world, "--drain", "--seconds", str(seconds))
    assert proc.wait(timeout=240) == 0, (world.work / "hub-side.log").read_text()[-3000:]
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


def assert_promise(result: dict[str, Any], min_records: int) -> None:
    assert result["drained"] is True
    assert result["device_records"] >= min_records
    assert result["device_records_missing"] == 0  # every record the devices made arrived
    assert result["duplicates"] == 0  # ... under one id only
    assert result["acked_not_at_receiver"] == 0  # nothing acknowledged that is not stored
    assert result["lost"] == 0


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("HUB_CRASH_SEED", "7")))
    with demo_world(tmp_path / "w") as world:
        for cycle in range(CYCLES):
            proc = spawn(world)
            if cycle % 3 == 0:
                time.sleep(rng.uniform(0.2, 1.2))  # the kill moment: during start-up
            else:
                running(world, proc)
                time.sleep(rng.uniform(0.0, 1.5))  # the kill moment: while measuring
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        result = drain(world)
    assert_promise(result, min_records=CYCLES)


@pytest.mark.slow
def test_sigterm_stores_every_reading_in_flight(tmp_path: Path) -> None:
    with demo_world(tmp_path / "w") as world:
        for _ in range(3):
            before = _stored_count(world)
            proc = spawn(world)
            running(world, proc)
            measured_file = world.work / "measured.json"
            measured_file.unlink(missing_ok=True)
            wait_for(lambda b=before: _stored_count(world) >= b + 3, "new readings")
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
            measured = set(json.loads(measured_file.read_text()))
            assert measured
            store = Store.open(
                world.work / "state" / "hub.db", KeySource(world.work / "state" / "data.key")
            )
            try:
                assert measured <= store.reading_ids()  # everything taken on was committed
            finally:
                store.close()
        result = drain(world)
    assert_promise(result, min_records=3)


@pytest.mark.slow
def test_broker_and_receiver_outages_and_flapping_only_delay(tmp_path: Path) -> None:
    with demo_world(tmp_path / "w") as world:
        proc = spawn(world)
        try:
            running(world, proc)
            rounds = [
                ("broker down", world.broker.stop, world.broker.start),
                ("receiver down", world.stop_receiver, world.start_receiver),
            ] + [("flap", world.broker.stop, world.broker.start)] * 3
            for _what, down, up in rounds:
                before = _stored_count(world)
                down()
                wait_for(lambda b=before: _stored_count(world) >= b + 2, "readings while down")
                up()
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        result = drain(world)
    assert_promise(result, min_records=5)


def _stored_count(world: World) -> int:
    """Readings in the hub's store, read from a second connection (clear columns only)."""
    import sqlite3

    path = world.work / "state" / "hub.db"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        try:
            return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


STATUS_KEYS = {
    "state", "hub", "time", "version", "uptime_s", "devices", "queue_depth", "disk", "clock_synced",
    "uplink", "errors", "events", "config", "schedule", "retention", "store_damage",
}  # fmt: skip


@pytest.mark.slow
def test_status_heartbeat_is_retained_and_carries_no_health_values(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from hub.testbed.world import HUB_ID
    from hub.wire import topics

    with demo_world(tmp_path / "w") as world:
        proc = spawn(world)
        try:
            running(world, proc)
            wait_for(lambda: _stored_count(world) >= 10, "readings")
            seen: list[dict[str, Any]] = []
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="status-reader")
            ctx = ssl.create_default_context(cafile=str(world.pki.ca))
            ctx.load_cert_chain(str(world.pki.receiver.cert), str(world.pki.receiver.key))
            client.tls_set_context(ctx)
            client.on_message = lambda _c, _u, m: seen.append(json.loads(m.payload))
            client.connect("127.0.0.1", world.broker.port)
            client.subscribe(topics.status(HUB_ID), qos=1)
            client.loop_start()
            try:
                wait_for(lambda: any("devices" in s for s in seen), "a retained full status")
                status = next(s for s in seen if "devices" in s)
                assert set(status) == STATUS_KEYS
                assert status["hub"] == HUB_ID and status["state"] == "online"
                assert len(status["devices"]) == 4
                assert {tuple(sorted(d)) for d in status["devices"]} == {
                    ("address", "battery", "kind", "last_seen", "name", "state")
                }
                assert status["uplink"]["enabled"] is True
                wait_for(
                    lambda: any(s.get("uplink", {}).get("last_ack") for s in seen),
                    "a status after the first acknowledgement",
                )
                acked = next(s for s in seen if s.get("uplink", {}).get("last_ack"))
                assert datetime.fromisoformat(acked["uplink"]["last_ack"]).tzinfo is not None
                assert acked["uplink"]["acked_readings"] > 0
                assert set(status["disk"]) == {"free_bytes", "low", "full", "raw_shed"}
                assert set(status["config"]) == {"version", "refused"}
                assert set(status["retention"]) == {
                    "last_purge", "purged_readings", "purged_events",
                }  # fmt: skip
                assert isinstance(status["retention"]["purged_readings"], int)
                for event in status["events"]:
                    assert set(event) == {"kind", "time", "device"}  # no text, no values
                reply = _control(world, b'{"id": 3, "op": "test-uplink"}\n')
                assert reply["ok"] and reply["result"]["problem"] == "none"
                assert reply["result"]["acked_batches"] > 0
                diagnosis = reply["result"]["diagnosis"]
                assert diagnosis["ok"] is True
                steps = [step["step"] for step in diagnosis["steps"]]
                assert steps == ["dns", "tcp", "tls", "mqtt", "access", "ack"]

                # the patient turns red: the hub knows (its own screen is told), the
                # broker's operator does not, and no log line of ours holds a value
                def red() -> bool:
                    return _control(world, b'{"id": 4, "op": "status"}\n')["result"]["attention"]

                wait_for(red, "the scripted deterioration turning the patient red")
                heard = len(seen)
                wait_for(lambda: len(seen) > heard + 1, "two retained statuses after it")
                for retained in seen:
                    assert "attention" not in retained
                    assert all(e["kind"] != "alert" for e in retained.get("events", []))
                ours = [
                    line
                    for line in (world.work / "hub-side.log").read_text().splitlines()
                    if re.match(r"(INFO|WARNING|ERROR) hub[.:]", line)
                ]
                assert ours  # the daemon's own lines were there to scan
                # the simulated patient's red values: BP 226/121, pulse 112, SpO2 86
                leaked = [line for line in ours if re.search(r"\b(226|121|112|86)\b", line)]
                assert leaked == []
                seen.clear()
                os.kill(proc.pid, signal.SIGTERM)
                assert proc.wait(timeout=60) == 0
                wait_for(lambda: {"state": "offline"} in seen, "the offline status")
            finally:
                client.loop_stop()
                client.disconnect()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def _control(world: World, line: bytes) -> dict[str, Any]:
    """One request on the hub's control socket, the way the terminal UI sends it."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(world.work / "run" / "control.sock"))
        sock.sendall(line)
        reply: dict[str, Any] = json.loads(sock.makefile("rb").readline())
        return reply
