"""Does the hospital's response fit this hub? Pure: the response, the hub's public keys, what
the hub already trusts and the time in; the key it fits, or `ImportRefused` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification

from hub.wire.enrollment import Response, certificate_fingerprint, hub_uri


class ImportRefused(ValueError):
    """A response that must not be imported; the text says why."""


@dataclass(frozen=True)
class Trust:
    """What the hub already trusts: the CA of its current identity (a renewal must come from
    the same CA) and a fingerprint the technician was given for the hospital's CA."""

    current_ca: x509.Certificate | None = None
    ca_fingerprint: str | None = None


def check_response(
    response: Response,
    hub: str,
    keys: dict[str, ec.EllipticCurvePublicKey],
    trust: Trust,
    now: datetime,
) -> str:
    """The name (in `keys`) of the TLS key the response's certificate is for."""
    if response.hub != hub:
        raise ImportRefused(f"the response is for {response.hub!r}, this hub is {hub!r}")
    ca = response.ca
    if trust.current_ca is not None and ca != trust.current_ca:
        raise ImportRefused("the response's CA is not the CA this hub's identity comes from")
    if trust.ca_fingerprint is not None and not _same_fingerprint(ca, trust.ca_fingerprint):
        raise ImportRefused(f"the response's CA has fingerprint {certificate_fingerprint(ca)}, "
                            f"not {trust.ca_fingerprint}")  # fmt: skip
    if not response.chain:
        raise ImportRefused("the response has no certificate")
    leaf = response.chain[0]
    if leaf.not_valid_after_utc <= now:
        expiry = leaf.not_valid_after_utc
        raise ImportRefused(f"the certificate expired on {expiry:%Y-%m-%d %H:%M}Z")
    if leaf.not_valid_before_utc > now:
        raise ImportRefused(f"the certificate is not valid before "
                            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M}Z "
                            "(is this hub's clock right?)")  # fmt: skip
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([ca]))
        .time(now)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, list(response.chain[1:]))
    except verification.VerificationError as exc:
        problem = f"the certificate does not chain to the response's CA ({exc})"
        raise ImportRefused(problem) from None
    names = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if [n.value for n in names] != [hub]:
        raise ImportRefused(f"the certificate's subject is {leaf.subject.rfc4514_string()!r}")
    try:
        alt = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        alt = x509.SubjectAlternativeName([])
    if hub_uri(hub) not in alt.get_values_for_type(x509.UniformResourceIdentifier):
        raise ImportRefused(f"the certificate does not name {hub_uri(hub)}")
    for name, key in keys.items():
        if leaf.public_key() == key:
            return name
    raise ImportRefused("the certificate is not for this hub's key (another request's answer?)")


def _same_fingerprint(cert: x509.Certificate, given: str) -> bool:
    def clean(text: str) -> str:
        return "".join(c for c in text.upper() if c in "0123456789ABCDEF")

    return clean(certificate_fingerprint(cert)) == clean(given)
