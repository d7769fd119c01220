"""`python -m hub.testbed.hub_process --work DIR`: only the hub side (daemon and simulated
devices in one process, on the configuration a `World` wrote in DIR), for tests that kill it.

Until SIGTERM (then it writes DIR/measured.json: the readings it took on, so a test can check
they were all stored), or with `--drain`: measure for `--seconds`, drain, and write
DIR/result.json with the demo's promise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from hub.lean import block_unused_imports

block_unused_imports()  # as `hub run` does; before the store is imported

from hub.daemon import log_to_stdout  # noqa: E402
from hub.testbed.hub_side import DemoHub  # noqa: E402
from hub.testbed.patient import Script  # noqa: E402
from hub.testbed.promise import hub_store_ids, promise  # noqa: E402


async def _run(work: Path, script: Script, drain: bool, seconds: float) -> None:
    log_to_stdout()  # as `hub run` logs, so the tests can read (and scan) the daemon's lines
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with DemoHub(work / "hub.toml", work / "devices", script) as demo:
        assert demo.daemon is not None
        if not drain:
            await stop.wait()
            await demo.daemon.quiesce()
            (work / "measured.json").write_text(json.dumps(sorted(demo.intake.measured_ids)))
            return
        if seconds > 0:
            await asyncio.sleep(seconds)
        drained = await demo.drain(120.0)
    assert demo.patient is not None
    stored, acked = hub_store_ids(work / "hub.toml")
    result = promise(
        demo.intake.measured_ids, stored, acked, demo.patient.flash, work / "receiver.db"
    )
    result["drained"] = drained
    (work / "result.json").write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.testbed.hub_process")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--drain", action="store_true")
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--every", type=float, default=4.0, help="seconds between cuff records")
    args = parser.parse_args()
    script = Script(cuff_every_s=args.every, scale_every_s=args.every * 1.5)
    asyncio.run(_run(args.work, script, args.drain, args.seconds))


if __name__ == "__main__":
    main()
