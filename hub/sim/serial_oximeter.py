"""A simulated CMS50D+ on a pseudo-terminal: the hub opens `path` as it opens /dev/ttyUSB0."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import tty

from hub.serial import cms50


class PtyOximeter:
    """Streams live frames at 60 Hz; `values` sets SpO2 and pulse (None: finger out) and
    `inject()` writes raw bytes (garbage) between frames."""

    def __init__(self, spo2: int | None = 97, pulse: int | None = 68) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.spo2 = spo2
        self.pulse = pulse
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def values(self, spo2: int | None, pulse: int | None) -> None:
        self.spo2, self.pulse = spo2, pulse

    def inject(self, raw: bytes) -> None:
        os.write(self._master, raw)

    def frame(self) -> bytes:
        pleth = int(64 + 60 * math.sin(2 * math.pi * self.sent / cms50.RATE_HZ))
        beep = self.sent % cms50.RATE_HZ == 0
        return cms50.encode_frame(pleth=pleth, pulse=self.pulse, spo2=self.spo2, beep=beep)

    async def _stream(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            os.write(self._master, self.frame())
            self.sent += 1
            await asyncio.sleep(max(0.0, start + self.sent / cms50.RATE_HZ - loop.time()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._stream())

    async def stop(self) -> None:
        """Stop streaming and close the pty (the cable pulled); a second call does nothing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._master >= 0:
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1
