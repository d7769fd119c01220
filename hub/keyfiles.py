"""Reading and writing the PEM key files the hub and the hospital keep: the hub's payload
signing key, the hospital's encryption and signing keys, and the enrolled hubs' public keys.

Production code (uplink, receiver, the hub's identity) loads its keys through here; the
throw-away CA that the demo and the tests use lives in `hub.testbed.pki` and writes through
here too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from hub.files import fsync_dir, read_regular

_Key = TypeVar(
    "_Key",
    ed25519.Ed25519PrivateKey,
    ed25519.Ed25519PublicKey,
    x25519.X25519PrivateKey,
    x25519.X25519PublicKey,
)

_PEM = serialization.Encoding.PEM


def write_private_key(
    path: Path,
    key: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey,
) -> None:
    """PKCS#8 PEM, readable by the owner only."""
    data = private_pem(key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write_public_key(path: Path, key: ed25519.Ed25519PublicKey | x25519.X25519PublicKey) -> None:
    path.write_bytes(public_pem(key))


def _load_key(path: Path, kind: type[_Key], what: str) -> _Key:
    """A PEM key of exactly `kind` (private or public, as `kind` says); anything else is
    refused naming the file (a directory or FIFO too, without blocking on it)."""
    data = read_regular(path)
    try:
        if issubclass(kind, ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey):
            key: object = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not an {what} ({exc})") from None
    if not isinstance(key, kind):
        raise ValueError(f"{path}: not an {what}")
    return key


def load_ed25519_private(path: Path) -> ed25519.Ed25519PrivateKey:
    return _load_key(path, ed25519.Ed25519PrivateKey, "Ed25519 private key")


def load_ed25519_public(path: Path) -> ed25519.Ed25519PublicKey:
    return _load_key(path, ed25519.Ed25519PublicKey, "Ed25519 public key")


def load_x25519_private(path: Path) -> x25519.X25519PrivateKey:
    return _load_key(path, x25519.X25519PrivateKey, "X25519 private key")


def load_x25519_public(path: Path) -> x25519.X25519PublicKey:
    return _load_key(path, x25519.X25519PublicKey, "X25519 public key")


def load_enrollment(directory: Path) -> dict[str, ed25519.Ed25519PublicKey]:
    """Each enrolled hub's signing key, from `<hub id>.pub` files."""
    return {p.stem: load_ed25519_public(p) for p in sorted(directory.glob("*.pub"))}


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a crash leaves the old file or the new one, never
    half of either: a temporary file in the same directory, fsynced, renamed, directory
    fsynced. The temporary file's name is unique (two writers never share one) and it is
    created 0600; `mode` is then set whatever the umask (0o600 for anything private)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def private_pem(
    key: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey,
) -> bytes:
    """PKCS#8 PEM, unencrypted: the file's 0600 mode and the service user protect it."""
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_pem(key: ed25519.Ed25519PublicKey | x25519.X25519PublicKey) -> bytes:
    return key.public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
