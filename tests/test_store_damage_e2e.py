"""A truncated hub.db at start, the whole chain running (broker, receiver, hub process): the
salvaged readings arrive at the receiver, the loss is counted, and the status says so."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from store_support import reading
from test_pulled_plug import demo_world, drain, running, spawn

from hub.model import EventKind, Kind
from hub.store import KeySource, Store
from hub.testbed.patient import CUFF
from hub.testbed.promise import receiver_view
from hub.ui.client import ControlClient

N = 4000


@pytest.mark.slow
def test_salvaged_readings_of_a_truncated_database_reach_the_receiver(tmp_path: Path) -> None:
    with demo_world(tmp_path / "w") as world:
        state = world.work / "state"
        proc = spawn(world)  # a first run makes the store and its key, as a hub in use has
        running(world, proc)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0

        # Unacknowledged readings, as after an outage, then the file cut short.
        made = [reading(Kind.BLOOD_PRESSURE, device=CUFF, value=100.0 + i % 60) for i in range(N)]
        with Store.open(state / "hub.db", KeySource(state / "data.key")) as store:
            store.add(made)
            store.flush()
        db = state / "hub.db"
        os.truncate(db, db.stat().st_size * 6 // 10)

        proc = spawn(world)
        try:
            running(world, proc)
            status = asyncio.run(ControlClient(world.work / "run" / "control.sock").status())
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        damage = status["store_damage"]
        assert damage is not None and 0 < damage["salvaged"] < N
        assert any("store damaged" in e for e in status["errors"])  # the fleet view shows it
        result = drain(world)
        assert result["drained"] is True

    received, _ = receiver_view(world.receiver_db)
    ours = {r.id for r in made}
    # Every salvaged reading arrived; what did not is what was counted as lost.
    assert len(ours & received) == damage["salvaged"]
    assert damage["lost"] <= N - damage["salvaged"] <= damage["lost_at_most"]
    with Store.open(state / "hub.db", KeySource(state / "data.key")) as store:
        reported = [e for e in store.events().items if e.kind is EventKind.ERROR]
    assert any(e.details.get("salvaged") == damage["salvaged"] for e in reported)
    log = (world.work / "hub-side.log").read_text()
    assert log.count("readings salvaged into a new database") == 1
