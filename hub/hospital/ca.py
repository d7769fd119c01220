"""The hospital's certificate authority: certificates and revocation lists, no I/O.

Everything is built with `cryptography`'s x509 builders, EC P-256 and SHA-256. A hub's
certificate follows one stated policy (`HubPolicy`): subject CN = hub id, the hub id as a URI
subject alternative name, key usage digitalSignature only, extended key usage clientAuth,
not a CA, a validity of `days` days from `now` (back-dated by `skew` for clocks that lag).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.wire.enrollment import hub_uri

# Curves a hub's TLS key may use: what Mosquitto's OpenSSL and a Pi's paho both handle well.
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1)


@dataclass(frozen=True)
class Issuer:
    """The CA (root or intermediate) that signs hub, broker and service certificates."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class HubPolicy:
    days: int = 397
    skew: timedelta = timedelta(minutes=5)


class PolicyError(ValueError):
    """A CSR the policy does not allow; the text says why."""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def make_root(common_name: str, now: datetime, days: int = 3650) -> Issuer:
    """A new self-signed root CA that issues end-entity certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign_certs=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issuer(cert, key)


def _leaf(
    issuer: Issuer,
    subject: x509.Name,
    public: ec.EllipticCurvePublicKey,
    start: datetime,
    end: datetime,
    names: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )


def sign_hub(
    issuer: Issuer, csr: x509.CertificateSigningRequest, hub: str, policy: HubPolicy, now: datetime
) -> x509.Certificate:
    """The hub's client certificate for a verified CSR whose subject is `hub`."""
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
        public.curve, ACCEPTED_CURVES
    ):
        raise PolicyError("the CSR's key must be EC P-256 or P-384")
    return _leaf(
        issuer,
        _name(hub),
        public,
        now - policy.skew,
        now + timedelta(days=policy.days),
        [x509.UniformResourceIdentifier(hub_uri(hub))],
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )


def issue_server(
    issuer: Issuer, hosts: list[str], now: datetime, days: int = 825
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The broker's TLS certificate for `hosts` (names or IP addresses), with a new key."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = _leaf(issuer, _name(hosts[0]), key.public_key(), now - timedelta(minutes=5),
                 now + timedelta(days=days), names, ExtendedKeyUsageOID.SERVER_AUTH)  # fmt: skip
    return cert, key


def issue_service(
    issuer: Issuer, name: str, now: datetime, days: int = 825
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A hospital service's client certificate (the receiver, the operations console)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _leaf(issuer, _name(name), key.public_key(), now - timedelta(minutes=5),
                 now + timedelta(days=days),
                 [x509.UniformResourceIdentifier(f"urn:dho:service:{name}")],
                 ExtendedKeyUsageOID.CLIENT_AUTH)  # fmt: skip
    return cert, key


def make_crl(
    issuer: Issuer, revoked: list[tuple[int, datetime]], now: datetime, days: int = 365
) -> x509.CertificateRevocationList:
    """The issuer's CRL listing `revoked` (serial, revocation time)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=days))
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuer.key, hashes.SHA256())
