"""Smoke test in a real terminal: `hub run` as a process, `hub ui --status` in tmux at 80x24,
keys sent as a patient or technician would press them, the pane read back as text."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_support import serving
from waiting import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (make test)"),
]

CONFIG = """[hub]
id = "hub-a"
data_dir = "{root}/state"
runtime_dir = "{root}/run"
language = "nb"

[store]
disk_floor_mb = 0

[uplink]
enabled = false
"""


class Tmux:
    """A tmux server of its own (its socket under the test's directory)."""

    def __init__(self, root: Path) -> None:
        self.socket = root / "tmux.sock"

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout if done.returncode == 0 else ""

    def pane(self) -> str:
        return " ".join(self("capture-pane", "-p", "-t", "ui").split())  # words, not wrapping


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Path]:
    config = tmp_path / "hub.toml"
    config.write_text(CONFIG.format(root=tmp_path))
    with serving(config, tmp_path / "hub.log"):
        yield config


def assign(path: Path) -> None:
    """What the technician's tool does: a device assigned through the control socket."""
    with socket.socket(socket.AF_UNIX) as control:
        control.connect(str(path))
        control.sendall(
            b'{"id":1,"op":"assign","args":{"address":"C0:11:22:33:44:55","kind":"heart-rate"}}\n'
        )
        assert b'"ok":true' in control.makefile("rb").readline()


def test_status_screen_in_tmux(daemon: Path, tmp_path: Path) -> None:
    tmux = Tmux(tmp_path)
    command = f"{sys.executable} -m hub.cli ui --status --config {daemon}"
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(
        ["tmux", "-S", str(tmux.socket), "new-session", "-d", "-s", "ui", "-x", "80", "-y", "24",
         command],
        check=True, env=env, timeout=30,
    )  # fmt: skip
    try:
        wait_for(lambda: "ikke satt opp ennå" in tmux.pane(), "the screen saying 'not set up'")
        assert "!!" not in tmux.pane()
        assert "Q: avslutt" in tmux.pane()
        assign(tmp_path / "run" / "control.sock")
        tmux("send-keys", "-t", "ui", "r")  # refresh now, not at the next poll
        wait_for(lambda: "OK Alt er i orden." in tmux.pane(), "'all is well' after assigning")
        tmux("send-keys", "-t", "ui", "l")
        wait_for(lambda: "OK All is well." in tmux.pane(), "English at L")
        tmux("send-keys", "-t", "ui", "q")
        wait_for(lambda: tmux("list-sessions") == "", "the screen to quit at Q")
    finally:
        tmux("kill-server")
