"""Every resource kind the hub and the receiver produce, checked by a validator we did not
write (Medplum 4.5.2 with the official R4 StructureDefinitions and vital-signs profiles, run by
Node; `make test` installs it) and by the fhir.resources R4B models. Needs Node: it fails, not
skips, when the validator is missing."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir_support import (
    CUFF,
    PATIENT,
    T0,
    bundle,
    claimed_vital_signs,
    every_kind,
    node_validate,
    real_errors,
)
from fhir_support import VITAL_SIGNS as VITAL

from hub.receiver.export import export_bundle
from hub.receiver.register import Register, RegisterEntry

BATCH = bundle(list(every_kind().values()))


def _validated(resources: list[dict]) -> list[tuple[str, str | None, list[str]]]:
    items = [(r, claimed_vital_signs(r)) for r in resources]
    results = node_validate(items)
    return [
        (resources[x["index"]]["resourceType"], x["profile"], real_errors(x, resources[x["index"]]))
        for x in results
    ]


def test_every_resource_of_a_batch_is_valid_r4_and_vital_signs() -> None:
    resources = [e["resource"] for e in BATCH["entry"]]
    kinds = {r["resourceType"] for r in resources}
    assert kinds == {"Observation", "Device", "Patient"}
    results = _validated(resources)
    assert [r for r in results if r[2]] == []
    checked = {profile for _, profile, _ in results if profile}
    # every vital-signs profile the hub's kinds can claim was checked at least once
    assert {p.rsplit("/", 1)[1] for p in checked} == {
        "bp", "heartrate", "oxygensat", "bodytemp", "bodyweight", "bodyheight", "bmi", "resprate"
    }  # fmt: skip


def test_the_validator_can_fail() -> None:
    spo2 = next(
        e["resource"]
        for e in BATCH["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "59408-5"
    )
    broken = {**spo2, "code": {"coding": [spo2["code"]["coding"][0]]}}  # 59408-5 alone
    (_, _, base), (_, _, profile) = _validated([broken])
    assert base == []
    assert any("OxygenSatCode" in e for e in profile)


def test_the_filtered_false_alarms_are_the_validators_not_ours() -> None:
    """A textbook bp panel (the R4 spec's own shape, LOINC only) and a heart rate over a
    period draw the same errors the tests filter: if a Medplum upgrade stops reporting them,
    this fails and the filter in fhir_support must go."""
    vs = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                      "code": "vital-signs"}]}  # fmt: skip

    def quantity(v: float, unit: str) -> dict:
        return {"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}

    def loinc(code: str) -> dict:
        return {"coding": [{"system": "http://loinc.org", "code": code}]}

    panel = {
        "resourceType": "Observation", "status": "final", "category": [vs],
        "code": loinc("85354-9"), "subject": {"reference": "Patient/example"},
        "effectiveDateTime": "2026-11-21T08:00:00Z",
        "component": [
            {"code": loinc("8480-6"), "valueQuantity": quantity(107, "mm[Hg]")},
            {"code": loinc("8462-4"), "valueQuantity": quantity(60, "mm[Hg]")},
        ],
    }  # fmt: skip
    rate = {
        **panel, "code": loinc("8867-4"), "component": [],
        "effectivePeriod": {"start": "2026-11-21T08:00:00Z", "end": "2026-11-21T08:01:00Z"},
        "valueQuantity": quantity(61, "/min"),
    }  # fmt: skip
    del rate["component"], rate["effectiveDateTime"]
    results = node_validate([(panel, [f"{VITAL}bp"]), (rate, [f"{VITAL}heartrate"])])
    errors = " ".join(e for r in results for e in r["errors"])
    assert "SystolicBP" in errors and "DiastolicBP" in errors and "vs-1" in errors


def test_batch_bundle_validates_whole() -> None:
    (result,) = node_validate([(BATCH, [])])
    assert real_errors(result, BATCH) == []
    assert Bundle.model_validate(BATCH).type == "transaction"


@pytest.mark.parametrize("profile", ["plain", "pmd"])
def test_receiver_export_validates_whole(profile: str) -> None:
    register = Register([RegisterEntry(PATIENT, "urn:oid:2.16.578.1.12.4.1.4.1", "01019010046")])
    exported = export_bundle([(BATCH, list(range(len(BATCH["entry"]))))], register, profile)
    assert exported.unresolved == frozenset()
    (result,) = node_validate([(exported.bundle, [])])
    assert real_errors(result, exported.bundle) == []
    assert Bundle.model_validate(exported.bundle).type == "collection"
    if profile == "pmd":  # each Observation against the vital-signs profiles it still claims
        observations = [e["resource"] for e in exported.bundle["entry"]]
        assert [r for r in _validated(observations) if r[2]] == []


def test_devices_before_device_information_was_read_are_valid() -> None:
    from hub.wire.fhir import bundle_json

    text = bundle_json("b-2", "hub-a", PATIENT, list(every_kind().values()), T0)
    devices = [e["resource"] for e in json.loads(text)["entry"]
               if e["resource"]["resourceType"] == "Device"]  # fmt: skip
    assert all("_manufacturer" in d for d in devices if "PhdDevice" in str(d["meta"]))
    assert [r for r in _validated(devices) if r[2]] == []


def test_the_devices_of_a_batch() -> None:
    devices = [e["resource"] for e in BATCH["entry"] if e["resource"]["resourceType"] == "Device"]
    assert len(devices) == 4  # the gateway, the cuff, the oximeter, the serial oximeter
    assert any(CUFF.lower() in str(d["identifier"]) for d in devices)
