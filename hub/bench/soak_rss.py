"""`python -m hub.bench.soak_rss CONFIG WARMUP_S MEASURED_S`: the daemon's memory over
simulated hours of streaming; prints one JSON object.

Its own process, so that nothing the bench allocated before (aged stores, the simulated
patient) is in the figure or in the allocator's free lists. The daemon's own intake and
pipeline (`hub.daemon.intake.Intake`, `hub.daemon.pipeline.Pipeline`, its `EventLog`, the
store behind its `StoreOwner`) take what the oximeter and the band send, one simulated second
at a time, decoded by the real decoders; after each second the pipeline is ticked and what it
closed written, as the daemon's `StreamTick` does, but with the simulated time. The event log
is written out every simulated minute (the daemon's writer task runs whenever the loop idles,
which a loop driven flat out never does). RSS is read after the warm-up and then every
simulated hour.

The store should hold more than SQLite's page cache (2 MiB a connection by default), as a
hub's does after a few days: the integrity check at open then fills the cache at once. On an
empty store the cache fills as the database grows, about 2 MiB over the first half day of
streaming, and stops there — bounded, but it would read as growth.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.bench.soak_age import live_second
from hub.bench.soak_daemon import always_synced
from hub.daemon import load_config
from hub.daemon.clockwatch import ClockWatch
from hub.daemon.events import EventLog
from hub.daemon.intake import DeviceDirectory, Intake
from hub.daemon.pipeline import Pipeline
from hub.daemon.secret import load_secret
from hub.ids import IdMinter
from hub.store import admin

HOUR_S = 3600


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def stream(config: Path, warmup_s: int, measured_s: int) -> dict[str, object]:
    in_force = load_config(config)
    cfg, rules = in_force.cfg, in_force.rules
    ids = IdMinter(load_secret(cfg.hub.data_dir / "ids.secret"))
    store = await admin.open_owner(cfg)
    pipeline = Pipeline(rules.profile, rules.settings, ids)
    events = EventLog()
    intake = Intake(pipeline, store, events, ClockWatch(always_synced), DeviceDirectory())
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    began = time.monotonic()
    hourly: list[int] = []
    try:
        for second in range(warmup_s + measured_s + 1):
            now = start + timedelta(seconds=second)
            for reading in live_second(ids, now):
                await intake.take(reading)
            await intake.write(pipeline.tick(now, clock_synced=True))
            if second % 60 == 0:
                await events.flush(store)
            if second >= warmup_s and (second - warmup_s) % HOUR_S == 0:
                hourly.append(rss_kib())
        await store.flush()
    finally:
        await events.flush(store)
        await store.close()
    return {
        "simulated_s": warmup_s + measured_s,
        "wall_s": time.monotonic() - began,
        "stored": intake.taken,
        "rss_kib_hourly": hourly,
    }


def main() -> None:
    config, warmup_s, measured_s = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(stream(config, warmup_s, measured_s))))


if __name__ == "__main__":
    main()
