"""The broker's side of enrollment: Mosquitto's own ACL file and config, and its reload.

Access control is Mosquitto's `acl_file` with one `user` block per enrolled hub (the user is
the certificate's CN: `use_identity_as_username`), so enrolling adds a block, revoking removes
it, and a SIGHUP to the broker's pid makes it re-read the ACL and the CRL. There are no
`pattern` lines for hubs: a certificate that is not enrolled may connect but can do nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from pathlib import Path

from hub.hospital.layout import OPS, RECEIVER, HospitalDir, HospitalError, Settings
from hub.wire import topics


def acl_text(hubs: Iterable[str]) -> str:
    """Each hub: write its uplink and status, read its ack and config. The receiver: every
    hub's uplink and status, write acks and configs. Operations: publish configs, read status."""
    lines = [
        "# Written by `hub hospital` on every enroll and revoke; edits here are lost.",
        f"user {RECEIVER}",
        f"topic read {topics.ROOT}/+/up",
        f"topic read {topics.ROOT}/+/status",
        f"topic write {topics.ROOT}/+/ack",
        f"topic readwrite {topics.ROOT}/+/config",
        f"user {OPS}",
        f"topic readwrite {topics.ROOT}/+/config",
        f"topic read {topics.ROOT}/+/status",
    ]
    for hub in hubs:
        lines += [
            f"user {hub}",
            f"topic write {topics.up(hub)}",
            f"topic write {topics.status(hub)}",
            f"topic read {topics.ack(hub)}",
            f"topic read {topics.config(hub)}",
        ]
    return "\n".join(lines) + "\n"


def mosquitto_conf(place: HospitalDir, settings: Settings) -> str:
    """A complete Mosquitto 2 config: mutual TLS, CN as user name, the CRL, the ACL file."""
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
