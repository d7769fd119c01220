"""Snapshots of the patient status screen at 80x24 (the console) and 120x40 (a small HDMI
screen) in bokmål and English, with several statements at once: the worst first, each with
its mark. Update them with `pytest --snapshot-update tests/test_ui_snapshots.py`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from textual.pilot import Pilot
from waiting import until

from hub.ui.i18n import Language
from hub.ui.status_app import StatusApp

NOW = datetime(2026, 12, 2, 13, 45, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


class Canned:
    """A status as the daemon's `status` op returns it: a cuff with a low battery, a scale,
    the hospital unreachable since the morning, a measurement due."""

    async def status(self) -> dict[str, Any]:
        seen = (NOW - timedelta(hours=6)).isoformat()
        cuff = {"address": "C0:00:00:00:00:01", "kind": "blood-pressure", "battery": 12}
        scale = {"address": "C0:00:00:00:00:02", "kind": "weight-scale", "battery": 90}
        last_ack = (NOW - timedelta(hours=4, minutes=20)).isoformat()
        due = {"kind": "measurement-due", "time": (NOW - timedelta(minutes=15)).isoformat()}
        return {
            "state": "online",
            "devices": [{**cuff, "last_seen": seen}, {**scale, "last_seen": seen}],
            "uplink": {"enabled": True, "problem": "outage", "last_ack": last_ack},
            "events": [{**due, "device": None}],
            "attention": False,
            "disk": {"full": False},
        }

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("language", ["nb", "en"])
def test_status_screen(snap_compare: Any, language: Language, size: tuple[int, int]) -> None:
    app = StatusApp(Canned(), language=language, tz=ZoneInfo("Europe/Oslo"), clock=FixedClock())
    assert snap_compare(app, terminal_size=size, run_before=three_statements)


async def three_statements(pilot: Pilot[None]) -> None:
    """The screenshot once the first status is on screen (it is asked after the first paint)."""
    await until(lambda: len(pilot.app.query(".statement")) == 3, "the first status on screen")
    await pilot.pause()
