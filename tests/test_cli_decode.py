"""`hub decode CHAR HEX` through the installed console script."""

import json
import subprocess
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "hub"
GOLDEN = "1E 75 00 4D 00 00 00 DF 07 01 0E 0A 37 00 48 00 01 00 00"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HUB), "decode", *args], capture_output=True, text=True, timeout=60)


def test_golden_blood_pressure_frame() -> None:
    p = run("2a35", GOLDEN)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["kind"] == "blood-pressure"
    assert out["time"] == "2015-01-14T10:55:00"
    assert [(o["code"], o["value"], o["unit"]) for o in out["observations"]] == [
        ("8480-6", 117.0, "mm[Hg]"),
        ("8462-4", 77.0, "mm[Hg]"),
        ("8478-0", 0.0, "mm[Hg]"),
        ("8867-4", 72.0, "/min"),
    ]
    assert out["flags"] == []
    assert out["details"] == {"user_id": 1, "status": 0}


@pytest.mark.parametrize(
    "char", ["0x2A35", "2A35", "00002a35-0000-1000-8000-00805f9b34fb", "0X2a35"]
)
def test_characteristic_spellings_and_colon_hex(char: str) -> None:
    p = run(char, GOLDEN.replace(" ", ":"))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["observations"][0]["value"] == 117.0


def test_conversion_special_and_flags() -> None:
    # kPa, systolic NaN, status irregular pulse
    p = run("2a35", "11 FF 07 6B F0 7C F0 04 00")
    out = json.loads(p.stdout)
    assert out["observations"][0] == {
        "code": "8480-6",
        "value": None,
        "unit": "mm[Hg]",
        "source_unit": "kPa",
        "special": "nan",
    }
    assert out["observations"][1]["value"] == 80.26
    assert out["flags"] == ["irregular-pulse", "systolic:nan"]


def test_heart_rate_rr_intervals() -> None:
    out = json.loads(run("2a37", "16 46 00 04 10 04").stdout)
    assert out["kind"] == "heart-rate"
    assert out["time"] is None
    assert out["details"]["rr_intervals_s"] == [1.0, 1.015625]


def test_non_measurement_characteristic() -> None:
    out = json.loads(run("2a19", "5a").stdout)
    assert out == {
        "kind": "battery-level",
        "time": None,
        "observations": [],
        "flags": [],
        "details": {"percent": 90},
    }
    racp = json.loads(run("2a52", "06 00 01 06").stdout)
    assert racp["details"] == {"request_op": "report-records", "code": "no-records-found"}


@pytest.mark.parametrize(
    ("char", "hex_", "message"),
    [
        ("2a35", "1E 75 00 4D", "0x2A35 Blood Pressure Measurement: truncated at offset 3"),
        ("2a99", "00", "unknown characteristic 0x2A99"),
        ("zz", "00", "not a 16-bit characteristic UUID"),
        ("2a35", "1E 7", "not hex bytes"),
        ("2a35", "GG", "not hex bytes"),
        ("2a29", "41 FF", "not UTF-8"),
    ],
)
def test_bad_input_exit_2_one_line(char: str, hex_: str, message: str) -> None:
    p = run(char, hex_)
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("hub decode: ")
    assert message in lines[0]
