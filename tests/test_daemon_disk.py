"""Disk floor reached: raw streams are shed first, spot readings and summaries are kept,
nothing unacknowledged is deleted, and the status says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from daemon_support import offline_config
from waiting import until

from hub.model import EventKind, Kind
from hub.testbed.hub_side import DemoHub
from hub.testbed.patient import BAND, CUFF, DEVICES, OXIMETER, SCALE, Script

TABLES = """
[ble]
max_connections = 4

[patient]
pathway = "news2"
"""


def test_full_disk_sheds_raw_streams_only(tmp_path: Path) -> None:
    devices = "".join(f'\n[[devices]]\naddress = "{a}"\nkind = "{k}"\n' for a, k, _name in DEVICES)
    config = offline_config(tmp_path, TABLES + devices, floor_mb=64)
    free = {"bytes": 10 * 2**30}

    async def scenario() -> None:
        script = Script(cuff_every_s=1.0, scale_every_s=1.5, deteriorate_after_s=3600)
        async with DemoHub(
            config, tmp_path / "flash", script, free_bytes=lambda _p: free["bytes"]
        ) as demo:
            daemon = demo.daemon
            assert daemon is not None and daemon.store is not None
            store, intake = daemon.store, demo.intake
            await until(lambda: len(intake.measured_ids) >= 4, "readings with room")
            await store.flush()
            before = {r.id for r in (await store.readings()).items}
            free["bytes"] = 1 * 2**20  # 1 MB free, floor 64 MB
            records_before = {a: len(intake.records[a]) for a in (CUFF, SCALE)}
            await until(
                lambda: (
                    len(intake.records[CUFF]) >= records_before[CUFF] + 2
                    and len(intake.records[SCALE]) >= records_before[SCALE] + 1
                ),
                "spot records under the floor",
            )
            await daemon.quiesce()  # closes the minutes in progress: their blocks are shed

            async def shed() -> bool:
                return (await store.status()).shed >= 2

            await until(shed, "raw sample blocks shed")
            status = await daemon.status()
            assert status["disk"]["low"] is True
            assert status["disk"]["raw_shed"] >= 2
            await store.flush()
            after = await store.readings()
            assert before <= {r.id for r in after.items}  # nothing unacknowledged was deleted
            new = [r for r in after.items if r.id not in before]
            kinds = {r.kind for r in new}
            assert Kind.BLOOD_PRESSURE in kinds and Kind.WEIGHT in kinds
            assert Kind.STREAM_BLOCK not in kinds  # raw shed first
            assert {r.device for r in new if r.kind is Kind.SUMMARY} == {OXIMETER, BAND}
            events = (await store.events()).items
            assert any(e.kind is EventKind.STATUS and "disk space low" in e.message for e in events)

    asyncio.run(scenario())
