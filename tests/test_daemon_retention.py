"""Retention in the running daemon: at start and then on its interval, acknowledged readings
older than `retention_days` are purged in bounded steps while the devices' readings keep
being stored; unacknowledged rows of any age stay; the status shows the last purge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon_support import offline_config
from store_support import readings
from waiting import until

from hub import config as hub_config
from hub.store import Store, StoreOptions, admin
from hub.testbed.hub_side import DemoHub
from hub.testbed.patient import CUFF, Script

TABLES = f"""
[[devices]]
address = "{CUFF}"
kind = "blood-pressure"
"""
OLD = 5_000  # acknowledged and 30 days old: more than two of the daemon's purge steps


def test_the_daemon_purges_old_acknowledged_rows_in_steps_while_intake_goes_on(
    tmp_path: Path,
) -> None:
    config = offline_config(tmp_path, TABLES)
    month_ago = datetime.now(UTC) - timedelta(days=30)
    parsed = hub_config.load(config)
    parsed.store_path.parent.mkdir(parents=True)
    key = admin.key_source(parsed)
    with Store.open(parsed.store_path, key, StoreOptions(retention_days=7)) as store:
        old = readings(OLD + 3, received=month_ago)
        store.add(old, urgent=True)
        batch = store.next_batch(OLD)
        assert batch is not None
        store.acknowledge(batch.id)
        unsent = {r.id for r in old[OLD:]}  # as old, never acknowledged
        assert store.queue_depth() == 3

    script = Script(cuff_every_s=0.3, scale_every_s=3600, deteriorate_after_s=3600)

    async def scenario() -> None:
        async with DemoHub(config, tmp_path / "flash", script, retention_s=3.0) as demo:
            daemon = demo.daemon
            assert daemon is not None and daemon.store is not None

            async def purged() -> bool:
                return (await daemon.status())["retention"]["purged_readings"] == OLD

            await until(purged, "the start's purge")
            first = (await daemon.status())["retention"]["last_purge"]
            taken = len(demo.intake.records[CUFF])
            await until(lambda: len(demo.intake.records[CUFF]) >= taken + 2, "intake going on")

            async def purge_again() -> bool:  # retention runs again on its interval
                return (await daemon.status())["retention"]["last_purge"] != first

            await until(purge_again, "a later purge")
            status = await daemon.status()
            assert status["retention"]["purged_readings"] == 0  # nothing old left
            await daemon.store.flush()
            left = {r.id for r in (await daemon.store.readings()).items}
            assert unsent <= left  # unacknowledged rows of any age stay
            assert not {r.id for r in old[:OLD]} & left
            assert demo.intake.records[CUFF] <= left  # everything taken meanwhile is stored

    asyncio.run(scenario())
