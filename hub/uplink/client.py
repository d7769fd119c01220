"""The hub's uplink on the caller's asyncio loop: the sans-I/O core (`hub.uplink.core`), an MQTT
connection (`hub.uplink.connection`) and the outbox, reached only through `AsyncOutbox`.

One driver coroutine feeds the core one input at a time — what paho reported, what the
outbox answered, wakes, status updates, and a `Tick` when the core's deadline comes — and
carries out the actions it returns. Outbox calls and seals run as tasks whose answers come
back as inputs; they start in the order asked for (and the store's owner runs calls in
order), so its thread reads the next batch while the loop seals this one. Nothing runs on a
timer: an idle hub sleeps until the next ack timeout or keepalive, and learns of new rows
only from `wake()` (and one count per connection). The uplink starts no thread of its own;
see `MqttConnection.open` for the one place a worker thread is borrowed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from hub.model import Event, EventKind
from hub.uplink.connection import MqttConnection
from hub.uplink.core import UplinkCore
from hub.uplink.events import (
    Acknowledge,
    Acknowledged,
    Action,
    BatchRead,
    BatchSealed,
    ConfigVerified,
    Connect,
    CountUnsent,
    Disconnect,
    FetchBatch,
    Input,
    LoadUnacked,
    Publish,
    ReadFailed,
    Report,
    Seal,
    SealFailed,
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
from hub.uplink.policy import Problem
from hub.uplink.ports import AsyncOutbox, DeviceDirectory, OutboxBatch, UplinkListener
from hub.uplink.sealing import Sealer
from hub.uplink.settings import UplinkKeys, UplinkSettings

log = logging.getLogger(__name__)

CLOSE_S = 5.0  # at stop: how long the offline status and DISCONNECT may take to go out


class Uplink:
    """Call every method on the loop that runs `run()`."""

    def __init__(
        self,
        settings: UplinkSettings,
        outbox: AsyncOutbox,
        keys: UplinkKeys,
        *,
        devices: DeviceDirectory,
        listener: UplinkListener,
    ) -> None:
        self.settings = settings
        self._outbox = outbox
        self._listener = listener
        self._sealer = Sealer(settings, keys, devices)
        self._core = UplinkCore(settings, keys.hospital_signing, random.Random())
        self._patient = settings.patient
        self._inputs: collections.deque[Input] = collections.deque()
        self._answers: collections.deque[Input] = collections.deque()  # from the outbox
        self._ready = asyncio.Event()
        self._connection: MqttConnection | None = None
        self._opening: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Input]] = set()  # outbox calls and seals under way

    # ---------------------------------------------------------------- for the daemon

    @property
    def problem(self) -> Problem:
        return self._core.problem

    @property
    def problem_detail(self) -> str:
        return self._core.problem_detail

    @property
    def stats(self) -> UplinkStats:
        return self._core.stats

    @property
    def last_ack(self) -> str | None:
        return self._core.last_ack

    @property
    def window(self) -> int:
        """Batches allowed in flight: the configured window, capped by the broker's Receive
        Maximum once connected."""
        return self._core.window

    @property
    def retry_in(self) -> float:
        """Seconds the last failure made us wait before the next connection attempt."""
        return self._core.retry_in

    @property
    def patient(self) -> str:
        return self._patient

    def socket(self) -> Any:
        """The current connection's socket (None when not connected), for measuring traffic."""
        return self._connection.socket() if self._connection is not None else None

    def wake(self, *, urgent: bool = False) -> None:
        """New rows are in the outbox; `urgent` (a red result) closes a batch at once."""
        self._put(Wake(time.monotonic(), urgent))

    def publish_status(self, payload: bytes) -> None:
        """Publish `payload` retained on the status topic: at once when connected, else after
        the next connection. Only the latest one waits."""
        self._put(StatusUpdate(time.monotonic(), payload))

    def set_patient(self, patient: str) -> None:
        """The pseudonym batches sealed from now on carry."""
        self._patient = patient

    def stop(self) -> None:
        self._put(Stop(time.monotonic()))

    # ---------------------------------------------------------------- the driver

    async def run(self) -> None:
        """Until `stop()`; returns after publishing the offline status and disconnecting."""
        core = self._core
        self._carry_out(core.handle(Start(time.monotonic())))
        try:
            while True:
                now = time.monotonic()
                deadline = core.deadline()
                if deadline is not None and now >= deadline:
                    event: Input = Tick(now)
                elif self._answers:
                    event = self._answers.popleft()
                elif self._inputs:
                    event = self._inputs.popleft()
                elif core.stopped:
                    break
                else:
                    await self._sleep_until(deadline)
                    continue
                self._carry_out(core.handle(event))
        except BaseException:  # cancelled: no goodbye, the broker publishes the last will
            if self._connection is not None:
                self._connection.abort()
            raise
        await self._close()

    async def _sleep_until(self, deadline: float | None) -> None:
        self._ready.clear()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()

    def _put(self, event: Input) -> None:
        self._inputs.append(event)
        self._ready.set()

    def connection_input(self, connection: MqttConnection, event: Input) -> None:
        """From the current connection; one given up on says nothing more."""
        if connection is self._connection:
            self._put(event)

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Publish():
                    if self._connection is not None:
                        self._connection.publish(action)
                case Subscribe(topics=names, qos=qos):
                    if self._connection is not None:
                        self._connection.subscribe(names, qos)
                case Connect():
                    self._connect()
                case Disconnect():
                    if self._connection is not None:
                        self._connection.disconnect()
                case FetchBatch() | LoadUnacked() | CountUnsent():
                    self._spawn(self._read(action))
                case Seal(batch=batch):
                    self._spawn(self._seal(batch))
                case Acknowledge(batch_id=batch_id):
                    self._spawn(self._acknowledge(batch_id))
                case Report(kind=kind, message=message, problem=problem):
                    self._report(kind, message, problem)
                case Warn(message=message):
                    log.warning("uplink: %s", message)
                case ConfigVerified(config=config, raw=raw):
                    log.info("uplink: downlink config version %s verified", config.version)
                    self._listener.downlink_config(config, raw)

    def _spawn(self, work: Coroutine[Any, Any, Input]) -> None:
        """Run `work` (an outbox call or a seal; tasks start in the order made) and feed its
        answer to the core when it is done."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task[Input]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            self._answers.append(task.result())
            self._ready.set()

    def _connect(self) -> None:
        if self._connection is not None:
            self._connection.abort()  # given up: the core forgot it already
        self._connection = MqttConnection(self.settings, self)
        self._opening = asyncio.create_task(self._connection.open())

    async def _close(self) -> None:
        """After stop: let the offline status and DISCONNECT go out, within reason."""
        if self._opening is not None:
            await self._opening  # a connect under way ends within connect_timeout_s
        while self._tasks:  # outbox calls under way finish before the store may close
            await asyncio.gather(*self._tasks)
        if self._connection is not None:
            await self._connection.wait_closed(CLOSE_S)

    # ---------------------------------------------------------------- the outbox

    async def _read(self, read: FetchBatch | LoadUnacked | CountUnsent) -> Input:
        try:
            match read:
                case FetchBatch(limit=limit):
                    batch = await self._outbox.next_batch(limit)
                    return BatchRead(time.monotonic(), batch)
                case LoadUnacked():
                    earlier = await self._outbox.unacked_batches(datetime.now(UTC))
                    batches = tuple(self._sealer.seal(b, self._patient) for b in earlier)
                    return UnackedLoaded(time.monotonic(), batches)
                case CountUnsent():
                    return UnsentCounted(time.monotonic(), await self._outbox.unsent_count())
        except Exception as exc:  # the store or a reading it holds: report, retry later
            log.exception("uplink: reading the outbox failed")
            return ReadFailed(time.monotonic(), str(exc))

    async def _seal(self, batch: OutboxBatch) -> Input:
        try:
            return BatchSealed(time.monotonic(), self._sealer.seal(batch, self._patient))
        except Exception as exc:  # a reading the FHIR mapping refuses: report, load later
            log.exception("uplink: sealing batch %s failed", batch.id)
            return SealFailed(time.monotonic(), str(exc))

    async def _acknowledge(self, batch_id: str) -> Input:
        try:
            rows = await self._outbox.acknowledge(batch_id)
        except Exception as exc:  # the rows stay sent: re-sent after a restart, de-duplicated
            log.exception("uplink: acknowledging %s failed", batch_id)
            self._report(EventKind.ERROR, f"uplink error: {exc}", None)
            rows = 0
        return Acknowledged(time.monotonic(), batch_id, rows)

    def _report(self, kind: EventKind, message: str, problem: Problem | None) -> None:
        (log.warning if kind in (EventKind.ERROR, EventKind.ALERT) else log.info)(message)
        details = {} if problem is None else {"problem": problem}
        self._listener.uplink_event(Event(kind, datetime.now(UTC), message, details=details))
