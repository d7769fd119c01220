"""The hub's identity on disk: key modes, the configuration loader filling `[uplink]` from the
imported identity (the file's own keys win), an interrupted import that never looks
configured, and a renewal that keeps the current identity until its answer is imported."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from enrollment_support import make_hospital, write_hub_config

from hub import config
from hub.hospital import authority
from hub.hospital.layout import HospitalDir
from hub.identity import ops
from hub.identity.files import IdentityFiles
from hub.wire.enrollment import decode_response

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> HospitalDir:
    return make_hospital(tmp_path_factory.mktemp("hospital") / "h", 18999)


def _enrolled(hospital: HospitalDir, root: Path, hub: str) -> tuple[IdentityFiles, bytes]:
    files = IdentityFiles(root / "data")
    ops.init(files)
    ops.request(files, hub, "1", None)
    return files, authority.enroll(hospital, files.pending_request.read_bytes(), NOW)[0].response


def test_keys_are_owner_only_and_the_loader_fills_uplink(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    files, answer = _enrolled(hospital, tmp_path, "hub-k")
    assert stat.S_IMODE(files.signing_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.pending_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.root.stat().st_mode) == 0o700
    hub_toml = write_hub_config(tmp_path, "hub-k")
    assert config.load(hub_toml).uplink.cert_file is None  # nothing imported yet
    ops.import_response(files, "hub-k", answer, NOW, None)
    loaded = config.load(hub_toml).uplink
    assert (loaded.host, loaded.port) == ("127.0.0.1", 18999)
    assert loaded.cert_file == files.current / "hub.crt"
    assert loaded.key_file == files.current / "tls.key"
    assert loaded.hospital_key_file == files.current / "hospital.enc.pub"
    assert stat.S_IMODE((files.current / "tls.key").stat().st_mode) == 0o600
    # what hub.toml says itself wins over the imported identity
    hub_toml.write_text(hub_toml.read_text() + '[uplink]\nhost = "broker.example"\n')
    assert config.load(hub_toml).uplink.host == "broker.example"
    assert config.load(hub_toml).uplink.ca_file == files.current / "ca.crt"


def test_an_interrupted_import_never_looks_configured(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    files, answer = _enrolled(hospital, tmp_path, "hub-i")
    # an import that died after writing part of its generation, before the swap
    staging = files.root / ".gen-1.tmp"
    staging.mkdir()
    (staging / "hub.crt").write_text("half")
    assert not files.configured()
    assert ops.show(files, "hub-i", NOW)["state"] == "awaiting-response"
    ops.import_response(files, "hub-i", answer, NOW, None)
    assert files.configured() and files.current.resolve().name == "gen-1"
    assert not staging.exists()


def test_renewal_keeps_the_current_identity_until_imported(
    hospital: HospitalDir, tmp_path: Path
) -> None:
    files, answer = _enrolled(hospital, tmp_path, "hub-w")
    ops.import_response(files, "hub-w", answer, NOW, None)
    first_cert = (files.current / "hub.crt").read_bytes()
    ops.renew(files)
    ops.request(files, "hub-w", "2", None)
    assert (files.current / "hub.crt").read_bytes() == first_cert
    renewed = authority.enroll(hospital, files.pending_request.read_bytes(), NOW)
    assert renewed[0].renewal
    ops.import_response(files, "hub-w", renewed[0].response, NOW, None)
    assert files.current.resolve().name == "gen-2"
    assert (files.current / "hub.crt").read_bytes() != first_cert
    assert not files.pending_key.exists()
    new_leaf = decode_response(renewed[0].response).chain[0]
    assert ops.show(files, "hub-w", NOW)["certificate"]["serial"] == format(
        new_leaf.serial_number, "x"
    )
    # the old generation stays on disk (its key is what the old certificate was for)
    assert (files.root / "gen-1" / "hub.crt").read_bytes() == first_cert
