"""What the daemon tells an observer it is given (the demo's and the benchmarks' counters).

The runtime keeps no state for them: they plug an observer into `Hooks.observer` and count
for themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hub.model import Reading


class IntakeObserver(Protocol):
    def received(self, reading: Reading) -> None:
        """A reading a device handed over, before de-duplication (live samples included)."""

    def taken(self, readings: Sequence[Reading]) -> None:
        """New readings handed to the store (each once, after de-duplication)."""

    def resent(self, device: str, reading_id: str) -> None:
        """A record the store already held came again (a device re-sent it)."""
