"""Fixtures the diagnosis tests need beyond `mqtt_support`: a Mosquitto whose own certificate
is wrong (made out to another name, or expired), on a CA of its own.

The test PKI keeps no CA key on disk, so the broker's certificate is signed by a second CA
made here; the broker's `cafile` and the hub's trusted CA file are both a bundle of the two,
so hub certificates still verify and only the broker's certificate is at fault.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mqtt_support import Chain
from waiting import wait_for

from hub.keyfiles import write_private_key
from hub.testbed.broker import MOSQUITTO, config_text, free_port, write_access
from hub.testbed.pki import Identity

_PEM = serialization.Encoding.PEM


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("diagnosis test broker CA"))
        .issuer_name(_name("diagnosis test broker CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@dataclass(frozen=True)
class ServerCert:
    """The broker's certificate: the names it is made out to and its validity, in days from
    now (negative: in the past)."""

    names: tuple[str, ...]  # IP addresses or DNS names
    valid_from_days: int
    valid_to_days: int


def write_broker_identity(
    directory: Path, spec: ServerCert, now: datetime
) -> tuple[Identity, Path]:
    """A server certificate per `spec` and the PEM of its CA; (identity, CA file)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca(now)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in spec.names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(spec.names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=spec.valid_from_days))
        .not_valid_after(now + timedelta(days=spec.valid_to_days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ident = Identity(directory / "server.crt", directory / "server.key")
    ident.cert.write_bytes(cert.public_bytes(_PEM))
    write_private_key(ident.key, key)
    ca_file = directory / "server-ca.crt"
    ca_file.write_bytes(ca_cert.public_bytes(_PEM))
    return ident, ca_file


@dataclass(frozen=True)
class OddBroker:
    port: int
    ca_bundle: Path  # the chain's CA and the broker certificate's CA: trust this on the hub


@contextmanager
def broker_with(c: Chain, workdir: Path, spec: ServerCert) -> Iterator[OddBroker]:
    """A Mosquitto like the chain's (same ACL, CRL, client CA) presenting a certificate per
    `spec`; ready once it accepts TCP connections, stopped by its pid."""
    workdir.mkdir(parents=True, exist_ok=True)
    server, server_ca = write_broker_identity(workdir / "pki", spec, datetime.now(UTC))
    bundle = workdir / "ca-bundle.crt"
    bundle.write_bytes(c.pki.ca.read_bytes() + server_ca.read_bytes())
    port = free_port()
    write_access(workdir, c.pki.hubs)
    conf = workdir / "mosquitto.conf"
    conf.write_text(config_text(replace(c.pki, ca=bundle, server=server), workdir, port))
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: proc.poll() is not None or _accepts_tcp(port), "mosquitto to listen")
        assert proc.poll() is None, (workdir / "mosquitto.log").read_text(errors="replace")
        yield OddBroker(port, bundle)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False
