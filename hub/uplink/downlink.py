"""Which downlink configs are handed on (pure; part of the core): signed by the hospital, for
this hub, newer than the last one. The retained copy the broker delivers again after every
reconnect passes silently; anything else that fails is refused with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.wire.messages import DownlinkConfig, MessageError, parse_config


@dataclass(frozen=True, slots=True)
class Verdict:
    config: DownlinkConfig | None = None  # verified and newer: hand it on
    refused: str = ""  # why it was refused ("" with no config: seen before, ignored)


class DownlinkGate:
    def __init__(self, key: Ed25519PublicKey, hub: str, applied_version: int | None) -> None:
        self._key = key
        self._hub = hub
        self._version = applied_version
        self._raw: bytes | None = None  # the last one handed on (or known to be applied)

    def check(self, payload: bytes) -> Verdict:
        if payload == self._raw:
            return Verdict()
        try:
            config = parse_config(payload, self._key, self._hub, None)
        except MessageError as exc:
            return Verdict(refused=str(exc))
        current = self._version
        if current is not None and config.version <= current:
            if config.version == current and self._raw is None:
                self._raw = payload  # the one applied before this start, as retained
                return Verdict()
            return Verdict(refused=f"version {config.version} is not newer than {current}")
        self._version, self._raw = config.version, payload
        return Verdict(config=config)
