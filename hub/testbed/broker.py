"""A local Mosquitto for the demo, the tests and the benchmark.

Mutual TLS (1.2 minimum), the certificate's CN as the user name, a CRL, and the hospital's
own access rules (hub.hospital.broker) for the PKI's hubs; persistence on so a restarted
broker still holds what it saved. The broker is our child process and is only ever stopped
by its own pid.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from hub.hospital.broker import acl_text, dynsec_json, dynsec_plugin
from hub.testbed.pki import Pki
from hub.testbed.provision import HospitalPki

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_access(workdir: Path, hubs: Iterable[str]) -> None:
    """The hospital's own access files (hub.hospital.broker) for `hubs`: the ACL file and the
    dynamic-security plugin's subscription rules, as `config_text` names them."""
    hubs = list(hubs)
    (workdir / "acl.conf").write_text(acl_text(hubs))
    (workdir / "dynsec.json").write_text(dynsec_json(hubs))


def config_text(pki: Pki, workdir: Path, port: int) -> str:
    return "\n".join(
        [
            "per_listener_settings false",
            "allow_anonymous false",
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {workdir}/",
            "autosave_interval 1",
            f"acl_file {workdir / 'acl.conf'}",
            f"plugin {dynsec_plugin()}",
            f"plugin_opt_config_file {workdir / 'dynsec.json'}",
            "set_tcp_nodelay true",
            "max_queued_messages 100000",
            "max_inflight_messages 100",
            "max_packet_size 4194304",
            f"log_dest file {workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"listener {port} 127.0.0.1",
            f"cafile {pki.ca}",
            f"certfile {pki.server.cert}",
            f"keyfile {pki.server.key}",
            "tls_version tlsv1.2",
            "require_certificate true",
            "use_identity_as_username true",
            f"crlfile {pki.crl}",
            "",
        ]
    )


class Broker:
    """One Mosquitto process on 127.0.0.1:`port`, restartable on the same port."""

    def __init__(
        self, pki: Pki | HospitalPki, workdir: Path, port: int | None = None,
        conf: Path | None = None,
    ) -> None:  # fmt: skip
        """`conf`: run this config (the one `hub hospital init` wrote, listening on `port`,
        logging into `workdir`) instead of writing one for `pki`."""
        self.pki = pki
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        if conf is not None:
            self.conf = conf
            return
        assert isinstance(pki, Pki)
        write_access(workdir, pki.hubs)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(config_text(pki, workdir, self.port))

    def start(self, timeout: float = 20.0) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal is for the parent, who stops it
        )
        deadline = time.monotonic() + timeout
        while not self._accepts_tls():
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mosquitto did not accept TLS within {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (the broker saves its persistence file), then wait."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing saved since the last autosave."""
        self._signal(signal.SIGKILL)

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _signal(self, sig: signal.Signals) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def _accepts_tls(self) -> bool:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        ctx.load_cert_chain(str(self.pki.receiver.cert), str(self.pki.receiver.key))
        try:
            with (
                socket.create_connection(("127.0.0.1", self.port), timeout=2) as raw,
                ctx.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return True
        except OSError:
            return False
