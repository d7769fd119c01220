"""The daemon's USB serial devices: one supervised reader per `transport = "serial"` entry.

Each device's task finds its port (a path, or 'auto': the first port whose USB id is a known
oximeter cable), runs `SerialOximeter` on it and, when the port is missing or goes away (the
cable pulled: pyserial raises SerialException, an OSError), tries again after a backoff.
Readings and state changes go to `output`, as the BLE manager's do, for the daemon to handle:

    devices = SerialDevices(cfg.devices)
    devices.start()
    item = await devices.output.get()   # Reading, DeviceInfo or Event
    devices.states()                    # {"cms50d-1": "connected"}
    await devices.stop()
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import random
import termios
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from hub.ble.backoff import reconnect_delay
from hub.config import DeviceEntry
from hub.ids import IdMinter
from hub.model import DeviceInfo, Event, EventKind, Reading
from hub.serial import reader

log = logging.getLogger(__name__)

RETRY_MAX_S = 5.0  # looking for a port is cheap; a re-plugged cable is found within this
SerialOutput = Reading | DeviceInfo | Event


class SerialState(enum.StrEnum):
    WAITING = "waiting"  # not tried yet
    CONNECTED = "connected"  # port open, reading
    PORT_MISSING = "port-missing"  # never opened this run: no such port, or it cannot be opened
    DISCONNECTED = "disconnected"  # was open and went away (unplugged); looking for it again
    STOPPED = "stopped"


def resolve(
    port: str, exists: Callable[[str], bool], detect: Callable[[], list[str]]
) -> str | None:
    """The path to open for a configured `port`, or None when there is none now."""
    if port == "auto":
        return next(iter(detect()), None)
    return port if exists(port) else None


class SerialDevices:
    def __init__(
        self,
        devices: Iterable[DeviceEntry],
        *,
        ids: IdMinter,
        backoff_base_s: float = 1.0,
    ) -> None:
        self.output: asyncio.Queue[SerialOutput] = asyncio.Queue()
        self._entries = [d for d in devices if d.transport == "serial"]
        self._state = {d.address: SerialState.WAITING for d in self._entries}
        self._ids = ids
        self._backoff_base_s = backoff_base_s
        self._tasks: list[asyncio.Task[None]] = []

    def states(self) -> dict[str, str]:
        return {address: state.value for address, state in self._state.items()}

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._supervise(entry), name=f"serial {entry.address}")
            for entry in self._entries
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for address in self._state:
            self._state[address] = SerialState.STOPPED

    async def _supervise(self, entry: DeviceEntry) -> None:
        attempt = 0
        while True:
            path = await asyncio.to_thread(resolve, entry.port, os.path.exists, reader.detect)
            if path is None:
                problem = f"no serial port at {entry.port}"
            else:
                problem = await self._read(entry, path)
            if self._lost(entry, problem):
                attempt = 0
            delay = reconnect_delay(
                attempt,
                base_s=self._backoff_base_s,
                cap_s=RETRY_MAX_S,
                jitter=0.5,
                rand=random.random(),
            )
            await asyncio.sleep(delay)
            attempt += 1

    async def _read(self, entry: DeviceEntry, path: str) -> str:
        """Run the reader on `path` until it fails; what went wrong."""
        oximeter = reader.SerialOximeter(
            path,
            device=entry.address,
            ids=self._ids,
            on_open=lambda: self._opened(entry, path),
        )
        try:
            await oximeter.run(self.output)  # type: ignore[arg-type]  # a queue of Readings too
        # pyserial's SerialException is an OSError (port gone, unreadable); termios.error: a
        # tty that refuses the line settings
        except (OSError, termios.error) as exc:
            return f"serial port {path}: {exc}"
        except Exception as exc:  # a bug must cost one attempt, not the hub
            log.exception("%s: unexpected error", entry.address)
            return f"serial port {path}: unexpected error {exc!r}"
        return f"serial port {path} closed"

    def _opened(self, entry: DeviceEntry, path: str) -> None:
        self._state[entry.address] = SerialState.CONNECTED
        self.output.put_nowait(
            DeviceInfo(entry.address, kind=entry.kind, manufacturer="Contec", model="CMS50D+")
        )
        self._report(EventKind.STATUS, entry, f"serial device connected on {path}")

    def _lost(self, entry: DeviceEntry, problem: str) -> bool:
        """Record a failed or ended attempt; True when the device had been connected. Only a
        change of state is reported, not every retry."""
        state = self._state[entry.address]
        if state is SerialState.CONNECTED:
            self._state[entry.address] = SerialState.DISCONNECTED
            self._report(EventKind.ERROR, entry, f"serial device lost (unplugged?): {problem}")
            return True
        if state is SerialState.WAITING:
            self._state[entry.address] = SerialState.PORT_MISSING
            self._report(EventKind.ERROR, entry, f"serial device not found: {problem}")
        else:
            log.debug("%s: still not there: %s", entry.address, problem)
        return False

    def _report(self, kind: EventKind, entry: DeviceEntry, message: str) -> None:
        self.output.put_nowait(Event(kind, datetime.now(UTC), message, device=entry.address))
