"""The patient status screen driven by Textual's pilot against the real daemon (in-process,
on the Bumble simulation): it says the daemon is not running, then what the running daemon's
status means, in bokmål and in English at a key press, and again when the daemon stops."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon_support import offline_config
from waiting import until

from hub.testbed.hub_side import DemoHub
from hub.testbed.patient import Script
from hub.ui.client import ControlClient
from hub.ui.statements import Severity
from hub.ui.status_app import StatusApp

OSLO = ZoneInfo("Europe/Oslo")
# The patient's cuff is switched off (no simulated device has its address): nothing delivers.
TABLES = """
[[devices]]
address = "C0:00:00:00:00:99"
kind = "blood-pressure"

[[schedule]]
kind = "weight"
times = ["{due}"]
window_minutes = 120
early_minutes = 0
"""
NOT_RUNNING_NB = "Huben er ikke i gang akkurat nå. Ring klinikken hvis dette varer mer enn en time."


def test_status_screen_against_the_daemon(tmp_path: Path) -> None:
    local = datetime.now(OSLO)
    due = max(local - timedelta(minutes=5), local.replace(hour=0, minute=0)).strftime("%H:%M")
    config = offline_config(tmp_path, TABLES.format(due=due))
    socket = tmp_path / "run" / "control.sock"
    quiet = Script(cuff_every_s=3600, scale_every_s=3600, deteriorate_after_s=86_400)

    async def scenario() -> None:
        app = StatusApp(ControlClient(socket), tz=OSLO, poll_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(lambda: app.lines() == [(Severity.PROBLEM, NOT_RUNNING_NB)], "not running")
            hub = DemoHub(
                config, tmp_path / "flash", quiet, clock_synced=lambda: True, housekeeping_s=0.2
            )
            async with hub:
                # the schedule's slot is due and no device delivered since: time to measure
                await until(
                    lambda: app.lines() == [(Severity.INFO, "Nå er det tid for å måle.")],
                    "the due measurement on screen",
                )
                await pilot.press("l")
                assert app.lines() == [(Severity.INFO, "It is time to take a measurement.")]
                assert _shown(app) == ["i  It is time to take a measurement."]
                await pilot.press("l")
                assert app.language == "nb"
            await until(
                lambda: app.lines() == [(Severity.PROBLEM, NOT_RUNNING_NB)], "stopped again"
            )
            await pilot.press("q")

    asyncio.run(scenario())


def test_status_screen_of_a_hub_with_no_devices(tmp_path: Path) -> None:
    """A hub the technician has not set up: it says so, in plain words."""
    config = offline_config(tmp_path)
    socket = tmp_path / "run" / "control.sock"

    async def scenario() -> None:
        async with DemoHub(config, tmp_path / "flash", Script(cuff_every_s=3600)):
            app = StatusApp(ControlClient(socket), language="en", tz=OSLO, poll_s=0.2)
            async with app.run_test(size=(80, 24)):
                await until(lambda: bool(app.lines()), "a first status")
                assert app.lines() == [
                    (Severity.INFO, "The hub is not set up yet. A technician will set it up.")
                ]

    asyncio.run(scenario())


def _shown(app: StatusApp) -> list[str]:
    """The statements' widgets' text: the mark (so colour is not the only signal), the words."""
    return [str(widget.content) for widget in app.query(".statement")]
