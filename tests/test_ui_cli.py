"""`hub ui` refusals: one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli import main


def test_the_technicians_app_is_not_built_yet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "hub ui: the technician's UI is not built yet; --status shows the patient screen\n"
    )


def test_a_named_config_that_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "hub.toml"
    assert main(["ui", "--status", "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hub ui: {missing}: cannot read the file")
    assert err.count("\n") == 1


def test_an_unknown_language_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ui", "--status", "--lang", "de"])
    assert exited.value.code == 2
    assert "invalid choice: 'de'" in capsys.readouterr().err
