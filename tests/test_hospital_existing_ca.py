"""`hub hospital init --ca-cert --ca-key --ca-chain`: a hospital that signs with an existing
intermediate under its own root. The hub's response then carries the intermediate, the hub
trusts the root, and the broker's certificate file carries the chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from enrollment_support import files_under, hub_command, write_hub_config

from hub.hospital.layout import HospitalDir
from hub.identity.files import IdentityFiles
from hub.keyfiles import private_pem

NOW = datetime.now(UTC)


def _ca(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    path_length: int,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False)  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def test_an_existing_intermediate_signs_and_the_hub_trusts_the_root(tmp_path: Path) -> None:
    root_key, mid_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root = _ca("region root", root_key, None, 1)
    mid = _ca("hospital issuing CA", mid_key, (root.subject, root_key), 0)
    given = tmp_path / "given"
    given.mkdir()
    (given / "mid.crt").write_bytes(mid.public_bytes(serialization.Encoding.PEM))
    (given / "mid.key").write_bytes(private_pem(mid_key))
    (given / "root.crt").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    place = HospitalDir(tmp_path / "hospital")
    hub_command("hospital", "init", "--dir", place.root, "--broker-host", "127.0.0.1",
                "--ca-cert", given / "mid.crt", "--ca-key", given / "mid.key",
                "--ca-chain", given / "root.crt")  # fmt: skip
    assert x509.load_pem_x509_certificate(place.ca.read_bytes()) == root
    server_chain = x509.load_pem_x509_certificates((place.broker / "server.crt").read_bytes())
    assert server_chain[1] == mid and len(server_chain) == 2

    hub_toml = write_hub_config(tmp_path / "hub", "hub-mid")
    hub_command("identity", "init", "--config", hub_toml)
    hub_command("identity", "request", "--config", hub_toml, "--out", tmp_path / "req.json")
    hub_command("hospital", "enroll", tmp_path / "req.json", "--dir", place.root)
    hub_command("identity", "import", tmp_path / "req.response.json", "--config", hub_toml)
    current = IdentityFiles(tmp_path / "hub" / "data").current
    chain = x509.load_pem_x509_certificates((current / "hub.crt").read_bytes())
    assert chain[1] == mid and chain[0].issuer == mid.subject
    assert x509.load_pem_x509_certificate((current / "ca.crt").read_bytes()) == root


def test_a_key_that_is_not_the_certificates_is_refused_and_nothing_made(tmp_path: Path) -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    cert = _ca("mismatch", key, None, 0)
    (tmp_path / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(private_pem(other))
    done = hub_command("hospital", "init", "--dir", tmp_path / "h", "--broker-host", "b",
                       "--ca-cert", tmp_path / "ca.crt", "--ca-key", tmp_path / "ca.key",
                       check=False)  # fmt: skip
    assert done.returncode == 2 and "is not the EC key of" in done.stderr
    assert not (tmp_path / "h").exists() or files_under(tmp_path / "h") == {}
