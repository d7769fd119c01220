"""Crypto-shredding for deprovisioning: the data key and every database file are removed.

Removing the key is what makes the data unrecoverable (flash storage may keep old blocks of
deleted files; without the key they are noise). The service must be stopped first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.store.database import database_files
from hub.store.keys import KeySource


@dataclass(frozen=True)
class Erased:
    removed: tuple[Path, ...]
    credential: Path | None  # a systemd credential this process cannot remove


def erase(db_path: Path, source: KeySource) -> Erased:
    removed = [source.path] if source.remove() else []
    for path in database_files(Path(db_path)):
        path.unlink()
        removed.append(path)
    return Erased(tuple(removed), source.path if source.credential else None)
