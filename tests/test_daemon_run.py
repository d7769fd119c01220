"""`hub run` as systemd runs it: a real process, a fake notify socket, the control socket with a
real client, SIGHUP with a good and a bad config, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_support import refused_start
from waiting import wait_for

from hub.control import Reply, Request, decode_reply, encode_request

CONFIG = """[hub]
id = "hub-a"
data_dir = "{root}/state"
runtime_dir = "{root}/run"
status_interval_s = 1.0

[store]
disk_floor_mb = 0

[uplink]
enabled = false

[patient]
pathway = "{pathway}"
"""


class Notify:
    """A fake systemd notify socket collecting every datagram."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def poll(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def seen(self, line: str) -> bool:
        return self.count(line) > 0

    def count(self, line: str) -> int:
        return sum(line in m.split("\n") for m in self.poll())


class Client:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")
        self.next_id = 0

    def raw(self, line: bytes) -> Reply:
        self.sock.sendall(line)
        return decode_reply(self.file.readline())

    def call(self, op: str, **args: object) -> Reply:
        self.next_id += 1
        return self.raw(encode_request(Request(self.next_id, op, dict(args))))

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def hub_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Notify, Path]]:
    config = tmp_path / "hub.toml"
    config.write_text(CONFIG.format(root=tmp_path, pathway="general"))
    notify = Notify(tmp_path / "notify")
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(notify.path),
        "WATCHDOG_USEC": "400000",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "hub.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run", "--config", str(config)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc, notify, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        log.close()
        notify.sock.close()


def test_ready_watchdog_control_reload_and_clean_stop(
    hub_run: tuple[subprocess.Popen[bytes], Notify, Path],
) -> None:
    proc, notify, root = hub_run
    wait_for(lambda: notify.seen("READY=1"), "READY=1")
    assert (root / "state" / "hub.db").exists()  # READY only once the store is open
    wait_for(lambda: sum(m.count("WATCHDOG=1") for m in notify.poll()) >= 3, "watchdog pings")
    assert any(m.startswith("STATUS=") or "\nSTATUS=" in m for m in notify.poll())

    sock_path = root / "run" / "control.sock"
    assert stat.S_IMODE(sock_path.stat().st_mode) == 0o660
    client = Client(sock_path)
    try:
        status = client.call("status")
        assert status.ok
        assert status.result["hub"] == "hub-a"
        assert status.result["queue_depth"] == 0
        assert status.result["uplink"] == {"enabled": False, "provisioned": False}
        assert status.result["state"] == "online"  # the uplink is off by choice

        refused = client.raw(b'{"id": 7, "op": "explode"}\n')
        assert (refused.id, refused.ok) == (7, False)
        assert "unknown op" in (refused.error or "")
        assert not client.raw(b"not json\n").ok

        bad = client.call("assign", address="not-an-address", kind="heart-rate")
        assert not bad.ok and "address" in (bad.error or "")
        good = client.call("assign", address="C0:11:22:33:44:55", kind="heart-rate", name="band")
        assert good.ok and good.result["devices"] == ["C0:11:22:33:44:55"]
        listed = client.call("status").result["devices"]
        assert [(d["address"], d["kind"], d["name"]) for d in listed] == [
            ("C0:11:22:33:44:55", "heart-rate", "band")
        ]
        gone = client.call("unassign", address="C0:11:22:33:44:55")
        assert gone.ok and gone.result["devices"] == []

        assert not client.call("test-uplink").ok  # disabled: says so rather than pretending

        # A broken config: refused with the file, key and problem; the old one runs on.
        config = root / "hub.toml"
        config.write_text(CONFIG.format(root=root, pathway="no-such-pathway"))
        refused = client.call("reload")
        assert not refused.ok and "patient.pathway" in (refused.error or "")
        os.kill(proc.pid, signal.SIGHUP)
        assert client.call("status").ok
        assert proc.poll() is None

        config.write_text(CONFIG.format(root=root, pathway="copd"))
        reloaded = client.call("reload")
        assert reloaded.ok and reloaded.result["reloaded"]
        # sd_notify's reload protocol, for each of the five reloads (assign and unassign
        # reload too; refused ones included): RELOADING=1, then READY=1 again
        wait_for(
            lambda: notify.count("RELOADING=1") >= 5 and notify.count("READY=1") >= 6,
            "RELOADING=1 and READY=1 per reload",
        )
        errors = client.call("status").result["errors"]
        assert any("refused" in e and "patient.pathway" in e for e in errors)
    finally:
        client.close()

    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert notify.seen("STOPPING=1")
    assert not sock_path.exists()
    log = (root / "hub.log").read_text()
    assert "hub stopped cleanly" in log
    assert "Traceback" not in log


def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(CONFIG.format(root=tmp_path, pathway="general").replace("hub-a", "A!"))
    done = refused_start(config)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "hub.id" in done.stderr
