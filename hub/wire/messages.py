"""Messages from the hospital to the hub: acknowledgements and the downlink configuration.

Both are signed with the hospital's Ed25519 key (`b"DHOS" | signature | JSON body`), so a
broker operator can neither forge an ack (which would make the hub delete unsent data) nor
push a configuration. The body's `type` keeps one kind from being replayed as the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAGIC = b"DHOS"
_SIG = 64


class MessageError(ValueError):
    """A message the hub must not act on; the text says why."""


def sign_message(body: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return MAGIC + key.sign(MAGIC + payload) + payload


def verify_message(data: bytes, key: Ed25519PublicKey, kind: str) -> dict[str, Any]:
    """The body of a signed message of type `kind`, or MessageError."""
    if len(data) < len(MAGIC) + _SIG or not data.startswith(MAGIC):
        raise MessageError("not a signed message")
    signature, payload = data[4 : 4 + _SIG], data[4 + _SIG :]
    try:
        key.verify(signature, MAGIC + payload)
    except InvalidSignature:
        raise MessageError("bad signature") from None
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        raise MessageError("body is not JSON") from None
    if not isinstance(body, dict) or body.get("type") != kind:
        raise MessageError(f"not a {kind} message")
    return body


@dataclass(frozen=True)
class Ack:
    """The receiver's answer to one envelope: stored (ok) or refused with a reason."""

    hub: str
    batch: str | None  # None when the envelope was too broken to name its batch
    ok: bool
    stored: int = 0
    duplicates: int = 0
    reason: str = ""
    detail: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "type": "ack",
            "hub": self.hub,
            "batch": self.batch,
            "ok": self.ok,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "reason": self.reason,
            "detail": self.detail,
        }


def parse_ack(data: bytes, key: Ed25519PublicKey, hub: str) -> Ack:
    body = verify_message(data, key, "ack")
    try:
        ack = Ack(
            hub=_typed(body, "hub", str),
            batch=body["batch"] if body.get("batch") is None else _typed(body, "batch", str),
            ok=_typed(body, "ok", bool),
            stored=_typed(body, "stored", int),
            duplicates=_typed(body, "duplicates", int),
            reason=_typed(body, "reason", str),
            detail=_typed(body, "detail", str),
        )
    except KeyError as exc:
        raise MessageError(f"ack without {exc}") from None
    if ack.hub != hub:
        raise MessageError(f"ack for {ack.hub!r}, not for this hub")
    return ack


@dataclass(frozen=True)
class DownlinkConfig:
    """The hospital's settings for one hub. `version` only ever increases."""

    hub: str
    version: int
    patient: str
    pathway: str
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    schedule: tuple[Mapping[str, Any], ...] = ()
    devices: tuple[Mapping[str, Any], ...] = ()

    def body(self) -> dict[str, Any]:
        return {
            "type": "config",
            "hub": self.hub,
            "version": self.version,
            "patient": self.patient,
            "pathway": self.pathway,
            "thresholds": dict(self.thresholds),
            "schedule": [dict(s) for s in self.schedule],
            "devices": [dict(d) for d in self.devices],
        }


def parse_config(
    data: bytes, key: Ed25519PublicKey, hub: str, current_version: int | None
) -> DownlinkConfig:
    """A verified config for `hub` newer than `current_version`, or MessageError."""
    body = verify_message(data, key, "config")
    try:
        config = DownlinkConfig(
            hub=_typed(body, "hub", str),
            version=_typed(body, "version", int),
            patient=_typed(body, "patient", str),
            pathway=_typed(body, "pathway", str),
            thresholds=_typed(body, "thresholds", dict),
            schedule=tuple(_records(body, "schedule")),
            devices=tuple(_records(body, "devices")),
        )
    except KeyError as exc:
        raise MessageError(f"config without {exc}") from None
    if config.hub != hub:
        raise MessageError(f"config for {config.hub!r}, not for this hub")
    if current_version is not None and config.version <= current_version:
        raise MessageError(f"version {config.version} is not newer than {current_version}")
    return config


def _typed(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = body[name]
    if type(value) is not kind:
        raise MessageError(f"{name} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _records(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    items = _typed(body, name, list)
    if not all(isinstance(item, dict) for item in items):
        raise MessageError(f"{name} must be a list of tables")
    return items
