"""The config in force and its history: the file, the hospital's signed downlink config and
the technician's assignments (`layers`), what is applied now, what was refused, and the last
good downlink config kept in the store as it was signed (sealed with the data key like every
payload: it names the patient's pseudonym), so a restart applies it again before the broker
is reachable.

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
from hub.files import read_regular
from hub.wire.messages import DownlinkConfig, MessageError, parse_config

LEGACY_DOWNLINK_FILE = "downlink-config"  # where the uplink kept it in clear before
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


def verified(signed: bytes, key: Ed25519PublicKey, hub: str) -> DownlinkConfig | None:
    """The kept downlink config verified again (the store may have been tampered with while
    the hub was off); None when it does not verify."""
    try:
        return parse_config(signed, key, hub, None)
    except MessageError:
        return None


def take_legacy_downlink(data_dir: Path) -> bytes | None:
    """The signed config an older hub kept in clear beside its data (it names the patient's
    pseudonym), removed once read: the store keeps it sealed from now on."""
    path = data_dir / LEGACY_DOWNLINK_FILE
    try:
        signed = read_regular(path)
    except FileNotFoundError:
        return None
    path.unlink()
    return signed


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
