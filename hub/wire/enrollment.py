"""The enrollment contract: the request a hub hands to the hospital, and the response it gets.

The request carries an ordinary PKCS#10 CSR (subject CN = hub id, made with the hub's TLS
key) and the hub's Ed25519 payload-signing public key. Two signatures bind them: the CSR
carries the signing key in a non-critical extension (so the TLS key vouches for it), and
the signing key signs the CSR (proof that the hub holds it). Swapping either key breaks one
of them. The response carries the certificate chain, the broker's CA, the broker's address
and the hospital's encryption and signing public keys. Both are JSON files a technician can
carry; this module only codes and decodes them (no I/O, no clock).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

REQUEST_TYPE = "dho-enrollment-request"
RESPONSE_TYPE = "dho-enrollment-response"
# A private-arc OID for "the hub's payload-signing key" inside the CSR (extension value: the
# 32 raw bytes of the Ed25519 public key). Only the enrollment request uses it.
SIGNING_KEY_OID = x509.ObjectIdentifier("1.3.6.1.4.1.58813.1.1")
_PROOF_CONTEXT = b"DHOE"
_PEM = serialization.Encoding.PEM
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
_RAW = serialization.Encoding.Raw


class EnrollmentError(ValueError):
    """A request or response that must not be used; the text says why."""


def hub_uri(hub: str) -> str:
    """The certificate's subject alternative name for `hub` (a URI, so no DNS is implied)."""
    return f"urn:dho:hub:{hub}"


def signing_key_extension(key: ed25519.Ed25519PublicKey) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(
        SIGNING_KEY_OID, key.public_bytes(_RAW, serialization.PublicFormat.Raw)
    )


def proof_payload(csr: x509.CertificateSigningRequest) -> bytes:
    """What the hub's signing key signs: the CSR's DER, in a context of its own."""
    return _PROOF_CONTEXT + csr.public_bytes(serialization.Encoding.DER)


def fingerprint(csr: x509.CertificateSigningRequest, signing_key: ed25519.Ed25519PublicKey) -> str:
    """A short code over both public keys, for a technician to read aloud to the hospital."""
    digest = hashlib.sha256(
        csr.public_key().public_bytes(serialization.Encoding.DER, _SPKI)
        + signing_key.public_bytes(_RAW, serialization.PublicFormat.Raw)
    ).digest()
    code = base64.b32encode(digest[:10]).decode()
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, hex with colons (as `openssl x509 -fingerprint`)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


@dataclass(frozen=True)
class Request:
    hub: str
    version: str
    csr: x509.CertificateSigningRequest
    signing_key: ed25519.Ed25519PublicKey
    proof: bytes

    def encode(self) -> bytes:
        body = {
            "type": REQUEST_TYPE,
            "hub": self.hub,
            "version": self.version,
            "csr": self.csr.public_bytes(_PEM).decode(),
            "signing_key": self.signing_key.public_bytes(_PEM, _SPKI).decode(),
            "proof": base64.b64encode(self.proof).decode(),
        }
        return (json.dumps(body, indent=1) + "\n").encode()


def decode_request(data: bytes) -> Request:
    """The request's parts, well-formed; `verify_request` checks that they belong together."""
    body = _json(data, REQUEST_TYPE)
    try:
        csr = x509.load_pem_x509_csr(_text(body, "csr").encode())
        signing_key = serialization.load_pem_public_key(_text(body, "signing_key").encode())
        proof = base64.b64decode(_text(body, "proof"), validate=True)
    except ValueError as exc:
        raise EnrollmentError(f"unreadable request ({exc})") from None
    if not isinstance(signing_key, ed25519.Ed25519PublicKey):
        raise EnrollmentError("the signing key is not an Ed25519 public key")
    return Request(_text(body, "hub"), _text(body, "version"), csr, signing_key, proof)


