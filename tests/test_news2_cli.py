import json
import subprocess
import sys

import pytest

NORMAL = {
    "resp_rate": 22,
    "spo2": 95,
    "spo2_scale": 2,
    "on_oxygen": True,
    "systolic": 120,
    "pulse": 80,
    "consciousness": "A",
    "temp": 37.2,
}


def hub(stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "news2"], input=stdin, capture_output=True, timeout=60
    )


def test_prints_score_subscores_and_risk() -> None:
    done = hub(json.dumps(NORMAL).encode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "score": 6,
        "subscores": {
            "resp_rate": 2,
            "spo2": 2,
            "on_oxygen": 2,
            "systolic": 0,
            "pulse": 0,
            "consciousness": 0,
            "temp": 0,
        },
        "risk": "medium",
    }


@pytest.mark.parametrize(
    "stdin",
    [
        b"",
        b"{",
        b"\xff",
        json.dumps({**NORMAL, "extra": 1}).encode(),
        json.dumps({k: v for k, v in NORMAL.items() if k != "pulse"}).encode(),
        json.dumps({**NORMAL, "consciousness": "X"}).encode(),
        json.dumps({**NORMAL, "systolic": -5}).encode(),
    ],
)
def test_bad_input_exits_2_with_one_line(stdin: bytes) -> None:
    done = hub(stdin)
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hub news2: ")
    assert "Traceback" not in done.stderr.decode()
