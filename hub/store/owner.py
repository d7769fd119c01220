"""The store's one owner on the asyncio side.

`Store` is plain synchronous code. In the daemon exactly one thread touches it: the single
worker of this owner's executor, which runs every call in submission order, so no lock is
needed and no call overtakes another (an `acknowledge` never runs before the `next_batch` that
made its batch). The event loop only awaits results.

Group commit is timed here, on the event loop: `add` buffers in the store, which commits at
once when a reading is urgent or the buffer reaches `flush_max`; otherwise the owner commits
`flush_ms` after the first reading was buffered. A commit the disk refused (readings held in
memory) is retried one period later.

The uplink reaches the store through the `Outbox` protocol (`next_batch`, `unacked_batches`,
`acknowledge`, `unsent_count`), which this class satisfies.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar, TypeVarTuple

from hub.model import DeviceInfo, Event, Kind, Reading
from hub.store.api import (
    Batch,
    ConfigRecord,
    DeviceRecord,
    Purged,
    ReadResult,
    StoreError,
    StoreOptions,
    StoreStatus,
)
from hub.store.disk import disk_free
from hub.store.keys import KeySource
from hub.store.store import Store, utc_now

log = logging.getLogger(__name__)

T = TypeVar("T")
Args = TypeVarTuple("Args")


class StoreOwner:
    """Runs every call of one `Store` on one dedicated thread; async methods for the loop."""

    def __init__(self, store: Store, executor: ThreadPoolExecutor, *, flush_ms: int) -> None:
        self._store = store
        self._executor = executor
        self._flush_s = flush_ms / 1000
        self._timer: asyncio.TimerHandle | None = None
        self._timed_flush: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path,
        key_source: KeySource,
        options: StoreOptions | None = None,
        *,
        flush_ms: int = 500,
        free_bytes: Callable[[Path], int] = disk_free,
        clock: Callable[[], datetime] = utc_now,
    ) -> StoreOwner:
        """Open the store on the owner's thread (opening checks and migrates the file)."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        opening = functools.partial(
            Store.open, Path(path), key_source, options, free_bytes=free_bytes, clock=clock
        )
        try:
            store = await asyncio.get_running_loop().run_in_executor(executor, opening)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(store, executor, flush_ms=flush_ms)

    async def close(self) -> None:
        """Commit what is buffered, close the store and stop the thread. Safe to call twice."""
        if self._closed:
            return
        self._closed = True  # refuses new calls and timers; those submitted run first
        self._cancel_timer()
        if self._timed_flush is not None:
            await asyncio.gather(self._timed_flush, return_exceptions=True)
        try:
            await self._submit(self._store.close)
        finally:
            self._executor.shutdown(wait=True)

    # ------------------------------------------------------------ writing

    async def add(self, readings: Sequence[Reading], *, urgent: bool = False) -> None:
        """Buffer readings; committed within `flush_ms`, at `flush_max`, or now when urgent."""
        held = await self._run(functools.partial(self._store.add, list(readings), urgent=urgent))
        self._schedule(held)

    async def flush(self) -> None:
        """Commit the buffer now (on a full disk the readings stay held and are retried)."""
        self._check_open()
        await self._commit()

    async def amend(self, readings: Sequence[Reading]) -> int:
        return await self._run(self._store.amend, list(readings))

    async def record_event(self, event: Event, *, urgent: bool = True) -> None:
        """An event; not urgent: it waits for the group commit, as readings do (a stream
        hovering at a band's edge makes hundreds of suppressed-alert events an hour)."""
        held = await self._run(functools.partial(self._store.record_event, event, urgent=urgent))
        self._schedule(held)

    async def record_device(
        self,
        info: DeviceInfo,
        *,
        bond_state: str,
        last_seen: datetime | None = None,
        patient: str = "",
    ) -> None:
        await self._run(
            functools.partial(
                self._store.record_device,
                info,
                bond_state=bond_state,
                last_seen=last_seen,
                patient=patient,
            )
        )

    async def record_config(
        self, version: str, sha256: str, applied: datetime, source: str = ""
    ) -> None:
        await self._run(self._store.record_config, version, sha256, applied, source)

    async def purge_expired(self, now: datetime, *, batch_rows: int = 2000) -> Purged:
        """One bounded purge step; loop (yielding between calls) while `more` is true."""
        return await self._run(
            functools.partial(self._store.purge_expired, now, batch_rows=batch_rows)
        )

    # ------------------------------------------------------------ the outbox

    async def next_batch(self, limit: int) -> Batch | None:
        batch = await self._run(self._store.next_batch, limit)
        self._schedule(0)  # next_batch committed the buffer first
        return batch

    async def unacked_batches(self, sent_before: datetime) -> Sequence[Batch]:
        return await self._run(self._store.unacked_batches, sent_before)

    async def acknowledge(self, batch_id: str) -> int:
        return await self._run(self._store.acknowledge, batch_id)

    async def unsent_count(self) -> int:
        return await self._run(self._store.unsent_count)

    async def queue_depth(self) -> int:
        return await self._run(self._store.queue_depth)

    # ------------------------------------------------------------ reading back

    async def known(self, ids: Iterable[str]) -> set[str]:
        return await self._run(self._store.known, list(ids))

    async def reading_ids(self, *, acknowledged: bool | None = None) -> set[str]:
        """Walks the table (see `Store.reading_ids`): for the demo and tests, never periodic."""
        return await self._run(
            functools.partial(self._store.reading_ids, acknowledged=acknowledged)
        )

    async def status(self) -> StoreStatus:
        return await self._run(self._store.status)

    async def readings(self, ids: Iterable[str] | None = None) -> ReadResult[Reading]:
        return await self._run(self._store.readings, None if ids is None else list(ids))

    async def events(self, since: datetime | None = None) -> ReadResult[Event]:
        return await self._run(self._store.events, since)

    async def devices(self) -> ReadResult[DeviceRecord]:
        return await self._run(self._store.devices)

    async def config_history(self) -> list[ConfigRecord]:
        return await self._run(self._store.config_history)

    async def keep_downlink(self, signed: bytes) -> None:
        await self._run(self._store.keep_downlink, signed)

    async def kept_downlink(self) -> bytes | None:
        return await self._run(self._store.kept_downlink)

    async def received_times(
        self, kinds: Iterable[Kind], since: datetime
    ) -> dict[Kind, list[datetime]]:
        return await self._run(self._store.received_times, list(kinds), since)

    # ------------------------------------------------------------ internals

    async def _run(self, call: Callable[[*Args], T], *args: *Args) -> T:
        """`call(*args)` on the owner's thread, after everything submitted before it."""
        self._check_open()
        return await self._submit(call, *args)

    async def _submit(self, call: Callable[[*Args], T], *args: *Args) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    async def _commit(self) -> None:
        await self._submit(self._store.flush)
        self._schedule(await self._submit(self._store.held))

    def _schedule(self, held: int) -> None:
        """Arm the group-commit timer while something is held, disarm it when nothing is."""
        if held == 0:
            self._cancel_timer()
        elif self._timer is None and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(self._flush_s, self._flush_due)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush_due(self) -> None:
        self._timer = None
        if self._timed_flush is None or self._timed_flush.done():
            self._timed_flush = asyncio.get_running_loop().create_task(self._flush_logged())

    async def _flush_logged(self) -> None:
        try:
            await self._commit()
        except Exception:
            log.exception("group commit failed; the readings stay buffered")
            self._schedule(1)
