"""The hub's id secret: the key of its stable reading ids (`hub.ids`), made once, kept 0600."""

from __future__ import annotations

import os
from pathlib import Path

from hub.config import ConfigError
from hub.files import read_regular
from hub.ids import SECRET_BYTES
from hub.keyfiles import write_atomic


def load_secret(path: Path) -> bytes:
    """The hub's id secret (created, 0600, on first use); a damaged one is a ConfigError:
    a new secret would give re-sent records new ids, and the hospital would store them
    twice, so the hub refuses to start rather than guess."""
    try:
        data = read_regular(path)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = os.urandom(SECRET_BYTES)
        write_atomic(path, data, 0o600)
        return data
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the id secret ({exc})") from exc
    if len(data) != SECRET_BYTES:
        raise ConfigError(
            str(path), "", f"the id secret must be {SECRET_BYTES} bytes, found {len(data)}"
        )
    return data
