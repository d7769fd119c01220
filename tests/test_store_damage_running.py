"""Damage that appears under an open store: found by the next operation, reported, the file
kept and replaced with what it still holds salvaged, what was in memory kept, and the loss
counted exactly (the store knew how many unacknowledged readings it had)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from store_support import PLENTY, open_store, readings

from hub.store import KeySource, StoreOptions, StoreOwner

# More than SQLite's automatic checkpoint (1,000 pages of WAL): most of it is in the file.
N = 30_000


def _overwrite_pages(path: Path) -> None:
    """Garbage over every third b-tree page past the first few, the file's size unchanged."""
    page = 4096
    with path.open("r+b") as f:
        size = f.seek(0, os.SEEK_END)
        for start in range(8 * page, size - page, 3 * page):
            f.seek(start)
            f.write(os.urandom(page))


def test_a_database_truncated_under_the_store_is_found_by_the_next_operation(
    tmp_path: Path,
) -> None:
    with open_store(tmp_path) as store:
        made = readings(N)
        store.add(made)
        store.flush()
        sent = store.next_batch(2000)
        assert sent is not None
        db = tmp_path / "hub.db"
        os.truncate(db, db.stat().st_size // 2)

        later = readings(5)
        store.add(later)  # buffered: held in memory whatever happens to the file
        assert store.flush() == [r.id for r in later]
        damage = store.status().damage
        assert damage is not None and "shrank" in damage.problem
        # The store knew it had N unacknowledged readings: the loss is exact.
        assert damage.salvaged + damage.lost == N
        assert damage.lost == damage.lost_at_most
        assert 0 < damage.salvaged < N
        assert Path(damage.kept_aside).exists()

        back = store.readings()
        assert back.problems == ()
        by_id = {r.id: r for r in [*made, *later]}
        assert all(by_id[r.id] == r for r in back.items)
        assert {r.id for r in later} <= {r.id for r in back.items}
        # The salvaged readings, sent before or not, go out again (the receiver de-duplicates).
        assert store.acknowledge(sent.id) == 0
        batch = store.next_batch(20_000)
        assert batch is not None and len(batch.readings) == damage.salvaged + len(later)
        assert store.queue_depth() == damage.salvaged + len(later)


def test_pages_overwritten_under_the_store_are_found_when_sqlite_reads_them(
    tmp_path: Path,
) -> None:
    """The file keeps its size: SQLite's own read fails (SQLITE_CORRUPT) and that operation
    replaces the database and runs again."""
    with open_store(tmp_path) as store:
        store.add(readings(20_000))
        store.flush()
        _overwrite_pages(tmp_path / "hub.db")

        back = store.readings()  # walks the table: pages not in SQLite's cache are read
        damage = store.status().damage
        assert damage is not None and "malformed" in damage.problem
        assert back.problems == ()
        assert len(back.items) == damage.salvaged
        assert damage.salvaged + damage.lost == 20_000
        assert Path(damage.kept_aside).exists()


def test_the_owner_reports_damage_found_while_running(tmp_path: Path) -> None:
    async def run() -> None:
        owner = await StoreOwner.open(
            tmp_path / "hub.db",
            KeySource(tmp_path / "data.key"),
            StoreOptions(disk_floor_mb=0),
            flush_ms=20,
            free_bytes=lambda _path: PLENTY,
        )
        try:
            await owner.add(readings(N))
            await owner.flush()
            db = tmp_path / "hub.db"
            os.truncate(db, db.stat().st_size // 3)
            await owner.add(readings(3), urgent=True)
            status = await owner.status()
            assert status.damage is not None
            assert status.damage.salvaged + status.damage.lost == N
            assert status.queue_depth == status.damage.salvaged + 3
        finally:
            await owner.close()

    asyncio.run(run())
