"""The config in force and its history: the file, the hospital's signed downlink config and
the technician's assignments (`layers`), what is applied now, what was refused, and the last
good downlink config kept on disk as it was signed, so a restart applies it again before the
broker is reachable.

Every config applied is recorded in the store's config history with its version and the
SHA-256 of its bytes (the signed message for a downlink config, the file's text for the file);
the status says which version is in force and which was refused last, and why.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub import config
from hub.config import Config, ConfigError
from hub.daemon import assignments
from hub.daemon.layers import Layers, Rules
from hub.keyfiles import write_atomic
from hub.wire.messages import DownlinkConfig, MessageError, parse_config

DOWNLINK_FILE = "downlink-config"  # the name the uplink used before the daemon kept it
FILE_VERSION = "file"


@dataclass(frozen=True)
class Refusal:
    version: int
    key: str  # the key that failed validation (its value is not repeated: status is public)


@dataclass(frozen=True)
class InForce:
    """One consistent state: the layers, the config they make and its rules."""

    layers: Layers
    cfg: Config
    rules: Rules

    @classmethod
    def of(cls, layers: Layers) -> InForce:
        """ConfigError when the layers do not make a usable config."""
        return cls(layers, layers.effective(), layers.rules())

    def with_downlink(self, downlink: DownlinkConfig) -> InForce:
        return InForce.of(replace(self.layers, downlink=downlink))

    def with_assignments(self, new: assignments.Assignments) -> InForce:
        return InForce.of(replace(self.layers, assignments=new))

    def with_file(self, file: Config, text_source: str) -> InForce:
        return InForce.of(replace(self.layers, file=file, file_source=text_source))

    @property
    def downlink_version(self) -> int | None:
        return self.layers.downlink.version if self.layers.downlink else None


def load_file(path: Path) -> tuple[Config, assignments.Assignments, str]:
    """The config file, the daemon's assignments and the file's SHA-256 (ConfigError if bad)."""
    file = config.load(path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the file ({exc})") from exc
    laid = assignments.load(file.hub.data_dir / assignments.FILE_NAME)
    return file, laid, digest


def stored_downlink(
    path: Path, key: Ed25519PublicKey, hub: str
) -> tuple[DownlinkConfig, bytes] | None:
    """The last good downlink config kept on disk, verified again (it may have been
    tampered with while the hub was off); None when there is none or it does not verify."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return parse_config(raw, key, hub, None), raw
    except MessageError:
        return None


def keep_downlink(path: Path, raw: bytes) -> None:
    """Write the signed config atomically (a crash leaves the old one or the new one)."""
    write_atomic(path, raw, 0o600)


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
