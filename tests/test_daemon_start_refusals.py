"""`hub run` refuses a config it cannot run safely with one line and exit 2 — before READY,
without a traceback, without hanging — and what it writes is private whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from daemon_support import refused_start, serving

BASE = """[hub]
id = "hub-a"
data_dir = "{root}/state"
runtime_dir = "{root}/run"
[store]
disk_floor_mb = 0
{store}
[uplink]
{uplink}
"""
DEVICE = '[[devices]]\naddress = "C0:11:22:33:44:55"\nkind = "heart-rate"\n'


def _fifo(root: Path) -> str:
    os.mkfifo(root / "key.fifo")
    return f'key_file = "{root}/key.fifo"'


def _short_secret(root: Path) -> str:
    (root / "state").mkdir()
    (root / "state" / "ids.secret").write_bytes(b"12345")
    return ""


CASES: dict[str, tuple[Callable[[Path], str], str, str, str]] = {
    # case: (store lines made in root, uplink lines, extra tables, what the line names)
    "nested": (lambda _r: "", "enabled = false", "x = " + "[" * 4000 + "]" * 4000, "nested"),
    "nan": (lambda _r: "flush_ms = 5", "enabled = false\nack_timeout_s = nan", "", "ack_timeout"),
    "key file is a FIFO": (_fifo, "enabled = false", "", "not a regular file"),
    "key file is a directory": (
        lambda r: f'key_file = "{r}"',
        "enabled = false",
        "",
        "not a regular file",
    ),
    "short id secret": (_short_secret, "enabled = false", "", "id secret must be 32 bytes"),
    "a device twice": (lambda _r: "", "enabled = false", DEVICE + DEVICE, "listed twice"),
    "missing certificate": (
        lambda _r: "",
        'ca_file = "/nonexistent/ca.crt"\ncert_file = "/nonexistent/hub.crt"\n'
        'key_file = "/nonexistent/hub.key"',
        "",
        "uplink.ca_file",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    store, uplink, tables, named = CASES[case]
    config = tmp_path / "hub.toml"
    config.write_text(BASE.format(root=tmp_path, store=store(tmp_path), uplink=uplink) + tables)
    done = refused_start(config)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert named in done.stderr
    assert not (tmp_path / "key.fifo").exists() or stat.S_ISFIFO(
        (tmp_path / "key.fifo").stat().st_mode
    )  # refused, not renamed aside


def test_files_the_daemon_writes_are_private_whatever_the_umask(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(BASE.format(root=tmp_path, store="", uplink="enabled = false") + DEVICE)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import os, sys; os.umask(0); from hub.cli import main; "
         "sys.exit(main(['run', '--config', sys.argv[1]]))", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    state = tmp_path / "state"
    try:
        deadline_ok = _wait_for_files(state, {"hub.db", "ids.secret", "data.key"}, proc)
        assert deadline_ok, "the daemon's files"
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    written = [p for p in state.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def _wait_for_files(directory: Path, names: set[str], proc: subprocess.Popen[bytes]) -> bool:
    from waiting import wait_for

    def written() -> bool:
        present = {p.name for p in directory.glob("*")}
        serving = (directory.parent / "run" / "control.sock").exists()  # past its signal set-up
        return serving and names <= present and (directory / "hub.db").stat().st_size > 0

    wait_for(lambda: proc.poll() is not None or written(), "the daemon's files")
    return proc.poll() is None


def test_a_hub_without_identity_runs_unprovisioned(tmp_path: Path) -> None:
    """Provisioning mode: devices and the control socket, no uplink, and it says so."""
    import json
    import socket

    config = tmp_path / "hub.toml"
    config.write_text(BASE.format(root=tmp_path, store="", uplink="enabled = true"))
    with (
        serving(config, tmp_path / "hub.log") as path,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock,
    ):
        sock.settimeout(60)
        sock.connect(str(path))
        sock.sendall(b'{"id": 1, "op": "status"}\n')
        status = json.loads(sock.makefile("rb").readline())["result"]
    assert status["state"] == "not-provisioned"
    assert status["uplink"] == {"enabled": False, "provisioned": False}
