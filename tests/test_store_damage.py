"""A damaged database at open: found, logged once, reported in the status, its readable
unacknowledged readings salvaged into the new store, the rest counted, the file kept."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest
from daemon_support import refused_start
from store_support import Writer, open_store, readings
from waiting import wait_for

from hub.model import DeviceInfo
from hub.store import StoreError
from hub.store.walscan import FRAME_HEADER_BYTES, HEADER_BYTES, scan

SIGNED_CONFIG = b"a signed downlink config"


def _fill(directory: Path, n: int, *, acked: int) -> tuple[dict[str, object], set[str]]:
    """A store with `n` readings, the first `acked` of them acknowledged, a device and a
    config record; returns the unacknowledged readings by id and the acknowledged ids."""
    with open_store(directory) as store:
        made = readings(n)
        store.add(made)
        store.flush()
        batch = store.next_batch(acked)
        assert batch is not None
        store.acknowledge(batch.id)
        store.record_device(DeviceInfo("C0:11:22:33:44:55", "cuff"), bond_state="bonded")
        store.record_config("v7", "ab" * 32, made[0].received, "hospital")
        store.keep_downlink(SIGNED_CONFIG)
        acked_ids = {r.id for r in batch.readings}
    return {r.id: r for r in made if r.id not in acked_ids}, acked_ids


def test_a_truncated_database_is_salvaged_counted_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unacked, acked = _fill(tmp_path, 6000, acked=1000)
    db = tmp_path / "hub.db"
    os.truncate(db, db.stat().st_size * 6 // 10)
    damaged = db.read_bytes()

    with caplog.at_level(logging.ERROR), open_store(tmp_path) as store:
        damage = store.status().damage
        assert damage is not None
        salvaged = store.readings()
        batch = store.next_batch(10_000)
        assert store.kept_downlink() == SIGNED_CONFIG

    # Kept for analysis, as it was.
    assert Path(damage.kept_aside).read_bytes() == damaged
    assert damage.pages_missing > 0
    # Every salvaged reading is one of the unacknowledged ones, intact, and goes out again.
    assert salvaged.problems == ()
    assert 0 < len(salvaged.items) == damage.salvaged < len(unacked)
    assert all(r == unacked[r.id] for r in salvaged.items)
    assert batch is not None and {r.id for r in batch.readings} == {r.id for r in salvaged.items}
    assert not acked & {r.id for r in salvaged.items}
    # What could not be salvaged is counted: at least what is known lost, at most the estimate.
    assert damage.lost <= len(unacked) - damage.salvaged <= damage.lost_at_most
    assert damage.devices == 1 and damage.configs == 2  # history and the config in force
    # One line at once, counts and the kept file only.
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1
    assert f"{damage.salvaged} unacknowledged readings salvaged" in lines[0]
    assert damage.kept_aside in lines[0]


def test_rows_below_damaged_interior_pages_are_salvaged_from_their_leaves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No seek gets past a zeroed interior page; the leaves below it are read page by page
    (hub.store.pagescan). The rows the interior pages themselves held are lost, and within
    the estimate."""
    unacked, _ = _fill(tmp_path, 20_000, acked=1)
    db = tmp_path / "hub.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    interior = conn.execute(
        "SELECT pageno, ncell FROM dbstat WHERE name = 'readings' AND pagetype = 'internal'"
    ).fetchall()
    conn.close()
    assert interior
    with db.open("r+b") as f:
        for page, _cells in interior:
            f.seek((page - 1) * 4096)
            f.write(bytes(4096))
    on_interior = sum(cells for _page, cells in interior)  # a WITHOUT ROWID table's rows

    with caplog.at_level(logging.ERROR), open_store(tmp_path) as store:
        damage = store.status().damage
        back = store.readings()
    assert damage is not None
    assert back.problems == ()
    assert all(r == unacked[r.id] for r in back.items)
    assert damage.salvaged == len(back.items) >= len(unacked) - on_interior
    assert damage.lost <= len(unacked) - damage.salvaged <= damage.lost_at_most
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "\n" not in line


