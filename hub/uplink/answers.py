"""Binding the hospital's answers to what this hub sent.

An ack or refusal verifies with the hospital's key, but anyone who can write the hub's ack
topic can publish a genuine one again, and `hub test-uplink` makes the hospital ack a probe
batch the running uplink also hears. So the core acts only on answers for batches it holds
(in flight or waiting to be re-sent), a refusal once per send; anything else changes nothing
and is named in the log once (`Unexpected`). Acks that arrive while the core reads back the
batches of an earlier run wait in `ReadBack` until it knows which of them it holds.
"""

from __future__ import annotations

from hub.wire.messages import Ack

REMEMBERED = 256  # ids kept for the "once"; the oldest is forgotten first


class Unexpected:
    """Answers already named in the log as unexpected, by kind and batch id (bounded)."""

    def __init__(self, limit: int = REMEMBERED) -> None:
        self._limit = limit
        self._named: dict[tuple[bool, str | None], None] = {}

    def first(self, ack: Ack) -> bool:
        """True the first time this answer (an ack or a refusal of this batch) is seen."""
        key = (ack.ok, ack.batch)
        if key in self._named:
            return False
        self._named[key] = None
        if len(self._named) > self._limit:
            del self._named[next(iter(self._named))]
        return True

    @staticmethod
    def message(ack: Ack) -> str:
        kind = "ack" if ack.ok else f"refusal ({ack.reason})"
        batch = f"batch {ack.batch}" if ack.batch is not None else "no batch id"
        return (
            f"ignored an unexpected {kind} for {batch}: nothing in flight here awaits it "
            "(a duplicate, a replay, or a connectivity test's probe)"
        )


class ReadBack:
    """What is heard while the core reads back the batches of an earlier run (`LoadUnacked`):
    the batches it settled meanwhile (not to be queued again), and acks for batches it does
    not hold yet, `claim`ed by the batches read back (bounded)."""

    def __init__(self, limit: int = REMEMBERED) -> None:
        self._limit = limit
        self.settled: set[str] = set()
        self._early: dict[str, tuple[Ack, str]] = {}  # batch id → the ack, when it arrived

    def keep(self, ack: Ack, wall: str) -> bool:
        """Keep an ok ack with a batch id; False when it cannot be kept (a refusal, full)."""
        if not ack.ok or ack.batch is None or len(self._early) >= self._limit:
            return False
        self._early[ack.batch] = (ack, wall)
        return True

    def claim(self, batch_id: str) -> str | None:
        """When the ack of `batch_id` arrived, if one did; it is then no longer early."""
        kept = self._early.pop(batch_id, None)
        return None if kept is None else kept[1]

    def unclaimed(self) -> list[Ack]:
        """The acks no batch read back claimed."""
        return [ack for ack, _wall in self._early.values()]
