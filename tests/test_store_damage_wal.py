"""The WAL read as SQLite reads it (hub.store.walscan): a broken checksum chain with commits
behind it is damage; re-chained, SQLite replays every commit again."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.store.walscan import FRAME_HEADER_BYTES, HEADER_BYTES, rechain, scan

PAGE = 4096
FRAME = FRAME_HEADER_BYTES + PAGE
COMMITS = 40


@pytest.fixture(scope="module")
def wal_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A database and its WAL after COMMITS transactions, never checkpointed."""
    directory = tmp_path_factory.mktemp("wal")
    db = directory / "w.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the table in the file, rows in the WAL
    for n in range(COMMITS):
        conn.execute("INSERT INTO t VALUES (?, ?)", (n, bytes([n]) * 3000))
    wal = (directory / "w.db-wal").read_bytes()
    # Copy before closing: closing checkpoints and removes the WAL.
    shutil.copyfile(db, directory / "base.db")
    conn.close()
    return directory / "base.db", wal


def _rows_with(directory: Path, base: Path, wal: bytes) -> int:
    copy = directory / "copy.db"
    shutil.copyfile(base, copy)
    copy.with_name("copy.db-wal").write_bytes(wal)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        conn.close()
        for f in directory.glob("copy.db*"):
            f.unlink()


def test_a_sound_wal_is_not_damage_and_rechaining_leaves_it_as_it_is(
    wal_db: tuple[Path, bytes],
) -> None:
    _base, wal = wal_db
    found = scan(wal)
    assert not found.damaged
    assert found.replayed == found.frames == (len(wal) - HEADER_BYTES) // FRAME
    assert rechain(wal) == wal


@settings(max_examples=40, deadline=None)
@given(frame=st.integers(0, 10_000), offset=st.integers(0, PAGE - 1), xor=st.integers(1, 255))
def test_a_flipped_byte_is_damage_when_commits_follow_and_rechaining_restores_them(
    wal_db: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory, frame: int,
    offset: int, xor: int,
) -> None:  # fmt: skip
    base, wal = wal_db
    frames = scan(wal).frames
    frame %= frames
    damaged = bytearray(wal)
    damaged[HEADER_BYTES + frame * FRAME + FRAME_HEADER_BYTES + offset] ^= xor
    found = scan(bytes(damaged))
    assert found.replayed <= frame
    last_commit = frames - 1  # each INSERT commits; the last frame is a commit frame
    assert found.damaged == (frame <= last_commit)
    directory = tmp_path_factory.mktemp("flip")
    # What SQLite itself makes of it: rows vanish, silently.
    assert _rows_with(directory, base, bytes(damaged)) < COMMITS
    # Re-chained, every commit is replayed again (the damaged page's bytes as they are).
    again = scan(rechain(bytes(damaged)))
    assert not again.damaged and again.replayed == frames


def test_rechained_sqlite_reads_every_commit_with_the_damaged_bytes_in_their_row(
    wal_db: tuple[Path, bytes], tmp_path: Path
) -> None:
    base, wal = wal_db
    frames = scan(wal).frames
    commits = [
        i for i in range(frames)
        if int.from_bytes(wal[HEADER_BYTES + i * FRAME + 4 : HEADER_BYTES + i * FRAME + 8], "big")
    ]  # fmt: skip
    # The last frame of a transaction in the middle is its new leaf: the row's body at its end.
    at = HEADER_BYTES + commits[len(commits) // 2] * FRAME + FRAME_HEADER_BYTES + PAGE - 100
    damaged = bytearray(wal)
    damaged[at] ^= 0x40
    assert scan(bytes(damaged)).damaged
    copy = tmp_path / "copy.db"
    shutil.copyfile(base, copy)
    copy.with_name("copy.db-wal").write_bytes(rechain(bytes(damaged)))
    conn = sqlite3.connect(copy)
    bodies = conn.execute("SELECT n, body FROM t ORDER BY n").fetchall()
    conn.close()
    assert [n for n, _ in bodies] == list(range(COMMITS))
    changed = [n for n, body in bodies if body != bytes([n]) * 3000]
    assert len(changed) == 1  # the flipped byte, in one row: what authentication then refuses


def test_frames_of_an_older_generation_after_the_last_are_not_damage(
    wal_db: tuple[Path, bytes],
) -> None:
    """After a WAL restart, frames of the previous generation (another salt) stay behind the
    new ones: SQLite ignores them, and so does the scan."""
    _base, wal = wal_db
    stale = bytearray(wal[HEADER_BYTES + 5 * FRAME : HEADER_BYTES + 9 * FRAME])
    for i in range(4):
        stale[i * FRAME + 8 : i * FRAME + 16] = b"\xff" * 8  # another generation's salt
    found = scan(wal + bytes(stale))
    assert not found.damaged
    assert found.replayed == found.frames == (len(wal) - HEADER_BYTES) // FRAME
