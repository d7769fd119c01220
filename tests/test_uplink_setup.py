import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.config import ConfigError, loads
from hub.keyfiles import load_x25519_public, write_private_key, write_public_key
from hub.testbed.pki import make_pki
from hub.uplink.setup import SIGNING_KEY_NAME, keys_from, settings_from
from hub.wire.envelope import key_id


def _config(tmp_path: Path, **uplink: str) -> str:
    lines = "\n".join(f'{k} = "{v}"' for k, v in uplink.items())
    return (
        f'[hub]\nid = "hub-a"\ndata_dir = "{tmp_path}"\n[patient]\nid = "p-7"\n[uplink]\n{lines}\n'
    )


def test_settings_and_keys_from_the_config_file(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", ["hub-a"], now=datetime.now(UTC))
    shutil.copy(pki.hub_sign_key("hub-a"), tmp_path / SIGNING_KEY_NAME)
    text = _config(
        tmp_path,
        ca_file=str(pki.ca),
        cert_file=str(pki.hubs["hub-a"].cert),
        key_file=str(pki.hubs["hub-a"].key),
        hospital_key_file=str(pki.hospital_enc_pub),
        hospital_signing_key_file=str(pki.hospital_sign_pub),
    )
    config = loads(text + "window = 8\n")
    settings = settings_from(config)
    assert (settings.hub, settings.patient, settings.window) == ("hub-a", "p-7", 8)
    assert settings.cert == pki.hubs["hub-a"].cert
    assert settings.applied_config_version is None  # the daemon sets the version in force
    keys = keys_from(config)
    assert key_id(keys.hospital) == key_id(load_x25519_public(pki.hospital_enc_pub))


def test_missing_files_are_named(tmp_path: Path) -> None:
    config = loads(_config(tmp_path, ca_file="/x/ca.crt"))
    with pytest.raises(ConfigError, match=r"uplink\.cert_file: missing"):
        settings_from(config)
    with pytest.raises(ConfigError, match=r"uplink\.hospital_key_file: missing"):
        keys_from(config)
    config = loads(_config(tmp_path, hospital_key_file="/nope", hospital_signing_key_file="/nope"))
    with pytest.raises(ConfigError, match="cannot load a key"):
        keys_from(config)


def test_a_directory_or_fifo_for_a_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    write_private_key(tmp_path / SIGNING_KEY_NAME, Ed25519PrivateKey.generate())
    for bad, what in ((fifo, "FIFO"), (tmp_path, "directory")):
        config = loads(_config(tmp_path, ca_file=str(bad), cert_file=str(bad), key_file=str(bad)))
        with pytest.raises(ConfigError, match=rf"uplink\.ca_file: unusable .*a {what}"):
            settings_from(config)
        keys = {"hospital_key_file": str(bad), "hospital_signing_key_file": str(bad)}
        config = loads(_config(tmp_path, **keys))
        with pytest.raises(ConfigError, match=f"a {what}"):
            keys_from(config)


def test_private_keys_readable_by_others_are_refused(tmp_path: Path) -> None:
    signing = tmp_path / SIGNING_KEY_NAME
    write_private_key(signing, Ed25519PrivateKey.generate())
    signing.chmod(0o644)
    pub = tmp_path / "hospital.pub"
    write_public_key(pub, Ed25519PrivateKey.generate().public_key())
    config = loads(
        _config(tmp_path, hospital_key_file=str(pub), hospital_signing_key_file=str(pub))
    )
    with pytest.raises(ConfigError, match="mode 0644; a private key must be 0600"):
        keys_from(config)
