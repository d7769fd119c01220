"""The hospital's CA at work on its directory: init, enroll, revoke.

Each operation checks everything before it writes anything, writes each file atomically,
and ends by regenerating the broker's ACL (and, on revoke, the CRL) and reloading the broker.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from hub.hospital import broker, dynsec
from hub.hospital.ca import (
    HubPolicy,
    Issuer,
    PolicyError,
    issue_server,
    issue_service,
    make_crl,
    make_root,
    sign_hub,
)
from hub.hospital.layout import (
    HospitalDir,
    HospitalError,
    Settings,
    check_host,
    check_hub_id,
)
from hub.hospital.mqtt import Endpoint
from hub.keyfiles import (
    load_ed25519_public,
    load_x25519_public,
    private_pem,
    public_pem,
    write_atomic,
)
from hub.wire.enrollment import (
    EnrollmentError,
    Response,
    certificate_fingerprint,
    decode_request,
    fingerprint,
    verify_request,
)

_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class ExistingCa:
    """A CA the hospital already runs: the issuing certificate and key, and the chain above
    it up to the root (empty when the issuer is the root)."""

    cert: Path
    key: Path
    chain: Path | None = None


def init(
    place: HospitalDir, settings: Settings, hosts: list[str], now: datetime,
    existing: ExistingCa | None = None,
) -> list[str]:  # fmt: skip
    """Create the hospital directory; refuses to touch one that already has a CA."""
    if place.issuer_key.exists():
        raise HospitalError(f"{place.root} already has a CA ({place.issuer_key})")
    for host in (settings.broker_host, settings.listen, *hosts):
        check_host(host)
    issuer, above = _existing(existing) if existing else (make_root("dho hospital CA", now), [])
    root = above[-1] if above else issuer.cert
    for directory in place.directories():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(place.issuer_key, private_pem(issuer.key), 0o600)
    write_atomic(place.issuer_cert, issuer.cert.public_bytes(_PEM))
    write_atomic(place.chain, b"".join(c.public_bytes(_PEM) for c in above[:-1]))
    write_atomic(place.ca, root.public_bytes(_PEM))
    write_atomic(place.crl, make_crl(issuer, [], now).public_bytes(_PEM))
    enc, sign = x25519.X25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    for name, key in (("hospital.enc", enc), ("hospital.sign", sign)):
        write_atomic(place.key(f"{name}.key"), private_pem(key), 0o600)
        write_atomic(place.key(f"{name}.pub"), public_pem(key.public_key()))
    intermediates = b"".join(c.public_bytes(_PEM) for c in [issuer.cert, *above[:-1]])
    server, server_key = issue_server(issuer, hosts, now)
    broker_dir = place.broker
    write_atomic(broker_dir / "server.key", private_pem(server_key), 0o600)
    write_atomic(broker_dir / "server.crt", server.public_bytes(_PEM) + intermediates
                 if above else server.public_bytes(_PEM))  # fmt: skip
    for name in broker.SERVICES:
        cert, key = issue_service(issuer, name, now)
        cert_path, key_path = place.service(name)
        write_atomic(key_path, private_pem(key), 0o600)
        write_atomic(cert_path, cert.public_bytes(_PEM))
    write_atomic(place.settings_file, settings.toml().encode())
    write_atomic(broker_dir / "acl.conf", broker.acl_text([]).encode())
    write_atomic(broker_dir / "dynsec.json", broker.dynsec_json([]).encode())
    write_atomic(broker_dir / "mosquitto.conf", broker.mosquitto_conf(place, settings).encode())
    return [
        f"hospital CA in {place.root} (trust anchor {place.ca})",
        f"CA fingerprint {certificate_fingerprint(root)} "
        "(technicians may pass it to `hub identity import --ca-fingerprint`)",
        f"broker config {broker_dir / 'mosquitto.conf'} for {', '.join(hosts)}",
        f"hubs will connect to {settings.broker_host}:{settings.broker_port}",
    ]


@dataclass(frozen=True)
class Enrolled:
    hub: str
    fingerprint: str
    response: bytes
    serial: int
    not_after: datetime
    renewal: bool
    signing_key: ed25519.Ed25519PublicKey
    version: str


def issue(place: HospitalDir, request_data: bytes, now: datetime) -> Enrolled:
    """Verify a request and answer it; writes nothing (`enroll` does)."""
    try:
        request = decode_request(request_data)
        verify_request(request)
    except EnrollmentError as exc:
        raise HospitalError(f"request refused: {exc}") from None
    hub = check_hub_id(request.hub)
    if hub in broker.SERVICES:
        raise HospitalError(f"request refused: {hub!r} names a hospital service, not a hub")
    record = _record(place, hub)
    if record and record.get("revoked"):
        raise HospitalError(f"{hub} was revoked on {record['revoked']}; a hub found again "
                            "gets a new identity under a new hub id")  # fmt: skip
    enrolled_key = place.enrollment / f"{hub}.pub"
    renewal = enrolled_key.exists()
    if renewal and load_ed25519_public(enrolled_key) != request.signing_key:
        raise HospitalError(f"{hub} is enrolled with another signing key; revoke it first")
    settings = place.load_settings()
    issuer = load_issuer(place)
    try:
        cert = sign_hub(issuer, request.csr, hub, HubPolicy(days=settings.hub_days), now)
    except PolicyError as exc:
        raise HospitalError(f"request refused: {exc}") from None
    above = x509.load_pem_x509_certificates(place.chain.read_bytes()) if _has_chain(place) else []
    root = x509.load_pem_x509_certificate(place.ca.read_bytes())
    chain = (cert,) if issuer.cert == root else (cert, issuer.cert, *above)
    response = Response(
        hub=hub,
        chain=chain,
        ca=root,
        broker_host=settings.broker_host,
        broker_port=settings.broker_port,
        encryption_key=load_x25519_public(place.key("hospital.enc.pub")),
        signing_key=load_ed25519_public(place.key("hospital.sign.pub")),
    )
    code = fingerprint(request.csr, request.signing_key)
    return Enrolled(hub, code, response.encode(), cert.serial_number, cert.not_valid_after_utc,
                    renewal, request.signing_key, request.version)  # fmt: skip


def enroll(place: HospitalDir, request_data: bytes, now: datetime) -> tuple[Enrolled, list[str]]:
    """Answer a request, register the hub's signing key and open the broker to it. Returns
    the result and lines on the broker (`update_broker`). When the running broker does not
    confirm the hub's access the response is not given out (HospitalError): no hub holds a
    certificate the broker has not confined; enrolling again then renews."""
    done = issue(place, request_data, now)
    record = _record(place, done.hub) or {"hub": done.hub, "serials": [], "revoked": None}
    record["serials"].append({"serial": str(done.serial), "not_after": done.not_after.isoformat(),
                              "fingerprint": done.fingerprint, "issued": now.isoformat(),
                              "version": done.version})  # fmt: skip
    write_atomic(place.record(done.hub), (json.dumps(record, indent=1) + "\n").encode())
    write_atomic(place.enrollment / f"{done.hub}.pub", public_pem(done.signing_key))
    try:
        return done, update_broker(place, withdrawing=False)
    except HospitalError as exc:
        raise HospitalError(f"{exc}. The response for {done.hub} was not written: enroll the "
                            "request again once the broker answers") from None  # fmt: skip


def revoke(place: HospitalDir, hub: str, now: datetime) -> list[str]:
    """Revoke every certificate of `hub`, withdraw its signing key (the receiver refuses it
    from then on) and its ACL, and reload the broker."""
    record = _record(place, check_hub_id(hub))
    if record is None:
        raise HospitalError(f"{hub} was never enrolled here")
    if record.get("revoked"):
        # the broker is brought in step again: a revoke the broker did not confirm is retried
        return [
            f"{hub} was already revoked on {record['revoked']}",
            *update_broker(place, withdrawing=True),
        ]
    record["revoked"] = now.isoformat()
    write_atomic(place.record(hub), (json.dumps(record, indent=1) + "\n").encode())
    key = place.enrollment / f"{hub}.pub"
    if key.exists():
        key.replace(place.enrollment / f"{hub}.revoked")
    revoked: list[tuple[int, datetime]] = []
    for path in sorted(place.hubs.glob("*.json")):
        other = json.loads(path.read_text())
        if other.get("revoked"):
            when = datetime.fromisoformat(other["revoked"])
            revoked += [(int(s["serial"]), when) for s in other["serials"]]
    write_atomic(place.crl, make_crl(load_issuer(place), revoked, now).public_bytes(_PEM))
    count = len(record["serials"])
    return [f"{hub}: {count} certificate(s) revoked, signing key withdrawn",
            *update_broker(place, withdrawing=True)]  # fmt: skip


def update_broker(place: HospitalDir, *, withdrawing: bool, timeout: float = 10.0) -> list[str]:
    """Rewrite the ACL and the subscription rules from the enrolled hubs, reload the broker's
    ACL and CRL (SIGHUP) and, when it runs, apply the subscription rules to its plugin at once;
    lines saying so. `withdrawing` (a revocation): the reload goes first, so the hub the plugin
    disconnects finds its certificate refused when it comes back; otherwise the plugin goes
    first and the enrollment does not wait behind the broker's reload. HospitalError when the
    running broker refuses or does not answer: its access is then not confirmed (the files
    are written and hold at its next start). Serialised by a lock file, so a concurrent
    enroll cannot apply an older list of hubs after a newer one."""
    lock = os.open(place.broker / "update.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        hubs = sorted(p.stem for p in place.enrollment.glob("*.pub"))
        write_atomic(place.broker / "acl.conf", broker.acl_text(hubs).encode())
        write_atomic(place.broker / "dynsec.json", broker.dynsec_json(hubs).encode())
        settings = place.load_settings()
        if broker.running_pid(settings.pid_file) is None:
            return [broker.reload(settings.pid_file)]
        reloaded = broker.reload(settings.pid_file) if withdrawing else ""
        admin = Endpoint(settings.broker_host, settings.broker_port, place.ca,
                         *place.service(broker.ADMIN))  # fmt: skip
        try:
            applied = dynsec.apply(admin, hubs, timeout)
        except HospitalError as exc:
            raise HospitalError(f"the running broker's subscription rules are NOT confirmed: "
                                f"{exc} (they hold from its next start)") from None  # fmt: skip
        finally:
            reloaded = reloaded or broker.reload(settings.pid_file)
        return [reloaded, applied]
    finally:
        os.close(lock)  # releases the lock


def load_issuer(place: HospitalDir) -> Issuer:
    try:
        cert = x509.load_pem_x509_certificate(place.issuer_cert.read_bytes())
        key = serialization.load_pem_private_key(place.issuer_key.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise HospitalError(f"{exc.filename}: no such file (run `hub hospital init`)") from None
    except ValueError as exc:
        raise HospitalError(f"{place.issuer_key}: unusable ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise HospitalError(f"{place.issuer_key}: not an EC private key")
    return Issuer(cert, key)


def _existing(existing: ExistingCa) -> tuple[Issuer, list[x509.Certificate]]:
    """The given issuer and the certificates above it (root last), checked to fit together."""
    try:
        cert = x509.load_pem_x509_certificate(existing.cert.read_bytes())
        key = serialization.load_pem_private_key(existing.key.read_bytes(), password=None)
        above = (
            x509.load_pem_x509_certificates(existing.chain.read_bytes()) if existing.chain else []
        )
    except (OSError, ValueError) as exc:
        raise HospitalError(f"existing CA unusable: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise HospitalError(f"{existing.key} is not the EC key of {existing.cert}")
    issuer = Issuer(cert, key)
    for lower, upper in zip([cert, *above], above, strict=False):
        try:
            lower.verify_directly_issued_by(upper)
        except (ValueError, TypeError) as exc:
            raise HospitalError(f"--ca-chain does not chain: {exc}") from None
    return issuer, above


def _has_chain(place: HospitalDir) -> bool:
    return place.chain.exists() and place.chain.stat().st_size > 0


def _record(place: HospitalDir, hub: str) -> dict[str, Any] | None:
    path = place.record(hub)
    return json.loads(path.read_text()) if path.exists() else None
