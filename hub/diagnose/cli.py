"""`hub diagnose`: the connectivity test from the command line, each step printed as it ends
(or, with `--json`, one object at the end). Exit status 0 when every step passed, 1 at the
first failure; a configuration the test cannot start from is the caller's exit 2."""

from __future__ import annotations

import asyncio
import json
from typing import TextIO

from hub.config import Config
from hub.diagnose.run import BrokerSettings, HubKeys, diagnose
from hub.diagnose.verdicts import StepResult, report_json
from hub.uplink.setup import keys_from, settings_from


def run(config: Config, *, as_json: bool, out: TextIO, source: str = "<config>") -> int:
    """Raises ConfigError when the uplink's files are not configured or unreadable."""
    settings, keys = settings_from(config, source), keys_from(config, source)
    results = asyncio.run(_steps(settings, keys, None if as_json else out))
    report = report_json(results)
    if as_json:
        print(json.dumps(report), file=out)
    return 0 if report["ok"] else 1


async def _steps(settings: BrokerSettings, keys: HubKeys, out: TextIO | None) -> list[StepResult]:
    results = []
    async for result in diagnose(settings, keys):
        results.append(result)
        if out is not None:
            print(render(result), file=out, flush=True)
    return results


def render(result: StepResult) -> str:
    """One step for a terminal: the mark is a word, never only a colour."""
    mark = "ok    " if result.ok else "FAILED"
    lines = [f"{mark} {result.step.value:<6} {result.said}"]
    if not result.ok:
        lines += [f"       What to do: {result.todo}", f"       Detail: {result.detail}"]
    return "\n".join(lines)
