"""What enrollment refuses, and that a refusal writes nothing: tampered requests at the
hospital's `enroll`; a response for another hub, an expired certificate, a foreign CA at the
hub's `import`. Real key files and directories; the commands where the message matters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from enrollment_support import files_under, hub_command, make_hospital, write_hub_config
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.hospital import authority
from hub.hospital.layout import HospitalDir, HospitalError
from hub.identity import IdentityError, ops
from hub.identity.files import IdentityFiles, load_tls_key
from hub.keyfiles import load_ed25519_private, public_pem
from hub.wire import enrollment
from hub.wire.enrollment import EnrollmentError, decode_request, decode_response

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> HospitalDir:
    return make_hospital(tmp_path_factory.mktemp("hospital") / "h", 18883)


def _hub(root: Path, hub: str) -> tuple[Path, IdentityFiles, bytes]:
    """A hub with keys and a request made by the commands: (hub.toml, files, request)."""
    hub_toml = write_hub_config(root / hub, hub)
    hub_command("identity", "init", "--config", hub_toml)
    hub_command("identity", "request", "--config", hub_toml)
    files = IdentityFiles(root / hub / "data")
    return hub_toml, files, files.pending_request.read_bytes()


def _refused_by_enroll(place: HospitalDir, request: bytes, tmp_path: Path, why: str) -> None:
    before = files_under(place.root)
    path = tmp_path / "tampered.json"
    path.write_bytes(request)
    done = hub_command("hospital", "enroll", path, "--dir", place.root, check=False)
    assert done.returncode == 2
    assert why in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert files_under(place.root) == before
    assert not (tmp_path / "tampered.response.json").exists()


def test_a_request_with_its_signing_key_swapped_is_refused(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    _, _, request = _hub(tmp_path, "hub-swap")
    body = json.loads(request)
    _, other_files, _ = _hub(tmp_path, "hub-other")
    other = load_ed25519_private(other_files.signing_key).public_key()
    body["signing_key"] = public_pem(other).decode()
    _refused_by_enroll(hospital, json.dumps(body).encode(), tmp_path,
                       "the signing key is not the one the CSR names")  # fmt: skip


def test_a_request_whose_proof_is_from_another_key_is_refused(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    """Swap both the key and the proof: the CSR, signed by the hub's TLS key, still names the
    original signing key."""
    _, _, request = _hub(tmp_path, "hub-proof")
    _, other_files, _ = _hub(tmp_path, "hub-thief")
    thief = load_ed25519_private(other_files.signing_key)
    made = decode_request(request)
    forged = enrollment.Request(made.hub, made.version, made.csr, thief.public_key(),
                                thief.sign(enrollment.proof_payload(made.csr)))  # fmt: skip
    _refused_by_enroll(hospital, forged.encode(), tmp_path, "not the one the CSR names")


def test_a_csr_whose_subject_is_not_the_hub_id_is_refused(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    _, files, _ = _hub(tmp_path, "hub-name")
    signing = load_ed25519_private(files.signing_key)
    wrong = ops.build_request("hub-name", "1", load_tls_key(files.pending_key), signing)
    # the same keys, but the CSR says another hub (the claimed id stays hub-name)
    other = ops.build_request("hub-victim", "1", load_tls_key(files.pending_key), signing)
    forged = enrollment.Request(wrong.hub, wrong.version, other.csr, wrong.signing_key,
                                signing.sign(enrollment.proof_payload(other.csr)))  # fmt: skip
    _refused_by_enroll(hospital, forged.encode(), tmp_path, "not CN=hub-name")


def test_a_second_enrollment_with_another_signing_key_is_refused(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    _, _, first = _hub(tmp_path / "one", "hub-twice")
    authority.enroll(hospital, first, NOW)
    _, _, second = _hub(tmp_path / "two", "hub-twice")
    _refused_by_enroll(hospital, second, tmp_path, "enrolled with another signing key")


def _refused_by_import(hub_toml: Path, files: IdentityFiles, response: bytes, why: str) -> None:
    before = files_under(files.data_dir)
    path = hub_toml.parent / "response.json"
    path.write_bytes(response)
    done = hub_command("identity", "import", path, "--config", hub_toml, check=False)
    assert done.returncode == 2
    assert why in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert files_under(files.data_dir) == before
    assert not files.configured()


def test_a_response_for_another_hub_is_refused(hospital: HospitalDir, tmp_path: Path) -> None:
    hub_toml, files, _ = _hub(tmp_path, "hub-mine")
    _, _, theirs = _hub(tmp_path, "hub-theirs")
    answer = authority.enroll(hospital, theirs, NOW)[0].response
    _refused_by_import(hub_toml, files, answer, "the response is for 'hub-theirs'")


def test_an_answer_to_another_key_of_the_same_hub_is_refused(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    """Two devices set up under one hub id: the answer to one does not fit the other."""
    _, _, request = _hub(tmp_path / "first", "hub-dup")
    answer = authority.enroll(hospital, request, NOW)[0].response
    hub_toml, files, _ = _hub(tmp_path / "second", "hub-dup")
    _refused_by_import(hub_toml, files, answer, "not for this hub's key")


def test_an_expired_certificate_is_refused(hospital: HospitalDir, tmp_path: Path) -> None:
    hub_toml, files, request = _hub(tmp_path, "hub-late")
    long_ago = NOW - timedelta(days=400)  # the policy's 397 days ran out three days ago
    answer = authority.enroll(hospital, request, long_ago)[0].response
    _refused_by_import(hub_toml, files, answer, "the certificate expired on")


def test_a_certificate_from_a_foreign_ca_is_refused(hospital: HospitalDir, tmp_path: Path) -> None:
    hub_toml, files, request = _hub(tmp_path, "hub-lured")
    rogue = make_hospital(tmp_path / "rogue", 18883)
    real = json.loads(authority.enroll(hospital, request, NOW)[0].response)
    fake = json.loads(authority.enroll(rogue, request, NOW)[0].response)
    # the rogue's certificate presented with the real hospital's CA: does not chain
    mixed = {**real, "chain": fake["chain"]}
    _refused_by_import(hub_toml, files, json.dumps(mixed).encode(), "does not chain")
    # a complete answer from the rogue, with the CA fingerprint the technician was given
    real_ca = enrollment.certificate_fingerprint(decode_response(json.dumps(real).encode()).ca)
    path = hub_toml.parent / "rogue.json"
    path.write_text(json.dumps(fake))
    before = files_under(files.data_dir)
    done = hub_command("identity", "import", path, "--config", hub_toml,
                       "--ca-fingerprint", real_ca, check=False)  # fmt: skip
    assert done.returncode == 2 and f"not {real_ca}" in done.stderr
    assert files_under(files.data_dir) == before


def test_a_renewal_from_another_ca_is_refused(hospital: HospitalDir, tmp_path: Path) -> None:
    """Once a hub has an identity, only its own CA may renew it."""
    _, files, request = _hub(tmp_path, "hub-kept")
    files_ok = authority.enroll(hospital, request, NOW)[0].response
    assert ops.import_response(files, "hub-kept", files_ok, NOW, None)
    ops.renew(files)
    ops.request(files, "hub-kept", "1", None)
    rogue = make_hospital(tmp_path / "rogue", 18883)
    fake = authority.enroll(rogue, files.pending_request.read_bytes(), NOW)[0].response
    with pytest.raises(IdentityError, match="not the CA this hub's identity comes from"):
        ops.import_response(files, "hub-kept", fake, NOW, None)


def test_a_revoked_hub_cannot_enroll_again(hospital: HospitalDir, tmp_path: Path) -> None:
    _, _, request = _hub(tmp_path, "hub-lost")
    authority.enroll(hospital, request, NOW)
    authority.revoke(hospital, "hub-lost", NOW)
    with pytest.raises(HospitalError, match="was revoked"):
        authority.enroll(hospital, request, NOW)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_decoders_refuse_any_bytes_with_their_own_error(data: bytes) -> None:
    for decode in (decode_request, decode_response):
        with pytest.raises(EnrollmentError):
            decode(data)


_FIELDS = ["type", "hub", "csr", "signing_key", "proof", "chain", "ca", "broker", "hospital"]
_VALUES = (
    st.none()
    | st.integers()
    | st.text(max_size=20)
    | st.dictionaries(st.sampled_from(["host", "port"]), st.integers())
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_FIELDS), _VALUES))
def test_decoders_refuse_any_json_shape(body: dict[str, object]) -> None:
    for kind, decode in ((enrollment.REQUEST_TYPE, decode_request),
                         (enrollment.RESPONSE_TYPE, decode_response)):  # fmt: skip
        with pytest.raises(EnrollmentError):
            decode(json.dumps({**body, "type": kind}).encode())
