"""A model world for the uplink core's tests: an outbox, a broker connection and a hospital,
all in memory, driven input by input. It carries out the core's actions as the edge would
(store reads are answered when the test says so, so they can interleave with everything else)
and checks, on every action, what must never happen: a row acknowledged without the
hospital's ack of its batch, a batch id re-sent with other content, two outbox reads at once;
and on every answer on the ack topic, that one the core does not expect (no batch it holds, a
second refusal of the same send, a replay) changes nothing and is logged at most once.
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.model import EventKind
from hub.uplink.core import UplinkCore
from hub.uplink.events import (
    Acknowledge,
    Acknowledged,
    Action,
    BatchRead,
    BatchSealed,
    Closed,
    ConfigVerified,
    Connect,
    Connected,
    CountUnsent,
    Disconnect,
    FetchBatch,
    Input,
    LoadUnacked,
    Publish,
    Received,
    Report,
    Seal,
    Sealed,
    SocketOpened,
    Start,
    Subscribe,
    Tick,
    UnackedLoaded,
    UnsentCounted,
    Wake,
    Warn,
)
from hub.uplink.settings import UplinkSettings
from hub.wire import topics
from hub.wire.messages import Ack, parse_ack, sign_message

REFUSED = "bad-envelope"
UNEXPECTED = "ignored an unexpected"

HUB = "hub-a"
HOSPITAL = Ed25519PrivateKey.generate()
WALL = datetime(2026, 12, 1, 12, tzinfo=UTC)


def settings(**overrides: object) -> UplinkSettings:
    base: dict[str, object] = {
        "hub": HUB, "host": "broker", "port": 8883, "ca": Path("ca.crt"), "cert": None,
        "key": None, "batch_max": 5, "batch_seconds": 1.0, "ack_timeout_s": 3.0, "window": 3,
        "backoff_base_s": 0.1, "backoff_max_s": 2.0, "auth_retry_s": 10.0,
        "connect_timeout_s": 4.0,
    }  # fmt: skip
    base.update(overrides)
    return UplinkSettings(**base)  # type: ignore[arg-type]


def signed_ack(
    batch: str | None, *, ok: bool = True, reason: str = "", key: Ed25519PrivateKey = HOSPITAL
) -> bytes:
    ack = Ack(HUB, batch, ok, stored=1 if ok else 0, reason=reason)
    return sign_message(ack.body(), key)


def envelope(batch_id: str, rows: tuple[int, ...]) -> bytes:
    return f"{batch_id}:{','.join(map(str, rows))}".encode()


@dataclass(frozen=True)
class RawBatch:
    """A batch as the model outbox gives it: row numbers stand in for the readings."""

    id: str
    sequence: int
    readings: tuple[int, ...]

    def sealed(self) -> Sealed:
        return Sealed(self.id, self.sequence, len(self.readings), envelope(self.id, self.readings))


class ModelOutbox:
    """Rows numbered in arrival order; a row is new, in a batch, or acknowledged."""

    def __init__(self) -> None:
        self.batch_of: dict[int, str | None] = {}
        self.acked: set[int] = set()
        self.batches: dict[str, tuple[int, ...]] = {}  # in sequence order
        self.acked_batches: set[str] = set()
        self._sequence = 0

    def add(self, n: int) -> None:
        start = len(self.batch_of)
        for row in range(start, start + n):
            self.batch_of[row] = None

    def next_batch(self, limit: int) -> RawBatch | None:
        rows = tuple(r for r, b in self.batch_of.items() if b is None)[:limit]
        if not rows:
            return None
        self._sequence += 1
        batch_id = f"b{self._sequence}"
        self.batches[batch_id] = rows
        for row in rows:
            self.batch_of[row] = batch_id
        return RawBatch(batch_id, self._sequence, rows)

    def unacked(self) -> tuple[Sealed, ...]:
        return tuple(
            RawBatch(b, int(b[1:]), rows).sealed()
            for b, rows in self.batches.items()
            if b not in self.acked_batches
        )

    def acknowledge(self, batch_id: str) -> int:
        if batch_id not in self.batches or batch_id in self.acked_batches:
            return 0
        self.acked_batches.add(batch_id)
        self.acked.update(self.batches[batch_id])
        return len(self.batches[batch_id])

    def unsent_count(self) -> int:
        return sum(1 for b in self.batch_of.values() if b is None)

    def unacked_rows(self) -> set[int]:
        return set(self.batch_of) - self.acked


@dataclass
class Read:
    action: Action
    answer: Input | None = None  # set once the store carried it out


@dataclass
class World:
    """One core (replaced on restart) over a model outbox, broker and hospital."""

    settings: UplinkSettings
    seed: int = 0
    outbox: ModelOutbox = field(default_factory=ModelOutbox)
    now: float = 1000.0

    def __post_init__(self) -> None:
        self.hospital_acked: set[str] = set()
        self.content: dict[str, bytes] = {}  # the first envelope sent under each batch id
        self.answers: list[bytes] = []  # every signed answer delivered, to replay
        self.reports: list[Report] = []
        self.configs: list[ConfigVerified] = []
        self.status: list[bytes] = []  # payloads published on the status topic
        self.restart()

    def restart(self) -> None:
        """A new core over the same outbox, as after the hub process was killed."""
        self.core = UplinkCore(self.settings, HOSPITAL.public_key(), random.Random(self.seed))
        self.seed += 1
        self.reads: collections.deque[Read] = collections.deque()
        self.seals: collections.deque[RawBatch] = collections.deque()  # asked for, not done
        self.connecting = False
        self.connected = False
        self.unpubacked: list[str] = []
        self.sent_at: dict[str, float] = {}  # refs published on this connection → when
        self.refused: set[str] = set()  # refs refused since this core last sent them
        self.unexpected: list[str] = []  # this core's log lines about unexpected answers
        self.must_load = True  # until this core read the unacknowledged batches
        self.feed(Start(self.now))

    # ---------------------------------------------------------------- driving

    def feed(self, event: Input) -> list[Action]:
        actions = self.core.handle(event)
        answers = [self._carry_out(action) for action in actions]
        for answer in answers:
            if answer is not None:
                self.feed(answer)
        return actions

    def new_rows(self, n: int, *, urgent: bool = False) -> None:
        """The hub stores `n` rows and wakes the core, as the daemon's intake does."""
        self.outbox.add(n)
        self.feed(Wake(self.now, urgent))

    def answer_reads(self) -> None:
        """The store answers every read and the edge seals every batch, until the core asks
        for no more."""
        while self.reads or self.seals:
            if self.reads:
                self.answer_read()
            else:
                self.seal()

    def seal(self) -> None:
        """The edge seals the oldest batch it was asked to."""
        self.feed(BatchSealed(self.now, self.seals.popleft().sealed()))

    def store_reads(self) -> None:
        """The store carries out the outstanding read (its answer is not delivered yet)."""
        read = self.reads[0]
        if read.answer is None:
            read.answer = self._execute(read.action)

    def answer_read(self) -> None:
        """The outstanding read's answer reaches the core (carried out first if need be)."""
        self.store_reads()
        answer = self.reads.popleft().answer
        assert answer is not None
        self.feed(answer)

    def connect(self, receive_maximum: int = 65_535) -> list[Action]:
        assert self.connecting
        self.feed(SocketOpened(self.now))
        self.connecting, self.connected = False, True
        return self.feed(Connected(self.now, receive_maximum))

    def hospital_ack(
        self, batch_id: str | None, *, ok: bool = True, wall: datetime = WALL
    ) -> list[Action]:
        """The hospital's signed answer to a batch, delivered over the current connection."""
        if ok and batch_id is not None:
            self.hospital_acked.add(batch_id)
        return self.deliver(signed_ack(batch_id, ok=ok, reason="" if ok else REFUSED), wall)

    def deliver(self, payload: bytes, wall: datetime = WALL) -> list[Action]:
        """A genuine answer on the ack topic (the hospital's, or anyone's replay of one). The
        core acts on it only for a batch it holds, a refusal once per send; any other answer
        changes nothing and is logged at most once (checked here)."""
        assert self.connected
        ack = parse_ack(payload, HOSPITAL.public_key(), HUB)
        held = ack.batch in self.core.in_flight or ack.batch in self.core.pending
        expected = held and (ack.ok or ack.batch not in self.refused)
        before = self.observable()
        self.answers.append(payload)
        actions = self.feed(Received(self.now, wall, topics.ack(HUB), payload))
        if not expected:
            assert self.observable() == before, f"an unexpected answer changed state: {ack}"
            assert all(isinstance(a, Warn) for a in actions) and len(actions) <= 1, actions
        elif ack.ok:
            assert Acknowledge(ack.batch) in actions and self.core.last_ack == wall.isoformat()
        else:
            assert self.core.stats.refusals[REFUSED] == before[0].refusals[REFUSED] + 1
            assert any(isinstance(a, Report) and a.kind is EventKind.ALERT for a in actions)
            self.refused.add(ack.batch)
        return actions

    def observable(self) -> tuple[object, ...]:
        """What an answer may change: counters, status, what the core holds, the outbox."""
        c = self.core
        stats = replace(c.stats, refusals=collections.Counter(c.stats.refusals))
        return (stats, c.last_ack, c.problem, c.problem_detail, c.in_flight, c.pending,
                len(self.reports), frozenset(self.outbox.acked_batches))  # fmt: skip

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.feed(Tick(self.now))

    def in_transit(self) -> set[str]:
        """Batch ids in a store answer not yet delivered to the core."""
        sealing = {batch.id for batch in self.seals}
        answer = self.reads[0].answer if self.reads else None
        if isinstance(answer, BatchRead) and answer.batch is not None:
            return sealing | {answer.batch.id}
        if isinstance(answer, UnackedLoaded):
            return sealing | {b.id for b in answer.batches}
        return sealing

    def in_window(self) -> set[str]:
        """Refs published on this connection, not acknowledged, within their ack timeout."""
        timeout = self.settings.ack_timeout_s
        return {
            ref
            for ref, at in self.sent_at.items()
            if ref not in self.hospital_acked and self.now - at < timeout
        }

    def drain(self, limit: int = 5000) -> None:
        """Let everything go well until every row is acknowledged; fail if it never is."""
        for _ in range(limit):
            if not self.outbox.unacked_rows() and not self.reads and not self.seals:
                return
            if self.reads or self.seals:
                self.answer_reads()
            elif self.connecting:
                self.connect()
            elif self.connected and (waiting := sorted(self.in_window())):
                self.hospital_ack(waiting[0])
            else:
                deadline = self.core.deadline()
                assert deadline is not None, "unacknowledged rows and nothing will happen"
                self.advance(max(0.0, deadline - self.now))
        raise AssertionError(f"rows never acknowledged: {sorted(self.outbox.unacked_rows())}")

    # ---------------------------------------------------------------- the edge's part

    def _carry_out(self, action: Action) -> Input | None:
        match action:
            case Connect():
                assert not self.connected
                self.connecting = True
            case Disconnect():
                self._dropped()
            case Subscribe():
                assert self.connected
            case Publish(ref=None, topic=topic, payload=payload):
                assert self.connected and topic == topics.status(HUB)
                self.status.append(payload)
            case Publish(ref=str() as ref, payload=payload):
                assert self.connected
                assert self.content.setdefault(ref, payload) == payload, "a re-send changed"
                self.sent_at[ref] = self.now
                self.refused.discard(ref)
                self.unpubacked.append(ref)
            case Seal(batch=batch):
                assert isinstance(batch, RawBatch)
                self.seals.append(batch)
            case FetchBatch() | LoadUnacked() | CountUnsent():
                assert not self.reads, "two outbox reads at once"
                self.reads.append(Read(action))
            case Acknowledge(batch_id=batch_id):
                assert batch_id in self.hospital_acked, "rows deleted without the hospital's ack"
                return Acknowledged(self.now, batch_id, self.outbox.acknowledge(batch_id))
            case Report():
                self.reports.append(action)
            case ConfigVerified():
                self.configs.append(action)
            case Warn(message=message) if message.startswith(UNEXPECTED):
                assert message not in self.unexpected, f"logged twice: {message}"
                self.unexpected.append(message)
            case Warn():
                pass
        return None

    def _execute(self, read: Action) -> Input:
        match read:
            case FetchBatch(limit=limit):
                return BatchRead(self.now, self.outbox.next_batch(limit))
            case LoadUnacked():
                self.must_load = False
                return UnackedLoaded(self.now, self.outbox.unacked())
            case CountUnsent():
                return UnsentCounted(self.now, self.outbox.unsent_count())
        raise AssertionError(f"not a read: {read}")

    def closed(self) -> None:
        """The broker or the network dropped the connection (or the attempt)."""
        self._dropped()
        self.feed(Closed(self.now, "gone"))

    def _dropped(self) -> None:
        self.connecting = self.connected = False
        self.unpubacked.clear()
        self.sent_at.clear()
