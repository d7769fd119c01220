"""The pyserial edge for the CMS50D+: find the port, read bytes, emit one reading a second.

    oximeter = SerialOximeter(port, device="cms50d-1", ids=minter)
    await oximeter.run(queue)          # puts hub.model.Reading items until cancelled

Reads happen in a worker thread (pyserial is blocking) with a short timeout, so cancelling the
task ends the loop within that timeout. Garbage between frames is counted in `skipped` and
logged once; the parser resynchronises on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import serial
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from hub.ids import IdMinter
from hub.model import Reading
from hub.serial import cms50

log = logging.getLogger(__name__)


def candidates(ports: Iterable[ListPortInfo]) -> list[str]:
    """Device paths of ports whose USB vendor/product id is a known oximeter cable (pure)."""
    return [p.device for p in ports if (p.vid, p.pid) in cms50.USB_IDS]


def detect() -> list[str]:
    return candidates(list_ports.comports())


def open_port(path: str, timeout_s: float = 0.2) -> serial.Serial:
    return serial.Serial(
        path,
        baudrate=cms50.BAUD,
        bytesize=serial.EIGHTBITS,
        parity=serial.PARITY_ODD,
        stopbits=serial.STOPBITS_ONE,
        timeout=timeout_s,
    )


class SerialOximeter:
    def __init__(
        self,
        path: str,
        *,
        device: str,
        period_s: float = 1.0,
        ids: IdMinter,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_open: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_open` is called once the port is open, before the first read."""
        self.path = path
        self.device = device
        self.period_s = period_s
        self.frames = 0
        self.skipped = 0
        self._ids = ids
        self._now = now
        self._on_open = on_open

    async def run(self, output: asyncio.Queue[Reading]) -> None:
        port = await asyncio.to_thread(open_port, self.path)
        try:
            self._on_open()
            await self._pump(port, output)
        finally:
            port.close()

    async def _pump(self, port: serial.Serial, output: asyncio.Queue[Reading]) -> None:
        pending = b""
        batch: list[cms50.Frames] = []
        window_end = time.monotonic() + self.period_s
        while True:
            chunk = await asyncio.to_thread(port.read, 256)
            parsed = cms50.parse(pending + chunk)
            pending = parsed.rest
            self._count(parsed)
            if len(parsed.frames):
                batch.append(parsed.frames)
            if time.monotonic() >= window_end:
                window_end = time.monotonic() + self.period_s
                reading = self._reading(batch)
                batch = []
                if reading is not None:
                    output.put_nowait(reading)

    def _count(self, parsed: cms50.Parsed) -> None:
        self.frames += len(parsed.frames)
        if parsed.skipped and not self.skipped:
            log.warning("%s: garbage on the serial line, resynchronising", self.path)
        self.skipped += parsed.skipped

    def _reading(self, batch: list[cms50.Frames]) -> Reading | None:
        if not batch:
            return None
        measurement = cms50.summarise(cms50.concat(batch))
        if measurement is None:
            return None
        received = self._now()
        reading_id = self._ids.for_measurement(self.device, measurement, received)
        return Reading.of(measurement, id=reading_id, device=self.device, received=received)
