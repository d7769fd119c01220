"""The broker's side of enrollment: who may do what on Mosquitto, its config, and its reload.

Two files say the same grants (`grants`): Mosquitto's `acl_file` decides every publish and
delivery and is re-read on SIGHUP, so enrolling adds a `user` block and revoking removes it at
once. The ACL file cannot refuse a subscription: Mosquitto 2.0's default ACL check answers
"allowed" to every SUBSCRIBE (src/security_default.c, "FIXME - implement ACL subscription
strings") and only filters at delivery, where a shared subscription's turn given to a client
the read ACL refuses is dropped, not passed on (src/subs.c). So the dynamic-security plugin,
which Mosquitto consults first, decides subscriptions from `dynsec_json`: a known certificate
may subscribe only to what it may read (the receiver also through a share group) and is refused
anything else at SUBACK. The plugin reads its file only at start (no reload in 2.0), so a
running broker is told of each enrollment and revocation through the plugin's control topic
(hub.hospital.dynsec) by the broker-admin certificate (`ADMIN`), the only one granted it. The
user is the certificate's CN (`use_identity_as_username`); there are no `pattern` lines: a
certificate that is not enrolled may connect but can do nothing.
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

ADMIN = "broker-admin"  # the certificate that changes the running broker's subscription rules
SERVICES = (RECEIVER, OPS, ADMIN)  # hospital identities: never a hub id
CONTROL = "$CONTROL/dynamic-security/v1"  # the plugin's command topic
CONTROL_RESPONSE = f"{CONTROL}/response"  # where it answers, to every subscriber
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
    publish configs, read status. The broker admin: the plugin's command topic and answers."""
    every = f"{topics.ROOT}/+"
    return [
        Grant(RECEIVER, read=(f"{every}/up", f"{every}/status", f"{every}/config"),
              write=(f"{every}/ack", f"{every}/config"), shared=True),
        Grant(OPS, read=(f"{every}/config", f"{every}/status"), write=(f"{every}/config",)),
        Grant(ADMIN, read=(CONTROL_RESPONSE,), write=(CONTROL,)),
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


def roles(hubs: Iterable[str]) -> dict[str, list[dict[str, object]]]:
    """The dynamic-security role of each user in `grants(hubs)`, named after it: subscriptions
    only. Each role allows its read topics and ends in a refusal of `#` (which also covers
    `$share/...`): without it an unmatched SUBSCRIBE would fall through to the ACL file, which
    allows all. Publish and delivery are left to the ACL file (no rules here)."""

    def acl(topic: str, allow: bool, priority: int) -> dict[str, object]:
        return {"acltype": "subscribePattern", "topic": topic, "allow": allow,
                "priority": priority}  # fmt: skip

    found = {}
    for grant in grants(hubs):
        shared = [f"$share/+/{topic}" for topic in grant.read] if grant.shared else []
        found[grant.user] = [*(acl(t, True, 1) for t in [*grant.read, *shared]),
                             acl("#", False, 0)]  # fmt: skip
    return found


def dynsec_json(hubs: Iterable[str]) -> str:
    """The dynamic-security plugin's file for `grants(hubs)`: each user with its own role
    (`roles`); default access off, so what no role decides falls to the ACL file."""
    by_user = roles(hubs)
    clients = [{"username": user, "roles": [{"rolename": user}]} for user in by_user]
    listed = [{"rolename": user, "acls": acls} for user, acls in by_user.items()]
    default = {"publishClientSend": False, "publishClientReceive": False,
               "subscribe": False, "unsubscribe": True}  # fmt: skip
    document = {"defaultACLAccess": default, "clients": clients, "groups": [], "roles": listed}
    return json.dumps(document, separators=(",", ":")) + "\n"  # compact: json's C encoder


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


def running_pid(pid_file: Path) -> int | None:
    """The pid of the Mosquitto named by `pid_file`, or None when it is not running. A pid
    that is not a Mosquitto process (a stale file) is an error."""
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        return None
    except ValueError:
        raise HospitalError(f"{pid_file}: not a process id") from None
    try:
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    if command != "mosquitto":
        raise HospitalError(f"{pid_file}: process {pid} is {command!r}, not mosquitto")
    return pid


def reload(pid_file: Path) -> str:
    """SIGHUP to the broker named by `pid_file` (it re-reads the ACL file and the CRL); a line
    saying what happened."""
    pid = running_pid(pid_file)
    if pid is None:
        return (f"broker not running (no pid file or no live process: {pid_file}); it reads "
                "the access files written here when it starts")  # fmt: skip
    os.kill(pid, signal.SIGHUP)
    return f"broker reloaded (pid {pid})"
