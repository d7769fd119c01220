"""StoreOwner: every store call on one thread in order, group commit timed on the loop, and
the async outbox the uplink uses."""

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import pytest
from store_support import PLENTY, T0, committed_rows, reading, readings
from waiting import DEADLINE_S, until

from hub.model import Event, EventKind
from hub.store import Batch, KeySource, StoreError, StoreOptions, StoreOwner

DAY = timedelta(days=1)


@runtime_checkable
class Outbox(Protocol):
    """What the uplink needs of the store (its own copy of the protocol)."""

    async def next_batch(self, limit: int) -> Batch | None: ...
    async def unacked_batches(self, sent_before: datetime) -> Sequence[Batch]: ...
    async def acknowledge(self, batch_id: str) -> int: ...
    async def unsent_count(self) -> int: ...


def store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("store")]


async def open_owner(directory: Path, *, flush_ms: int = 60_000, **options: int) -> StoreOwner:
    return await StoreOwner.open(
        directory / "hub.db",
        KeySource(directory / "data.key"),
        StoreOptions(**options),
        flush_ms=flush_ms,
        free_bytes=lambda _path: PLENTY,
    )


def test_buffered_readings_are_committed_flush_ms_after_the_first(tmp_path: Path) -> None:
    async def main() -> None:
        owner = await open_owner(tmp_path, flush_ms=50)
        try:
            await owner.add(readings(3))
            await owner.add(readings(2))
            await until(lambda: committed_rows(tmp_path / "hub.db") == 5, "the timed commit")
            assert (await owner.status()).buffered == 0
        finally:
            await owner.close()

    asyncio.run(main())


def test_urgent_readings_and_a_full_buffer_are_committed_before_add_returns(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        owner = await open_owner(tmp_path, flush_max=10)
        try:
            await owner.add(readings(2))
            assert committed_rows(tmp_path / "hub.db") == 0
            await owner.add([reading(value=220.0)], urgent=True)
            assert committed_rows(tmp_path / "hub.db") == 3
            await owner.add(readings(9))
            assert committed_rows(tmp_path / "hub.db") == 3
            await owner.add(readings(1))
            assert committed_rows(tmp_path / "hub.db") == 13
        finally:
            await owner.close()

    asyncio.run(main())


def test_the_owner_is_the_uplinks_outbox_and_calls_run_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        owner = await open_owner(tmp_path)
        try:
            assert isinstance(owner, Outbox)
            sent = readings(5)
            # submitted together, run one after the other in submission order
            _, unsent, batch = await asyncio.gather(
                owner.add(sent), owner.unsent_count(), owner.next_batch(3)
            )
            assert unsent == 5  # still buffered, and counted: next_batch commits them first
            assert batch is not None and batch.readings == tuple(sent[:3])
            assert (await owner.unsent_count(), await owner.queue_depth()) == (2, 5)
            assert await owner.unacked_batches(T0 - DAY) == []
            (again,) = await owner.unacked_batches(datetime.now(T0.tzinfo) + DAY)
            assert again == batch
            assert await owner.acknowledge(batch.id) == 3
            assert (await owner.unsent_count(), await owner.queue_depth()) == (2, 2)
            assert len(store_threads()) == 1
        finally:
            await owner.close()
        assert store_threads() == []

    asyncio.run(main())


def test_known_answers_for_committed_and_buffered_readings(tmp_path: Path) -> None:
    async def main() -> None:
        owner = await open_owner(tmp_path)
        try:
            committed, buffered, unknown = readings(2), readings(2), readings(2)
            await owner.add(committed, urgent=True)
            await owner.add(buffered)
            ids = [r.id for r in committed + buffered + unknown]
            assert await owner.known(ids) == {r.id for r in committed + buffered}
            assert await owner.reading_ids() == {r.id for r in committed + buffered}
        finally:
            await owner.close()

    asyncio.run(main())


def test_close_commits_what_is_buffered(tmp_path: Path) -> None:
    async def main() -> None:
        owner = await open_owner(tmp_path)
        await owner.add(readings(4))
        await owner.record_event(Event(EventKind.STATUS, T0, "closing"))
        await owner.close()
        await owner.close()
        with pytest.raises(StoreError, match="closed"):
            await owner.add(readings(1))

    asyncio.run(main())
    assert committed_rows(tmp_path / "hub.db") == 4


def test_a_daily_purge_loops_over_steps_while_readings_keep_arriving(tmp_path: Path) -> None:
    async def main() -> None:
        owner = await open_owner(tmp_path, flush_ms=20, retention_days=1)
        try:
            await owner.add(readings(7, received=T0), urgent=True)
            while (batch := await owner.next_batch(3)) is not None:
                await owner.acknowledge(batch.id)

            async def intake() -> int:
                arrived = 0
                for _ in range(20):
                    await owner.add(readings(1, received=T0 + 2 * DAY))
                    arrived += 1
                    await asyncio.sleep(0)
                return arrived

            async def purge() -> int:
                purged = 0
                while True:
                    step = await owner.purge_expired(T0 + 2 * DAY, batch_rows=2)
                    purged += step.readings
                    if not step.more:
                        return purged
                    await asyncio.sleep(0)

            arrived, purged = await asyncio.gather(intake(), purge())
            assert (arrived, purged) == (20, 7)
            await owner.flush()
            assert await owner.queue_depth() == 20
            assert (await owner.status()).last_purge_rows == 7
        finally:
            await owner.close()

    asyncio.run(main())


def test_a_commit_the_full_disk_refused_is_retried_by_the_timer(tmp_path: Path) -> None:
    async def main() -> None:
        owner = await open_owner(tmp_path, flush_ms=20, max_db_bytes=300 * 1024, disk_floor_mb=0)
        try:
            await owner.add(readings(400), urgent=True)
            while (batch := await owner.next_batch(100)) is not None:
                await owner.acknowledge(batch.id)
            for _ in range(200):
                await owner.add(readings(50))
                await owner.flush()
                if (await owner.status()).disk_full:
                    break
            else:
                raise AssertionError("the size cap never made SQLite report full")
            held = (await owner.status()).buffered
            assert held == 50

            # no call commits them: the owner's timer retries, in the room the refusal freed
            async def committed() -> bool:
                now = await owner.status()
                return now.buffered == 0 and not now.disk_full

            deadline = asyncio.get_running_loop().time() + DEADLINE_S
            while not await committed():
                assert asyncio.get_running_loop().time() < deadline, "never retried"
                await asyncio.sleep(0.02)
        finally:
            await owner.close()

    asyncio.run(main())


def test_events_wait_for_the_group_commit_unless_urgent(tmp_path: Path) -> None:
    def committed_events() -> int:
        conn = sqlite3.connect(tmp_path / "hub.db")
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()

    async def main() -> None:
        owner = await open_owner(tmp_path, flush_ms=60_000)
        try:
            for i in range(5):
                await owner.record_event(
                    Event(EventKind.SUPPRESSED_ALERT, T0, f"{i}"), urgent=False
                )
            assert committed_events() == 0  # one commit for them all, later
            assert (await owner.status()).buffered == 0  # (readings only)
            await owner.record_event(Event(EventKind.ALERT, T0, "red"))  # urgent: now, with them
            assert committed_events() == 6
        finally:
            await owner.close()

    asyncio.run(main())
