"""A throw-away PKI for the demo, the benchmarks and the tests.

`make_pki` writes everything a hub ↔ hospital chain needs into one directory: a CA (EC
P-256), the broker's server certificate for 127.0.0.1/localhost, a client certificate per
hub (CN = hub id, which the broker's ACL uses) and for the receiver, the negative cases the
broker must refuse (a rogue CA's certificate, an expired one, a revoked one plus the CRL), each
hub's Ed25519 payload-signing key with its public half in an enrollment directory, and the
hospital's X25519 encryption key and Ed25519 signing key (acks, downlink config).
In production the hub generates its keys itself and only a CSR leaves it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.keyfiles import write_private_key, write_public_key

RECEIVER_CN = "receiver"
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class Identity:
    """A TLS client identity: certificate and key file."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """Paths of everything `make_pki` wrote."""

    root: Path
    ca: Path
    crl: Path
    server: Identity
    receiver: Identity
    hubs: dict[str, Identity]
    rogue: Identity  # first hub's CN, signed by a CA the broker does not trust
    expired: Identity
    revoked: Identity
    enrollment: Path  # <hub id>.pub: each hub's payload-signing public key
    hospital_enc_key: Path
    hospital_enc_pub: Path
    hospital_sign_key: Path
    hospital_sign_pub: Path

    def hub_sign_key(self, hub: str) -> Path:
        return self.root / f"{hub}.sign.key"


def make_pki(root: Path, hubs: list[str], *, now: datetime) -> Pki:
    """Write a complete PKI for `hubs` under `root` (created if missing)."""
    root.mkdir(parents=True, exist_ok=True)
    enrollment = root / "enrollment"
    enrollment.mkdir(exist_ok=True)
    ca_key, ca_cert = _ca("dho test CA", now)
    rogue_key, rogue_cert = _ca("rogue CA", now)
    _write_cert(root / "ca.crt", ca_cert)
    _write_cert(root / "rogue-ca.crt", rogue_cert)
    _issue(root, "server", "localhost", ca_key, ca_cert, now, server=True)
    _issue(root, "receiver", RECEIVER_CN, ca_key, ca_cert, now)
    for hub in hubs:
        _issue(root, hub, hub, ca_key, ca_cert, now)
    _issue(root, "rogue", hubs[0], rogue_key, rogue_cert, now)
    _issue(root, "expired", hubs[0], ca_key, ca_cert, now, days=-1)
    revoked = _issue(root, "revoked", hubs[0], ca_key, ca_cert, now)
    revoked_serial = x509.load_pem_x509_certificate(revoked.cert.read_bytes()).serial_number
    (root / "ca.crl").write_bytes(_crl(ca_key, ca_cert, [revoked_serial], now).public_bytes(_PEM))
    for hub in hubs:
        key = ed25519.Ed25519PrivateKey.generate()
        write_private_key(root / f"{hub}.sign.key", key)
        write_public_key(enrollment / f"{hub}.pub", key.public_key())
    enc = x25519.X25519PrivateKey.generate()
    sign = ed25519.Ed25519PrivateKey.generate()
    write_private_key(root / "hospital.enc.key", enc)
    write_public_key(root / "hospital.enc.pub", enc.public_key())
    write_private_key(root / "hospital.sign.key", sign)
    write_public_key(root / "hospital.sign.pub", sign.public_key())
    return pki_paths(root, hubs)


def pki_paths(root: Path, hubs: list[str]) -> Pki:
    """The paths `make_pki` writes under `root`, for a process that did not make them."""

    def ident(stem: str) -> Identity:
        return Identity(root / f"{stem}.crt", root / f"{stem}.key")

    return Pki(
        root=root,
        ca=root / "ca.crt",
        crl=root / "ca.crl",
        server=ident("server"),
        receiver=ident("receiver"),
        hubs={h: ident(h) for h in hubs},
        rogue=ident("rogue"),
        expired=ident("expired"),
        revoked=ident("revoked"),
        enrollment=root / "enrollment",
        hospital_enc_key=root / "hospital.enc.key",
        hospital_enc_pub=root / "hospital.enc.pub",
        hospital_sign_key=root / "hospital.sign.key",
        hospital_sign_pub=root / "hospital.sign.pub",
    )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str, now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _issue(
    root: Path,
    stem: str,
    cn: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: datetime,
    *,
    server: bool = False,
    days: int = 825,
) -> Identity:
    """A leaf certificate; negative `days` makes one that expired yesterday."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = now - timedelta(days=30) if days < 0 else now - timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    key_path = root / f"{stem}.key"
    write_private_key(key_path, key)
    return Identity(cert=_write_cert(root / f"{stem}.crt", cert), key=key_path)


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(_PEM))
    return path


def _crl(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, serials: list[int], now: datetime
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - timedelta(days=1))
        .next_update(now + timedelta(days=365))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(hours=1))
            .build()
        )
    return builder.sign(ca_key, hashes.SHA256())
