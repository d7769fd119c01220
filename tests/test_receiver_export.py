"""The identity register and the receiver's exports: resolved, unresolved and changed
pseudonyms, and the PMD (VkpObservation 0.5.1 draft) shape."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from fhir_support import HUB, PATIENT, T0, bundle, every_kind

from hub.receiver.db import IncomingBatch, ReceiverDb
from hub.receiver.export import export_bundle
from hub.receiver.register import (
    D_NUMBER,
    FODSELSNUMMER,
    Register,
    RegisterEntry,
    RegisterError,
    valid_national_id,
)
from hub.wire.fhir import observation_keys

FNR, DNR = "01019010046", "41019010110"
BATCH = bundle(list(every_kind().values()))
STORED = [(BATCH, list(range(len(BATCH["entry"]))))]
NORWEGIAN = {FODSELSNUMMER, D_NUMBER, "urn:oid:2.16.578.1.12.4.1.4.3"}


def _export(register: Register, profile: str = "plain") -> tuple[dict, frozenset[str]]:
    out = export_bundle(STORED, register, profile)  # type: ignore[arg-type]
    return out.bundle, out.unresolved


def test_national_id_check_digits() -> None:
    assert valid_national_id(FODSELSNUMMER, FNR) and valid_national_id(D_NUMBER, DNR)
    assert not valid_national_id(FODSELSNUMMER, FNR[:-1] + "7")  # wrong check digit
    assert not valid_national_id(D_NUMBER, FNR)  # a D-number's first digit is 4-7
    assert not valid_national_id(FODSELSNUMMER, "0101901004")


def test_resolved_patient_gets_the_national_identifier() -> None:
    exported, unresolved = _export(Register([RegisterEntry(PATIENT, FODSELSNUMMER, FNR)]))
    assert unresolved == frozenset()
    (patient,) = [
        e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert patient["identifier"][0] == {"system": FODSELSNUMMER, "value": FNR}
    assert all("fullUrl" in e for e in exported["entry"])
    kinds = {e["resource"]["resourceType"] for e in exported["entry"]}
    assert kinds == {"Patient", "Device", "Observation"}


def test_unresolved_pseudonym_is_reported_never_guessed() -> None:
    other = Register([RegisterEntry("someone-else", FODSELSNUMMER, FNR)])
    exported, unresolved = _export(other)
    assert unresolved == {PATIENT}
    assert FNR not in str(exported)
    pmd, unresolved = _export(other, "pmd")
    assert unresolved == {PATIENT} and pmd["entry"] == []


def test_changed_register_entry_changes_the_export() -> None:
    before, _ = _export(Register([RegisterEntry(PATIENT, D_NUMBER, DNR)]))
    after, _ = _export(Register([RegisterEntry(PATIENT, FODSELSNUMMER, FNR)]))
    assert DNR in str(before) and FNR not in str(before)
    assert FNR in str(after) and DNR not in str(after)
    linked, _ = _export(Register([RegisterEntry(PATIENT, "Patient", "p-77")]))
    (patient,) = [
        e["resource"] for e in linked["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert patient["link"] == [{"other": {"reference": "Patient/p-77"}, "type": "seealso"}]


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([RegisterEntry("a", FODSELSNUMMER, "12345678901")], "not a valid identifier"),
        ([RegisterEntry("a", "urn:oid:9.9", "x")], "unknown identifier system"),
        (
            [RegisterEntry("a", FODSELSNUMMER, FNR), RegisterEntry("a", D_NUMBER, DNR)],
            "already stands for another patient",
        ),
    ],
)
def test_register_refuses_what_it_cannot_trust(rows: list[RegisterEntry], match: str) -> None:
    with pytest.raises(RegisterError, match=match):
        Register(rows)


def test_pmd_export_shape() -> None:
    pmd, unresolved = _export(Register([RegisterEntry(PATIENT, FODSELSNUMMER, FNR)]), "pmd")
    assert unresolved == frozenset()
    assert pmd["resourceType"] == "Bundle" and pmd["type"] == "collection"
    assert pmd["entry"]
    for entry in pmd["entry"]:
        assert entry["fullUrl"].startswith("urn:uuid:")
        resource = entry["resource"]
        assert resource["resourceType"] == "Observation"
        assert resource["subject"] == {"identifier": {"system": FODSELSNUMMER, "value": FNR}}
        assert resource["subject"]["identifier"]["system"] in NORWEGIAN
        # no PHD claim (its references cannot resolve here), the vital-signs claims stay
        assert not any("/uv/phd/" in p for p in resource["meta"].get("profile", []))
        # nothing refers to a resource the Bundle does not hold
        assert "urn:uuid:" not in str({k: v for k, v in resource.items() if k != "identifier"})
    assert len({e["fullUrl"] for e in pmd["entry"]}) == len(pmd["entry"])
    claims = {p for e in pmd["entry"] for p in e["resource"]["meta"].get("profile", [])}
    assert "http://hl7.org/fhir/StructureDefinition/oxygensat" in claims


def _stored_db(path: Path) -> Path:
    """A real receiver database holding BATCH, stored the way the ingest stores it."""
    text = json.dumps(BATCH)
    keys = observation_keys(BATCH, HUB)
    db = ReceiverDb(path)
    try:
        batch = IncomingBatch("batch-1", HUB, 1, T0.isoformat(), len(every_kind()),
                              zlib.compress(text.encode()), keys)  # fmt: skip
        db.store([batch], T0.isoformat())
    finally:
        db.close()
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "receiver", "export", "--fhir", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_cli_export_reports_unresolved_and_resolves_with_the_register(tmp_path: Path) -> None:
    db = str(_stored_db(tmp_path / "receiver.db"))
    plain = _cli("--db", db)
    assert plain.returncode == 0
    assert (
        plain.stderr.strip() == f"hub receiver export: patient {PATIENT!r} is not in the register"
    )
    assert len(json.loads(plain.stdout)["entry"]) > 0
    assert json.loads(_cli("--db", db, "--profile", "pmd").stdout)["entry"] == []
    register = tmp_path / "register.csv"
    register.write_text(f"# pseudonym,system,value\n{PATIENT},{FODSELSNUMMER},{FNR}\n")
    pmd = _cli("--db", db, "--profile", "pmd", "--register", str(register))
    assert pmd.returncode == 0 and pmd.stderr == ""
    subjects = {
        e["resource"]["subject"]["identifier"]["value"] for e in json.loads(pmd.stdout)["entry"]
    }
    assert subjects == {FNR}


def test_cli_export_refuses_a_bad_register_naming_it(tmp_path: Path) -> None:
    db = str(_stored_db(tmp_path / "receiver.db"))
    register = tmp_path / "register.csv"
    register.write_text(f"{PATIENT},{FODSELSNUMMER},12345678901\n")
    done = _cli("--db", db, "--register", str(register))
    assert done.returncode == 2 and "register row 1" in done.stderr and done.stdout == ""
