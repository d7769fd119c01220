"""The assigned devices while the daemon runs: the BLE device manager and the USB serial
devices, started for the config in force and restarted when its device list changes. One
consumer task per source hands every item to the intake, in the order the source gave it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bleak.exc import BleakError

from hub.ble.manager import BleakBackend, DeviceManager
from hub.ble.session import SessionOptions
from hub.config import Config
from hub.daemon.clockwatch import ClockWatch
from hub.daemon.events import EventLog
from hub.daemon.intake import DeviceOutput, Intake
from hub.ids import IdMinter

if TYPE_CHECKING:
    from hub.serial.devices import SerialDevices

log = logging.getLogger("hub")


@dataclass(frozen=True)
class DeviceOptions:
    backend: BleakBackend
    ids: IdMinter
    session_options: SessionOptions | None = None
    backoff_base_s: float = 1.0


class Devices:
    def __init__(
        self, options: DeviceOptions, intake: Intake, events: EventLog, clock: ClockWatch
    ) -> None:
        self._options = options
        self._intake = intake
        self._events = events
        self._clock = clock
        self.manager: DeviceManager | None = None
        self.serial: SerialDevices | None = None  # only when a serial device is assigned
        self._consumers: list[asyncio.Task[None]] = []

    def start(self, cfg: Config) -> None:
        o = self._options
        self.manager = DeviceManager(
            cfg,
            backend=o.backend,
            clock_synced=self._clock.is_synced,  # device clocks set only from a synced hub
            ids=o.ids,
            session_options=o.session_options,
            backoff_base_s=o.backoff_base_s,
        )
        self._consumers = [
            asyncio.create_task(self._start_ble(self.manager), name="ble start"),
            asyncio.create_task(self._consume(self.manager.output), name="ble"),
        ]
        self.serial = None
        if any(d.transport == "serial" for d in cfg.devices):
            # pyserial and the frame parser (about 0.8 MiB) load only for a hub that has one
            from hub.serial.devices import SerialDevices

            self.serial = SerialDevices(cfg.devices, ids=o.ids, backoff_base_s=o.backoff_base_s)
            self.serial.start()
            self._consumers.append(
                asyncio.create_task(self._consume(self.serial.output), name="serial")
            )

    async def stop(self) -> None:
        """Stop the devices, then take what they had already handed over."""
        starting = self._consumers[:1]
        for task in starting:
            task.cancel()  # a scanner that never came up (no Bluetooth) is given up
        await asyncio.gather(*starting, return_exceptions=True)
        for source in (self.manager, self.serial):
            if source is not None:
                await source.stop()
                await source.output.join()  # each item taken whole: none cut half-way
        for task in self._consumers:
            task.cancel()  # idle now, waiting for an item that will not come
        await asyncio.gather(*self._consumers, return_exceptions=True)
        self._consumers = []

    def states(self, cfg: Config) -> dict[str, str]:
        states = self.serial.states() if self.serial is not None else {}
        if self.manager is not None:
            for entry in cfg.devices:
                if entry.transport == "ble":
                    states[entry.address] = self.manager.stats(entry.address).state.value
        return states

    async def _start_ble(self, manager: DeviceManager) -> None:
        try:
            await manager.start()
        except BleakError as exc:
            self._events.error(f"Bluetooth unavailable: {exc}")

    async def _consume(self, output: asyncio.Queue[DeviceOutput]) -> None:
        while True:
            item = await output.get()
            try:
                await self._take(item)
            finally:
                output.task_done()

    async def _take(self, item: DeviceOutput) -> None:
        try:
            await self._intake.take(item)
        except Exception as exc:  # one bad item must not stop the devices
            log.exception("handling a %s failed", type(item).__name__)
            self._events.error(f"internal error handling a {type(item).__name__}: {exc}")
