"""The receiver's FHIR exports of what it stored, with pseudonyms resolved through the register.

`plain`: an R4 + PHD `collection` Bundle: every stored Observation and what it refers to (the
gateway and measuring Devices, coincident timestamps, the Patient), each entry with a
`fullUrl`. A resolved patient's Patient carries the national identifier beside the pseudonym
(or the subject points at the hospital's `Patient/<id>`); an unresolved one keeps only the
pseudonym and is reported.

`pmd`: what HL7 Norway's VkpObservation 0.5.1 draft and Norsk helsenett's PMD bundle endpoint
take: a `collection` Bundle (the type of NHN's connectathon example; the drafts do not agree
yet) of Observation entries only, each with a `fullUrl`, the subject as a Norwegian patient
identifier (`subject.identifier`), and references to resources outside the Bundle replaced by
logical identifier references. Observations of unresolved patients are left out and reported.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from hub.receiver.register import Register, RegisterEntry
from hub.wire.fhir import PATIENT_SYSTEM

Profile = Literal["plain", "pmd"]
Stored = Iterable[tuple[dict[str, Any], list[int]]]  # (batch Bundle, stored entry indexes)
_NS = uuid.UUID("7c0d7d0e-3f3a-4f0b-9a59-2d8f7f6c1e22")
PHD_PROFILES = "http://hl7.org/fhir/uv/phd/"


@dataclass(frozen=True)
class Export:
    bundle: dict[str, Any]
    unresolved: frozenset[str]  # pseudonyms the register does not know


def export_bundle(stored: Stored, register: Register, profile: Profile = "plain") -> Export:
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    unresolved: set[str] = set()
    for bundle, wanted in stored:
        by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"] if "fullUrl" in e}
        patients = {
            url: _pseudonym(r) for url, r in by_url.items() if r["resourceType"] == "Patient"
        }
        for index in wanted:
            resource = bundle["entry"][index]["resource"]
            if resource["resourceType"] != "Observation":
                continue
            subject = resource.get("subject", {}).get("reference", "")
            if subject not in patients:
                continue  # a coincident timestamp (its subject is a device): went with its user
            pseudonym = patients[subject]
            identity = register.resolve(pseudonym) if pseudonym is not None else None
            if identity is None:
                unresolved.add(pseudonym or subject)
            if profile == "pmd":
                if identity is not None:
                    entries.append(_pmd_entry(resource, identity, by_url))
                continue
            for url in _referenced(resource, by_url):
                if url not in seen:
                    seen.add(url)
                    entries.append({"fullUrl": url, "resource": _plain(by_url[url], register)})
            entries.append({"fullUrl": _observation_url(resource), "resource": resource})
    return Export(
        {"resourceType": "Bundle", "type": "collection", "entry": entries},
        frozenset(unresolved),
    )


def _pseudonym(patient: dict[str, Any]) -> str | None:
    for ident in patient.get("identifier", []):
        if ident.get("system") == PATIENT_SYSTEM:
            return ident.get("value")
    return None


def _observation_url(resource: dict[str, Any]) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, resource['identifier'][0]['value'])}"


def _references(resource: dict[str, Any]) -> list[str]:
    refs = [
        resource.get("subject", {}).get("reference"),
        resource.get("device", {}).get("reference"),
    ]
    refs += [e.get("valueReference", {}).get("reference") for e in resource.get("extension", [])]
    return [r for r in refs if r]


def _referenced(resource: dict[str, Any], by_url: dict[str, dict[str, Any]]) -> list[str]:
    """The in-Bundle resources `resource` refers to, and (for a coincident timestamp) theirs."""
    out: list[str] = []
    for url in _references(resource):
        if url in by_url and url not in out:
            out += [u for u in _referenced(by_url[url], by_url) if u not in out]
            out.append(url)
    return out


def _plain(resource: dict[str, Any], register: Register) -> dict[str, Any]:
    """A Patient gains the national identifier (or a link to the hospital's Patient)."""
    if resource["resourceType"] != "Patient":
        return resource
    pseudonym = _pseudonym(resource)
    identity = register.resolve(pseudonym) if pseudonym is not None else None
    if identity is None:
        return resource
    if identity.reference is not None:
        return {
            **resource,
            "link": [{"other": {"reference": identity.reference}, "type": "seealso"}],
        }
    national = {"system": identity.system, "value": identity.value}
    return {**resource, "identifier": [national, *resource["identifier"]]}


def _pmd_entry(
    resource: dict[str, Any], identity: RegisterEntry, by_url: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    subject = (
        {"reference": identity.reference}
        if identity.reference is not None
        else {"identifier": {"system": identity.system, "value": identity.value}}
    )
    out = {k: v for k, v in resource.items() if k != "extension"}
    # The PHD profiles need the gateway and device as resolvable references, which an
    # Observation-only Bundle cannot hold: only the R4 vital-signs claims stay.
    meta = resource.get("meta", {})
    profiles = [p for p in meta.get("profile", []) if not p.startswith(PHD_PROFILES)]
    out["meta"] = (
        {**meta, "profile": profiles}
        if profiles
        else {k: v for k, v in meta.items() if k != "profile"}
    )
    out["subject"] = subject
    device = by_url.get(resource.get("device", {}).get("reference", ""))
    if device is not None:
        own = device["identifier"][-1]
        out["device"] = {"identifier": {"system": own["system"], "value": own["value"]}}
    return {"fullUrl": _observation_url(resource), "resource": out}
