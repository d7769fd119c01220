"""Pure decisions of the uplink: what a failure means, how long to wait, when a batch closes."""

from __future__ import annotations

import enum
import random

from hub.uplink.settings import UplinkSettings

NOT_AUTHORIZED = 0x87
_AUTH_CONNACK = frozenset({0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C})  # version, id, creds, auth, banned


class Problem(enum.StrEnum):
    """Why the uplink is not delivering. AUTH and NOT_AUTHORIZED need a person (a new
    certificate, a fixed ACL): retrying fast only hammers the broker."""

    NONE = "none"
    OUTAGE = "outage"  # broker or network unreachable: retry with backoff
    AUTH = "auth"  # TLS or MQTT authentication refused: retry slowly
    NOT_AUTHORIZED = "not-authorized"  # a publish was refused (PUBACK 0x87): alarm
    REFUSED = "refused"  # the hospital refused a batch (its ack names the reason)


def connack_problem(reason: int) -> Problem:
    """What a failed CONNACK (reason >= 0x80) means."""
    return Problem.AUTH if reason in _AUTH_CONNACK else Problem.OUTAGE


def retry_delay(
    problem: Problem, attempt: int, *, base: float, cap: float, slow: float, rand: float
) -> float:
    """Seconds until the next connection attempt; `rand` is uniform in [0, 1).

    Outages: exponential backoff with full jitter (uniform between 0 and min(cap, base·2ⁿ)),
    so a fleet of hubs does not reconnect in lockstep after a broker restart. Authentication
    problems: the slow interval, jittered by up to a quarter of it."""
    if problem in (Problem.AUTH, Problem.NOT_AUTHORIZED):
        return slow * (0.75 + 0.25 * rand)
    return rand * min(cap, base * 2.0 ** min(attempt, 62))


def batch_due(rows: int, *, batch_max: int, aged: bool, urgent: bool) -> bool:
    """Close a batch at `batch_max` readings, once the oldest waited `batch_seconds` (`aged`),
    or at once for an urgent (red) reading."""
    return rows > 0 and (urgent or rows >= batch_max or aged)


class Backoff:
    """When the next connection attempt is due, after `failed` ones (see `retry_delay`)."""

    def __init__(self, settings: UplinkSettings, rng: random.Random) -> None:
        self._base, self._cap = settings.backoff_base_s, settings.backoff_max_s
        self._slow, self._rng = settings.auth_retry_s, rng
        self._attempt = 0
        self.retry_in = 0.0  # the wait the last failure scheduled
        self.retry_at = 0.0

    def failed(self, now: float, problem: Problem) -> None:
        self._attempt += 1
        self.retry_in = retry_delay(
            problem,
            self._attempt,
            base=self._base,
            cap=self._cap,
            slow=self._slow,
            rand=self._rng.random(),
        )
        self.retry_at = now + self.retry_in

    def succeeded(self) -> None:
        self._attempt = 0
