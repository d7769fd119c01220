"""The identity register and the receiver's exports: resolved, unresolved and changed
pseudonyms, and the PMD (VkpObservation 0.5.1 draft) shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fhir_support import PATIENT, bundle, every_kind

from hub.receiver.export import export_bundle
from hub.receiver.register import (
    D_NUMBER,
    FODSELSNUMMER,
    Register,
    RegisterEntry,
    RegisterError,
    valid_national_id,
)

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
        # nothing refers to a resource the Bundle does not hold
        assert "urn:uuid:" not in str({k: v for k, v in resource.items() if k != "identifier"})
    assert len({e["fullUrl"] for e in pmd["entry"]}) == len(pmd["entry"])


def test_cli_reports_unresolved_on_stderr(tmp_path: Path) -> None:
    register = tmp_path / "register.csv"
    register.write_text(f"# pseudonym,system,value\nnobody,{FODSELSNUMMER},{FNR}\n")
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "receiver", "export", "--fhir", "--profile", "pmd",
         "--db", str(tmp_path / "missing.db"), "--register", str(register)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "missing.db: no such file" in done.stderr
