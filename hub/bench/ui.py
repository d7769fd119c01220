"""`hub bench ui`: the patient status screen's start-up and memory against Textual's own
minimal app (the floor, measured in the same run), and its idle CPU.

Each app runs as a process on a pseudo-terminal of 80x24, as on the Pi's console. Start-up is
the time from spawning the process to its first painted screen (a marker text read back from
the terminal: the status screen's title, painted before the daemon answers); the time to its
first statement (asking a running `hub run`) is a figure beside it. RSS is read from /proc
once painted; the best of `RUNS` starts each, the two apps in turn. Idle CPU is the
status screen's user+system time over `IDLE_WINDOW_S` (60 s, as the issue asks: four status
polls at the default 15 s).
"""

from __future__ import annotations

import fcntl
import math
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hub.bench import BenchResult, Target

RUNS: Final = 5
IDLE_WINDOW_S: Final = 60.0
TIMEOUT_S: Final = 60.0
STATUS_MARKER: Final = b"Hjemmehub"  # the title: painted at once
ALL_WELL: Final = b"Alt er i orden"  # the first statement: once the status is in
FLOOR_MARKER: Final = b"textual-floor"
# Textual's minimal app: one Label, nothing else.
FLOOR_APP: Final = """
from textual.app import App
from textual.widgets import Label

class Floor(App):
    def compose(self):
        yield Label("textual-floor")

Floor().run()
"""
CONFIG: Final = """[hub]
id = "hub-bench"
data_dir = "{root}/state"
runtime_dir = "{root}/run"

[store]
disk_floor_mb = 0

[uplink]
enabled = false

[[devices]]
address = "C0:11:22:33:44:55"
kind = "blood-pressure"
"""


class TerminalProcess:
    """A process on its own pseudo-terminal; its output is read (and so never blocks it)."""

    def __init__(self, args: list[str], size: tuple[int, int] = (80, 24)) -> None:
        master, child = pty.openpty()
        columns, rows = size
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            args, stdin=child, stdout=child, stderr=child, env=env, start_new_session=True
        )
        os.close(child)
        self._master = master
        self._seen = b""

    def painted(self, marker: bytes) -> float:
        """Seconds from spawning until `marker` appeared on the terminal."""
        deadline = self.started + TIMEOUT_S
        while marker not in self._seen:
            if time.perf_counter() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"no {marker.decode()!r} on the terminal: {self._seen[-300:]!r}")
            self._read(0.5)
        return time.perf_counter() - self.started

    def idle(self, seconds: float) -> None:
        """Keep reading the terminal for `seconds`."""
        end = time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            self._read(left)

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        os.close(self._master)

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self._master], [], [], timeout)
        if ready:
            try:
                self._seen = (self._seen + os.read(self._master, 65536))[-65536:]
            except OSError:  # the process closed the terminal
                time.sleep(min(timeout, 0.05))


@dataclass
class Starts:
    """Best start-up and smallest RSS over the runs, per app."""

    first_paint_s: float = math.inf
    rss_bytes: float = math.inf
    statement_s: float = math.inf

    def add(self, app: TerminalProcess, marker: bytes, statement: bytes | None) -> None:
        self.first_paint_s = min(self.first_paint_s, app.painted(marker))
        if statement is not None:
            self.statement_s = min(self.statement_s, app.painted(statement))
        app.idle(0.5)  # what it allocates right after painting counts too
        self.rss_bytes = min(self.rss_bytes, app.rss_bytes())


def _starts(status: list[str]) -> tuple[Starts, Starts]:
    """The floor and the status screen started in turn, `RUNS` times each, so that a change
    in the machine's load touches both alike."""
    floor, screen = Starts(), Starts()
    for _ in range(RUNS):
        for starts, args, marker, statement in (
            (floor, [sys.executable, "-c", FLOOR_APP], FLOOR_MARKER, None),
            (screen, status, STATUS_MARKER, ALL_WELL),
        ):
            app = TerminalProcess(args)
            try:
                starts.add(app, marker, statement)
            finally:
                app.stop()
    return floor, screen


def run() -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="hub-bench-ui-") as tmp:
        root = Path(tmp)
        config = root / "hub.toml"
        config.write_text(CONFIG.format(root=root))
        daemon = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            socket = root / "run" / "control.sock"
            deadline = time.monotonic() + TIMEOUT_S
            while not socket.exists():
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError("hub run did not open its control socket")
                time.sleep(0.05)
            status = [sys.executable, "-m", "hub.cli", "ui", "--status", "--config", str(config)]
            floor, screen = _starts(status)
            idle_cpu = _idle_cpu_percent(status)
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    return BenchResult(
        "ui",
        figures={
            "textual_min_start_s": floor.first_paint_s,
            "status_start_s": screen.first_paint_s,
            "status_first_statement_s": screen.statement_s,
            "textual_min_rss_mb": floor.rss_bytes / 2**20,
            "status_rss_mb": screen.rss_bytes / 2**20,
            "status_idle_window_s": IDLE_WINDOW_S,
            "status_idle_cpu_percent": idle_cpu,
        },
        targets={
            "ui_start_vs_textual_min": Target(
                screen.first_paint_s / floor.first_paint_s, 1.5, False
            ),
            "ui_rss_vs_textual_min": Target(screen.rss_bytes / floor.rss_bytes, 1.5, False),
            "status_idle_cpu_percent": Target(idle_cpu, 1.0, False),
        },
    )


def _idle_cpu_percent(status: list[str]) -> float:
    app = TerminalProcess(status)
    try:
        app.painted(STATUS_MARKER)
        app.idle(2.0)  # start-up work (imports, first layout) is over
        before, start = app.cpu_seconds(), time.perf_counter()
        app.idle(IDLE_WINDOW_S)
        return 100 * (app.cpu_seconds() - before) / (time.perf_counter() - start)
    finally:
        app.stop()
