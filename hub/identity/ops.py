"""The hub's identity operations: init, request, renew, import, show.

Keys are made here and written 0600 into a 0700 directory on the data partition; only public
halves leave the hub, inside the request. `import` checks the whole response (hub.identity.
check) before it writes anything.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hub.identity import IdentityError
from hub.identity.check import ImportRefused, Trust, check_response
from hub.identity.files import (
    IdentityFiles,
    current_ca,
    current_chain,
    load_tls_key,
    write_generation,
)
from hub.keyfiles import load_ed25519_private, private_pem, write_atomic
from hub.wire.enrollment import (
    EnrollmentError,
    Request,
    certificate_fingerprint,
    decode_request,
    decode_response,
    fingerprint,
    proof_payload,
    signing_key_extension,
)


def init(files: IdentityFiles) -> list[str]:
    """Make the hub's payload-signing key and its first TLS key."""
    if files.signing_key.exists() or files.root.exists():
        raise IdentityError(f"{files.data_dir} already has an identity; "
                            "`hub identity renew` makes a new request")  # fmt: skip
    files.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    files.pending.mkdir(parents=True, mode=0o700)
    files.root.chmod(0o700)
    write_atomic(files.signing_key, private_pem(ed25519.Ed25519PrivateKey.generate()), 0o600)
    _new_tls_key(files)
    return [f"keys made in {files.data_dir} (0600); next: hub identity request"]


def request(files: IdentityFiles, hub: str, version: str, out: Path | None) -> tuple[Path, str]:
    """Write the enrollment request for the pending TLS key; (where, fingerprint)."""
    if not files.pending_key.exists():
        raise IdentityError("no pending key: run `hub identity init` (or `renew`) first")
    signing = load_ed25519_private(files.signing_key)
    made = build_request(hub, version, load_tls_key(files.pending_key), signing)
    data = made.encode()
    write_atomic(files.pending_request, data)
    if out is not None:
        write_atomic(out, data)
    return out or files.pending_request, fingerprint(made.csr, made.signing_key)


def build_request(
    hub: str, version: str, tls_key: ec.EllipticCurvePrivateKey, signing: ed25519.Ed25519PrivateKey
) -> Request:
    """The CSR (subject CN = hub id, naming the signing key) and the signing key's proof."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, hub)]))
        .add_extension(signing_key_extension(signing.public_key()), critical=False)
        .sign(tls_key, hashes.SHA256())
    )
    return Request(hub, version, csr, signing.public_key(), signing.sign(proof_payload(csr)))


def renew(files: IdentityFiles) -> list[str]:
    """A new pending TLS key; the current identity keeps working until the answer is imported."""
    if not files.configured():
        raise IdentityError("no imported identity to renew: finish `hub identity import` first")
    _new_tls_key(files)
    return ["new key made; the current certificate stays in use until the answer is imported",
            "next: hub identity request"]  # fmt: skip


def import_response(
    files: IdentityFiles, hub: str, data: bytes, now: datetime, ca_fingerprint: str | None
) -> list[str]:
    """Check the hospital's response against this hub; only then write it as the current
    identity. A response refused leaves every file as it was."""
    try:
        response = decode_response(data)
    except EnrollmentError as exc:
        raise IdentityError(f"response refused: {exc}") from None
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    if files.pending_key.exists():
        keys["pending"] = load_tls_key(files.pending_key)
    if (files.current / "tls.key").exists():
        keys["current"] = load_tls_key(files.current / "tls.key")
    if not keys:
        raise IdentityError("no key to import an answer for: run `hub identity init` first")
    _check_request_matches(files, hub)
    trust = Trust(current_ca=current_ca(files), ca_fingerprint=ca_fingerprint)
    public = {name: key.public_key() for name, key in keys.items()}
    try:
        which = check_response(response, hub, public, trust, now)
    except ImportRefused as exc:
        raise IdentityError(f"response refused: {exc}") from None
    generation = write_generation(files, keys[which], response)
    if which == "pending":
        files.pending_request.unlink(missing_ok=True)
        files.pending_key.unlink()
    leaf = response.chain[0]
    return [
        f"identity imported as {generation.name}: {hub}, certificate valid until "
        f"{leaf.not_valid_after_utc:%Y-%m-%d}",
        f"broker {response.broker_host}:{response.broker_port}; "
        f"CA {certificate_fingerprint(response.ca)}",
    ]


def show(files: IdentityFiles, hub: str, now: datetime) -> dict[str, Any]:
    """What a technician needs to see: state, certificate, CA, broker, pending request."""
    state = "configured" if files.configured() else (
        "awaiting-response" if files.pending_key.exists() else "not-initialised")  # fmt: skip
    out: dict[str, Any] = {"hub": hub, "state": state, "data_dir": str(files.data_dir)}
    chain = current_chain(files) if files.configured() else []
    if chain:
        leaf, ca = chain[0], current_ca(files)
        out["certificate"] = {
            "serial": format(leaf.serial_number, "x"),
            "not_before": leaf.not_valid_before_utc.isoformat(),
            "not_after": leaf.not_valid_after_utc.isoformat(),
            "days_left": (leaf.not_valid_after_utc - now).days,
            "ca": certificate_fingerprint(ca) if ca else None,
        }
        out["generation"] = files.current.resolve().name
    if files.pending_request.exists():
        pending = decode_request(files.pending_request.read_bytes())
        out["pending_request"] = {
            "file": str(files.pending_request),
            "fingerprint": fingerprint(pending.csr, pending.signing_key),
        }
    return out


def _new_tls_key(files: IdentityFiles) -> None:
    files.pending_request.unlink(missing_ok=True)
    write_atomic(files.pending_key, private_pem(ec.generate_private_key(ec.SECP256R1())), 0o600)


def _check_request_matches(files: IdentityFiles, hub: str) -> None:
    """The identity on disk must be this hub's (a data directory moved between hubs is not)."""
    if files.pending_request.exists():
        made = decode_request(files.pending_request.read_bytes())
        if made.hub != hub:
            raise IdentityError(f"{files.pending_request} was made for {made.hub!r}, not {hub!r}")
