"""A private D-Bus with BlueZoo (a mock of BlueZ's D-Bus API) for the real BlueZ code path.

Both processes are started by the test and stopped by their own pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import wait_for

HUB_ADAPTER = "00:AA:01:00:00:01"  # hci0
DEVICE_ADAPTER = "00:BB:02:00:00:02"  # hci1


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _bluez_on_bus(address: str) -> bool:
    """Whether org.bluez owns a name on the bus (asked with dbus-send, no event loop needed)."""
    result = subprocess.run(
        [
            "dbus-send",
            f"--bus={address}",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.bluez",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return "boolean true" in result.stdout


@contextlib.contextmanager
def bluezoo(tmp: Path) -> Iterator[str]:
    """Yield the address of a private bus on which BlueZoo serves hci0 and hci1."""
    bluezoo_bin = Path(sys.executable).with_name("bluezoo")
    if shutil.which("dbus-daemon") is None or not bluezoo_bin.exists():
        pytest.skip("dbus-daemon or bluezoo not installed (make test installs both)")
    socket = tmp / "bus.sock"
    address = f"unix:path={socket}"
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", f"--address={address}", "--nofork", "--nopidfile"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mock: subprocess.Popen[bytes] | None = None
    log = (tmp / "bluezoo.log").open("wb")
    try:
        wait_for(socket.exists, "the private D-Bus socket")
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}
        mock = subprocess.Popen(
            [
                str(bluezoo_bin),
                "--auto-enable",
                "--scan-interval",
                "1",
                "-a",
                HUB_ADAPTER,
                "-a",
                DEVICE_ADAPTER,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        wait_for(lambda: _bluez_on_bus(address), "BlueZoo on the bus")
        yield address
    finally:
        if mock is not None:
            _stop(mock)
        _stop(bus)
        log.close()
