"""The demo's hospital and hub made the way a real pair is put into service: hospital init,
hub identity init, request, enroll, import — in that order, through the functions the
`hub hospital` and `hub identity` commands run — so the demo has no back door.

`HospitalPki` names the resulting files with the attribute names of the throw-away `Pki`,
so the harness (broker probe, receiver process, benchmarks) reads them the same way.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hub import __version__
from hub.hospital import authority
from hub.hospital.layout import RECEIVER, HospitalDir, Settings
from hub.identity import ops
from hub.identity.files import IdentityFiles
from hub.testbed.pki import Identity


@dataclass(frozen=True)
class HospitalPki:
    root: Path
    ca: Path
    crl: Path
    server: Identity
    receiver: Identity
    hubs: dict[str, Identity]
    enrollment: Path
    hospital_enc_key: Path
    hospital_enc_pub: Path
    hospital_sign_key: Path
    hospital_sign_pub: Path


@dataclass(frozen=True)
class Provisioned:
    hospital: HospitalDir
    identity: IdentityFiles
    port: int
    pki: HospitalPki

    @property
    def broker_conf(self) -> Path:
        return self.hospital.broker / "mosquitto.conf"


def provision(
    hospital_dir: Path, data_dir: Path, hub: str, port: int, now: datetime
) -> Provisioned:
    """A hospital (its broker listening on 127.0.0.1:`port`) and `hub` enrolled with it; what
    already exists under the two directories is kept (a demo's `--keep` directory)."""
    place = HospitalDir(hospital_dir)
    if not place.issuer_key.exists():
        settings = Settings("127.0.0.1", port, "127.0.0.1", 397,
                            place.broker / "mosquitto.pid", getpass.getuser())  # fmt: skip
        authority.init(place, settings, ["127.0.0.1", "localhost"], now)
    files = IdentityFiles(data_dir)
    if not files.configured():
        if not files.signing_key.exists():
            ops.init(files)
        ops.request(files, hub, __version__, None)
        enrolled, _ = authority.enroll(place, files.pending_request.read_bytes(), now)
        ops.import_response(files, hub, enrolled.response, now, None)
    current = files.current
    receiver_cert, receiver_key = place.service(RECEIVER)
    pki = HospitalPki(
        root=place.root,
        ca=place.ca,
        crl=place.crl,
        server=Identity(place.broker / "server.crt", place.broker / "server.key"),
        receiver=Identity(receiver_cert, receiver_key),
        hubs={hub: Identity(current / "hub.crt", current / "tls.key")},
        enrollment=place.enrollment,
        hospital_enc_key=place.key("hospital.enc.key"),
        hospital_enc_pub=place.key("hospital.enc.pub"),
        hospital_sign_key=place.key("hospital.sign.key"),
        hospital_sign_pub=place.key("hospital.sign.pub"),
    )
    return Provisioned(place, files, place.load_settings().broker_port, pki)
