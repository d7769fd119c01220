"""Sealing a batch for the hospital: a FHIR Bundle, compressed, signed by the hub and encrypted
to the hospital's key with a fresh ephemeral key (the edge's job: it draws randomness and
reads the wall clock, which the core never does)."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from hub.uplink.events import Sealed
from hub.uplink.ports import DeviceDirectory, OutboxBatch
from hub.uplink.settings import UplinkKeys, UplinkSettings
from hub.wire.envelope import seal
from hub.wire.fhir import bundle_json


class Sealer:
    def __init__(self, settings: UplinkSettings, keys: UplinkKeys, devices: DeviceDirectory):
        self._settings = settings
        self._keys = keys
        self._devices = devices

    def seal(self, batch: OutboxBatch, patient: str) -> Sealed:
        s = self._settings
        created = datetime.now(UTC)
        bundle = bundle_json(batch.id, s.hub, patient, batch.readings, created, self._devices.info)
        envelope = seal(
            bundle.encode(),
            hub=s.hub,
            batch=batch.id,
            sequence=batch.sequence,
            created=created.isoformat(),
            count=len(batch.readings),
            signer=self._keys.signing,
            recipient=self._keys.hospital,
            ephemeral=X25519PrivateKey.generate(),
            level=s.compress_level,
        )
        return Sealed(batch.id, batch.sequence, len(batch.readings), envelope)
