"""The daemon's unit must verify cleanly and stay hardened (systemd-analyze, offline)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parent.parent / "systemd" / "hub.service"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    # verify fails when ExecStart's binary is missing: point it at this interpreter's `hub`.
    hub = Path(sys.executable).parent / "hub"
    text = UNIT.read_text().replace("/opt/hub/venv/bin/hub", str(hub))
    path = tmp_path / "hub.service"
    path.write_text(text)
    return path


def test_unit_verifies_without_any_warning(unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # Unknown keys and bad values are only warnings with exit 0: fail on any output.
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_unit_exposure_stays_low(unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overall exposure level for hub.service: 1." in done.stdout


def test_unit_is_notify_with_watchdog() -> None:
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "NoNewPrivileges=yes", "UMask=0077"):
        assert line in text
