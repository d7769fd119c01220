"""`hub demo`: the whole chain on one machine — simulated devices, the hub daemon, a local
Mosquitto with a throw-away PKI, and the hospital's receiver — with a live summary, or one JSON
object at the end that says whether every measured reading arrived once.

Everything lives in one temporary directory (kept with `--keep DIR`); the broker and the
receiver are child processes stopped by their pid, so nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from hub import extras

extras.require("demo", "bumble")  # the simulated devices; before the harness imports them

from hub.testbed.hub_side import DemoHub  # noqa: E402
from hub.testbed.promise import hub_store_ids, promise  # noqa: E402
from hub.testbed.world import DemoError, World, check_mosquitto  # noqa: E402

__all__ = ["DemoError", "main"]

DRAIN_S = 90.0


def main(*, seconds: float | None, as_json: bool, keep: Path | None) -> int:
    """Run the demo; 0 when it kept its promise (nothing lost, nothing twice), else 1."""
    check_mosquitto()
    if seconds is not None and seconds <= 0:
        raise DemoError("--seconds must be positive")
    work = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="hub-demo-"))
    try:
        work.mkdir(parents=True, exist_ok=True)
        _log_to(work / "hub.log")
        world = World.create(work)
        try:
            world.start()
            result = asyncio.run(_run(world, seconds, as_json))
        finally:
            world.stop()
            logging.shutdown()
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if as_json:
        print(json.dumps(result))
    else:
        print(_final_text(result, keep))
    return 0 if result["ok"] else 1


def _log_to(path: Path) -> None:
    """The daemon's log lines go to a file: the terminal shows the summary."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


async def _run(world: World, seconds: float | None, as_json: bool) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with DemoHub(world.config_path, world.work / "devices") as demo:
            started = loop.time()
            if not as_json:
                print(f"hub demo: working in {world.work}; Ctrl-C ends it", flush=True)
            while not stop.is_set() and (seconds is None or loop.time() - started < seconds):
                if not as_json:
                    print(await _live_line(demo, loop.time() - started), flush=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            if not as_json:
                print("draining: waiting for the hospital to acknowledge everything", flush=True)
            drained = await demo.drain(DRAIN_S)
            attention = await _attention(demo)
            elapsed = loop.time() - started
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return _result(world, demo, drained, attention, elapsed)


async def _status(demo: DemoHub) -> dict[str, Any]:
    assert demo.daemon is not None
    return await demo.daemon.status()


async def _attention(demo: DemoHub) -> bool:
    """Whether the daemon's triage asks the hospital to look at the patient (red)."""
    return bool((await _status(demo))["attention"])


async def _live_line(demo: DemoHub, elapsed: float) -> str:
    status = await _status(demo)
    acked = status["uplink"].get("acked_readings", 0)
    levels = demo.intake.levels
    return (
        f"[{elapsed:5.0f} s] measured {len(demo.intake.measured_ids):5d}  "
        f"waiting {status['queue_depth']:4d}  acknowledged {acked:5d}  "
        f"green/yellow/red {levels['green']}/{levels['yellow']}/{levels['red']}  "
        f"patient {'red' if status['attention'] else '-'}"
    )


def _result(
    world: World, demo: DemoHub, drained: bool, attention: bool, elapsed: float
) -> dict[str, Any]:
    """Counted after the daemon stopped: its store is read as the configuration opens it."""
    assert demo.patient is not None
    stored, acked = hub_store_ids(world.config_path)
    result = promise(demo.intake.measured_ids, stored, acked, demo.patient.flash, world.receiver_db)
    result.update(
        levels={k: v for k, v in demo.intake.levels.items() if k != "none"},
        patient="red" if attention else "not red",
        streamed_frames=demo.patient.streamed,
        seconds=round(elapsed, 1),
        drained=drained,
    )
    result["ok"] = bool(
        drained
        and result["lost"] == 0
        and result["duplicates"] == 0
        and result["device_records_missing"] == 0
        and result["acked"] == result["measured"]
    )
    return result


def _final_text(result: dict[str, Any], keep: Path | None) -> str:
    verdict = "kept" if result["ok"] else "NOT kept"
    lines = [
        f"measured {result['measured']}, stored {result['stored']}, delivered "
        f"{result['delivered']}, acknowledged {result['acked']}, lost {result['lost']}, "
        f"duplicates {result['duplicates']}",
        f"triage levels {result['levels']}, patient {result['patient']}",
        f"promise (every measured reading at the hospital exactly once): {verdict}",
    ]
    if keep is not None:
        lines.append(f"kept {keep}; the receiver's database is {keep / 'receiver.db'}")
    return "\n".join(lines)
