"""The test messages the diagnosis sends, as bytes: honest, small, and harmless to keep.

The probe batch is a real envelope — signed with the hub's key, encrypted to the hospital's —
whose Bundle holds the hub's Device and the patient but no Observation. The receiver checks
it like any batch (enrollment, signature, decryption, Bundle identifier, reading count) and
acks it with stored 0; it keeps the empty batch row, which no export shows. A running
daemon's uplink sees that ack too and finds no rows to delete for it.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from hub.wire.envelope import seal
from hub.wire.fhir import bundle_json

BATCH_PREFIX = "probe-"
# Not retained, so the hub's retained status (what the fleet view reads) stays as it is.
STATUS_PROBE = b'{"state":"connectivity-test"}'


def probe_batch(
    *,
    hub: str,
    patient: str,
    batch: str,
    created: datetime,
    signer: Ed25519PrivateKey,
    recipient: X25519PublicKey,
    ephemeral: X25519PrivateKey,
) -> bytes:
    """A sealed envelope of an empty batch; `ephemeral` must be fresh."""
    bundle = bundle_json(batch, hub, patient, [], created)
    return seal(
        bundle.encode(),
        hub=hub,
        batch=batch,
        sequence=0,
        created=created.isoformat(),
        count=0,
        signer=signer,
        recipient=recipient,
        ephemeral=ephemeral,
    )
