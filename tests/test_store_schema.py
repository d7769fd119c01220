import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from store_support import T0, open_store, reading

from hub.model import EventKind, Kind, Reading
from hub.store import KeySource
from hub.store.codec import encode_reading
from hub.store.crypto import Sealer, associated_data
from hub.store.disk import disk_class
from hub.store.schema import LATEST, NEW, migrate, version
from hub.store.sealing import register_keys


def old_database(tmp_path: Path, at: int, rows: list[Reading]) -> None:
    """A database as schema version `at` left it, holding `rows` sealed as that version did."""
    conn = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
    migrate(conn, target=at)
    ring = KeySource(tmp_path / "data.key").create()
    sealer = Sealer(ring.keys)
    register_keys(conn, ring, sealer)
    for r in rows:
        key = bytes.fromhex(r.id.replace("-", ""))
        aad = associated_data("readings", key, r.device, str(r.kind), ring.active)
        payload = sealer.seal(ring.active, os.urandom(12), encode_reading(r), aad)
        conn.execute(
            "INSERT INTO readings (id, stream, kind, received_ms, state, key_id, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, r.device, str(r.kind), 0, NEW, ring.active, payload),
        )
        if at >= 3:  # written by a version 3 store, which classified rows as it wrote them
            conn.execute("UPDATE readings SET disk_class = ? WHERE id = ?", (disk_class(r), key))
    conn.close()


@pytest.mark.parametrize("start", range(1, LATEST))
def test_migrates_forward_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    rows = [reading(Kind.BLOOD_PRESSURE), reading(Kind.HEART_RATE), reading(Kind.SPO2_SPOT)]
    old_database(tmp_path, start, rows)
    with open_store(tmp_path) as store:
        assert store.readings().items == tuple(sorted(rows, key=lambda r: r.id))
        store.record_config("v1", "00" * 32, T0)
        batch = store.next_batch(10)
        assert batch is not None and len(batch.readings) == 3
    conn = sqlite3.connect(tmp_path / "hub.db")
    assert version(conn) == LATEST
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version")] == list(
        range(1, LATEST + 1)
    )
    classes = dict(conn.execute("SELECT kind, disk_class FROM readings"))
    assert classes == {"blood-pressure": 0, "heart-rate": 1, "spo2-spot": 0}


def test_a_new_database_is_at_the_latest_version(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "hub.db")
    assert version(db) == LATEST
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "hub.db")
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (LATEST + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        open_store(tmp_path)


def corrupt_pages(path: Path) -> None:
    """Overwrite the middle of the file (b-tree pages), leaving the header intact."""
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 3 * page):
        data[start + 8 : start + 200] = os.urandom(192)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["pages", "garbage"])
def test_corrupt_database_is_moved_aside_kept_and_reported(tmp_path: Path, damage: str) -> None:
    kept = [reading() for _ in range(300)]
    with open_store(tmp_path) as store:
        store.add(kept, urgent=True)
    conn = sqlite3.connect(tmp_path / "hub.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    db_path = tmp_path / "hub.db"
    if damage == "pages":
        corrupt_pages(db_path)
    else:
        db_path.write_bytes(b"this is not an SQLite database" * 100)
    before = db_path.read_bytes()
    with open_store(tmp_path) as store:
        (moved,) = tmp_path.glob("hub.db.corrupt-*")
        assert moved.read_bytes() == before  # kept byte for byte
        # What still authenticates is salvaged, as it was (tests/test_store_damage.py)
        by_id = {r.id: r for r in kept}
        assert all(by_id[r.id] == r for r in store.readings().items)
        (event,) = store.events().items
        assert event.kind is EventKind.ERROR and str(moved) in event.message
        store.add([reading()], urgent=True)
    conn = sqlite3.connect(tmp_path / "hub.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_up_to_date_store_opens_without_loading_sqlite_utils(tmp_path: Path) -> None:
    """The daemon's memory: sqlite-utils is for migrations, not for a hub that is current."""
    probe = (
        "import sys; from pathlib import Path; from hub.store import KeySource, Store; "
        f"d = Path({str(tmp_path)!r}); "
        "Store.open(d / 'hub.db', KeySource(d / 'data.key')).close(); "
        "print('sqlite_utils' in sys.modules)"
    )
    first, again = (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        for _ in range(2)
    )
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False")
