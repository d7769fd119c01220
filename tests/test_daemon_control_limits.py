"""The control socket under abuse, against `hub run` as a process: a flood of idle
connections while a legitimate client is served, concurrent assigns all kept, oversized and
odd arguments refused before any state changes, and not one traceback in the log."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_support import serving
from waiting import wait_for

from hub.daemon.control_server import MAX_CLIENTS

CONFIG = """[hub]
id = "hub-a"
data_dir = "{root}/state"
runtime_dir = "{root}/run"
[store]
disk_floor_mb = 0
[uplink]
enabled = false
"""
FLOOD = 1_100  # more than the 1,024 descriptors a daemon has by default


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Path]:
    config = tmp_path / "hub.toml"
    config.write_text(CONFIG.format(root=tmp_path))
    with serving(config, tmp_path / "hub.log"):
        yield tmp_path
    text = (tmp_path / "hub.log").read_text()
    assert "Traceback" not in text, text[-3000:]


def call(root: Path, op: str, **args: object) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        sock.connect(str(root / "run" / "control.sock"))
        return exchange(sock, json.dumps({"id": 1, "op": op, "args": args}).encode())


def exchange(sock: socket.socket, line: bytes) -> dict[str, object]:
    sock.sendall(line + b"\n")
    reply: dict[str, object] = json.loads(sock.makefile("rb").readline())
    return reply


def test_a_flood_of_idle_connections_leaves_room_for_the_real_client(daemon: Path) -> None:
    path = str(daemon / "run" / "control.sock")
    idle: list[socket.socket] = []
    try:
        for _ in range(FLOOD):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            idle.append(sock)
        # the surplus was refused at once, saying so; the daemon kept its descriptors
        refused = idle[-1].makefile("rb").readline()
        assert json.loads(refused)["error"] == "too many connections"
        for sock in idle[MAX_CLIENTS:]:
            sock.close()
        idle = idle[:MAX_CLIENTS]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as surplus:
            surplus.connect(path)  # all slots held: refused at once, not left hanging
            assert json.loads(surplus.makefile("rb").readline())["ok"] is False
        idle.pop().close()  # one slot free: the technician's client gets it
        wait_for(lambda: call(daemon, "status")["ok"] is True, "status served")
    finally:
        for sock in idle:
            sock.close()
    assert call(daemon, "status")["ok"] is True


def test_concurrent_assigns_are_all_kept(daemon: Path) -> None:
    addresses = [f"C0:11:22:33:44:{i:02X}" for i in range(20)]
    replies: list[dict[str, object]] = []

    def assign(address: str) -> None:
        replies.append(call(daemon, "assign", address=address, kind="heart-rate"))

    threads = [threading.Thread(target=assign, args=(a,)) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [r["ok"] for r in replies] == [True] * 20, replies
    status = call(daemon, "status")["result"]
    assert isinstance(status, dict)
    assert sorted(d["address"] for d in status["devices"]) == addresses
    saved = json.loads((daemon / "state" / "assignments.json").read_text())
    assert sorted(d["address"] for d in saved["assigned"]) == addresses
    leftovers = [p.name for p in (daemon / "state").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary file left behind


@pytest.mark.parametrize(
    ("op", "args", "said"),
    [
        ("assign", {"address": "C0:11:22:33:44:55", "kind": "heart-rate", "name": "x" * 257},
         "longer than 256"),
        ("assign", {"address": "C0:11:22:33:44:55", "kind": "heart-rate", "name": "a\nb"},
         "device.name"),
        ("assign", {"address": "C0:11:22:33:44:55", "kind": "heart-rate", "name": "\x1b[31m"},
         "device.name"),
        ("assign", {"address": ["C0:11:22:33:44:55"], "kind": "heart-rate"}, "must be a string"),
        ("unassign", {"address": "C0:00:00:00:00:99"}, "no device"),
        ("unassign", {"address": "x" * 200}, "no device"),
        ("pair", {"address": "not-an-address", "passkey": 123456}, "BLE address"),
        ("pair", {"address": "C0:11:22:33:44:55", "passkey": True}, "passkey"),
        ("scan", {"seconds": 1e308}, "seconds"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_before_anything_changes(
    daemon: Path, op: str, args: dict[str, object], said: str
) -> None:
    reply = call(daemon, op, **args)
    assert reply["ok"] is False and said in str(reply["error"]), reply
    assert not (daemon / "state" / "assignments.json").exists()


def test_oversized_and_nested_lines_are_refused(daemon: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        sock.connect(str(daemon / "run" / "control.sock"))
        nested = exchange(sock, b"[" * 1500 + b"]" * 1500)
        assert nested == {"id": 0, "ok": False, "error": "JSON nested too deeply"}
        huge = exchange(sock, b'{"id": 2, "op": "status", "args": {"x": "' + b"a" * 9000 + b'"}}')
        assert huge == {"id": 0, "ok": False, "error": "line too long"}
    assert os.path.exists(daemon / "run" / "control.sock")
