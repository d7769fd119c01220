"""SIGKILL a writing process at random moments; nothing it reported as committed may be lost."""

import random
import sqlite3
import time
from pathlib import Path

import pytest
from store_support import Writer, open_store

KILLS = 50


@pytest.mark.slow
def test_every_reported_reading_survives_sigkill(tmp_path: Path) -> None:
    rng = random.Random(20261121)
    open_store(tmp_path).close()  # key file and schema; the children reopen and recover it
    reported: list[str] = []
    killed_while_writing = 0
    for _ in range(KILLS):
        writer = Writer(tmp_path)
        try:
            if rng.random() < 0.2:
                # anywhere from interpreter start-up through open, integrity check and recovery
                time.sleep(rng.uniform(0.0, 0.3))
            else:
                writer.wait_for(1)
                time.sleep(rng.uniform(0.0, 0.05))
        finally:
            ids = writer.kill()
        killed_while_writing += bool(ids)
        reported += ids

        conn = sqlite3.connect(tmp_path / "hub.db")
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        with open_store(tmp_path) as store:
            result = store.readings(ids)
            assert result.problems == ()
            assert [r.id for r in result.items] == sorted(ids)
        assert list(tmp_path.glob("hub.db.corrupt-*")) == []

    assert killed_while_writing >= KILLS // 2
    with open_store(tmp_path) as store:
        everything = store.readings()
        assert everything.problems == ()
        assert {r.id for r in everything.items} >= set(reported)
        assert store.queue_depth() == len(everything.items)
