"""The uplink as a sans-I/O state machine (in the style of h11): inputs in, actions out.

It owns every decision of the uplink: when to connect and how long to back off, the window of
batches in flight (the configured one, capped by the broker's Receive Maximum), which sealed
batches wait and which are re-sent (always with the same batch id), what a PUBACK or the
hospital's signed ack means, when a batch closes, what goes on the status topic, and which
downlink configs are verified and newer. It reads no clock (every input carries `now`), opens
no socket, touches no store and draws its jitter from the `random.Random` it is given.

Rows leave the outbox (`Acknowledge`) only when the hospital's signed ack for their batch
arrives — a PUBACK says only that the broker holds the message — and an ack or refusal counts
only for a batch the core holds (hub.uplink.answers): a replayed one changes nothing.
"""

from __future__ import annotations

import collections
import enum
import random
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.model import EventKind
from hub.uplink.answers import ReadBack, Unexpected
from hub.uplink.backlog import Backlog
from hub.uplink.downlink import DownlinkGate
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
    ConnectFailed,
    Disconnect,
    Input,
    LoadUnacked,
    PubAck,
    Publish,
    ReadFailed,
    Received,
    Refused,
    Report,
    Seal,
    Sealed,
    SealFailed,
    SocketOpened,
    Start,
    StatusUpdate,
    Stop,
    Subscribe,
    Tick,
    UnackedLoaded,
    UnsentCounted,
    UplinkStats,
    Wake,
    Warn,
)
from hub.uplink.policy import NOT_AUTHORIZED, Backoff, Problem, connack_problem
from hub.uplink.ports import OutboxBatch
from hub.uplink.settings import UplinkSettings
from hub.uplink.status import StatusBoard
from hub.wire import topics
from hub.wire.messages import Ack, MessageError, parse_ack

# QoS 1 status messages ("online" and the status) may be in flight beside the batches: the
# window leaves them room under the broker's Receive Maximum (paho does not enforce it, and
# a broker drops a client that exceeds it).
STATUS_SLOTS = 2


class Phase(enum.Enum):
    IDLE = "idle"  # not started
    WAITING = "waiting"  # for the next connection attempt
    CONNECTING = "connecting"  # Connect asked for; no CONNACK yet
    CONNECTED = "connected"
    STOPPED = "stopped"


@dataclass(slots=True)
class _Sent:
    sealed: Sealed
    at: float  # when last published


