"""The hub's id secret: the key of its stable reading ids (`hub.ids`), made once, kept 0600."""

from __future__ import annotations

import os
from pathlib import Path

from hub.ids import SECRET_BYTES
from hub.keyfiles import write_atomic


def load_secret(path: Path) -> bytes:
    """The hub's id secret (created, 0600, on first use)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = os.urandom(SECRET_BYTES)
        write_atomic(path, data, 0o600)
        return data
    if len(data) != SECRET_BYTES:
        raise ValueError(f"{path}: expected {SECRET_BYTES} bytes, found {len(data)}")
    return data
