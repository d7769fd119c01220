"""The hospital's enrollment register: which patient a hub's pseudonymous patient id stands for.

The home never holds a national identifier: the hub sends only the pseudonym, and the hospital
fills this register when it enrolls the patient (a CSV file of `pseudonym,system,value` rows:
`system` is the fødselsnummer or D-number OID, or `Patient` with `value` a logical id on the
hospital's FHIR server). Exports and forwarding resolve pseudonyms here; one that is not in
the register is reported as unresolved, never guessed. A register that names two identities
for one pseudonym is refused, since either could be wrong.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

FODSELSNUMMER = "urn:oid:2.16.578.1.12.4.1.4.1"
D_NUMBER = "urn:oid:2.16.578.1.12.4.1.4.2"
PATIENT_REFERENCE = "Patient"
_WEIGHTS = ((3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))


class RegisterError(ValueError):
    """A register row that cannot be used; the message names the row."""


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    pseudonym: str
    system: str  # FODSELSNUMMER, D_NUMBER or PATIENT_REFERENCE
    value: str

    @property
    def reference(self) -> str | None:
        """`Patient/<id>` when the register names a FHIR Patient, else None."""
        return f"Patient/{self.value}" if self.system == PATIENT_REFERENCE else None


def valid_national_id(system: str, value: str) -> bool:
    """An 11-digit fødselsnummer or D-number (first digit + 4) with both mod-11 check digits."""
    if len(value) != 11 or not value.isdigit():
        return False
    if (system == D_NUMBER) != (value[0] in "4567"):
        return False
    digits = [int(c) for c in value]
    for position, weights in ((9, _WEIGHTS[0]), (10, _WEIGHTS[1])):
        check = 11 - sum(w * d for w, d in zip(weights, digits, strict=False)) % 11
        if check == 11:
            check = 0
        if check == 10 or check != digits[position]:
            return False
    return True


class Register:
    """Pseudonym → identity, checked when built."""

    def __init__(self, entries: Iterable[RegisterEntry]) -> None:
        found: dict[str, RegisterEntry] = {}
        for n, entry in enumerate(entries, 1):
            where = f"register row {n} ({entry.pseudonym!r})"
            if entry.system in (FODSELSNUMMER, D_NUMBER):
                if not valid_national_id(entry.system, entry.value):
                    raise RegisterError(f"{where}: not a valid identifier for {entry.system}")
            elif entry.system != PATIENT_REFERENCE or not entry.value:
                raise RegisterError(f"{where}: unknown identifier system {entry.system!r}")
            known = found.get(entry.pseudonym)
            if known is not None and known != entry:
                raise RegisterError(f"{where}: the pseudonym already stands for another patient")
            found[entry.pseudonym] = entry
        self._entries: Mapping[str, RegisterEntry] = found

    @classmethod
    def load(cls, path: Path) -> Register:
        try:
            with path.open(newline="", encoding="utf-8") as f:
                rows = [row for row in csv.reader(f) if row and not row[0].startswith("#")]
        except OSError as exc:
            raise RegisterError(f"--register {path}: {exc.strerror}") from None
        for n, row in enumerate(rows, 1):
            if len(row) != 3:
                raise RegisterError(f"--register {path}: row {n} needs pseudonym,system,value")
        return cls(RegisterEntry(*(cell.strip() for cell in row)) for row in rows)

    def resolve(self, pseudonym: str) -> RegisterEntry | None:
        return self._entries.get(pseudonym)
