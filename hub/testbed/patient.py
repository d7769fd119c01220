"""The simulated patient of the demo, the benchmarks and the tests: a cuff, a scale, a pulse
oximeter and a heart-rate band on the Bumble virtual air, with a scripted deterioration that
turns red.

The cuff and the scale keep every record in a small "flash" file (what a real device keeps in
its memory) and offer them again on every connection through the Record Access Control Point,
so a hub killed after the indication was confirmed but before it committed gets the record
again. The oximeter and the band stream at 1 Hz; samples sent while the hub is down are gone,
as with a real streaming sensor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hub.ble.profiles import blood_pressure, decode, heart_rate, plx, weight
from hub.model import Measurement
from hub.sim.air import VirtualAir
from hub.sim.peripheral import SimDevice
from hub.sim.profiles import PROFILES

CUFF = "C0:DE:00:00:00:01"
OXIMETER = "C0:DE:00:00:00:02"
BAND = "C0:DE:00:00:00:03"
SCALE = "C0:DE:00:00:00:04"
PLX_CONTINUOUS = 0x2A5F
MEASUREMENT = {CUFF: 0x2A35, SCALE: 0x2A9D}

# (address, config kind, name)
DEVICES = (
    (CUFF, "blood-pressure", "cuff"),
    (OXIMETER, "pulse-oximeter", "oximeter"),
    (BAND, "heart-rate", "band"),
    (SCALE, "weight-scale", "scale"),
)


class Flash:
    """A device's record memory: one JSON line per record (sequence, frame), fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[tuple[int, bytes]] = []
        if path.exists():
            text = path.read_text()
            if not text.endswith("\n"):  # a line torn by a pulled plug: never offered
                text = text[: text.rfind("\n") + 1]
                path.write_text(text)
            for line in text.splitlines():
                try:
                    body = json.loads(line)
                    self.records.append((int(body["seq"]), bytes.fromhex(body["frame"])))
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a pulled plug: the record never existed

    def append(self, frame: bytes) -> int:
        seq = self.records[-1][0] + 1 if self.records else 1
        with self.path.open("a") as handle:
            handle.write(json.dumps({"seq": seq, "frame": frame.hex()}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append((seq, frame))
        return seq


@dataclass(frozen=True)
class Script:
    """When things happen, in seconds from the start of the script."""

    cuff_every_s: float = 4.0
    scale_every_s: float = 6.0
    deteriorate_after_s: float = 8.0
    live: bool = False  # the cuff and the scale also send each new record at once
    linger_s: float = 0.2  # ... and stay this long connected after their last frame


class Patient:
    def __init__(self, air: VirtualAir, flash_dir: Path, script: Script = Script()) -> None:
        self.air = air
        self.script = script
        flash_dir.mkdir(parents=True, exist_ok=True)
        self.flash = {a: Flash(flash_dir / f"{a.replace(':', '')}.jsonl") for a in (CUFF, SCALE)}
        stored = {"linger_s": script.linger_s, "advertising_ms": 20.0}
        self.cuff = SimDevice(
            air,
            dataclasses.replace(PROFILES["blood-pressure"], racp=True),
            address=CUFF,
            name="cuff",
            **stored,
        )
        self.scale = SimDevice(
            air,
            dataclasses.replace(PROFILES["weight-scale"], racp=True),
            address=SCALE,
            name="scale",
            **stored,
        )
        self.oximeter = SimDevice(air, PROFILES["pulse-oximeter"], address=OXIMETER, name="oxi")
        self.band = SimDevice(air, PROFILES["heart-rate"], address=BAND, name="band")
        self.streamed = 0  # 1 Hz frames queued by the oximeter and the band
        self.made: dict[str, float] = {}  # cuff record's device time (ISO) → wall time made
        self._tasks: list[asyncio.Task[None]] = []
        self._started = 0.0

    @property
    def devices(self) -> tuple[SimDevice, ...]:
        return (self.cuff, self.oximeter, self.band, self.scale)

    async def start(self) -> None:
        for device in self.devices:
            await device.start()
        for address, device in ((CUFF, self.cuff), (SCALE, self.scale)):
            for seq, frame in self.flash[address].records:
                device.store(seq, frame)
        self._started = asyncio.get_running_loop().time()
        self._tasks = [
            asyncio.create_task(self._every(self.script.cuff_every_s, self._cuff_record)),
            asyncio.create_task(self._every(self.script.scale_every_s, self._scale_record)),
            asyncio.create_task(self._every(1.0, self._stream_second)),
        ]

    async def stop_measuring(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def stop(self) -> None:
        await self.stop_measuring()
        for device in self.devices:
            await device.stop()

    def records(self) -> int:
        return sum(len(f.records) for f in self.flash.values())

    def _worse(self) -> bool:
        elapsed = asyncio.get_running_loop().time() - self._started
        return elapsed >= self.script.deteriorate_after_s

    async def _every(self, period: float, action: Callable[[], None]) -> None:
        while True:
            action()
            await asyncio.sleep(period)

    def _cuff_record(self) -> None:
        systolic, diastolic, pulse = (226, 121, 112) if self._worse() else (128, 82, 72)
        mean = (systolic + 2 * diastolic) // 3
        when = self._clock(CUFF)
        frame = blood_pressure.encode_measurement(systolic, diastolic, mean, time=when, pulse=pulse)
        self.made[when.isoformat()] = time.time()
        self._record(self.cuff, CUFF, frame)

    def _scale_record(self) -> None:
        kg = 81.5 if self._worse() else 80.0
        frame = weight.encode_measurement(kg, time=self._clock(SCALE))
        self._record(self.scale, SCALE, frame)

    def _record(self, device: SimDevice, address: str, frame: bytes) -> None:
        """Into the device's memory first (offered on every connection), then live."""
        device.store(self.flash[address].append(frame), frame)
        if self.script.live:
            device.measure(frame)

    def _clock(self, address: str) -> datetime:
        """The device's clock to the second (local time, as a cuff shows it), one second past
        its last record at least: two records never share a time stamp."""
        now = datetime.now().replace(microsecond=0)
        records = self.flash[address].records
        uuid16 = MEASUREMENT[address]
        last = record_time(uuid16, records[-1][1]) if records else None
        return now if last is None or now > last else last + timedelta(seconds=1)

    def _stream_second(self) -> None:
        worse = self._worse()
        spo2, pulse = (86, 112) if worse else (97, 72)
        self.oximeter.measure(plx.encode_continuous(spo2, pulse), PLX_CONTINUOUS)
        rr = 60.0 / pulse
        self.band.measure(heart_rate.encode_measurement(pulse, rr_intervals_s=[rr, rr * 1.02]))
        self.streamed += 2


def record_time(uuid16: int, frame: bytes) -> datetime | None:
    decoded = decode(uuid16, frame)
    return decoded.device_time if isinstance(decoded, Measurement) else None
