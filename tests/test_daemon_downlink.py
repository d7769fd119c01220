"""The hospital's signed config applied by the running daemon (in-process, simulated devices):
its device assignments connect the device, a moved threshold changes the triage of the next
reading, a bad config is refused whole while the one in force keeps working, and every
applied config is in the config history and kept on disk as it was signed."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from daemon_support import offline_config
from waiting import until

from hub.daemon import Daemon
from hub.model import Kind, Reading
from hub.testbed.hub_side import DemoHub
from hub.testbed.patient import CUFF, Script
from hub.wire.messages import DownlinkConfig, sign_message

TABLES = """
[patient]
pathway = "general"

[triage]
repeat_before_red = 0
"""
HOSPITAL = Ed25519PrivateKey.generate()
SYSTOLIC = "8480-6"  # the simulated cuff measures 128 mm[Hg]


def signed(version: int, **changes: Any) -> tuple[DownlinkConfig, bytes]:
    fields: dict[str, Any] = {
        "hub": "hub-a",
        "version": version,
        "patient": "p-77",
        "pathway": "general",
        "thresholds": {SYSTOLIC: {"red_low": 90, "yellow_high": 140, "red_high": 220}},
        "schedule": (),
        "devices": ({"address": CUFF, "kind": "blood-pressure"},),
    }
    config = DownlinkConfig(**{**fields, **changes})
    return config, sign_message(config.body(), HOSPITAL)


async def cuff_readings(daemon: Daemon) -> list[Reading]:
    assert daemon.store is not None
    await daemon.store.flush()
    found = (await daemon.store.readings()).items
    return sorted((r for r in found if r.kind is Kind.BLOOD_PRESSURE), key=lambda r: r.received)


def test_the_hospitals_config_assigns_devices_moves_thresholds_and_bad_ones_are_refused(
    tmp_path: Path,
) -> None:
    config = offline_config(tmp_path, TABLES)
    script = Script(cuff_every_s=0.5, scale_every_s=3600, deteriorate_after_s=3600)

    async def scenario() -> None:
        async with DemoHub(config, tmp_path / "flash", script) as demo:
            daemon = demo.daemon
            assert daemon is not None and daemon.store is not None
            assert (await daemon.status())["devices"] == []  # nothing assigned by the file

            v1, raw1 = signed(1)
            daemon.downlink_config(v1, raw1)
            await until(lambda: len(demo.intake.records[CUFF]) >= 1, "the assigned cuff's reading")
            status = await daemon.status()
            assert [d["address"] for d in status["devices"]] == [CUFF]
            assert status["config"] == {"version": 1, "refused": None}

            async def levels_seen(level: str) -> bool:
                return any(r.details.get("level") == level for r in await cuff_readings(daemon))

            await until(lambda: levels_seen("green"), "a green reading at 128 under 140")
            assert not await levels_seen("yellow")

            # the same patient, the threshold moved under the cuff's 128: the next is yellow
            bands = {SYSTOLIC: {"red_low": 90, "yellow_high": 125, "red_high": 220}}
            v2, raw2 = signed(2, thresholds=bands)
            daemon.downlink_config(v2, raw2)

            async def applied(version: int) -> bool:
                return (await daemon.status())["config"]["version"] == version

            await until(lambda: applied(2), "version 2 in force")
            taken = len(demo.intake.records[CUFF])
            await until(lambda: len(demo.intake.records[CUFF]) >= taken + 2, "later readings")
            await until(lambda: levels_seen("yellow"), "a yellow reading at 128 over 125")
            readings = await cuff_readings(daemon)
            first_yellow = next(i for i, r in enumerate(readings) if r.details["level"] == "yellow")
            assert all(r.details["level"] == "yellow" for r in readings[first_yellow:])

            # one bad schedule entry: version 3 is refused whole, version 2 stays in force
            bad_schedule = ({"kind": "not-a-kind", "times": ["08:00"]},)
            v3, raw3 = signed(3, devices=(), schedule=bad_schedule)
            daemon.downlink_config(v3, raw3)

            async def refused() -> bool:
                return (await daemon.status())["config"]["refused"] is not None

            await until(refused, "version 3 refused")
            status = await daemon.status()
            assert status["config"] == {
                "version": 2,
                "refused": {"version": 3, "key": "schedule[0].kind"},
            }
            assert [d["address"] for d in status["devices"]] == [CUFF]  # devices untouched
            assert any("version 3 refused whole" in e for e in status["errors"])
            taken = len(demo.intake.records[CUFF])
            await until(lambda: len(demo.intake.records[CUFF]) > taken, "the cuff still read")

            history = await daemon.store.config_history()
            assert [(h.version, h.source) for h in history][-2:] == [
                ("1", "downlink"),
                ("2", "downlink"),
            ]
            assert history[-1].sha256 == hashlib.sha256(raw2).hexdigest()
            assert history[0].version == "file"
            assert await daemon.store.kept_downlink() == raw2  # kept as signed, sealed
        written = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
        assert b"p-77" not in written  # the pseudonym is nowhere in clear on the SD card

    asyncio.run(scenario())
