"""The daemon in-process with a USB serial oximeter: the CMS50D+ simulator on a pseudo-terminal
behind a udev-like symlink (the configured port). Readings reach the store and the stream
summaries; pulling the cable is an event and a 'disconnected' state, not a crash; plugging it
back in resumes readings; unassign and assign work over the control socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from daemon_support import offline_config
from test_daemon_control import call
from waiting import until

from hub.daemon import Daemon
from hub.model import Code, Event, EventKind, Kind, Reading
from hub.sim.serial_oximeter import PtyOximeter
from hub.testbed.hub_side import DemoHub

OXI = "cms50d-1"
TABLES = """
[[devices]]
address = "{oxi}"
kind = "pulse-oximeter"
transport = "serial"
port = "{port}"
"""


def plug_in(port: Path, spo2: int) -> PtyOximeter:
    """A simulated oximeter streaming, reachable at `port` (as udev's by-id link would be)."""
    device = PtyOximeter(spo2=spo2, pulse=70)
    port.unlink(missing_ok=True)
    port.symlink_to(device.path)
    device.start()
    return device


async def stored(daemon: Daemon, kind: Kind) -> list[Reading]:
    assert daemon.store is not None
    await daemon.store.flush()
    return [r for r in (await daemon.store.readings()).items if r.kind is kind]


def saw(demo: DemoHub, spo2: float) -> bool:
    last = demo.intake.last.get(OXI)
    return last is not None and last.value_of(Code.SPO2) == spo2


async def state(daemon: Daemon) -> list[tuple[str, str]]:
    return [(d["address"], d["state"]) for d in (await daemon.status())["devices"]]


def lost(daemon: Daemon) -> list[Event]:
    return [e for e in daemon.events.recent if e.kind is EventKind.ERROR and e.device == OXI]


@pytest.mark.slow
def test_serial_oximeter_unplugged_and_plugged_back(tmp_path: Path) -> None:
    port = tmp_path / "ttyUSB-oximeter"
    config = offline_config(tmp_path, TABLES.format(oxi=OXI, port=port))
    sock = tmp_path / "run" / "control.sock"

    async def scenario() -> None:
        device = plug_in(port, spo2=97)
        async with DemoHub(config, tmp_path / "flash") as demo:
            daemon = demo.daemon
            assert daemon is not None
            await until(lambda: saw(demo, 97.0), "readings from the serial oximeter")
            assert await state(daemon) == [(OXI, "connected")]

            port.unlink()  # the cable pulled
            await device.stop()
            await until(lambda: bool(lost(daemon)), "the unplug reported")
            assert "lost" in lost(daemon)[0].message
            assert await state(daemon) == [(OXI, "disconnected")]

            device = plug_in(port, spo2=93)  # plugged back in: a new tty behind the same link
            try:
                await until(lambda: saw(demo, 93.0), "readings after re-plugging")
                assert await state(daemon) == [(OXI, "connected")]
                assert len(lost(daemon)) == 1  # retries while unplugged are not reported each

                gone = await call(sock, "unassign", address=OXI.upper())
                assert gone["ok"] and gone["result"]["devices"] == [], gone
                assert await state(daemon) == []
                # unplugged before the new assignment: a pty refuses pyserial's line settings
                # the second time it is opened (EINVAL), a re-plugged cable is a new tty anyway
                port.unlink()
                await device.stop()
                refused = await call(
                    sock, "assign", address=OXI, kind="pulse-oximeter", transport="serial"
                )
                assert not refused["ok"] and "device.port" in refused["error"], refused
                back = await call(
                    sock,
                    "assign",
                    address=OXI,
                    kind="pulse-oximeter",
                    transport="serial",
                    port=str(port),
                )
                assert back["ok"] and back["result"]["devices"] == [OXI], back
                await until(lambda: len(lost(daemon)) == 2, "the missing port reported")
                assert await state(daemon) == [(OXI, "port-missing")]
                device = plug_in(port, spo2=95)
                await until(lambda: saw(demo, 95.0), "readings once plugged in")
                assert await state(daemon) == [(OXI, "connected")]

                await daemon.quiesce()  # the minute in progress summarised
                summaries = await stored(daemon, Kind.SUMMARY)
                blocks = await stored(daemon, Kind.STREAM_BLOCK)
            finally:
                await device.stop()
        assert {(s.device, s.observations[0].code) for s in summaries} == {
            (OXI, Code.SPO2),
            (OXI, Code.HEART_RATE),
        }
        spo2 = [s.value_of(Code.SPO2) for s in summaries if s.observations[0].code is Code.SPO2]
        assert all(v is not None and 93.0 <= v <= 97.0 for v in spo2)
        # the raw seconds kept as blocks of samples: every value the oximeter sent, gaps NaN
        raw = {
            float(v)
            for b in blocks
            if b.samples is not None and b.samples.code is Code.SPO2
            for v in np.frombuffer(b.samples.values, "<f4")
            if not np.isnan(v)
        }
        assert raw == {97.0, 93.0, 95.0}

    asyncio.run(scenario())
