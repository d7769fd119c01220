"""Reading the files a hub is told about (its config, keys, certificates), refusing what is
not a regular file: a directory named by mistake, a FIFO (whose open would block the daemon
before READY), a socket or a device; and making a directory's renames durable. Stdlib only:
the config loader and the store use it too."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotARegularFile(OSError):
    """`path` exists but is not a regular file; the text names it and what it is."""


def require_regular(path: Path) -> None:
    """Refuse `path` unless it is a regular file (symlinks followed); does not open it."""
    _check(path, os.stat(path).st_mode)


def require_private(path: Path) -> None:
    """Refuse `path` unless it is a regular file owned by this process's user and readable
    by nobody else: a private key anyone on the hub could read is a key to replace."""
    st = os.stat(path)
    _check(path, st.st_mode)
    if st.st_uid != os.geteuid():
        raise PermissionError(f"{path} is owned by uid {st.st_uid}, not by uid {os.geteuid()}")
    if st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode)
        raise PermissionError(f"{path} has mode {mode:04o}; a private key must be 0600")


def read_regular(path: Path) -> bytes:
    """The bytes of `path`, a regular file. Opened non-blocking, so a FIFO is refused
    instead of waiting forever for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        _check(path, os.fstat(fd).st_mode)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _check(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket"}
    what = next((name for test, name in kinds.items() if test(mode)), "a device")
    raise NotARegularFile(f"{path} is {what}, not a regular file")


def fsync_dir(directory: Path) -> None:
    """Make renames and removals in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
