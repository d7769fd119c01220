import json
import sqlite3
from pathlib import Path

import pytest
from store_support import Writer, open_store, readings

from hub import cli
from hub.store import KeySource, Store


def key_ids_in_use(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {
            row[0]
            for table in ("readings", "events", "devices")
            for row in conn.execute(f"SELECT DISTINCT key_id FROM {table}")
        }
    finally:
        conn.close()


def test_rotation_between_writes_re_encrypts_and_later_writes_use_the_new_key(
    tmp_path: Path,
) -> None:
    """One owner: rotation and writes take turns (concurrent writers are other processes,
    below)."""
    with open_store(tmp_path) as store:
        store.add(readings(300), urgent=True)
        store.add(readings(10))  # buffered: committed before rotating
        done = store.rotate_key(chunk=50)
        assert (done.key_id, done.removed_key_ids, done.kept_key_ids) == (2, (1,), ())
        assert done.re_encrypted == 310
        store.add(readings(10), urgent=True)
        result = store.readings()
        assert result.problems == ()
        assert len(result.items) == 320
    ring = KeySource(tmp_path / "data.key").load()
    assert ring is not None and list(ring.keys) == [2]
    assert key_ids_in_use(tmp_path / "hub.db") == {2}


@pytest.mark.slow
def test_rotation_while_another_process_writes(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    writer = Writer(tmp_path)
    try:
        writer.wait_for(200)
        with open_store(tmp_path) as store:
            done = store.rotate_key(chunk=100)
        # the other process must have switched: its later rows use the new key only
        writer.wait_for(writer.poll() + 200)
    finally:
        ids = writer.kill()
    assert done.removed_key_ids == (1,)
    assert key_ids_in_use(tmp_path / "hub.db") == {2}
    with open_store(tmp_path) as store:
        result = store.readings(ids)
        assert result.problems == ()
        assert [r.id for r in result.items] == sorted(ids)


def test_rotation_never_drops_unacknowledged_rows(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.add(readings(50), urgent=True)
        batch = store.next_batch(20)
        assert batch is not None
        before = store.readings().items
        store.rotate_key()
        store.rotate_key()
        assert store.readings().items == before
        assert store.queue_depth() == 50
        assert len(store.unacked_batches(batch.readings[0].received.replace(year=2100))) == 1


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\nid = "hub-0001"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[store]\nkey_file = "{tmp_path / "keys" / "data.key"}"\n'
    )
    return config


def test_cli_rotate_key_and_erase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    source = KeySource(tmp_path / "keys" / "data.key")
    with Store.open(tmp_path / "data" / "hub.db", source, free_bytes=lambda _p: 10**12) as store:
        store.add(readings(5), urgent=True)
    assert cli.main(["store", "rotate-key", "--config", str(config)]) == 0
    assert "key 2 is active; 5 rows re-encrypted" in capsys.readouterr().out
    assert json.loads(source.path.read_text())["active"] == 2

    assert cli.main(["store", "erase", "--config", str(config)]) == 2
    assert "--yes" in capsys.readouterr().err
    assert source.path.exists()

    assert cli.main(["store", "erase", "--config", str(config), "--yes"]) == 0
    out = capsys.readouterr().out
    assert str(source.path) in out and str(tmp_path / "data" / "hub.db") in out
    assert not source.path.exists()
    assert list((tmp_path / "data").glob("hub.db*")) == []


def test_cli_reports_a_bad_config_or_key_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[hub]\nid = "hub-0001"\n[store]\nretention_days = "7"\n')
    assert cli.main(["store", "rotate-key", "--config", str(bad)]) == 2
    assert "store.retention_days" in capsys.readouterr().err
    config = write_config(tmp_path)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "data.key").write_text("{}")
    (tmp_path / "keys" / "data.key").chmod(0o644)
    assert cli.main(["store", "rotate-key", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chmod 600" in err
