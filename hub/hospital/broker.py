"""The broker's side of enrollment: who may do what on Mosquitto, its config, and its reload.

Two files say the same grants (`grants`): Mosquitto's `acl_file` decides every publish and
delivery and is re-read on SIGHUP, so enrolling adds a `user` block and revoking removes it at
once. The ACL file cannot refuse a subscription: Mosquitto 2.0's default ACL check answers
"allowed" to every SUBSCRIBE (src/security_default.c, "FIXME - implement ACL subscription
strings") and only filters at delivery, where a shared subscription's turn given to a client
the read ACL refuses is dropped, not passed on (src/subs.c). So the dynamic-security plugin,
which Mosquitto consults first, decides subscriptions from `dynsec_json`: a known certificate
may subscribe only to what it may read (the receiver also through a share group) and is refused
anything else at SUBACK. The plugin reads its file only at start (no reload in 2.0): a hub
enrolled since the broker started is unknown to it, and its SUBSCRIBEs fall through to the ACL
file until the next restart. The user is the certificate's CN (`use_identity_as_username`);
there are no `pattern` lines: a certificate that is not enrolled may connect but can do nothing.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub.hospital.layout import OPS, RECEIVER, HospitalDir, HospitalError, Settings
from hub.wire import topics

DYNSEC_PLUGINS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib")
DYNSEC_FILE = "mosquitto_dynamic_security.so"


@dataclass(frozen=True)
class Grant:
    """What one certificate CN may do: publish to `write`; subscribe to and receive `read`,
    and with `shared` also through a shared subscription (`$share/<group>/<read topic>`)."""

    user: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    shared: bool = False


def grants(hubs: Iterable[str]) -> list[Grant]:
    """Each hub: write its uplink and status, read its ack and config. The receiver: every
    hub's uplink and status (shared between receivers), write acks and configs. Operations:
    publish configs, read status."""
    every = f"{topics.ROOT}/+"
    return [
        Grant(RECEIVER, read=(f"{every}/up", f"{every}/status", f"{every}/config"),
              write=(f"{every}/ack", f"{every}/config"), shared=True),
        Grant(OPS, read=(f"{every}/config", f"{every}/status"), write=(f"{every}/config",)),
        *(Grant(hub, read=(topics.ack(hub), topics.config(hub)),
                write=(topics.up(hub), topics.status(hub))) for hub in hubs),
    ]  # fmt: skip


def acl_text(hubs: Iterable[str]) -> str:
    """Mosquitto's ACL file for `grants(hubs)`: publish and delivery."""
    lines = ["# Written by `hub hospital` on every enroll and revoke; edits here are lost."]
    for grant in grants(hubs):
        lines.append(f"user {grant.user}")
        for topic in dict.fromkeys([*grant.write, *grant.read]):
            access = {(True, True): "readwrite", (True, False): "write", (False, True): "read"}
            lines.append(f"topic {access[topic in grant.write, topic in grant.read]} {topic}")
    return "\n".join(lines) + "\n"


def dynsec_json(hubs: Iterable[str]) -> str:
    """The dynamic-security plugin's file for `grants(hubs)`: subscriptions only. Each user's
    role allows its read topics and ends in a refusal of `#` (which also covers `$share/...`):
    without it an unmatched SUBSCRIBE would fall through to the ACL file, which allows all.
    Publish and delivery are left to the ACL file (no rules here; default access off)."""

    def acl(kind: str, topic: str, allow: bool, priority: int) -> dict[str, object]:
        return {"acltype": kind, "topic": topic, "allow": allow, "priority": priority}

    roles, clients = [], []
    for grant in grants(hubs):
        shared = [f"$share/+/{topic}" for topic in grant.read] if grant.shared else []
        acls = [acl("subscribePattern", t, True, 1) for t in [*grant.read, *shared]]
        acls.append(acl("subscribePattern", "#", False, 0))
        roles.append({"rolename": grant.user, "acls": acls})
        clients.append({"username": grant.user, "roles": [{"rolename": grant.user}]})
    default = {"publishClientSend": False, "publishClientReceive": False,
               "subscribe": False, "unsubscribe": True}  # fmt: skip
    document = {"defaultACLAccess": default, "clients": clients, "groups": [], "roles": roles}
    return json.dumps(document, indent=1) + "\n"


def dynsec_plugin() -> Path:
    """Where Debian's `mosquitto` package put the dynamic-security plugin."""
    for directory in DYNSEC_PLUGINS:
        if (path := Path(directory) / DYNSEC_FILE).is_file():
            return path
    raise HospitalError(f"{DYNSEC_FILE} not found in {', '.join(DYNSEC_PLUGINS)} "
                        "(it comes with the mosquitto package, 2.0 or later)")  # fmt: skip


def mosquitto_conf(place: HospitalDir, settings: Settings) -> str:
    """A complete Mosquitto 2 config: mutual TLS, CN as user name, the CRL, the ACL file and
    the dynamic-security plugin with the subscription rules (`dynsec_json`)."""
    broker = place.broker
    return "\n".join(
        [
            "# Written by `hub hospital init`. Start: mosquitto -c <this file>",
            "per_listener_settings false",
            "allow_anonymous false",
            f"user {settings.broker_user}",  # it reads this directory's keys and ACL
            f"pid_file {settings.pid_file}",
            "persistence true",
            f"persistence_location {broker}/",
            f"acl_file {broker / 'acl.conf'}",
            f"plugin {dynsec_plugin()}",
            f"plugin_opt_config_file {broker / 'dynsec.json'}",
            "set_tcp_nodelay true",
            "max_queued_messages 100000",
            "max_packet_size 4194304",
            f"log_dest file {broker / 'mosquitto.log'}",
            f"listener {settings.broker_port} {settings.listen}",
            f"cafile {place.ca}",
            f"certfile {broker / 'server.crt'}",
            f"keyfile {broker / 'server.key'}",
            "tls_version tlsv1.2",
            "require_certificate true",
            "use_identity_as_username true",
            f"crlfile {place.crl}",
            "",
        ]
    )


def reload(pid_file: Path) -> str:
    """SIGHUP to the broker named by `pid_file`; a line saying what happened. A pid that is
    not a Mosquitto process (a stale file) is never signalled."""
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        return f"broker not reloaded: no pid file {pid_file} (reload it where it runs: SIGHUP)"
    except ValueError:
        raise HospitalError(f"{pid_file}: not a process id") from None
    try:
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return f"broker not reloaded: process {pid} from {pid_file} is not running"
    if command != "mosquitto":
        raise HospitalError(f"{pid_file}: process {pid} is {command!r}, not mosquitto")
    os.kill(pid, signal.SIGHUP)
    return f"broker reloaded (pid {pid})"
