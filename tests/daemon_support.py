"""The daemon tests' shared parts: the configuration of a hub without an uplink (its state and
runtime directories under the test's own directory, fast group commits), and `hub run` as a
process — one it must refuse, or one serving its control socket until the test stops it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from waiting import wait_for

from hub import config as hub_config

HUB_RUN = (sys.executable, "-m", "hub.cli", "run", "--config")

OFFLINE = """[hub]
id = "hub-a"
data_dir = "{root}/state"
runtime_dir = "{root}/run"
timezone = "Europe/Oslo"

[store]
flush_ms = 50
disk_floor_mb = {floor_mb}

[uplink]
enabled = false
"""


def offline_config(root: Path, tables: str = "", *, floor_mb: int = 0) -> Path:
    """Write `root/hub.toml`: the offline hub, then `tables` (more TOML), and return it."""
    path = root / "hub.toml"
    path.write_text(OFFLINE.format(root=root, floor_mb=floor_mb) + tables)
    return path


def refused_start(config: Path) -> subprocess.CompletedProcess[str]:
    """`hub run` on a config it must refuse: the finished process, its output captured."""
    return subprocess.run(
        [*HUB_RUN, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def serving(config: Path, log: Path) -> Iterator[Path]:
    """`hub run` as a process, given once it serves its control socket (past its signal
    set-up); the socket's path is yielded. Stopped with SIGTERM on exit, which must end it
    cleanly; its output goes to `log`."""
    socket = hub_config.load(config).hub.runtime_dir / "control.sock"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*HUB_RUN, str(config)], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: socket.exists() or proc.poll() is not None, "the control socket")
            assert proc.poll() is None, log.read_text()[-3000:]
            yield socket
        finally:
            proc.terminate()
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
