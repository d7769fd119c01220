"""The hub daemon: one asyncio loop wiring devices → triage → store → uplink.

Tasks: the devices' output (the BLE device manager's and the USB serial devices': readings,
device information, events), a one-second tick
(streams, the measurement schedule, clock sync, the systemd watchdog), the status heartbeat
and the control socket. The store's group commit and the uplink run in their own threads;
every store call from the loop goes through `asyncio.to_thread`, in order, so a commit's fsync
never stalls the loop.

What a pulled plug can lose: raw stream samples (and summaries of the minute in progress) that
were in RAM — at most the store's group-commit window (`[store] flush_ms`) of raw samples.
Spot records are committed at once and, until then, stay in the device's memory, from which
they are fetched again under the same id (`stable_ids`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError
from dbus_fast import BusType, DBusError
from dbus_fast.aio import MessageBus
from dbus_fast.errors import AuthError

from hub import __version__, clock, config, schedule
from hub.ble import uuids
from hub.ble.agent import HubAgent, register_agent
from hub.ble.manager import BleakBackend, DeviceManager
from hub.ble.session import SessionOptions
from hub.config import Config, ConfigError, ScheduleEntry, build
from hub.daemon import assignments
from hub.daemon.control_server import ControlServer, OpError
from hub.daemon.passkeys import Passkeys
from hub.daemon.pipeline import SPOT_KINDS, Outcome, Pipeline
from hub.daemon.stable_ids import load_secret
from hub.daemon.status import StatusInputs, build_status
from hub.model import DeviceInfo, Event, EventKind, Kind, Reading
from hub.sdnotify import Notifier, watchdog_interval_s
from hub.serial.devices import SerialDevices
from hub.signal.rules import PROFILES, Settings
from hub.store import Store, StoreStatus, admin
from hub.store.store import DeviceRecord
from hub.uplink import setup
from hub.uplink.client import Uplink
from hub.wire.messages import DownlinkConfig

log = logging.getLogger("hub")

TICK_S = 1.0
SEEN_MAX = 4096
UNSYNCED_MAX = 20_000  # readings remembered for correction once the clock syncs
RECENT_EVENTS = 20
_END = object()  # after the last item of a stopped device manager
# Events whose message may carry a health value: logged by kind only.
_CLINICAL = frozenset(
    {
        EventKind.ALERT,
        EventKind.SUPPRESSED_ALERT,
        EventKind.ALL_CLEAR,
        EventKind.MEASUREMENT_DUE,
    }
)


@dataclass(frozen=True)
class Rules:
    """What the configuration says about triage and the schedule, checked."""

    profile_name: str
    settings: Settings
    items: tuple[schedule.ScheduleItem, ...]
    tz: ZoneInfo


def rules_of(cfg: Config, source: str) -> Rules:
    """Triage settings and schedule from `cfg`; problems become a ConfigError naming the key."""
    try:
        settings = Settings(**vars(cfg.triage))
    except ValueError as exc:
        raise ConfigError(source, "triage", str(exc)) from exc
    try:
        tz = ZoneInfo(cfg.hub.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            source, "hub.timezone", f"unknown time zone {cfg.hub.timezone!r}"
        ) from exc
    items = tuple(schedule_item(entry) for entry in cfg.schedule)
    return Rules(cfg.patient.pathway, settings, items, tz)


def schedule_item(entry: ScheduleEntry) -> schedule.ScheduleItem:
    """A validated `[[schedule]]` entry (the config file's or the hospital's) as a slot rule."""
    return schedule.ScheduleItem(
        kind=entry.kind,
        times=tuple(datetime.strptime(t, "%H:%M").time() for t in entry.times),
        window_minutes=entry.window_minutes,
        early_minutes=entry.early_minutes,
        weekdays=frozenset(entry.weekdays),
    )


def downlink_schedule(
    downlink: DownlinkConfig,
) -> tuple[tuple[schedule.ScheduleItem, ...], list[ConfigError]]:
    """The hospital's schedule entries, checked as the config file's `[[schedule]]` are:
    the good ones, and a ConfigError naming each refused entry and key."""
    items, refused = [], []
    source = f"downlink config version {downlink.version}"
    for i, raw in enumerate(downlink.schedule):
        try:
            entry: ScheduleEntry = build(ScheduleEntry, dict(raw), source, f"schedule[{i}]")
        except ConfigError as exc:
            refused.append(exc)
            continue
        items.append(schedule_item(entry))
    return tuple(items), refused


def load_config(path: Path) -> tuple[Config, Rules]:
    """The config file with the daemon's device assignments laid over it, and its rules."""
    cfg = config.load(path)
    cfg = assignments.load(cfg.hub.data_dir / assignments.FILE_NAME).apply(cfg)
    return cfg, rules_of(cfg, str(path))


