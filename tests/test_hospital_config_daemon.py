"""`hub hospital config` through the whole chain: the hospital signs and publishes a moved
systolic threshold, the broker delivers it retained, the running daemon (real uplink, the
simulated patient on the virtual air) verifies and applies it, and the next reading's triage
shows it. The hub and the hospital are the demo's, put into service the real way."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from enrollment_support import hub_command
from waiting import until

from hub.daemon import Daemon
from hub.model import Kind, Reading
from hub.testbed.hub_side import DemoHub
from hub.testbed.patient import CUFF, DEVICES, Script
from hub.testbed.world import HUB_ID, World

pytestmark = pytest.mark.slow
SYSTOLIC = "8480-6"  # the simulated cuff measures 128 mm[Hg]


async def _cuff(daemon: Daemon) -> list[Reading]:
    assert daemon.store is not None
    await daemon.store.flush()
    found = (await daemon.store.readings()).items
    return sorted((r for r in found if r.kind is Kind.BLOOD_PRESSURE), key=lambda r: r.received)


def test_a_published_threshold_changes_the_next_readings_triage(tmp_path: Path) -> None:
    world = World.create(tmp_path / "world")
    hospital = world.work / "hospital"
    devices = tmp_path / "devices.json"
    devices.write_text(json.dumps({"devices": [{"address": a, "kind": k, "name": n}
                                               for a, k, n in DEVICES]}))  # fmt: skip
    thresholds = tmp_path / "thresholds.json"
    config = ["hospital", "config", HUB_ID, "--dir", hospital, "--patient", "demo-patient",
              "--pathway", "general", "--devices", devices, "--thresholds", thresholds,
              "--yes"]  # fmt: skip
    script = Script(cuff_every_s=0.5, scale_every_s=3600, deteriorate_after_s=3600)

    async def scenario() -> None:
        async with DemoHub(world.config_path, tmp_path / "flash", script) as demo:
            daemon = demo.daemon
            assert daemon is not None

            async def in_force(version: int) -> bool:
                return (await daemon.status())["config"]["version"] == version

            async def levels_after(count: int) -> set[str]:
                return {r.details.get("level") for r in (await _cuff(daemon))[count:]}

            thresholds.write_text(json.dumps({SYSTOLIC: {"yellow_high": 140, "red_high": 220}}))
            await asyncio.to_thread(hub_command, *config)
            await until(lambda: in_force(1), "config version 1 in force", timeout=60)
            await until(lambda: len(demo.intake.records[CUFF]) >= 2, "cuff readings")
            assert await levels_after(0) == {"green"}  # 128 under 140

            thresholds.write_text(json.dumps({SYSTOLIC: {"yellow_high": 125, "red_high": 220}}))
            shown = await asyncio.to_thread(hub_command, *config)
            assert '"yellow_high": 125' in shown.stdout and "version 2 published" in shown.stdout
            await until(lambda: in_force(2), "config version 2 in force", timeout=60)
            taken = len(await _cuff(daemon))
            await until(lambda: len(demo.intake.records[CUFF]) >= taken + 2, "later readings")

            async def yellow_after() -> bool:
                return await levels_after(taken) == {"yellow"}

            await until(yellow_after, "the readings after version 2 yellow (128 over 125)")

    world.start()
    try:
        asyncio.run(scenario())
    finally:
        world.stop()
