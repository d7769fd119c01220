"""The daemon in-process on the Bumble simulation: the control socket's scan and pair with a
real client, receive times corrected once the hub clock syncs, and the measurement schedule's
missed slots reported once across a restart."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from daemon_support import offline_config
from waiting import until

from hub.model import EventKind, Reading
from hub.testbed.hub_side import DemoHub
from hub.testbed.patient import CUFF, OXIMETER, SCALE, Script

TABLES = """
[[devices]]
address = "{cuff}"
kind = "blood-pressure"

[[schedule]]
kind = "weight"
times = ["{missed}"]
window_minutes = 30
early_minutes = 0
"""


async def call(path: Path, op: str, **args: Any) -> dict[str, Any]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(json.dumps({"id": 1, "op": op, "args": args}).encode() + b"\n")
        await writer.drain()
        reply: dict[str, Any] = json.loads(await reader.readline())
        return reply
    finally:
        writer.close()


def test_scan_pair_clock_correction_and_schedule(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    local_now = datetime.now(ZoneInfo("Europe/Oslo"))
    missed = (local_now - timedelta(hours=2)).strftime("%H:%M")
    if local_now.hour < 3:  # keep the slot on today's date, clearly over
        missed = "00:00"
    config = offline_config(tmp_path, TABLES.format(cuff=CUFF, missed=missed))
    synced = {"now": False}
    script = Script(cuff_every_s=1.0, scale_every_s=1.0, deteriorate_after_s=3600)
    sock = tmp_path / "run" / "control.sock"

    def hub() -> DemoHub:
        return DemoHub(
            config,
            tmp_path / "flash",
            script,
            clock_synced=lambda: synced["now"],
            housekeeping_s=0.2,
        )

    async def missed_events(demo: DemoHub) -> list[Any]:
        assert demo.daemon is not None and demo.daemon.store is not None
        return [
            e
            for e in (await demo.daemon.store.events()).items
            if e.kind is EventKind.MEASUREMENT_MISSED and e.details.get("kind") == "weight"
        ]

    async def stored(demo: DemoHub, reading_id: str) -> Reading | None:
        assert demo.daemon is not None and demo.daemon.store is not None
        found = (await demo.daemon.store.readings([reading_id])).items
        return found[0] if found else None

    async def scenario() -> None:
        async with hub() as demo:
            records = demo.intake.records
            await until(lambda: len(records[CUFF]) >= 1, "a cuff reading")
            first = sorted(records[CUFF])[0]

            async def committed() -> bool:
                return await stored(demo, first) is not None

            await until(committed, "it committed")
            before = await stored(demo, first)
            assert before is not None and before.details["clock_sync"] == "unsynced"
            assert await missed_events(demo) == []  # no schedule judged on an unsynced clock

            synced["now"] = True

            async def corrected() -> bool:
                after = await stored(demo, first)
                return after is not None and "hub-clock-corrected" in after.flags

            await until(corrected, "the receive time corrected")
            after = await stored(demo, first)
            assert after is not None
            assert abs((after.received - before.received).total_seconds()) < 5

            # yesterday's and today's slots were both missed: each reported once
            async def two_missed() -> bool:
                return len(await missed_events(demo)) == 2

            await until(two_missed, "the missed weight slots")
            keys = {e.details["key"] for e in await missed_events(demo)}
            assert len(keys) == 2

            found = await call(sock, "scan", seconds=1.5)
            assert found["ok"], found
            addresses = {d["address"] for d in found["result"]}
            assert {OXIMETER, SCALE} <= addresses  # unassigned devices nearby
            refused = await call(sock, "scan", seconds=0)
            assert not refused["ok"] and "seconds" in refused["error"]
            paired = await call(sock, "pair", address=SCALE)
            assert paired == {"id": 1, "ok": True, "result": {"paired": SCALE}}
            bad = await call(sock, "pair", address=SCALE, passkey=1_000_000)
            assert not bad["ok"] and "passkey" in bad["error"]
            nothing = await call(sock, "unassign", address="C0:00:00:00:00:99")
            assert not nothing["ok"] and "no device" in nothing["error"]

        async with hub() as demo:  # a restart reports no slot twice
            daemon = demo.daemon
            assert daemon is not None
            checks: set[str] = set()

            async def three_checks() -> bool:
                checked = (await daemon.status())["schedule"]["last_check"]
                if checked is not None:
                    checks.add(checked)
                return len(checks) >= 3

            await until(three_checks, "schedule checks")
            assert {e.details["key"] for e in await missed_events(demo)} == keys
            assert len(await missed_events(demo)) == 2

    asyncio.run(scenario())
