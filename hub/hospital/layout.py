"""Where the hospital keeps things, and its settings file (`hospital.toml`).

```
<dir>/hospital.toml            broker address as hubs reach it, listen address, pid file, policy
<dir>/ca/ca.crt                the trust anchor hubs and the broker use (a root)
<dir>/ca/issuer.crt, .key      the CA that signs (the root itself, or an intermediate)
<dir>/ca/chain.pem             intermediates between issuer and root (empty for a root)
<dir>/ca/ca.crl                the issuer's revocation list (the broker's crlfile)
<dir>/keys/hospital.{enc,sign}.{key,pub}   X25519 encryption, Ed25519 signing (acks, configs)
<dir>/enrollment/<hub>.pub     enrolled hubs' signing keys (the receiver's --enrollment);
                               <hub>.revoked once revoked: the receiver refuses that hub
<dir>/hubs/<hub>.json          the hospital's record of a hub: serials, fingerprint, revocation
<dir>/configs/<hub>/<n>.json   every downlink config published to a hub, by version
<dir>/broker/                  mosquitto.conf, acl.conf, server.{crt,key}, mosquitto.pid
<dir>/services/                receiver.{crt,key} and ops.{crt,key} (this console's identity)
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

RECEIVER = "receiver"
OPS = "ops"
HUB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")  # as hub.config's [hub] id
HOST = re.compile(r"^[A-Za-z0-9:.-]{1,253}$")  # a DNS name, an IPv4 or an IPv6 address


class HospitalError(ValueError):
    """A hospital operation that cannot go ahead; the text says what and where."""


@dataclass(frozen=True)
class Settings:
    broker_host: str  # what hubs connect to (goes into every enrollment response)
    broker_port: int
    listen: str  # the address Mosquitto binds
    hub_days: int  # validity of a hub certificate
    pid_file: Path  # the broker's pid, signalled (SIGHUP) to reload its ACL and CRL
    broker_user: str  # the account Mosquitto runs as (it reads this directory)

    def toml(self) -> str:
        return (
            "# hub hospital settings (written by `hub hospital init`)\n"
            "[broker]\n"
            f'host = "{self.broker_host}"\n'
            f"port = {self.broker_port}\n"
            f'listen = "{self.listen}"\n'
            f'pid_file = "{self.pid_file}"\n'
            f'user = "{self.broker_user}"\n'
            "[policy]\n"
            f"hub_days = {self.hub_days}\n"
        )


@dataclass(frozen=True)
class HospitalDir:
    root: Path

    @property
    def settings_file(self) -> Path:
        return self.root / "hospital.toml"

    @property
    def ca(self) -> Path:
        return self.root / "ca" / "ca.crt"

    @property
    def issuer_cert(self) -> Path:
        return self.root / "ca" / "issuer.crt"

    @property
    def issuer_key(self) -> Path:
        return self.root / "ca" / "issuer.key"

    @property
    def chain(self) -> Path:
        return self.root / "ca" / "chain.pem"

    @property
    def crl(self) -> Path:
        return self.root / "ca" / "ca.crl"

    def key(self, name: str) -> Path:
        """`name`: hospital.enc.key, hospital.enc.pub, hospital.sign.key, hospital.sign.pub."""
        return self.root / "keys" / name

    @property
    def enrollment(self) -> Path:
        return self.root / "enrollment"

    @property
    def hubs(self) -> Path:
        return self.root / "hubs"

    def record(self, hub: str) -> Path:
        return self.hubs / f"{hub}.json"

    def configs(self, hub: str) -> Path:
        return self.root / "configs" / hub

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    def service(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) of a hospital service: RECEIVER or OPS."""
        return self.root / "services" / f"{name}.crt", self.root / "services" / f"{name}.key"

    def directories(self) -> list[Path]:
        return [self.root / "ca", self.root / "keys", self.enrollment, self.hubs,
                self.root / "configs", self.broker, self.root / "services"]  # fmt: skip

    def load_settings(self) -> Settings:
        path = self.settings_file
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            broker, policy = raw["broker"], raw["policy"]
            return Settings(
                broker_host=str(broker["host"]),
                broker_port=int(broker["port"]),
                listen=str(broker["listen"]),
                hub_days=int(policy["hub_days"]),
                pid_file=Path(broker["pid_file"]),
                broker_user=str(broker["user"]),
            )
        except FileNotFoundError:
            raise HospitalError(f"{path}: no such file (run `hub hospital init` first)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HospitalError(f"{path}: unusable ({exc!r})") from None


def check_hub_id(hub: str) -> str:
    if not HUB_ID.fullmatch(hub):
        raise HospitalError(f"{hub!r} is not a hub id (lower-case letters, digits and '-')")
    return hub


def check_host(host: str) -> str:
    if not HOST.fullmatch(host):
        raise HospitalError(f"{host!r} is not a host name or IP address")
    return host