def verify_request(request: Request) -> None:
    """Refuse a request whose parts do not belong together: CSR signature, subject = hub id,
    the signing key named in the CSR, and the signing key's proof over the CSR."""
    csr = request.csr
    if not csr.is_signature_valid:
        raise EnrollmentError("the CSR's signature does not match its key")
    names = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != request.hub or len(csr.subject) != 1:
        raise EnrollmentError(f"the CSR's subject is {csr.subject.rfc4514_string()!r}, "
                              f"not CN={request.hub}")  # fmt: skip
    try:
        named = csr.extensions.get_extension_for_oid(SIGNING_KEY_OID).value
    except x509.ExtensionNotFound:
        raise EnrollmentError("the CSR does not name a signing key") from None
    raw = request.signing_key.public_bytes(_RAW, serialization.PublicFormat.Raw)
    if not isinstance(named, x509.UnrecognizedExtension) or named.value != raw:
        raise EnrollmentError("the signing key is not the one the CSR names")
    try:
        request.signing_key.verify(request.proof, proof_payload(csr))
    except InvalidSignature:
        raise EnrollmentError("the signing key's proof over the CSR does not verify") from None


@dataclass(frozen=True)
class Response:
    hub: str
    chain: tuple[x509.Certificate, ...]  # the hub's certificate first, then intermediates
    ca: x509.Certificate  # the trust anchor: issues the hub's chain and the broker's cert
    broker_host: str
    broker_port: int
    encryption_key: x25519.X25519PublicKey
    signing_key: ed25519.Ed25519PublicKey

    def encode(self) -> bytes:
        body = {
            "type": RESPONSE_TYPE,
            "hub": self.hub,
            "chain": "".join(c.public_bytes(_PEM).decode() for c in self.chain),
            "ca": self.ca.public_bytes(_PEM).decode(),
            "broker": {"host": self.broker_host, "port": self.broker_port},
            "hospital": {
                "encryption_key": self.encryption_key.public_bytes(_PEM, _SPKI).decode(),
                "signing_key": self.signing_key.public_bytes(_PEM, _SPKI).decode(),
            },
        }
        return (json.dumps(body, indent=1) + "\n").encode()


def decode_response(data: bytes) -> Response:
    """A response with every part of the right kind (certificates, an X25519 and an Ed25519
    key, a host and a port); whether it fits this hub is the hub's check."""
    body = _json(data, RESPONSE_TYPE)
    broker, hospital = _table(body, "broker"), _table(body, "hospital")
    try:
        chain = tuple(x509.load_pem_x509_certificates(_text(body, "chain").encode()))
        ca = x509.load_pem_x509_certificate(_text(body, "ca").encode())
        enc = serialization.load_pem_public_key(_text(hospital, "encryption_key").encode())
        sign = serialization.load_pem_public_key(_text(hospital, "signing_key").encode())
    except ValueError as exc:
        raise EnrollmentError(f"unreadable response ({exc})") from None
    if not isinstance(enc, x25519.X25519PublicKey):
        raise EnrollmentError("the hospital's encryption key is not an X25519 public key")
    if not isinstance(sign, ed25519.Ed25519PublicKey):
        raise EnrollmentError("the hospital's signing key is not an Ed25519 public key")
    host, port = broker.get("host"), broker.get("port")
    if not isinstance(host, str) or not host or any(c.isspace() or c == '"' for c in host):
        raise EnrollmentError(f"broker host {host!r} is not a host name")
    if type(port) is not int or not 1 <= port <= 65535:
        raise EnrollmentError(f"broker port {port!r} is not a port")
    return Response(_text(body, "hub"), chain, ca, host, port, enc, sign)


def _json(data: bytes, kind: str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise EnrollmentError("not JSON") from None
    if not isinstance(body, dict) or body.get("type") != kind:
        raise EnrollmentError(f"not a {kind}")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise EnrollmentError(f"{name} missing or not text")
    return value


def _table(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise EnrollmentError(f"{name} missing or not a table")
    return value
