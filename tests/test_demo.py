"""`hub demo` keeps its own promise, leaves no process and nothing outside its directory."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hub import cli
from hub.testbed import world


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def sandbox(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """An environment whose temporary directory, home and working directory are empty
    directories of this test, so anything the demo leaves behind shows."""
    tmp, home, cwd = tmp_path / "tmp", tmp_path / "home", tmp_path / "cwd"
    for d in (tmp, home, cwd):
        d.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "HOME": str(home)}
    return env, tmp, cwd


@pytest.mark.slow
def test_demo_json_keeps_its_promise_and_leaves_nothing(tmp_path: Path) -> None:
    env, tmp, cwd = sandbox(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--seconds", "20", "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1  # one JSON object, nothing else on stdout
    result = json.loads(lines[0])
    assert result["ok"] is True
    assert result["measured"] > 0
    assert result["stored"] == result["measured"]
    assert result["delivered"] == result["measured"]
    assert result["acked"] == result["measured"]
    assert (result["lost"], result["duplicates"]) == (0, 0)
    assert result["device_records"] > 0 and result["device_records_missing"] == 0
    assert result["levels"].get("red", 0) > 0  # the scripted deterioration turned red
    assert result["levels"].get("green", 0) > 0
    assert result["patient"] == "red"
    assert list(tmp.iterdir()) == []
    assert list(cwd.iterdir()) == []
    assert list((tmp_path / "home").iterdir()) == []
    assert processes_mentioning(str(tmp)) == []


@pytest.mark.slow
def test_demo_keep_dir_holds_the_receiver_database(tmp_path: Path) -> None:
    env, tmp, cwd = sandbox(tmp_path)
    keep = tmp_path / "kept"
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--seconds", "3", "--keep", str(keep)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "promise" in done.stdout and "kept" in done.stdout
    with sqlite3.connect(keep / "receiver.db") as db:
        assert db.execute("SELECT count(*) FROM observations").fetchone()[0] > 0
    assert list(tmp.iterdir()) == []
    assert processes_mentioning(str(keep)) == []


def test_missing_mosquitto_is_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(world, "MOSQUITTO", str(tmp_path / "no-mosquitto"))
    assert cli.main(["demo", "--seconds", "1", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "apt-get install mosquitto" in captured.err


@pytest.mark.slow
def test_ctrl_c_drains_and_keeps_the_promise(tmp_path: Path) -> None:
    """The default mode: live lines until Ctrl-C, which a terminal sends to the whole
    foreground process group — the broker and the receiver must outlive it for the drain."""
    import signal

    env, tmp, cwd = sandbox(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo"],
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a shell gives a foreground job
    )
    try:
        assert proc.stdout is not None
        lines = []
        while len([x for x in lines if x.startswith("[")]) < 4:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == 0, err[-3000:]
    assert "lost 0, duplicates 0" in out
    assert "promise (every measured reading at the hospital exactly once): kept" in out
    assert list(tmp.iterdir()) == []
    assert processes_mentioning(str(tmp)) == []


def _observation(reading_id: str, code: str, **time: str) -> dict[str, object]:
    return {
        "resource": {
            "resourceType": "Observation",
            "identifier": [{"value": f"demo-hub/{reading_id}/{code}"}],
            **time,
        }
    }


def test_the_receiver_view_counts_period_observations_by_id_only() -> None:
    from hub.testbed.promise import bundle_view

    bundle = {
        "entry": [
            {"resource": {"resourceType": "Patient"}},
            _observation("r1", "85354-9", effectiveDateTime="2026-12-02T10:00:00+01:00"),
            _observation("r2", "85354-9", effectiveDateTime="2026-12-02T10:00:00+01:00"),
            _observation("r3", "29463-7", effectiveDateTime="2026-12-02T10:01:00+01:00"),
            _observation(
                "m1",
                "59408-5",
                effectivePeriod={"start": "2026-12-02T09:00:00Z", "end": "2026-12-02T09:01:00Z"},
            ),
        ]
    }
    ids, by_content = bundle_view(bundle)
    assert ids == {"r1", "r2", "r3", "m1"}  # a summary or a stream block arrived too
    assert by_content == {
        ("85354-9", "2026-12-02T10:00:00"): 2,  # one record under two ids: a duplicate
        ("29463-7", "2026-12-02T10:01:00"): 1,
    }
