"""The hub's id secret: the key of its stable reading ids (`hub.ids`), made once, kept 0600."""

from __future__ import annotations

import os
from pathlib import Path

from hub.ids import SECRET_BYTES


def load_secret(path: Path) -> bytes:
    """The hub's id secret (created, 0600, on first use)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = os.urandom(SECRET_BYTES)
        tmp = path.with_name(path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return data
    if len(data) != SECRET_BYTES:
        raise ValueError(f"{path}: expected {SECRET_BYTES} bytes, found {len(data)}")
    return data
