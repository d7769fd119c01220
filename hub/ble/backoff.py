"""Reconnect delays: exponential backoff with jitter (pure)."""

from __future__ import annotations


def reconnect_delay(
    attempt: int, *, base_s: float, cap_s: float, jitter: float, rand: float
) -> float:
    """Seconds to wait before reconnect `attempt` (0 = first retry).

    `rand` in [0, 1) spreads devices that dropped together so they do not all retry at the
    same instant; `jitter` is the fraction of the delay that is randomised."""
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt, 32))
    return ceiling * (1.0 - jitter * rand)
