"""The receiver follows the enrollment directory: a hub enrolled or revoked while it runs is
seen at the next refresh, an unchanged directory is not read again, and a read made in the
same instant as a change is repeated once that instant has settled."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waiting import wait_for

from hub.keyfiles import write_public_key
from hub.receiver.enrolled import EnrollmentDir

PAST = time.time() - 3600  # a directory time well out of the racy window


def _enroll(directory: Path, hub: str, when: float) -> None:
    write_public_key(directory / f"{hub}.pub", Ed25519PrivateKey.generate().public_key())
    os.utime(directory, (when, when))


def test_enrolments_and_revocations_are_seen_and_nothing_is_read_for_nothing(
    tmp_path: Path,
) -> None:
    _enroll(tmp_path, "hub-a", PAST)
    enrolled = EnrollmentDir(tmp_path)
    assert set(enrolled.keys) == {"hub-a"} and enrolled.revoked == frozenset()
    assert enrolled.refresh() is False  # unchanged, settled: not read again
    _enroll(tmp_path, "hub-b", PAST + 1)
    assert enrolled.refresh() is True and set(enrolled.keys) == {"hub-a", "hub-b"}
    (tmp_path / "hub-a.pub").replace(tmp_path / "hub-a.revoked")
    os.utime(tmp_path, (PAST + 2, PAST + 2))
    assert enrolled.refresh() is True
    assert set(enrolled.keys) == {"hub-b"} and enrolled.revoked == {"hub-a"}
    assert enrolled.refresh() is False


def test_a_read_in_the_instant_of_a_change_is_repeated_after_it_settles(tmp_path: Path) -> None:
    tick = time.time() - 1.5  # the change is 1.5 s old: inside the two-second racy window
    _enroll(tmp_path, "hub-a", tick)
    enrolled = EnrollmentDir(tmp_path)
    # another hub lands within the same timestamp tick: the directory's mtime does not move
    _enroll(tmp_path, "hub-b", tick)
    assert "hub-b" not in enrolled.keys
    wait_for(lambda: enrolled.refresh() and "hub-b" in enrolled.keys,
             "the racy read to be repeated")  # fmt: skip
    assert enrolled.refresh() is False  # settled now: not read again