class UplinkCore:
    def __init__(
        self, settings: UplinkSettings, hospital_signing: Ed25519PublicKey, rng: random.Random
    ) -> None:
        self.settings = settings
        self.stats = UplinkStats()
        self.phase = Phase.IDLE
        self.problem = Problem.NONE
        self.problem_detail = ""
        self.last_ack: str | None = None  # when the hospital last acknowledged a batch
        self.window = settings.window
        self._key = hospital_signing
        self._backoff = Backoff(settings, rng)
        self._up_topic, self._ack_topic = topics.up(settings.hub), topics.ack(settings.hub)
        self._config_topic = topics.config(settings.hub)
        self._connack_by: float | None = None
        self._pending: collections.deque[Sealed] = collections.deque()
        self._in_flight: dict[str, _Sent] = {}  # in the order sent: the oldest first
        self._resend: set[str] = set()  # pending ids that were sent before
        self._sealing = 0  # batches read, not yet sealed
        self._backlog = Backlog(settings.batch_max, settings.batch_seconds)
        self._read_back: ReadBack | None = None  # while LoadUnacked runs
        self._refused: set[str] = set()  # batches refused since they were last sent
        self._unexpected = Unexpected()
        self._status = StatusBoard(topics.status(settings.hub))
        self._downlink = DownlinkGate(
            hospital_signing, settings.hub, settings.applied_config_version
        )

    # ---------------------------------------------------------------- reading the state

    @property
    def retry_in(self) -> float:
        """The wait the last failure scheduled before the next connection attempt."""
        return self._backoff.retry_in

    @property
    def stopped(self) -> bool:
        return self.phase is Phase.STOPPED

    @property
    def in_flight(self) -> tuple[str, ...]:
        """Batch ids published on this connection and not yet acknowledged by the hospital."""
        return tuple(self._in_flight)

    @property
    def pending(self) -> tuple[str, ...]:
        """Batch ids sealed and waiting for room in the window."""
        return tuple(s.id for s in self._pending)

    @property
    def expects_new_rows(self) -> bool:
        """The core will read the outbox for new rows (it knows of some, or will count)."""
        return self._backlog.expected

    def deadline(self) -> float | None:
        """When the core next needs a `Tick` (None: only when something happens)."""
        if self.phase is Phase.WAITING:
            return self._backoff.retry_at
        if self.phase is Phase.CONNECTING:
            return self._connack_by
        if self.phase is not Phase.CONNECTED:
            return None
        times = []
        if self._in_flight:
            oldest = next(iter(self._in_flight.values()))
            times.append(oldest.at + self.settings.ack_timeout_s)
        read_at = self._backlog.deadline(self._room())
        if read_at is not None:
            times.append(read_at)
        return min(times, default=None)

    # ---------------------------------------------------------------- inputs

    def handle(self, event: Input) -> list[Action]:
        match event:
            case Start():
                return self._connect() if self.phase is Phase.IDLE else []
            case Tick(now=now):
                return self._tick(now)
            case Wake(now=now, urgent=urgent):
                return self._wake(now, urgent)
            case StatusUpdate(payload=payload):
                return [*self._status.update(payload, connected=self.phase is Phase.CONNECTED)]
            case SocketOpened(now=now):
                if self.phase is Phase.CONNECTING:
                    self._connack_by = now + self.settings.connect_timeout_s
                return []
            case ConnectFailed(now=now, problem=problem, detail=detail):
                return self._failed(now, problem, detail) if self._connecting() else []
            case Connected(now=now, receive_maximum=receive_maximum):
                return self._connected(now, receive_maximum) if self._connecting() else []
            case Refused(now=now, reason=reason):
                if not self._connecting():
                    return []
                detail = f"broker refused: CONNACK {reason:#x}"
                return [Disconnect(), *self._failed(now, connack_problem(reason), detail)]
            case Closed(now=now, detail=detail):
                return self._closed(now, detail)
            case PubAck(now=now, ref=ref, reason=reason):
                return self._puback(now, ref, reason)
            case Received(now=now, wall=wall, topic=topic, payload=payload):
                if topic == self._ack_topic:
                    return self._ack(now, wall.isoformat(), payload)
                return self._config(payload) if topic == self._config_topic else []
            case BatchRead(now=now, batch=batch):
                return self._read(now, batch)
            case BatchSealed(now=now, sealed=sealed):
                self._sealing -= 1
                if not self._holds(sealed.id):
                    self._pending.append(sealed)
                return self._pump(now)
            case SealFailed(now=now, detail=detail):
                self._sealing -= 1
                self._backlog.failed(now)  # the batch is in the outbox: load it again later
                return [Report(EventKind.ERROR, f"uplink error: {detail}", None)]
            case UnackedLoaded(now=now, batches=batches):
                return self._loaded(now, batches)
            case UnsentCounted(now=now, count=count):
                self._backlog.counted(now, count)
                return self._pump(now)
            case ReadFailed(now=now, detail=detail):
                self._backlog.failed(now)
                return [Report(EventKind.ERROR, f"uplink error: {detail}", None)]
            case Acknowledged(rows=rows):
                if rows > 0:
                    self.stats.acked_batches += 1
                    self.stats.acked_readings += rows
                return []
            case Stop():
                return self._stop()
        raise TypeError(f"not an uplink input: {event!r}")

    # ---------------------------------------------------------------- the connection

    def _connecting(self) -> bool:
        return self.phase is Phase.CONNECTING

    def _connect(self) -> list[Action]:
        self.phase = Phase.CONNECTING
        self._connack_by = None
        self.stats.connect_attempts += 1
        return [Connect()]

    def _tick(self, now: float) -> list[Action]:
        if self.phase is Phase.WAITING and now >= self._backoff.retry_at:
            return self._connect()
        if self._connecting() and self._connack_by is not None and now >= self._connack_by:
            detail = "no CONNACK within the connect timeout"
            return [Disconnect(), *self._failed(now, Problem.OUTAGE, detail)]
        if self.phase is not Phase.CONNECTED:
            return []
        timeout = self.settings.ack_timeout_s
        while self._in_flight:  # the oldest first: stop at the first one still in time
            batch_id, sent = next(iter(self._in_flight.items()))
            if now < sent.at + timeout:  # the same sum as `deadline`
                break
            del self._in_flight[batch_id]
            self._pending.append(sent.sealed)
            self._resend.add(batch_id)
        return self._pump(now)

    def _connected(self, now: float, receive_maximum: int) -> list[Action]:
        self.phase = Phase.CONNECTED
        self.window = max(1, min(self.settings.window, receive_maximum - STATUS_SLOTS))
        self._backoff.succeeded()
        self.stats.connections += 1
        actions = self._set_problem(Problem.NONE, "")
        actions.append(Subscribe((self._ack_topic, self._config_topic)))
        actions += self._status.connected()
        # What was in flight on the last connection goes first, with the same batch ids.
        earlier = sorted(self._in_flight.values(), key=lambda sent: sent.sealed.sequence)
        self._pending.extendleft(sent.sealed for sent in reversed(earlier))
        self._resend.update(self._in_flight)
        self._in_flight.clear()
        self._backlog.need_count = True  # rows stored while we were away
        return actions + self._pump(now)

    def _closed(self, now: float, detail: str) -> list[Action]:
        if self._connecting():
            # With TLS 1.3 the broker's refusal of our certificate arrives as an alert on the
            # first read: the connection drops before any CONNACK.
            return self._failed(now, Problem.AUTH, detail or "connection closed before CONNACK")
        if self.phase is Phase.CONNECTED:  # what is in flight is re-sent after reconnecting
            return self._failed(now, Problem.OUTAGE, f"connection lost ({detail or 'closed'})")
        return []

    def _failed(self, now: float, problem: Problem, detail: str) -> list[Action]:
        """An attempt failed or the connection was lost: report, schedule the next attempt."""
        self._backoff.failed(now, problem)
        self.phase = Phase.WAITING
        self._connack_by = None
        return self._set_problem(problem, detail)

    def _stop(self) -> list[Action]:
        before, self.phase = self.phase, Phase.STOPPED
        if before is Phase.CONNECTED:
            return [self._status.offline(), Disconnect()]
        return [Disconnect()] if before is Phase.CONNECTING else []

    # ---------------------------------------------------------------- what comes back

    def _puback(self, now: float, ref: str, reason: int) -> list[Action]:
        if reason < 0x80:
            return []
        self.stats.refusals[f"puback-{reason:#x}"] += 1
        if reason != NOT_AUTHORIZED:
            return [Warn(f"PUBACK {reason:#x} for batch {ref}, re-sent after the ack timeout")]
        if self.phase is not Phase.CONNECTED:
            return []
        detail = (
            f"broker refused publishing to {self._up_topic} (0x87 not authorized): the "
            "certificate does not match this hub id or the ACL is wrong"
        )
        # An alarm, then a slow retry: only a person (a new certificate, the ACL) fixes this.
        alarm = self._alarm(Problem.NOT_AUTHORIZED, detail)
        return [*alarm, Disconnect(), *self._failed(now, Problem.NOT_AUTHORIZED, detail)]

    def _ack(self, now: float, wall: str, payload: bytes) -> list[Action]:
        try:
            ack = parse_ack(payload, self._key, self.settings.hub)
        except MessageError as exc:
            return [Warn(f"ignored an ack that does not verify: {exc}")]
        if ack.batch is None or not self._holds(ack.batch):
            if self._read_back is not None and self._read_back.keep(ack, wall):
                return []  # decided once the earlier run's batches are read back
            return self._ignore(ack)
        if not ack.ok:  # the rows stay; the batch is offered again after the ack timeout
            if ack.batch in self._refused:  # a duplicate of this send's refusal
                return self._ignore(ack)
            self._refused.add(ack.batch)
            self.stats.refusals[ack.reason] += 1
            return self._alarm(
                Problem.REFUSED, f"hospital refused batch {ack.batch}: {ack.reason} {ack.detail}"
            )
        return self._settle(ack.batch, wall) + self._pump(now)

    def _settle(self, batch_id: str, wall: str) -> list[Action]:
        """The hospital acknowledged a batch the core holds (or read back): its rows go."""
        self._in_flight.pop(batch_id, None)
        self._refused.discard(batch_id)
        if any(s.id == batch_id for s in self._pending):  # acked before its re-send
            self._pending = collections.deque(s for s in self._pending if s.id != batch_id)
            self._resend.discard(batch_id)
        if self._read_back is not None:
            self._read_back.settled.add(batch_id)
        self.last_ack = wall
        actions: list[Action] = [Acknowledge(batch_id)]
        if self.problem is Problem.REFUSED:
            actions += self._set_problem(Problem.NONE, "")
        return actions

    def _ignore(self, ack: Ack) -> list[Action]:
        """An answer for no batch the core holds: no counter, no status, one log line."""
        return [Warn(Unexpected.message(ack))] if self._unexpected.first(ack) else []

    def _config(self, payload: bytes) -> list[Action]:
        verdict = self._downlink.check(payload)
        if verdict.config is not None:
            return [ConfigVerified(verdict.config, payload)]
        if verdict.refused:
            message = f"downlink config refused, kept the last good: {verdict.refused}"
            return [Report(EventKind.ERROR, message, None)]
        return []

    # ---------------------------------------------------------------- the outbox

    def _wake(self, now: float, urgent: bool) -> list[Action]:
        self._backlog.wake(now, urgent)
        return self._pump(now)

    def _loaded(self, now: float, batches: tuple[Sealed, ...]) -> list[Action]:
        self._backlog.loaded()
        read_back, self._read_back = self._read_back or ReadBack(), None
        actions: list[Action] = []
        for sealed in batches:
            if sealed.id in read_back.settled or self._holds(sealed.id):
                continue
            if (wall := read_back.claim(sealed.id)) is not None:
                actions += self._settle(sealed.id, wall)  # its ack came while loading
                continue
            self._pending.append(sealed)
            self._resend.add(sealed.id)
        for ack in read_back.unclaimed():
            actions += self._ignore(ack)
        return actions + self._pump(now)

    def _read(self, now: float, batch: OutboxBatch | None) -> list[Action]:
        """The next read goes out before the seal, so the two overlap."""
        self._backlog.fetched(0 if batch is None else len(batch.readings))
        if batch is None:
            return self._pump(now)
        self._sealing += 1
        return [*self._pump(now), Seal(batch)]

    def _holds(self, batch_id: str) -> bool:
        return batch_id in self._in_flight or any(s.id == batch_id for s in self._pending)

    def _room(self) -> bool:
        return len(self._in_flight) + len(self._pending) + self._sealing < self.window

    def _pump(self, now: float) -> list[Action]:
        """Send what waits while the window has room, then ask for the next outbox read."""
        if self.phase is not Phase.CONNECTED:
            return []
        actions: list[Action] = []
        while self._pending and len(self._in_flight) < self.window:
            actions.append(self._send(self._pending.popleft(), now))
        read = self._backlog.next_read(now, self._room())
        if isinstance(read, LoadUnacked):
            self._read_back = ReadBack()
        if read is not None:
            actions.append(read)
        return actions

    def _send(self, sealed: Sealed, now: float) -> Publish:
        if sealed.id in self._resend:
            self._resend.discard(sealed.id)
            self.stats.resent += 1
        self._refused.discard(sealed.id)  # a refusal of this send counts again
        self.stats.batches_sent += 1
        self.stats.envelope_bytes += len(sealed.envelope)
        self._in_flight[sealed.id] = _Sent(sealed, now)
        return Publish(self._up_topic, sealed.envelope, ref=sealed.id)

    # ---------------------------------------------------------------- problems

    def _set_problem(self, problem: Problem, detail: str) -> list[Action]:
        changed = (problem, detail) != (self.problem, self.problem_detail)
        self.problem, self.problem_detail = problem, detail
        if not changed:
            return []
        if problem is Problem.NONE:
            return [Report(EventKind.STATUS, "uplink connected", problem)]
        return [Report(EventKind.ERROR, f"uplink {problem.value}: {detail}", problem)]

    def _alarm(self, problem: Problem, detail: str) -> list[Action]:
        self.problem, self.problem_detail = problem, detail
        return [Report(EventKind.ALERT, detail, problem)]
