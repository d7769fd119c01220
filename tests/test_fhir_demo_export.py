"""The demo's whole receiver export, as an operator would take it (`hub demo --keep`, then
`hub receiver export --fhir [--profile pmd]`), validated by the independent validator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir_support import node_validate, real_errors

from hub.receiver.register import FODSELSNUMMER


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = tmp_path_factory.mktemp("demo") / "kept"
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--seconds", "20", "--keep", str(keep),
         "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["delivered"] > 0, done.stderr[-2000:]
    return keep / "receiver.db"


def _export(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "receiver", "export", "--fhir", "--db", str(db),
         *extra],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip


def test_demo_export_validates_whole(demo_db: Path) -> None:
    done = _export(demo_db)
    bundle = json.loads(done.stdout)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Observation", "Device", "Patient"} <= kinds
    (result,) = node_validate([(bundle, [])])
    assert real_errors(result, bundle) == []
    assert Bundle.model_validate(bundle).type == "collection"
    assert "is not in the register" in done.stderr  # no register given: reported, not guessed


def test_demo_pmd_export_validates_with_the_register(demo_db: Path, tmp_path: Path) -> None:
    unresolved = _export(demo_db, "--profile", "pmd")
    assert json.loads(unresolved.stdout)["entry"] == []  # nobody resolved: nothing sent
    plain = json.loads(_export(demo_db).stdout)
    pseudonyms = {
        ident["value"]
        for e in plain["entry"]
        if e["resource"]["resourceType"] == "Patient"
        for ident in e["resource"]["identifier"]
    }
    register = tmp_path / "register.csv"
    register.write_text("".join(f"{p},{FODSELSNUMMER},01019010046\n" for p in pseudonyms))
    done = _export(demo_db, "--profile", "pmd", "--register", str(register))
    assert done.stderr == ""
    pmd = json.loads(done.stdout)
    assert pmd["entry"] and all(e["fullUrl"] for e in pmd["entry"])
    assert {e["resource"]["resourceType"] for e in pmd["entry"]} == {"Observation"}
    assert {e["resource"]["subject"]["identifier"]["system"] for e in pmd["entry"]} == {
        FODSELSNUMMER
    }
    (result,) = node_validate([(pmd, [])])
    assert real_errors(result, pmd) == []
