"""Operator actions on the store (`hub store ...`), driven by the hub's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hub.config import Config
from hub.store.api import StoreOptions
from hub.store.erase import erase
from hub.store.keys import KeySource
from hub.store.owner import StoreOwner
from hub.store.store import Store


def key_file(config: Config) -> Path:
    return config.store.key_file or config.hub.data_dir / "data.key"


def key_source(config: Config, environ: Mapping[str, str] | None = None) -> KeySource:
    return KeySource.resolve(key_file(config), environ)


def store_options(config: Config) -> StoreOptions:
    return StoreOptions(
        flush_max=config.store.flush_max,
        disk_floor_mb=config.store.disk_floor_mb,
        retention_days=config.store.retention_days,
        event_retention_days=config.store.event_retention_days,
    )


def open_store(config: Config, environ: Mapping[str, str] | None = None) -> Store:
    """The store as configured, for use from one thread (operator tools)."""
    return Store.open(config.store_path, key_source(config, environ), store_options(config))


async def open_owner(config: Config, environ: Mapping[str, str] | None = None) -> StoreOwner:
    """The store as configured, behind its owner thread (what the daemon opens)."""
    return await StoreOwner.open(
        config.store_path,
        key_source(config, environ),
        store_options(config),
        flush_ms=config.store.flush_ms,
    )


def rotate_key(config: Config) -> list[str]:
    """Rotate the data key; safe while the daemon runs (it follows at its next write)."""
    with open_store(config) as store:
        done = store.rotate_key()
    lines = [f"key {done.key_id} is active; {done.re_encrypted} rows re-encrypted"]
    if done.removed_key_ids:
        lines.append(f"removed old key ids {', '.join(map(str, done.removed_key_ids))}")
    if done.kept_key_ids:
        lines.append(
            f"kept key ids {', '.join(map(str, done.kept_key_ids))}: still used by rows that "
            "failed authentication (see the store's error events)"
        )
    return lines


def erase_store(config: Config) -> list[str]:
    """Crypto-shred: the key file and every database file go. Stop the service first."""
    done = erase(config.store_path, key_source(config))
    lines = [f"removed {path}" for path in done.removed] or ["nothing to remove"]
    if done.credential is not None:
        lines.append(
            f"the data key comes from the systemd credential {done.credential}; remove it "
            "where it is provisioned (LoadCredential=) to complete the erase"
        )
    return lines
