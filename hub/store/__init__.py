"""Encrypted offline store: SQLite outbox of readings, devices, events and config history,
every payload sealed with AES-256-GCM, surviving power cuts and full disks."""

from hub.store.codec import CodecError
from hub.store.erase import Erased, erase
from hub.store.keys import KeyFileError, KeyRing, KeySource, MissingKeyError, WrongKeyError
from hub.store.store import (
    Batch,
    ConfigRecord,
    DeviceRecord,
    Problem,
    ReadResult,
    Rotation,
    Store,
    StoreError,
    StoreFullError,
    StoreStatus,
)

__all__ = [
    "Batch",
    "CodecError",
    "ConfigRecord",
    "DeviceRecord",
    "Erased",
    "KeyFileError",
    "KeyRing",
    "KeySource",
    "MissingKeyError",
    "Problem",
    "ReadResult",
    "Rotation",
    "Store",
    "StoreError",
    "StoreFullError",
    "StoreStatus",
    "WrongKeyError",
    "erase",
]
