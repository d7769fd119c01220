"""Where the hub's identity lives on its data partition, and how an import is made atomic.

```
<data_dir>/uplink-sign.key          Ed25519 payload-signing key (made by `init`, never leaves)
<data_dir>/identity/pending/        tls.key (made by `init` or `renew`) awaiting its
                                    certificate, and request.json, the request for it
<data_dir>/identity/gen-<n>/        one imported identity: tls.key, hub.crt (chain), ca.crt,
                                    hospital.enc.pub, hospital.sign.pub, uplink.toml
<data_dir>/identity/current         symlink to the generation in use (the one before it
                                    is kept, older ones are removed with their keys)
```
An import writes a complete new generation directory, fsyncs it, then swaps `current` with
one rename: the hub is either configured with the old identity or with the new one, never
half. `uplink.toml` names files through `current`, so the configuration loader (and the
uplink on its next connection) follow a renewal without an edit.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub.files import fsync_dir
from hub.keyfiles import private_pem, public_pem, write_atomic
from hub.wire.enrollment import Response

SIGNING_KEY_NAME = "uplink-sign.key"  # the name hub.uplink.setup loads
UPLINK_SETTINGS = Path("identity/current/uplink.toml")  # under data_dir; hub.config merges it
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class IdentityFiles:
    data_dir: Path

    @property
    def signing_key(self) -> Path:
        return self.data_dir / SIGNING_KEY_NAME

    @property
    def root(self) -> Path:
        return self.data_dir / "identity"

    @property
    def pending(self) -> Path:
        return self.root / "pending"

    @property
    def pending_key(self) -> Path:
        return self.pending / "tls.key"

    @property
    def pending_request(self) -> Path:
        return self.pending / "request.json"

    @property
    def current(self) -> Path:
        return self.root / "current"

    def configured(self) -> bool:
        return (self.data_dir / UPLINK_SETTINGS).is_file()


def write_generation(files: IdentityFiles, tls_key: ec.EllipticCurvePrivateKey,
                     response: Response) -> Path:  # fmt: skip
    """Write a complete identity as a new generation and make it current."""
    number = 1 + max((int(p.name[4:]) for p in files.root.glob("gen-*") if p.name[4:].isdigit()),
                     default=0)  # fmt: skip
    final = files.root / f"gen-{number}"
    staging = files.root / f".gen-{number}.tmp"
    if staging.exists():  # left by an import that was interrupted: never current, discard
        shutil.rmtree(staging)
    staging.mkdir(mode=0o700)
    current = files.current
    write_atomic(staging / "tls.key", private_pem(tls_key), 0o600)
    write_atomic(staging / "hub.crt", b"".join(c.public_bytes(_PEM) for c in response.chain))
    write_atomic(staging / "ca.crt", response.ca.public_bytes(_PEM))
    write_atomic(staging / "hospital.enc.pub", public_pem(response.encryption_key))
    write_atomic(staging / "hospital.sign.pub", public_pem(response.signing_key))
    settings = "\n".join(
        [
            "# Written by `hub identity import`; hub.toml's [uplink] keys take precedence.",
            "[uplink]",
            f'host = "{response.broker_host}"',
            f"port = {response.broker_port}",
            f'ca_file = "{current / "ca.crt"}"',
            f'cert_file = "{current / "hub.crt"}"',
            f'key_file = "{current / "tls.key"}"',
            f'hospital_key_file = "{current / "hospital.enc.pub"}"',
            f'hospital_signing_key_file = "{current / "hospital.sign.pub"}"',
            "",
        ]
    )
    write_atomic(staging / "uplink.toml", settings.encode())
    os.replace(staging, final)
    link = files.root / ".current.tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(final.name)
    os.replace(link, current)
    fsync_dir(files.root)
    for old in files.root.glob("gen-*"):  # keep the one before, to go back to by hand
        if old.name[4:].isdigit() and int(old.name[4:]) < number - 1:
            shutil.rmtree(old)
    return final


def load_tls_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ValueError(f"{path}: not a private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key")
    return key


def current_ca(files: IdentityFiles) -> x509.Certificate | None:
    path = files.current / "ca.crt"
    return x509.load_pem_x509_certificate(path.read_bytes()) if path.is_file() else None


def current_chain(files: IdentityFiles) -> list[x509.Certificate]:
    path = files.current / "hub.crt"
    return x509.load_pem_x509_certificates(path.read_bytes()) if path.is_file() else []
