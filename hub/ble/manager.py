"""The BLE device manager: scan, connect assigned devices, decode, hand readings on.

Interface for the daemon (one asyncio loop):

    manager = DeviceManager(config, backend=BleakBackend.bluez(config.ble.adapter),
                            clock_synced=hub.clock.clock_synced)
    async with manager:                      # starts scanning and one task per device
        while True:
            item = await manager.output.get()
            match item:
                case Reading():    ...       # a decoded measurement, with its stable id
                case DeviceInfo(): ...       # Device Information / battery of a device
                case Event():      ...       # state changes (STATUS) and problems (ERROR)

`manager.output` is an unbounded `asyncio.Queue`: notifications arrive in synchronous
callbacks that must never block, so the consumer (the store's group commit) keeps up instead.
`manager.stats(address)` gives per-device counters and the current `DeviceState`.

Only bleak's public API is used. `BleakBackend` says which bleak backend runs underneath:
BlueZ on a Pi (`BleakBackend.bluez`), or the Bumble simulation (`hub.sim.backend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from bleak import BleakClient, BleakScanner
from bleak.args.bluez import OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from hub.ble import uuids
from hub.ble.backoff import reconnect_delay
from hub.ble.pairing import PairingError
from hub.ble.profiles import DecodeError, decode
from hub.ble.session import Session, SessionOptions
from hub.ble.slots import ConnectionSlots
from hub.ble.state import DeviceState, advance
from hub.config import Config, DeviceEntry
from hub.ids import IdMinter
from hub.model import DeviceInfo, Event, EventKind, Measurement, Reading

log = logging.getLogger(__name__)

BleOutput = Reading | DeviceInfo | Event


@dataclass(frozen=True)
class BleakBackend:
    """The bleak backend classes (None: the platform's own) and their extra arguments."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None
    scanner_kwargs: Mapping[str, Any] = field(default_factory=dict)
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def bluez(cls, adapter: str) -> BleakBackend:
        """BlueZ on `adapter`. Passive scanning on BlueZ needs advertisement-monitor patterns;
        these match the health services in the complete 16-bit service list."""
        patterns = [
            OrPattern(
                0, AdvertisementDataType.COMPLETE_LIST_SERVICE_UUID16, s.to_bytes(2, "little")
            )
            for s in uuids.HEALTH_SERVICES
        ]
        return cls(
            scanner_kwargs={"bluez": {"adapter": adapter, "or_patterns": patterns}},
            client_kwargs={"bluez": {"adapter": adapter}},
        )


@dataclass
class DeviceStats:
    state: DeviceState = DeviceState.WAITING
    connects: int = 0
    failures: int = 0
    readings: int = 0
    malformed: int = 0
    clock_sets: int = 0  # Current Time written (only from a synchronised hub clock)
    downloads: int = 0  # stored-record downloads that completed
    last_error: str = ""


@dataclass
class _Tracked:
    entry: DeviceEntry
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    ble_device: BLEDevice | None = None
    last_sequence: int | None = None
    stats: DeviceStats = field(default_factory=DeviceStats)
    session: Session | None = None

    @property
    def address(self) -> str:
        return self.entry.address

    @property
    def long_lived(self) -> bool:
        return self.entry.kind in uuids.LONG_LIVED_KINDS


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation that became a TimeoutError on the way.

    Python 3.11's `asyncio.wait_for` (used inside Bumble and bleak) can swallow a cancel that
    arrives just as its own timeout fires; without this check `stop()` would wait forever
    for a device task that carried on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class DeviceManager:
    def __init__(
        self,
        config: Config,
        *,
        backend: BleakBackend,
        clock_synced: Callable[[], bool],
        ids: IdMinter,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        session_options: SessionOptions | None = None,
        backoff_base_s: float = 1.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.output: asyncio.Queue[BleOutput] = asyncio.Queue()
        self._ble = config.ble
        self._backend = backend
        self._clock_synced = clock_synced
        self._now = now
        self._session_options = session_options or SessionOptions()
        self._backoff_base_s = backoff_base_s
        self._rand = rand
        self._ids = ids
        self._devices = {
            entry.address: _Tracked(entry) for entry in config.devices if entry.transport == "ble"
        }
        self._slots = ConnectionSlots(self._ble.max_connections)
        self._scanner: BleakScanner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- public ---------------------------------------------------------------------------

    def stats(self, address: str) -> DeviceStats:
        return self._devices[address.upper()].stats

    @property
    def connected(self) -> int:
        return self._slots.held

    async def start(self) -> None:
        self._scanner = await self._start_scanner()
        self._tasks = [
            asyncio.create_task(self._run(tracked), name=f"ble {address}")
            for address, tracked in self._devices.items()
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._scanner is not None:
            with contextlib.suppress(BleakError):
                await self._scanner.stop()
            self._scanner = None
        for tracked in self._devices.values():
            self._set_state(tracked, DeviceState.STOPPED)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- scanning -------------------------------------------------------------------------

    async def _start_scanner(self) -> BleakScanner:
        """Scan passively when configured and the adapter allows, else actively."""
        services = [uuids.full(s) for s in uuids.HEALTH_SERVICES]
        modes = ["passive", "active"] if self._ble.scan_mode == "passive" else ["active"]
        error: BleakError | None = None
        for mode in modes:
            scanner = BleakScanner(
                self._on_advertisement,
                services,
                mode,  # type: ignore[arg-type]
                backend=self._backend.scanner,
                **self._backend.scanner_kwargs,
            )
            try:
                await scanner.start()
            except BleakError as exc:
                log.warning("%s scanning is not available (%s)", mode, exc)
                error = exc
                continue
            return scanner
        assert error is not None
        raise error

    def _on_advertisement(self, device: BLEDevice, _adv: AdvertisementData) -> None:
        tracked = self._devices.get(device.address.upper())
        if tracked is not None:
            tracked.ble_device = device
            tracked.seen.set()

    # --- one device -----------------------------------------------------------------------

    async def _run(self, tracked: _Tracked) -> None:
        attempt = 0
        while True:
            self._set_state(tracked, DeviceState.WAITING)
            await tracked.seen.wait()  # set by an advertisement, even one seen before we got here
            try:
                async with self._slots.hold(
                    tracked.address, preemptible=tracked.long_lived
                ) as let_go:
                    ok, dropped = await self._connect_once(tracked, let_go)
            except Exception as exc:  # a bug must cost one device one attempt, not the hub
                log.exception("%s: unexpected error", tracked.address)
                self._failed(tracked, exc, report=True)
                ok, dropped = False, True
            _raise_if_cancelled()
            tracked.seen.clear()  # advertisements from before this attempt ended are stale
            if ok:
                attempt = 0
                if not (tracked.long_lived and dropped):
                    continue  # delivered and let go: wait for its next advertisement
            self._set_state(tracked, DeviceState.BACKOFF)
            await asyncio.sleep(
                reconnect_delay(
                    attempt,
                    base_s=self._backoff_base_s,
                    cap_s=self._ble.reconnect_max_s,
                    jitter=0.5,
                    rand=self._rand(),
                )
            )
            attempt += 1

    async def _connect_once(self, tracked: _Tracked, let_go: asyncio.Event) -> tuple[bool, bool]:
        """One connection; returns (whether it worked, whether the device ended it)."""
        self._set_state(tracked, DeviceState.CONNECTING)

        def on_disconnect(_client: BleakClient) -> None:
            if tracked.session is not None:
                tracked.session.disconnected()

        client = BleakClient(
            tracked.ble_device or tracked.address,
            on_disconnect,
            timeout=self._ble.connect_timeout_s,
            backend=self._backend.client,
            **self._backend.client_kwargs,
        )
        try:
            await client.connect()
            tracked.stats.connects += 1
            tracked.session = Session(
                client,
                address=tracked.address,
                kind=tracked.entry.kind,
                on_frame=lambda uuid16, data: self._on_frame(tracked, uuid16, data),
                on_state=lambda state: self._set_state(tracked, state),
                on_info=self.output.put_nowait,
                clock_synced=self._clock_synced,
                now=self._now,
                last_sequence=tracked.last_sequence,
                options=self._session_options,
            )
            result = await tracked.session.run(let_go, tracked.long_lived)
        except PairingError as exc:
            self._failed(tracked, exc, report=True)
            return False, True
        except (BleakError, TimeoutError) as exc:
            self._failed(tracked, exc, report=False)
            return False, True
        finally:
            tracked.session = None
            with contextlib.suppress(BleakError, TimeoutError):
                await client.disconnect()
        tracked.stats.clock_sets += result.clock_set
        tracked.stats.downloads += result.downloaded
        return True, result.dropped

    def _failed(self, tracked: _Tracked, exc: BaseException, *, report: bool) -> None:
        tracked.stats.failures += 1
        tracked.stats.last_error = str(exc) or type(exc).__name__
        log.info("%s: connection failed: %s", tracked.address, tracked.stats.last_error)
        if report:
            self._event(tracked, EventKind.ERROR, tracked.stats.last_error)

    # --- frames ---------------------------------------------------------------------------

    def _on_frame(self, tracked: _Tracked, uuid16: int, data: bytes) -> None:
        """Decode one notification or indication. Runs in the backend's callback: it must not
        block and must not raise."""
        try:
            decoded = decode(uuid16, data)
        except DecodeError as exc:
            self._malformed(tracked, uuid16, data, str(exc))
            return
        if not isinstance(decoded, Measurement):
            return
        tracked.stats.readings += 1
        sequence = decoded.details.get("sequence")
        if isinstance(sequence, int):
            tracked.last_sequence = sequence
        received = self._now()
        reading_id = self._ids.for_measurement(tracked.address, decoded, received)
        reading = Reading.of(decoded, id=reading_id, device=tracked.address, received=received)
        self.output.put_nowait(reading)

    def _malformed(self, tracked: _Tracked, uuid16: int, data: bytes, why: str) -> None:
        """Counted always; logged and reported once per device with its length and a keyed
        hash, never its bytes (they are health data)."""
        tracked.stats.malformed += 1
        if tracked.stats.malformed > 1:
            return
        fingerprint = self._ids.fingerprint(data)
        message = (
            f"malformed frame on 0x{uuid16:04X} dropped ({len(data)} bytes, {fingerprint}): {why}"
        )
        log.warning("%s: %s", tracked.address, message)
        self._event(
            tracked,
            EventKind.ERROR,
            message,
            length=len(data),
            fingerprint=fingerprint,
            characteristic=uuid16,
        )

    # --- state and events -----------------------------------------------------------------

    def _set_state(self, tracked: _Tracked, state: DeviceState) -> None:
        previous = tracked.stats.state
        tracked.stats.state = advance(previous, state)
        if state is not previous:
            self._event(tracked, EventKind.STATUS, state.value, state=state.value)

    def _event(self, tracked: _Tracked, kind: EventKind, message: str, **details: Any) -> None:
        self.output.put_nowait(
            Event(kind, self._now(), message, device=tracked.address, details=details)
        )
