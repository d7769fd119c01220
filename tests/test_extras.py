"""Without an extra, `hub demo` and `hub bench` say in one line which extra to install and
exit 2 — never an ImportError traceback. The extra's modules are hidden in a real
subprocess (`sys.modules[name] = None` makes their import fail, as if not installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HIDDEN_RUN = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from hub.cli import main
sys.exit(main(sys.argv[2:]))
"""


def hub_without(modules: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDDEN_RUN, ",".join(modules), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("hidden", "args", "extra", "missing"),
    [
        (["bumble"], ["demo", "--seconds", "1", "--json"], "demo", "bumble"),
        (["neurokit2"], ["bench", "signal", "--json"], "bench", "neurokit2"),
        (["heartpy"], ["bench", "signal"], "bench", "heartpy"),
        (["bumble"], ["bench", "e2e", "--json"], "bench", "bumble"),
        (["bumble"], ["bench", "decode"], "bench", "bumble"),
        (["bumble"], ["bench", "ble"], "bench", "bumble"),
        (["neurokit2"], ["bench", "all", "--json"], "bench", "neurokit2"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    hidden: list[str], args: list[str], extra: str, missing: str
) -> None:
    done = hub_without(hidden, *args)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr[-2000:]
    line = done.stderr.strip()
    assert line.startswith(f"hub {args[0]}: ")
    assert f"'{extra}' extra ({missing} is not installed)" in line
    assert f"pip install -e '.[{extra}]'" in line
