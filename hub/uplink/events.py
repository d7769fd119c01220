"""The uplink core's vocabulary: the inputs it is fed and the actions it asks for.

Every input carries `now`, monotonic seconds read by the edge; the core never reads a clock.
Actions are requests to the edge (publish this, read that from the outbox); answers come back
as inputs (`BatchFetched`, `UnackedLoaded`, ...). All are small frozen dataclasses.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from datetime import datetime

from hub.model import EventKind
from hub.uplink.policy import Problem
from hub.uplink.ports import OutboxBatch
from hub.wire.messages import DownlinkConfig


@dataclass(frozen=True, slots=True)
class Sealed:
    """A batch as sealed (signed, compressed, encrypted): sent again as is, with the same id,
    until the hospital acknowledges it. Its readings need not stay in memory."""

    id: str
    sequence: int
    count: int
    envelope: bytes


@dataclass
class UplinkStats:
    connect_attempts: int = 0
    connections: int = 0
    batches_sent: int = 0
    resent: int = 0
    acked_batches: int = 0
    acked_readings: int = 0
    refusals: collections.Counter[str] = field(default_factory=collections.Counter)
    envelope_bytes: int = 0


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Start:
    now: float


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: the edge sends one when `UplinkCore.deadline()` is reached."""

    now: float


@dataclass(frozen=True, slots=True)
class Wake:
    """New rows are in the outbox; `urgent` (a red result) closes a batch at once."""

    now: float
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """The hub's status, to publish retained (only the latest one waits for a connection)."""

    now: float
    payload: bytes


@dataclass(frozen=True, slots=True)
class SocketOpened:
    """TCP and TLS are up; the CONNECT packet is on its way."""

    now: float


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """The attempt failed before a socket was open (unreachable, TLS handshake refused)."""

    now: float
    problem: Problem
    detail: str


@dataclass(frozen=True, slots=True)
class Connected:
    """A successful CONNACK."""

    now: float
    receive_maximum: int = 65_535


@dataclass(frozen=True, slots=True)
class Refused:
    """A failed CONNACK."""

    now: float
    reason: int


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is gone (whoever closed it); `detail` is the last error seen."""

    now: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PubAck:
    """The broker's answer to a `Publish` with `ref`; `reason` >= 0x80 is a refusal."""

    now: float
    ref: str
    reason: int = 0


@dataclass(frozen=True, slots=True)
class Received:
    """A message on one of the hub's subscribed topics; `wall` is when it arrived."""

    now: float
    wall: datetime
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class BatchRead:
    """The answer to `FetchBatch`: the next batch as the outbox gave it (still to be sealed),
    or None when nothing was new."""

    now: float
    batch: OutboxBatch | None


@dataclass(frozen=True, slots=True)
class BatchSealed:
    """The answer to `Seal`."""

    now: float
    sealed: Sealed


@dataclass(frozen=True, slots=True)
class SealFailed:
    """`Seal` raised (a reading the FHIR mapping refuses): its rows stay in a sent batch."""

    now: float
    detail: str


@dataclass(frozen=True, slots=True)
class UnackedLoaded:
    """The answer to `LoadUnacked`: batches sent before this start and never acknowledged."""

    now: float
    batches: tuple[Sealed, ...]


@dataclass(frozen=True, slots=True)
class UnsentCounted:
    """The answer to `CountUnsent`: rows in the outbox not yet in any batch."""

    now: float
    count: int


@dataclass(frozen=True, slots=True)
class ReadFailed:
    """A `FetchBatch`, `LoadUnacked` or `CountUnsent` failed (the outbox or sealing raised)."""

    now: float
    detail: str


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The answer to `Acknowledge`: how many rows the outbox marked acknowledged."""

    now: float
    batch_id: str
    rows: int


@dataclass(frozen=True, slots=True)
class Stop:
    now: float


Input = (
    Start | Tick | Wake | StatusUpdate | SocketOpened | ConnectFailed | Connected | Refused
    | Closed | PubAck | Received | BatchRead | BatchSealed | SealFailed | UnackedLoaded
    | UnsentCounted | ReadFailed | Acknowledged | Stop
)  # fmt: skip


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a new connection (a new MQTT client, clean_start=False, the offline last will)."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection: sends what is queued, then DISCONNECT."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    topics: tuple[str, ...]
    qos: int = 1


@dataclass(frozen=True, slots=True)
class Publish:
    """`ref` (a batch id) comes back in the `PubAck`; None for messages nobody waits on."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class FetchBatch:
    """Take up to `limit` new rows from the outbox as a new batch and seal it."""

    limit: int


@dataclass(frozen=True, slots=True)
class Seal:
    """Seal a batch read from the outbox (the edge signs, compresses and encrypts it). Asked
    for after the next read, so the outbox's thread reads while the loop seals."""

    batch: OutboxBatch


@dataclass(frozen=True, slots=True)
class LoadUnacked:
    """Read (and seal again) every batch sent before now and not acknowledged."""


@dataclass(frozen=True, slots=True)
class CountUnsent:
    """Count the rows not yet in any batch."""


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """The hospital acknowledged `batch_id`: its rows may leave the outbox."""

    batch_id: str


@dataclass(frozen=True, slots=True)
class Report:
    """Something for the daemon's events: a problem, an alarm, "connected"."""

    kind: EventKind
    message: str
    problem: Problem | None  # None: not about the connection (a refused config, a read error)


@dataclass(frozen=True, slots=True)
class Warn:
    """Worth a log line, not an event (an ack that does not verify, a refused PUBACK)."""

    message: str


@dataclass(frozen=True, slots=True)
class ConfigVerified:
    """A downlink config whose signature checked out and that is newer than the last one."""

    config: DownlinkConfig
    raw: bytes


Action = (
    Connect | Disconnect | Subscribe | Publish | FetchBatch | Seal | LoadUnacked | CountUnsent
    | Acknowledge | Report | Warn | ConfigVerified
)  # fmt: skip
