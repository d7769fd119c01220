"""At most N simultaneous connections, and short-lived devices first.

A cuff advertises for a few seconds after a measurement; if every slot is held by streaming
devices it would be missed. A short-lived device that finds the slots full asks one long-lived
holder to yield; that device reconnects later (it keeps advertising)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class _Holder:
    preemptible: bool
    asked: asyncio.Event = field(default_factory=asyncio.Event)


class ConnectionSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._holders: dict[str, _Holder] = {}
        self._changed = asyncio.Condition()
        self._urgent = 0  # short-lived devices waiting: long-lived ones queue behind them

    @property
    def held(self) -> int:
        return len(self._holders)

    def _ask_one_to_yield(self) -> None:
        victim = next(
            (h for h in self._holders.values() if h.preemptible and not h.asked.is_set()), None
        )
        if victim is not None:
            victim.asked.set()

    @contextlib.asynccontextmanager
    async def hold(self, address: str, *, preemptible: bool) -> AsyncIterator[asyncio.Event]:
        """Hold a slot for `address`; the yielded event is set when the holder should let go."""
        holder = _Holder(preemptible)
        async with self._changed:
            if not preemptible:
                self._urgent += 1
            try:
                while len(self._holders) >= self.limit or (preemptible and self._urgent):
                    if not preemptible:
                        self._ask_one_to_yield()
                    await self._changed.wait()
            finally:
                if not preemptible:
                    self._urgent -= 1
                    self._changed.notify_all()
            self._holders[address] = holder
        try:
            yield holder.asked
        finally:
            async with self._changed:
                self._holders.pop(address, None)
                self._changed.notify_all()
