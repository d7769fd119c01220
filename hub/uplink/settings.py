"""What the uplink is configured with: where the broker is, how it batches and retries, and the
keys it signs, encrypts and verifies with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey


@dataclass(frozen=True)
class UplinkSettings:
    hub: str
    host: str
    port: int
    ca: Path
    cert: Path | None
    key: Path | None
    patient: str = ""
    batch_max: int = 200
    batch_seconds: float = 30.0
    ack_timeout_s: float = 60.0
    window: int = 16  # batches sent and not yet acknowledged; capped by Receive Maximum
    backoff_base_s: float = 0.5
    backoff_max_s: float = 300.0
    auth_retry_s: float = 600.0  # after a refused certificate or a 0x87
    keepalive_s: int = 60
    connect_timeout_s: float = 10.0
    compress_level: int = 3  # zlib-ng: ~65 bytes/reading at ~0.9 µs; 4 is ~62 at ~1.6 µs
    session_expiry_s: int = 86_400  # the broker keeps our acks while we are away
    applied_config_version: int | None = None  # downlink configs at or below it are ignored


@dataclass(frozen=True)
class UplinkKeys:
    signing: Ed25519PrivateKey  # the hub's
    hospital: X25519PublicKey  # envelopes are encrypted to it
    hospital_signing: Ed25519PublicKey  # acks and configs are signed with it
