"""The hub side in one process: the real daemon on the Bumble backend, and the simulated
patient on the same virtual air; the harness counts the daemon's intake through the observer
it plugs in."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from hub.ble.session import SessionOptions
from hub.daemon import Daemon, Hooks, load_config
from hub.daemon.passkeys import Passkeys
from hub.sim.air import VirtualAir
from hub.sim.backend import bleak_backend, hub_adapter
from hub.testbed.intake import RECORD_KINDS, IntakeCounter
from hub.testbed.patient import Patient, Script


class DemoHub:
    def __init__(
        self,
        config_path: Path,
        flash_dir: Path,
        script: Script | None = None,
        **hooks: Any,
    ) -> None:
        """`hooks`: `hub.daemon.Hooks` fields to change (e.g. `free_bytes` for a full disk)."""
        self.config_path = config_path
        self.flash_dir = flash_dir
        self.script = script or Script()
        self.hooks = hooks
        self.intake = IntakeCounter()
        self.patient: Patient | None = None
        self.daemon: Daemon | None = None
        self._task: asyncio.Task[int] | None = None
        self.ready_at = 0.0  # wall time the daemon said READY

    async def __aenter__(self) -> DemoHub:
        in_force = load_config(self.config_path)
        air = VirtualAir()
        self.patient = Patient(air, self.flash_dir, self.script)
        passkeys = Passkeys()
        adapter = await hub_adapter(
            air, keystore=in_force.cfg.hub.data_dir / "bonds.json", pairer=passkeys
        )
        hooks = Hooks(
            backend=bleak_backend(adapter),
            passkeys=passkeys,
            session_options=SessionOptions(idle_s=0.5),
            uplink_overrides={"backoff_base_s": 0.1, "backoff_max_s": 1.0},
            backoff_base_s=0.2,
            signals=False,
            observer=self.intake,
        )
        hooks = dataclasses.replace(hooks, **self.hooks)
        self.daemon = Daemon(self.config_path, in_force, hooks)
        self._task = asyncio.create_task(self.daemon.run())
        ready = asyncio.create_task(self.daemon.ready.wait())
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await self._task  # raises what stopped the daemon
        self.ready_at = time.time()
        await self.patient.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self.daemon is not None and self._task is not None:
            self.daemon.stop()
            await self._task
        if self.patient is not None:
            await self.patient.stop()

    async def queue_depth(self) -> int:
        assert self.daemon is not None
        return int((await self.daemon.status())["queue_depth"])

    async def drain(self, timeout_s: float = 60.0) -> bool:
        """Stop measuring, let the hub fetch what the devices hold, stop the devices, and wait
        until the hospital acknowledged every stored reading. False if not within the time."""
        assert self.patient is not None and self.daemon is not None
        patient, intake = self.patient, self.intake
        await patient.stop_measuring()
        deadline = time.monotonic() + timeout_s

        def fetched() -> bool:
            streams_sent = patient.oximeter.pending == 0 and patient.band.pending == 0
            return streams_sent and all(
                len(intake.records[a]) >= len(patient.flash[a].records) for a in RECORD_KINDS
            )

        ok = await until(fetched, deadline)
        await self.daemon.quiesce()
        while await self.queue_depth() != 0:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return ok


async def until(check: Callable[[], bool], deadline: float) -> bool:
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True