def test_a_salvage_the_disk_cannot_hold_stops_and_says_so(tmp_path: Path) -> None:
    unacked, _ = _fill(tmp_path, 6000, acked=1)
    db = tmp_path / "hub.db"
    os.truncate(db, db.stat().st_size * 6 // 10)

    with open_store(tmp_path, max_db_bytes=300_000) as store:  # room for part of it
        damage = store.status().damage
        back = store.readings()
    assert damage is not None and "salvage stopped: StoreFullError" in damage.problem
    assert damage.salvaged == len(back.items) < len(unacked)
    assert all(r == unacked[r.id] for r in back.items)
    assert damage.lost <= len(unacked) - damage.salvaged <= damage.lost_at_most
    assert Path(damage.kept_aside).exists()
    assert [p.name for p in tmp_path.iterdir() if "salvage" in p.name] == []  # scratch gone


def test_a_file_that_is_no_database_is_kept_and_reported(tmp_path: Path) -> None:
    _fill(tmp_path, 50, acked=10)
    db = tmp_path / "hub.db"
    db.write_bytes(b"\x00" * 100 + db.read_bytes()[100:])  # its header overwritten

    with open_store(tmp_path) as store:
        damage = store.status().damage
        assert damage is not None
        assert store.queue_depth() == damage.salvaged
    assert Path(damage.kept_aside).exists()
    assert "not a database" in damage.problem


def test_wal_bytes_flipped_after_sigkill_are_counted_never_dropped(tmp_path: Path) -> None:
    """SQLite stops replaying a WAL at the first bad checksum and drops every later commit
    with `integrity_check` passing; the store re-chains a copy and counts the damaged rows."""
    open_store(tmp_path).close()
    writer = Writer(tmp_path)
    writer.wait_for(1860)
    wal = tmp_path / "hub.db-wal"
    # SQLite restarts the WAL at each checkpoint: kill once it holds a dozen commits' frames
    wait_for(lambda: scan(wal.read_bytes()).replayed >= 12, "a WAL with frames to damage")
    reported = writer.kill()
    data = bytearray(wal.read_bytes())
    frame = FRAME_HEADER_BYTES + 4096
    frames = (len(data) - HEADER_BYTES) // frame
    # How long the WAL is depends on when SQLite last checkpointed it; it must hold commits
    # after the damaged frames for the damage to hide them.
    assert frames >= 6, f"only {frames} WAL frames"
    # 64 bytes: 8 in each of up to 8 frames early in the WAL, inside their pages.
    damaged = range(1, min(9, frames - 4))
    for n, i in enumerate(damaged):
        at = HEADER_BYTES + i * frame + FRAME_HEADER_BYTES + 1000 + 300 * n
        for j in range(64 // len(damaged)):
            data[at + j] ^= 0x5A
    wal.write_bytes(bytes(data))
    assert scan(bytes(data)).damaged  # as SQLite would read it: later commits dropped

    with open_store(tmp_path) as store:
        damage = store.status().damage
        back = store.readings(reported)
    assert damage is not None
    assert back.problems == ()
    intact = {r.id for r in back.items}
    # Every committed reading is read back or counted as lost; nothing is counted twice
    # (the writer may have committed one more group of 20 it had not reported yet).
    assert len(set(reported) - intact) <= damage.lost
    assert len(reported) <= damage.salvaged + damage.lost <= len(reported) + 20
    assert damage.lost == damage.lost_at_most
    assert Path(damage.kept_aside + "-wal").read_bytes() == bytes(data)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("make", "kind"), [(Path.mkdir, "a directory"), (_fifo, "a FIFO")], ids=["dir", "fifo"]
)
def test_a_store_path_that_is_not_a_file_is_refused_never_moved(
    tmp_path: Path, make: object, kind: str
) -> None:
    path = tmp_path / "hub.db"
    make(path)  # type: ignore[operator]
    with pytest.raises(StoreError, match=kind):
        open_store(tmp_path)
    assert path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub.db"]


def test_a_device_as_store_path_is_refused() -> None:
    from hub.store import KeySource, Store

    with pytest.raises(StoreError, match="a character device"):
        Store.open(Path("/dev/null"), KeySource(Path("/nonexistent/data.key")))


def test_hub_run_with_a_directory_as_store_path_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    store_dir = tmp_path / "state" / "hub.db"
    store_dir.mkdir()
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\nid = "hub-a"\ndata_dir = "{tmp_path}/state"\nruntime_dir = "{tmp_path}/run"\n'
        f'\n[store]\npath = "{store_dir}"\ndisk_floor_mb = 0\n\n[uplink]\nenabled = false\n'
    )
    done = refused_start(config)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "is a directory" in done.stderr
    assert store_dir.is_dir()
    assert [p.name for p in store_dir.parent.iterdir() if "corrupt" in p.name] == []
