"""Encrypted offline store: SQLite outbox of readings, devices, events and config history,
every payload sealed with AES-256-GCM, surviving power cuts and full disks."""

from hub.store.api import (
    Batch,
    ConfigRecord,
    Damage,
    DeviceRecord,
    Problem,
    Purged,
    ReadResult,
    Rotation,
    StoreError,
    StoreFullError,
    StoreOptions,
    StoreStatus,
)
from hub.store.erase import Erased, erase
from hub.store.keys import KeyFileError, KeyRing, KeySource, MissingKeyError, WrongKeyError
from hub.store.owner import StoreOwner
from hub.store.store import Store
from hub.store.values import CodecError

__all__ = [
    "Batch",
    "CodecError",
    "ConfigRecord",
    "Damage",
    "DeviceRecord",
    "Erased",
    "KeyFileError",
    "KeyRing",
    "KeySource",
    "MissingKeyError",
    "Problem",
    "Purged",
    "ReadResult",
    "Rotation",
    "Store",
    "StoreError",
    "StoreFullError",
    "StoreOptions",
    "StoreOwner",
    "StoreStatus",
    "WrongKeyError",
    "erase",
]