@dataclass
class Hooks:
    """What the demo and tests inject; the defaults are a Raspberry Pi's."""

    backend: BleakBackend | None = None  # None: BlueZ on the configured adapter
    clock_synced: Callable[[], bool] = clock.clock_synced
    free_bytes: Callable[[Path], int] | None = None
    session_options: SessionOptions | None = None
    environ: Mapping[str, str] | None = None
    uplink_overrides: Mapping[str, Any] | None = None  # UplinkSettings fields, e.g. backoff
    backoff_base_s: float = 1.0
    passkeys: Passkeys | None = None  # answers pairing; the Bumble adapter is given it too
    signals: bool = True  # SIGTERM/SIGINT stop, SIGHUP reloads (the demo handles its own)
    housekeeping_s: float = 10.0  # how often the clock sync and the schedule are checked


class Daemon:
    def __init__(self, config_path: Path, cfg: Config, rules: Rules, hooks: Hooks) -> None:
        self.config_path = config_path
        self.cfg = cfg
        self.rules = rules
        self.hooks = hooks
        self.environ = os.environ if hooks.environ is None else hooks.environ
        self.backend = hooks.backend or BleakBackend.bluez(cfg.ble.adapter)
        self.passkeys = hooks.passkeys or Passkeys()
        self.started = time.monotonic()
        self.store: Store | None = None
        self.uplink: Uplink | None = None
        self.manager: DeviceManager | None = None
        self.serial: SerialDevices | None = None
        self.pipeline: Pipeline | None = None
        self.notifier = Notifier(self.environ)
        self.stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.counters: collections.Counter[str] = collections.Counter()
        self.errors: collections.deque[str] = collections.deque(maxlen=10)
        self.recent: collections.deque[Event] = collections.deque(maxlen=RECENT_EVENTS)
        self.measured_ids: set[str] = set()  # new readings taken on (for the demo's summary)
        self._infos: dict[str, DeviceInfo] = {}
        self.levels: collections.Counter[str] = collections.Counter()
        # Spot records seen this run per device, new or already stored: what was fetched.
        self.spot_ids: collections.defaultdict[str, set[str]] = collections.defaultdict(set)
        self._background: set[asyncio.Future[None]] = set()
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._unsynced: list[tuple[str, clock.ClockStamp]] = []
        self._synced = False
        self._reported: set[str] = set()
        self._writes: asyncio.Queue[Callable[[], None]] = asyncio.Queue()
        self._consumers: list[tuple[DeviceManager | SerialDevices, asyncio.Task[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_schedule = 0.0
        self._downlink_items: tuple[schedule.ScheduleItem, ...] = ()

    # ------------------------------------------------------------------ life cycle

    async def run(self) -> int:
        """Until SIGTERM/SIGINT (or `stopping` is set); 0 on a clean stop. Whatever stops it,
        what was started is stopped and the store is committed and closed."""
        self._loop = asyncio.get_running_loop()
        self.notifier.send(STATUS="opening the store")
        self.store = await asyncio.to_thread(self._open_store)
        try:
            await self._serve()
        finally:
            await asyncio.to_thread(self._close)
            self.notifier.close()
        log.info("hub stopped cleanly")
        return 0

    async def _serve(self) -> None:
        secret = await asyncio.to_thread(load_secret, self.cfg.hub.data_dir / "ids.secret")
        self.pipeline = Pipeline(PROFILES[self.rules.profile_name], self.rules.settings, secret)
        self._synced = self.hooks.clock_synced()
        self._reported = await asyncio.to_thread(self._load_reported)
        self.uplink = self._make_uplink()
        if self.uplink is not None:
            self.uplink.start()
        control = ControlServer(self.cfg.hub.runtime_dir / "control.sock", self._op)
        await control.start()
        tasks = [
            asyncio.create_task(self._writer(), name="store writer"),
            asyncio.create_task(self._ticker(), name="tick"),
            asyncio.create_task(self._heartbeat(), name="status"),
        ]
        bus: MessageBus | None = None
        try:
            if self.hooks.signals:
                self._install_signals()
            self._start_devices()
            bus = await self._pairing_agent() if self.hooks.backend is None else None
            self.notifier.send(READY="1", STATUS=await self._status_line())
            self.ready.set()
            log.info(
                "hub %s %s running; store %s", self.cfg.hub.id, __version__, self.cfg.store_path
            )
            await self.stopping.wait()
        finally:
            self.notifier.send(STOPPING="1", STATUS="stopping")
            await self._drain(tasks)
            await control.stop()
            if bus is not None:
                bus.disconnect()
            if self.hooks.signals:
                self._remove_signals()

    def stop(self) -> None:
        self.stopping.set()

    async def quiesce(self) -> None:
        """Stop taking readings: devices let go, streams summarised up to now (the minute in
        progress included), every queued write done. What is left is for the uplink."""
        await self._stop_devices()
        assert self.pipeline is not None
        self._submit(self.pipeline.tick(datetime.now(UTC), final=True))
        await self.flushed()

    async def flushed(self) -> None:
        """Wait until every write queued so far is in the store (committed or buffered)."""
        done = asyncio.Event()
        self._write(lambda: self._call_in_loop(done.set))
        await done.wait()

    def _open_store(self) -> Store:
        path = self.cfg.store_path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if self.hooks.free_bytes is not None:
            kwargs["free_bytes"] = self.hooks.free_bytes
        return Store.open(
            path,
            admin.key_source(self.cfg, self.environ),
            flush_ms=self.cfg.store.flush_ms,
            flush_max=self.cfg.store.flush_max,
            disk_floor_mb=self.cfg.store.disk_floor_mb,
            retention_days=self.cfg.store.retention_days,
            **kwargs,
        )

    def _close(self) -> None:
        """Everything buffered is committed before the uplink and the store go."""
        assert self.store is not None
        try:
            self.store.flush()
        finally:
            if self.uplink is not None:
                self.uplink.stop()
            self.store.close()

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        """Finish the streams' pending summaries and every queued write, then stop tasks."""
        await self.quiesce()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self) -> None:
        async def reload() -> None:
            with contextlib.suppress(OpError):  # refused: already logged and recorded
                await self.reload()

        task = asyncio.ensure_future(reload())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    # ------------------------------------------------------------------ uplink

    def _make_uplink(self) -> Uplink | None:
        """The MQTT uplink when enabled and provisioned (certificates and keys configured)."""
        if not self.cfg.uplink.enabled:
            return None
        source = str(self.config_path)
        try:
            settings = setup.settings_from(self.cfg, source)
            keys = setup.keys_from(self.cfg, source)
        except ConfigError as exc:
            self._error(f"uplink not started: {exc}")
            return None
        return Uplink(
            dataclasses.replace(settings, **(self.hooks.uplink_overrides or {})),
            self._store,
            keys,
            devices=self._device_info,
            on_event=self._from_thread,
            on_config=self._config_from_thread,
        )

    def _device_info(self, address: str) -> DeviceInfo | None:
        return self._infos.get(address)

    def _from_thread(self, event: Event) -> None:
        self._call_in_loop(self._event, event)

    def _config_from_thread(self, downlink: DownlinkConfig) -> None:
        self._call_in_loop(self._apply_downlink, downlink)

    def _call_in_loop(self, action: Callable[..., None], *args: Any) -> None:
        """From the uplink's thread; after the loop closed there is nobody left to tell."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(action, *args)

    def _apply_downlink(self, downlink: DownlinkConfig) -> None:
        """The hospital's schedule, when its signed config carries one, adds to the file's;
        an entry that does not check out is refused, once, naming it."""
        self._downlink_items, refused = downlink_schedule(downlink)
        for exc in refused:
            self._error(f"downlink schedule entry ignored: {exc}")
        log.info("downlink config version %s applied", downlink.version)

    # ------------------------------------------------------------------ devices

    def _start_devices(self) -> None:
        self.manager = DeviceManager(
            self.cfg,
            backend=self.backend,
            clock_synced=self.hooks.clock_synced,
            session_options=self.hooks.session_options,
            backoff_base_s=self.hooks.backoff_base_s,
        )
        self.serial = SerialDevices(self.cfg.devices, backoff_base_s=self.hooks.backoff_base_s)
        self.serial.start()
        self._consumers = [
            (self.manager, asyncio.create_task(self._consume_ble(self.manager), name="ble")),
            (self.serial, asyncio.create_task(self._consume(self.serial.output), name="serial")),
        ]

    async def _stop_devices(self) -> None:
        """Stop the devices, then handle what they already sent before the consumers end."""
        consumers, self._consumers = self._consumers, []
        for source, task in consumers:
            await source.stop()
            source.output.put_nowait(_END)  # type: ignore[arg-type]
            await asyncio.gather(task, return_exceptions=True)

    async def _consume_ble(self, manager: DeviceManager) -> None:
        try:
            await manager.start()
        except BleakError as exc:
            self._error(f"Bluetooth unavailable: {exc}")
            return
        await self._consume(manager.output)

    async def _consume(self, output: asyncio.Queue[Any]) -> None:
        while (item := await output.get()) is not _END:
            try:
                await self._handle(item)
            except Exception as exc:  # one bad item must not stop the devices
                log.exception("handling %s failed", type(item).__name__)
                self._error(f"internal error handling a {type(item).__name__}: {exc}")

    async def _handle(self, item: Reading | DeviceInfo | Event) -> None:
        if isinstance(item, Reading):
            await self._reading(item)
        elif isinstance(item, DeviceInfo):
            self._infos[item.address] = item
            seen = datetime.now(UTC)
            self._write(
                lambda: self._store.record_device(
                    item, bond_state="unknown", last_seen=seen, patient=self.cfg.patient.id
                )
            )
        elif item.kind is EventKind.STATUS and "state" in item.details:
            log.info("device %s %s", item.device, item.message)  # connection states: log only
        else:
            self._event(item)

    @property
    def _store(self) -> Store:
        assert self.store is not None
        return self.store

    async def _reading(self, reading: Reading) -> None:
        assert self.pipeline is not None
        stamp = clock.ClockStamp(reading.received, time.monotonic())
        reading = self.pipeline.stable(reading)
        if reading.kind in SPOT_KINDS:
            self.spot_ids[reading.device].add(reading.id)
        if reading.id in self._seen:
            self.counters["resent"] += 1
            return
        self._remember(reading.id)
        if reading.kind in SPOT_KINDS:
            rid = reading.id
            stored = await asyncio.to_thread(lambda: bool(self._store.readings([rid]).items))
            if stored:
                self.counters["resent"] += 1
                return
        now = datetime.now(UTC)
        outcome = self.pipeline.reading(reading, now, clock_synced=self._synced)
        if not self._synced and len(self._unsynced) < UNSYNCED_MAX:
            self._unsynced.extend((r.id, stamp) for r in outcome.readings)
        self.counters["readings"] += 1
        self._submit(outcome)

    def _remember(self, reading_id: str) -> None:
        self._seen[reading_id] = None
        if len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)

    def _submit(self, outcome: Outcome) -> None:
        for event in outcome.events:
            self._event(event, clinical=True)
        if not outcome.readings:
            return
        readings, urgent = list(outcome.readings), outcome.urgent
        self.measured_ids.update(r.id for r in readings)
        self.levels.update(str(r.details.get("level", "none")) for r in readings)

        def write() -> None:
            self._store.add(readings, urgent=urgent)
            if self.uplink is not None:
                self.uplink.wake(urgent=urgent)

        self._write(write)

    async def _pairing_agent(self) -> MessageBus | None:
        """On BlueZ: the hub's pairing agent (`hub.ble.agent`), answering with the passkeys
        given through the control socket, for assigned devices only."""

        def assigned(address: str) -> bool:
            return any(d.address == address for d in self.cfg.devices)

        try:
            async with asyncio.timeout(10):
                bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
                await register_agent(bus, HubAgent(self.passkeys, assigned))
        except (OSError, TimeoutError, DBusError, AuthError, ValueError) as exc:
            self._error(f"pairing agent not registered (passkey pairing unavailable): {exc}")
            return None
        return bus

    # ------------------------------------------------------------------ writes and events

    def _write(self, action: Callable[[], None]) -> None:
        self._writes.put_nowait(action)

    async def _writer(self) -> None:
        """Store calls in a worker thread, one at a time and in order."""
        while True:
            action = await self._writes.get()
            try:
                await asyncio.to_thread(action)
            except Exception as exc:
                log.exception("store write failed")
                self._error(f"store write failed: {exc}")

    def _event(self, event: Event, *, clinical: bool = False) -> None:
        if clinical or event.kind in _CLINICAL:
            log.info("event %s device=%s", event.kind, event.device or "-")
        else:
            log.info("event %s device=%s: %s", event.kind, event.device or "-", event.message)
        if event.kind is EventKind.ERROR:
            self.errors.append(event.message if not clinical else str(event.kind))
        self.recent.append(event)
        self.counters[f"event:{event.kind}"] += 1
        self._write(lambda: self._store.record_event(event))

    def _error(self, message: str) -> None:
        self._event(Event(EventKind.ERROR, datetime.now(UTC), message))

    # ------------------------------------------------------------------ periodic work

    async def _ticker(self) -> None:
        watchdog = watchdog_interval_s(self.environ, os.getpid())
        last_ping = 0.0
        while True:
            now_mono = time.monotonic()
            if watchdog is not None and now_mono - last_ping >= watchdog:
                self.notifier.send(WATCHDOG="1")
                last_ping = now_mono
            assert self.pipeline is not None
            self._submit(self.pipeline.tick(datetime.now(UTC)))
            if now_mono - self._last_schedule >= self.hooks.housekeeping_s:
                self._last_schedule = now_mono
                await self._clock_check()
                await self._schedule_check()
            await asyncio.sleep(min(TICK_S, watchdog or TICK_S, self.hooks.housekeeping_s))

    async def _clock_check(self) -> None:
        """On the hub clock's first sync, correct the receive times of readings taken before."""
        if self._synced or not self.hooks.clock_synced():
            return
        self._synced = True
        synced_at = clock.ClockStamp(datetime.now(UTC), time.monotonic())
        pending, self._unsynced = self._unsynced, []
        log.info("hub clock synchronised; correcting %d earlier receive times", len(pending))
        stamps = dict(pending)

        def correct() -> None:
            self._store.flush()  # `readings` reads committed rows: the buffered ones too
            found = self._store.readings(list(stamps)).items
            fixed = [clock.mark_corrected(r, stamps[r.id], synced_at) for r in found]
            self._store.amend(fixed)

        self._write(correct)

    async def _schedule_check(self) -> None:
        items = (*self.rules.items, *self._downlink_items)
        if not items or not self._synced:
            return  # a wrong clock would report slots as missed that were not
        self.counters["schedule-checks"] += 1
        now = datetime.now(UTC)
        kinds = [Kind(i.kind) for i in items]
        measured = await asyncio.to_thread(
            self._store.received_times, kinds, now - timedelta(days=2)
        )
        current = schedule.slots(
            items, {str(k): v for k, v in measured.items()}, now, self.rules.tz
        )
        for event in schedule.events_to_report(current, self._reported, now):
            self._reported.add(event.details["key"])
            self._event(event)

    def _load_reported(self) -> set[str]:
        """Slot keys already reported, from the stored events (so a restart reports none
        twice)."""
        assert self.store is not None
        kinds = (EventKind.MEASUREMENT_DUE, EventKind.MEASUREMENT_MISSED)
        return {
            str(e.details["key"])
            for e in self.store.events().items
            if e.kind in kinds and "key" in e.details
        }

    async def _heartbeat(self) -> None:
        while True:
            status = await self.publish_status()
            self.notifier.send(STATUS=await self._status_line(status["queue_depth"]))
            await asyncio.sleep(self.cfg.hub.status_interval_s)

    async def publish_status(self) -> dict[str, Any]:
        status = await self.status()
        if self.uplink is not None:
            self.uplink.publish_status(json.dumps(status, separators=(",", ":")).encode())
        return status

    async def status(self) -> dict[str, Any]:
        store_status, devices = await asyncio.to_thread(
            lambda: (self._store.status(), self._store.devices().items)
        )
        return build_status(self._status_inputs(store_status, devices))

    def _status_inputs(
        self, store_status: StoreStatus, devices: tuple[DeviceRecord, ...]
    ) -> StatusInputs:
        manager = self.manager
        states = self.serial.states() if self.serial is not None else {}
        if manager is not None:
            for entry in self.cfg.devices:
                if entry.transport == "ble":
                    states[entry.address] = manager.stats(entry.address).state.value
        return StatusInputs(
            hub=self.cfg.hub.id,
            version=__version__,
            uptime_s=time.monotonic() - self.started,
            configured=self.cfg.devices,
            states=states,
            records=devices,
            store=store_status,
            uplink=self.uplink,
            clock_synced=self._synced,
            errors=tuple(self.errors),
            recent=tuple(self.recent),
            patient_level=self.pipeline.spot.level if self.pipeline else None,
        )

    async def _status_line(self, depth: int | None = None) -> str:
        """systemd's STATUS= line; the queue depth is read in a worker thread unless given
        (a store call on the loop could wait for a commit's fsync)."""
        if depth is None:
            depth = await asyncio.to_thread(self._store.queue_depth)
        up = "off" if self.uplink is None else self.uplink.problem.value
        return f"{len(self.cfg.devices)} devices, queue {depth}, uplink {up}"

    # ------------------------------------------------------------------ reload and control

    async def reload(self) -> dict[str, Any]:
        """Read the config file again; a bad one is refused and the running one kept.
        systemd is told RELOADING=1 and, done or refused, READY=1 (sd_notify(3))."""
        monotonic_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notifier.send(RELOADING="1", MONOTONIC_USEC=str(monotonic_us))
        try:
            return await self._reload()
        finally:
            self.notifier.send(READY="1", STATUS=await self._status_line())

    async def _reload(self) -> dict[str, Any]:
        try:
            cfg, rules = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as exc:
            self._error(f"new configuration refused, keeping the old one: {exc}")
            raise OpError(str(exc)) from exc
        needs_restart = [
            name
            for name in ("store", "uplink", "ble")
            if getattr(cfg, name) != getattr(self.cfg, name)
        ] + (["hub"] if cfg.hub != self.cfg.hub else [])
        devices_changed = cfg.devices != self.cfg.devices
        self.cfg, self.rules = cfg, rules
        assert self.pipeline is not None
        self.pipeline.reconfigure(PROFILES[rules.profile_name], rules.settings)
        if devices_changed:
            await self._stop_devices()
            self._start_devices()
        self._event(Event(EventKind.STATUS, datetime.now(UTC), "configuration reloaded"))
        return {
            "reloaded": True,
            "devices_changed": devices_changed,
            "restart_needed": needs_restart,
        }

    async def _op(self, op: str, args: dict[str, Any]) -> Any:
        if op == "status":
            return await self.status()
        if op == "reload":
            return await self.reload()
        if op == "test-uplink":
            return await self._test_uplink()
        if op == "scan":
            return await self._scan(args.get("seconds", 5))
        if op == "pair":
            return await self._pair(args["address"], args.get("passkey"))
        if op in ("assign", "unassign"):
            return await self._assign(op, args)
        raise OpError(f"op {op} is not served")

    async def _test_uplink(self) -> dict[str, Any]:
        if self.uplink is None:
            raise OpError("the uplink is not running (disabled or not provisioned)")
        await self.publish_status()
        stats = self.uplink.stats
        return {
            "problem": self.uplink.problem.value,
            "detail": self.uplink.problem_detail,
            "connections": stats.connections,
            "batches_sent": stats.batches_sent,
            "acked_batches": stats.acked_batches,
        }

    async def _scan(self, seconds: Any) -> list[dict[str, Any]]:
        if not isinstance(seconds, int | float) or not 0 < seconds <= 60:
            raise OpError("seconds must be a number from 0 to 60")
        try:
            found = await BleakScanner.discover(
                timeout=float(seconds),
                service_uuids=[uuids.full(s) for s in uuids.HEALTH_SERVICES],
                return_adv=True,
                backend=self.backend.scanner,
                **self.backend.scanner_kwargs,
            )
        except BleakError as exc:
            raise OpError(f"scan failed: {exc}") from exc
        return [
            {"address": device.address, "name": adv.local_name or "", "rssi": adv.rssi}
            for device, adv in found.values()
        ]

    async def _pair(self, address: Any, passkey: Any) -> dict[str, Any]:
        if not isinstance(address, str):
            raise OpError("address must be a string")
        if passkey is not None and not (isinstance(passkey, int) and 0 <= passkey <= 999_999):
            raise OpError("passkey must be a number from 0 to 999999")
        if passkey is not None:
            self.passkeys.set(address, passkey)
        client = BleakClient(
            address.upper(),
            timeout=self.cfg.ble.connect_timeout_s,
            backend=self.backend.client,
            **self.backend.client_kwargs,
        )
        try:
            await client.connect()
            await client.pair()
        except (BleakError, TimeoutError) as exc:
            raise OpError(f"pairing with {address} failed: {exc}") from exc
        finally:
            with contextlib.suppress(BleakError, TimeoutError):
                await client.disconnect()
        return {"paired": address.upper()}

    async def _assign(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        path = self.cfg.hub.data_dir / assignments.FILE_NAME
        try:
            current = assignments.load(path)
            if op == "assign":
                new = current.assign(assignments.entry(args))
            else:
                new = current.unassign(self._configured_address(str(args["address"])))
        except ConfigError as exc:
            raise OpError(str(exc)) from exc
        await asyncio.to_thread(assignments.save, path, new)
        result = await self.reload()
        return {"devices": [d.address for d in self.cfg.devices], **result}

    def _configured_address(self, address: str) -> str:
        """The configured device `address` names, whatever its case (BLE addresses are kept
        upper case, a serial device's name as written)."""
        known = (d.address for d in self.cfg.devices if d.address.upper() == address.upper())
        return next(known, address.upper())


def run(config_path: Path, hooks: Hooks | None = None) -> int:
    """`hub run`: load the config (a bad one → ConfigError for the caller), run the daemon."""
    cfg, rules = load_config(config_path)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    daemon = Daemon(config_path, cfg, rules, hooks or Hooks())
    return asyncio.run(daemon.run())
