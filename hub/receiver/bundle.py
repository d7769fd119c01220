"""The de-duplication keys of a decrypted batch Bundle, checked against the envelope header.

The receiver needs only the Bundle's identifier and each Observation's identifier; the rest
(about 2 kB of FHIR per reading) is stored as it arrived. msgspec decodes just those fields
into typed Structs and skips the rest without building it — about ten times faster than
`json.loads` of the whole Bundle, which was the receiver's largest cost. Whatever that strict
decode does not take as a well-formed Bundle of this hub (or is not plain ASCII, which the hub
always sends and which msgspec would not check in skipped strings) goes through `json.loads`
and `observation_keys`, which accept or refuse exactly as before and name the fault.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from hub.gcpause import gc_paused
from hub.wire.envelope import EnvelopeError, Refusal
from hub.wire.fhir import BATCH_SYSTEM, READING_SYSTEM, BundleError, observation_keys

Keys = list[tuple[str, int]]  # (Observation identifier, entry index)


class _Identifier(msgspec.Struct, gc=False):
    system: str | None = None
    value: str | None = None


class _Resource(msgspec.Struct, gc=False):
    resourceType: str | None = None
    identifier: list[_Identifier] = msgspec.field(default_factory=list)


class _Entry(msgspec.Struct, gc=False):
    resource: _Resource


class _Bundle(msgspec.Struct, gc=False):
    resourceType: str
    entry: list[_Entry]
    identifier: Any = None


_DECODER = msgspec.json.Decoder(_Bundle)


def bundle_keys(payload: bytes, hub: str, batch: str, count: int) -> Keys:
    """The Observation keys of a decrypted Bundle that must name `batch` and hold `count`
    readings of `hub`; anything else is a BAD_PAYLOAD refusal."""
    keys = _well_formed_keys(payload, hub, batch, count) if payload.isascii() else None
    if keys is not None:
        return keys
    # json.loads builds the whole Bundle (tens of thousands of acyclic containers): built,
    # read and freed with the cyclic GC paused, so no collection ever walks it.
    with gc_paused():
        return _checked_keys(payload, hub, batch, count)


def _well_formed_keys(payload: bytes, hub: str, batch: str, count: int) -> Keys | None:
    """The keys when the Bundle passes every check, else None (the caller then finds out why)."""
    try:
        bundle = _DECODER.decode(payload)
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    if bundle.resourceType != "Bundle" or bundle.identifier != _batch_identifier(batch):
        return None
    prefix = hub + "/"
    keys: Keys = []
    for index, entry in enumerate(bundle.entry):
        resource = entry.resource
        if resource.resourceType != "Observation":
            continue
        if not resource.identifier:
            return None
        ident = resource.identifier[0]
        value = ident.value
        if ident.system != READING_SYSTEM or value is None or not value.startswith(prefix):
            return None
        keys.append((value, index))
    return keys if _readings(keys) == count else None


def _checked_keys(payload: bytes, hub: str, batch: str, count: int) -> Keys:
    try:
        bundle = json.loads(payload)
        keys = observation_keys(bundle, hub)
    except (ValueError, RecursionError) as exc:  # BundleError is a ValueError
        detail = str(exc) if isinstance(exc, BundleError) else "Bundle is not JSON"
        raise EnvelopeError(Refusal.BAD_PAYLOAD, detail) from None
    if bundle.get("identifier") != _batch_identifier(batch):
        raise EnvelopeError(Refusal.BAD_PAYLOAD, "Bundle identifier is not the batch id")
    if _readings(keys) != count:
        raise EnvelopeError(Refusal.BAD_PAYLOAD, f"header says {count} readings")
    return keys


def _batch_identifier(batch: str) -> dict[str, str]:
    return {"system": BATCH_SYSTEM, "value": batch}


def _readings(keys: Keys) -> int:
    """Distinct readings among the keys (`<hub>/<reading id>/<LOINC>`)."""
    return len({ident.split("/")[1] for ident, _ in keys})
