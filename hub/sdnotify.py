"""systemd notification (sd_notify) without libsystemd: one datagram per message.

Unlike the `sdnotify` package, failures are not swallowed silently: a missing socket means we
are not under systemd (nothing to do); a send error is logged (the first one only: the
watchdog sends every few seconds) and returned.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify_address(environ: Mapping[str, str]) -> str | None:
    """The socket path from $NOTIFY_SOCKET; '@' means Linux's abstract namespace."""
    path = environ.get("NOTIFY_SOCKET", "")
    if not path:
        return None
    return "\0" + path[1:] if path.startswith("@") else path


def watchdog_interval_s(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of $WATCHDOG_USEC when the watchdog is meant for this process, else None.

    Pinging at half the interval from the event loop means a stuck loop stops the pings."""
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (owner and owner != str(pid)):
        return None
    return int(usec) / 2_000_000


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._address = notify_address(os.environ if environ is None else environ)
        self._sock: socket.socket | None = None
        self._failed = False
        if self._address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str) -> OSError | None:
        """Send `KEY=value` lines, e.g. send(READY="1", STATUS="running")."""
        if self._sock is None or self._address is None:
            return None
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            self._sock.sendto(message, self._address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("systemd notification to %r failed: %s", self._address, exc)
            return exc
        return None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
