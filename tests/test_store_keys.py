import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from store_support import open_store, readings

from hub.store import (
    KeyFileError,
    KeyRing,
    KeySource,
    MissingKeyError,
    Store,
    WrongKeyError,
)
from hub.store.keys import CREDENTIAL_NAME, format_ring, parse_ring


def test_ring_round_trips_and_rotates() -> None:
    ring = KeyRing.first(b"a" * 32).with_new_key(b"b" * 32)
    assert (ring.active, sorted(ring.keys)) == (2, [1, 2])
    assert parse_ring(format_ring(ring), "f") == ring
    assert parse_ring(format_ring(ring.without({1})), "f").keys == {2: b"b" * 32}
    with pytest.raises(ValueError):
        ring.without({2})


@given(st.binary(max_size=300))
def test_any_bytes_give_a_ring_or_a_key_file_error(data: bytes) -> None:
    try:
        parse_ring(data, "f")
    except KeyFileError as exc:
        assert str(exc).startswith("f: not a usable key ring")


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            '{"format": "hub-store-keyring", "version": 1, "active": 1, "keys": {"1": "AAAA"}}',
            "has 3 bytes",
        ),
        ('{"format": "hub-store-keyring", "version": 2}', "unsupported version"),
        (
            '{"format": "hub-store-keyring", "version": 1, "active": 2, "keys": {"1": "'
            + "A" * 43
            + '="}}',
            "'active'",
        ),
        ("[1, 2]", "format"),
    ],
)
def test_bad_rings_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(KeyFileError, match=problem):
        parse_ring(text.encode(), "f")


def test_new_store_creates_a_0600_key_file(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    mode = stat.S_IMODE((tmp_path / "data.key").stat().st_mode)
    assert mode == 0o600
    ring = KeySource(tmp_path / "data.key").load()
    assert ring is not None and len(ring.keys[ring.active]) == 32


def test_loose_permissions_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    (tmp_path / "data.key").chmod(0o640)
    with pytest.raises(KeyFileError, match=r"permissions 0640.*chmod 600"):
        open_store(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file away")
def test_key_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    os.chown(tmp_path / "data.key", 4242, -1)
    with pytest.raises(KeyFileError, match="owned by uid 4242"):
        open_store(tmp_path)


def test_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    (tmp_path / "data.key").rename(tmp_path / "real.key")
    (tmp_path / "data.key").symlink_to(tmp_path / "real.key")
    with pytest.raises(KeyFileError, match="cannot open"):
        open_store(tmp_path)


def test_wrong_key_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.add(readings(3), urgent=True)
    KeySource(tmp_path / "data.key").save(KeyRing.first(os.urandom(32)))
    with pytest.raises(WrongKeyError, match="does not open this database"):
        open_store(tmp_path)


def test_missing_key_file_for_an_existing_database_is_not_replaced(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.add(readings(3), urgent=True)
    (tmp_path / "data.key").unlink()
    with pytest.raises(MissingKeyError, match="hub store erase"):
        open_store(tmp_path)
    assert not (tmp_path / "data.key").exists()


def test_systemd_credential_is_used_when_present(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / CREDENTIAL_NAME).write_bytes(format_ring(KeyRing.first(os.urandom(32))))
    (creds / CREDENTIAL_NAME).chmod(0o400)  # as systemd's LoadCredential= leaves it
    source = KeySource.resolve(tmp_path / "data.key", {"CREDENTIALS_DIRECTORY": str(creds)})
    assert source == KeySource(creds / CREDENTIAL_NAME, credential=True)
    with Store.open(tmp_path / "hub.db", source, free_bytes=lambda _p: 10**12) as store:
        batch = readings(2)
        store.add(batch, urgent=True)
        assert store.readings().items == tuple(batch)
        with pytest.raises(KeyFileError, match="read only"):
            store.rotate_key()
    assert not (tmp_path / "data.key").exists()
    assert KeySource.resolve(tmp_path / "data.key", {}) == KeySource(tmp_path / "data.key")
