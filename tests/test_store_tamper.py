import sqlite3
import uuid
from pathlib import Path

from store_support import flip_byte, key, open_store, readings

from hub.model import DeviceInfo, Event, EventKind


def edit(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def stored_ids(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id FROM readings").fetchall()
    conn.close()
    return {str(uuid.UUID(bytes=r[0])) for r in rows}


def test_flipped_byte_is_reported_with_its_row_id_and_skipped(tmp_path: Path) -> None:
    rs = readings(5)
    with open_store(tmp_path) as store:
        store.add(rs, urgent=True)
    for at in (0, 13, -1):  # nonce, ciphertext, tag
        flip_byte(tmp_path / "hub.db", rs[1].id, at)
        with open_store(tmp_path) as store:
            result = store.readings()
            assert [p.row_id for p in result.problems] == [rs[1].id]
            assert "authentication failed" in result.problems[0].reason
            assert result.items == tuple(rs[:1] + rs[2:])
        flip_byte(tmp_path / "hub.db", rs[1].id, at)  # restore


def test_swapped_payloads_fail_in_both_rows(tmp_path: Path) -> None:
    rs = readings(4)
    with open_store(tmp_path) as store:
        store.add(rs, urgent=True)
    db = tmp_path / "hub.db"
    conn = sqlite3.connect(db)
    a, b = (
        conn.execute("SELECT payload FROM readings WHERE id = ?", (key(r.id),)).fetchone()[0]
        for r in (rs[0], rs[2])
    )
    conn.execute("UPDATE readings SET payload = ? WHERE id = ?", (b, key(rs[0].id)))
    conn.execute("UPDATE readings SET payload = ? WHERE id = ?", (a, key(rs[2].id)))
    conn.commit()
    conn.close()
    with open_store(tmp_path) as store:
        result = store.readings()
        assert sorted(p.row_id for p in result.problems) == sorted([rs[0].id, rs[2].id])
        assert result.items == (rs[1], rs[3])


def test_relabelled_stream_or_kind_fails(tmp_path: Path) -> None:
    rs = readings(2)
    with open_store(tmp_path) as store:
        store.add(rs, urgent=True)
    edit(
        tmp_path / "hub.db", "UPDATE readings SET stream = 'elsewhere' WHERE id = ?", key(rs[0].id)
    )
    edit(tmp_path / "hub.db", "UPDATE readings SET kind = 'weight' WHERE id = ?", key(rs[1].id))
    with open_store(tmp_path) as store:
        assert [p.row_id for p in store.readings().problems] == [rs[0].id, rs[1].id]


def test_outbox_skips_a_bad_row_marks_it_and_never_loses_it(tmp_path: Path) -> None:
    rs = readings(6)
    with open_store(tmp_path) as store:
        store.add(rs, urgent=True)
    flip_byte(tmp_path / "hub.db", rs[2].id, 20)
    with open_store(tmp_path) as store:
        sent = []
        while (batch := store.next_batch(2)) is not None:
            sent += batch.readings
            store.acknowledge(batch.id)
        assert sent == rs[:2] + rs[3:]
        status = store.status()
        assert (status.unreadable, status.queue_depth) == (1, 0)
        errors = [e for e in store.events().items if e.kind is EventKind.ERROR]
        assert [e.details["row_id"] for e in errors] == [rs[2].id]
        while store.purge_expired(rs[0].received.replace(year=2100)).more:
            pass
        assert store.rotate_key().kept_key_ids == (1,)  # the bad row still names key 1
    assert stored_ids(tmp_path / "hub.db") == {rs[2].id}


def test_tampered_event_and_device_rows_are_reported_not_raised(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.record_event(Event(EventKind.STATUS, readings(1)[0].received, "hello"))
        store.record_device(DeviceInfo("C0:11:22:33:44:55"), bond_state="bonded")
    edit(tmp_path / "hub.db", "UPDATE events SET kind = 'alert'")
    edit(tmp_path / "hub.db", "UPDATE devices SET payload = zeroblob(40)")
    with open_store(tmp_path) as store:
        assert store.events().items == () and len(store.events().problems) == 1
        assert store.devices().items == ()
        assert store.devices().problems[0].row_id == "C0:11:22:33:44:55"
