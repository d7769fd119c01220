from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from hub import keyfiles


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    signing, agreement = ed25519.Ed25519PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    keyfiles.write_private_key(tmp_path / "sign", signing)
    keyfiles.write_public_key(tmp_path / "sign.pub", signing.public_key())
    keyfiles.write_private_key(tmp_path / "agree", agreement)
    keyfiles.write_public_key(tmp_path / "agree.pub", agreement.public_key())
    (tmp_path / "junk").write_bytes(b"not a key")
    return tmp_path


def test_each_loader_takes_its_own_kind(keys: Path) -> None:
    assert isinstance(keyfiles.load_ed25519_private(keys / "sign"), ed25519.Ed25519PrivateKey)
    assert isinstance(keyfiles.load_ed25519_public(keys / "sign.pub"), ed25519.Ed25519PublicKey)
    assert isinstance(keyfiles.load_x25519_private(keys / "agree"), x25519.X25519PrivateKey)
    assert isinstance(keyfiles.load_x25519_public(keys / "agree.pub"), x25519.X25519PublicKey)


@pytest.mark.parametrize(
    ("loader", "name", "what"),
    [
        (keyfiles.load_ed25519_private, "agree", "Ed25519 private key"),
        (keyfiles.load_x25519_public, "sign.pub", "X25519 public key"),
        (keyfiles.load_ed25519_public, "sign", "Ed25519 public key"),
        (keyfiles.load_x25519_private, "junk", "X25519 private key"),
    ],
)
def test_a_wrong_key_is_refused_naming_the_file(loader, name: str, what: str, keys: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=f"{name}: not an {what}"):
        loader(keys / name)
