"""Waiting on conditions in tests: poll until true, or fail naming what never happened.

Deadlines are generous on purpose (a loaded 2-core CI machine); nothing here measures time.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

DEADLINE_S = 90.0


def wait_for(check: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def until(
    check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = DEADLINE_S
) -> None:
    """`check` may be a coroutine function (e.g. asking the daemon's store)."""
    deadline = time.monotonic() + timeout
    while not await _holds(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _holds(check: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = check()
    return bool(await result) if inspect.isawaitable(result) else bool(result)
