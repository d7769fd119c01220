"""The enrollment directory as the receiver sees it while running: `<hub>.pub` for each
enrolled hub's signing key, `<hub>.revoked` for each revoked hub (whose envelopes are refused
as `revoked-hub`). `hub hospital enroll` and `revoke` change it with renames, which change
the directory's mtime; `refresh` re-reads it only then (one stat per group of envelopes).
Timestamps are coarse (a few ms), so a read made within two seconds of the change it saw
is not trusted to have seen everything of that instant: the directory is read once more
after those two seconds (git's "racy" rule).
"""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.keyfiles import load_enrollment

_RACY_NS = 2_000_000_000


class EnrollmentDir:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.keys: dict[str, Ed25519PublicKey] = {}
        self.revoked: frozenset[str] = frozenset()
        self._seen: int | None = None
        self._read_again_at: int | None = None  # ns; set while the last read was racy
        self.refresh()

    def refresh(self) -> bool:
        """Re-read the directory if it changed since the last read; True when it did."""
        stamp = self.directory.stat().st_mtime_ns
        now = time.time_ns()
        if stamp == self._seen and (self._read_again_at is None or now < self._read_again_at):
            return False
        self._seen = stamp
        self._read_again_at = stamp + _RACY_NS if now - stamp < _RACY_NS else None
        self.keys = load_enrollment(self.directory)
        self.revoked = frozenset(p.stem for p in self.directory.glob("*.revoked"))
        return True
