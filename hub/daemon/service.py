"""The hub daemon's composition root: it builds the parts, runs them under one asyncio loop,
and applies a new config in force to them. Each job lives in its own module:

- `intake` — devices' output, the one de-duplication, triage (`pipeline`, `streams`), store;
- `devices` — the BLE manager and the USB serial devices;
- `jobs` — stream tick and watchdog, clock sync and schedule, retention;
- `status` — the status object and its heartbeat; `events` — the event log;
- `configs`, `layers` — the file, the hospital's config and the technician's assignments;
- `control_ops` — the control socket's operations.

Threads (the README lists them too): the asyncio loop; the store's one owner thread
(`hub.store.owner`), where every SQLite call runs in order; and asyncio's default executor
for short blocking calls that have no asyncio form (reading a serial port, reading the config
file, the uplink's TCP+TLS connect).

What a pulled plug can lose: raw stream samples of the minute in progress (they are stored
as one block when the minute closes), and what was buffered for the group commit
(`[store] flush_ms`). Spot records stay in the device's memory until fetched again under
the same id (`hub.ids`), and are stored then.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub import __version__, clock
from hub.ble.manager import BleakBackend
from hub.ble.session import SessionOptions
from hub.config import Config
from hub.daemon import assignments, configs
from hub.daemon.applying import ConfigChanges
from hub.daemon.clockwatch import ClockWatch
from hub.daemon.configs import InForce
from hub.daemon.control_ops import ControlOps
from hub.daemon.control_server import ControlServer, OpError
from hub.daemon.devices import DeviceOptions, Devices
from hub.daemon.events import EventLog
from hub.daemon.intake import DeviceDirectory, Intake
from hub.daemon.jobs import Housekeeping, Retention, StreamTick, run_every
from hub.daemon.layers import Layers, Rules
from hub.daemon.observer import IntakeObserver
from hub.daemon.passkeys import Passkeys
from hub.daemon.pipeline import Pipeline
from hub.daemon.secret import load_secret
from hub.daemon.status import Heartbeat, StatusInputs, build_status, status_line
from hub.ids import IdMinter
from hub.model import Event
from hub.sdnotify import Notifier
from hub.store import StoreOwner, admin
from hub.uplink import setup
from hub.uplink.client import Uplink, UplinkKeys
from hub.wire.messages import DownlinkConfig

log = logging.getLogger("hub")

DAY_S = 86_400.0


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
    retention_s: float = DAY_S  # how often retention runs (and once at start)
    observer: IntakeObserver | None = None  # counts what intake takes (demo, benchmarks)


def load_config(path: Path) -> InForce:
    """The config file with the daemon's assignments laid over it (ConfigError if bad,
    and if the uplink was given files that cannot be used)."""
    file, laid, digest = configs.load_file(path)
    in_force = InForce.of(Layers(file, str(path), None, laid, file_digest=digest))
    setup.check(in_force.cfg, str(path))
    return in_force


class Daemon:
    def __init__(self, config_path: Path, in_force: InForce, hooks: Hooks) -> None:
        self.config_path = config_path
        self.hooks = hooks
        self.environ = os.environ if hooks.environ is None else hooks.environ
        self.backend = hooks.backend or BleakBackend.bluez(in_force.cfg.ble.adapter)
        self.passkeys = hooks.passkeys or Passkeys()
        self.notifier = Notifier(self.environ)
        self.events = EventLog()
        self.changes = ConfigChanges(config_path, in_force, self.events, self.notifier)
        self.started = time.monotonic()
        self.stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.store: StoreOwner | None = None
        self.uplink: Uplink | None = None
        self._keys: UplinkKeys | None = None
        self._parts: _Parts | None = None
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def cfg(self) -> Config:
        return self.changes.in_force.cfg

    @property
    def rules(self) -> Rules:
        return self.changes.in_force.rules

    # ------------------------------------------------------------------ life cycle

    async def run(self) -> int:
        """Until SIGTERM/SIGINT (or `stop()`); 0 on a clean stop. Whatever stops it, what
        was started is stopped and the store is committed and closed."""
        self.notifier.send(STATUS="opening the store")
        self.store = await self._open_store()
        try:
            await self._serve(self.store)
        finally:
            await self.store.close()
            self.notifier.close()
        log.info("hub stopped cleanly")
        return 0

    def stop(self) -> None:
        self.stopping.set()

    async def quiesce(self) -> None:
        """Stop taking readings: devices let go, streams closed up to now (the minute in
        progress too), everything taken committed. What is left is for the uplink."""
        parts = self._require()
        await parts.devices.stop()
        await parts.tick.final()
        assert self.store is not None
        await self.store.flush()

    async def _open_store(self) -> StoreOwner:
        path = self.cfg.store_path
        await asyncio.to_thread(path.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
        extra = {} if self.hooks.free_bytes is None else {"free_bytes": self.hooks.free_bytes}
        return await StoreOwner.open(
            path,
            admin.key_source(self.cfg, self.environ),
            admin.store_options(self.cfg),
            flush_ms=self.cfg.store.flush_ms,
            **extra,
        )

    async def _serve(self, store: StoreOwner) -> None:
        secret = await asyncio.to_thread(load_secret, self.cfg.hub.data_dir / "ids.secret")
        ids = IdMinter(secret)
        keys = self._keys = self._uplink_keys()
        if keys is not None:
            await self.changes.take_stored_downlink(keys, store)
        await self.changes.record_file(store)
        clock_watch = ClockWatch(self.hooks.clock_synced)
        rules = self.rules
        intake = Intake(
            Pipeline(rules.profile, rules.settings, ids),
            store,
            self.events,
            clock_watch,
            DeviceDirectory(),
            self.hooks.observer,
        )
        self.uplink = self._make_uplink(keys, store, intake)
        intake.uplink = self.uplink
        device_options = DeviceOptions(
            self.backend, ids, self.hooks.session_options, self.hooks.backoff_base_s
        )
        devices = Devices(device_options, intake, self.events, clock_watch)
        housekeeping = Housekeeping(
            clock_watch, store, self.events, self, self.hooks.housekeeping_s
        )
        await housekeeping.load_reported()
        parts = _Parts(
            clock=clock_watch,
            intake=intake,
            devices=devices,
            tick=StreamTick(intake, clock_watch, self.notifier, self.environ),
            housekeeping=housekeeping,
            retention=Retention(store, self.hooks.retention_s),
            heartbeat=Heartbeat(self, self.uplink, self.notifier, self.cfg.hub.status_interval_s),
        )
        self._parts = parts
        self.changes.attach(store, self, self)
        ops = ControlOps(self, self.backend, self.passkeys)
        control = ControlServer(self.cfg.hub.runtime_dir / "control.sock", ops.handle)
        await control.start()
        tasks = [
            asyncio.create_task(self.events.run(store), name="event log"),
            *(
                asyncio.create_task(run_every(job, self.events), name=type(job).__name__)
                for job in (parts.tick, parts.housekeeping, parts.retention, parts.heartbeat)
            ),
        ]
        uplink_task = None if self.uplink is None else asyncio.create_task(self.uplink.run())
        bus: Any = None  # the pairing agent's D-Bus connection, on BlueZ
        try:
            if self.hooks.signals:
                self._install_signals()
            devices.start(self.cfg)
            bus = await self._pairing_agent() if self.hooks.backend is None else None
            self.notifier.send(READY="1", STATUS=status_line(await self.status()))
            self.ready.set()
            log.info(
                "hub %s %s running; store %s", self.cfg.hub.id, __version__, self.cfg.store_path
            )
            await self.stopping.wait()
        finally:
            self.notifier.send(STOPPING="1", STATUS="stopping")
            await self.quiesce()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, *self._background, return_exceptions=True)
            await self.events.flush(store)
            if self.uplink is not None and uplink_task is not None:
                self.uplink.stop()
                await asyncio.gather(uplink_task, return_exceptions=True)
            await control.stop()
            if bus is not None:
                bus.disconnect()
            if self.hooks.signals:
                self._remove_signals()

    def _require(self) -> _Parts:
        if self._parts is None:
            raise OpError("the daemon is still starting")
        return self._parts

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self) -> None:
        self._spawn(self._reload_quietly())

    async def _reload_quietly(self) -> None:
        with contextlib.suppress(OpError):  # refused: already logged and recorded
            await self.reload()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    async def _pairing_agent(self) -> Any:
        """On BlueZ: the hub's pairing agent (`hub.ble.agent`), answering with the passkeys
        given through the control socket, for assigned devices only. Imported here: only
        BlueZ needs the D-Bus stack, the simulated backends never load it."""
        from hub.ble import agent

        try:
            return await agent.agent_on_system_bus(self.passkeys, self._is_assigned)
        except agent.AgentUnavailable as exc:
            self.events.error(f"pairing agent not registered (passkey pairing unavailable): {exc}")
            return None

    def _is_assigned(self, address: str) -> bool:
        return any(d.address == address for d in self.cfg.devices)

    # ------------------------------------------------------------------ uplink

    def _uplink_keys(self) -> UplinkKeys | None:
        """The uplink's keys, None when it is off or the hub has no identity yet (then the
        daemon serves devices and the control socket: the technician provisions it)."""
        if not self.cfg.uplink.enabled:
            return None
        if not setup.provisioned(self.cfg):
            log.info(
                "hub %s not provisioned: no uplink until its identity is imported", self.cfg.hub.id
            )
            return None
        return setup.keys_from(self.cfg, str(self.config_path))

    def _make_uplink(
        self, keys: UplinkKeys | None, store: StoreOwner, intake: Intake
    ) -> Uplink | None:
        """The MQTT uplink when enabled and provisioned (certificates and keys configured)."""
        if keys is None:
            return None
        settings = dataclasses.replace(
            setup.settings_from(self.cfg, str(self.config_path)),
            applied_config_version=self.changes.in_force.downlink_version,
            **(self.hooks.uplink_overrides or {}),
        )
        return Uplink(settings, store, keys, devices=intake.directory, listener=self)

    def uplink_event(self, event: Event) -> None:
        """From the uplink (its problems and alarms)."""
        self.events.report(event)

    def downlink_config(self, config: DownlinkConfig, raw: bytes) -> None:
        """From the uplink: a verified config newer than the last one handed on."""
        self._spawn(self.changes.downlink(config, raw))

    # ------------------------------------------------------------------ config changes

    async def apply(self, old: InForce, new: InForce) -> None:
        """A new config in force reaches the running parts: triage, the patient, devices."""
        parts = self._require()
        parts.intake.pipeline.reconfigure(new.rules.profile, new.rules.settings)
        if self.uplink is not None and new.cfg.patient.id:
            self.uplink.set_patient(new.cfg.patient.id)
        if new.cfg.devices != old.cfg.devices:
            await parts.devices.stop()
            parts.devices.start(new.cfg)

    async def reload(self) -> dict[str, Any]:
        return await self.changes.reload()

    async def reassign(self, new: assignments.Assignments) -> dict[str, Any]:
        return await self.changes.reassign(new)

    # ------------------------------------------------------------------ status

    async def status(self) -> dict[str, Any]:
        assert self.store is not None
        parts = self._require()
        store_status = await self.store.status()
        records = (await self.store.devices()).items
        return build_status(
            StatusInputs(
                hub=self.cfg.hub.id,
                version=__version__,
                uptime_s=time.monotonic() - self.started,
                configured=self.cfg.devices,
                states=parts.devices.states(self.cfg),
                records=records,
                store=store_status,
                uplink=self.uplink,
                clock_synced=parts.clock.synced,
                errors=tuple(self.events.errors),
                recent=tuple(self.events.recent),
                patient_level=parts.intake.pipeline.spot.level,
                config_version=self.changes.in_force.downlink_version,
                config_refused=self.changes.refused,
                schedule_items=len(self.rules.items),
                schedule_checked=parts.housekeeping.last_check,
                provisioned=setup.provisioned(self.cfg),
                uplink_wanted=self.cfg.uplink.enabled,
                time=datetime.now(UTC),
            )
        )

    async def test_uplink(self) -> dict[str, Any]:
        """The status published now, the uplink's own view, and a diagnosis that walks the
        path to the hospital step by step (`hub.diagnose`), naming the first that fails.
        Imported here: a technician asks for it now and then, the daemon runs for months
        (it is about 1 MiB resident)."""
        from hub.diagnose.run import Limits, diagnose_all
        from hub.diagnose.verdicts import report_json

        if self.uplink is None or self._keys is None:
            raise OpError("the uplink is not running (disabled or not provisioned)")
        await self._require().heartbeat.run_once()
        results = await diagnose_all(self.uplink.settings, self._keys, Limits(ack_s=15.0))
        stats = self.uplink.stats
        return {
            "problem": self.uplink.problem.value,
            "detail": self.uplink.problem_detail,
            "connections": stats.connections,
            "batches_sent": stats.batches_sent,
            "acked_batches": stats.acked_batches,
            "diagnosis": report_json(results),
        }


@dataclass(frozen=True)
class _Parts:
    clock: ClockWatch
    intake: Intake
    devices: Devices
    tick: StreamTick
    housekeeping: Housekeeping
    retention: Retention
    heartbeat: Heartbeat


def run(config_path: Path, hooks: Hooks | None = None) -> int:
    """`hub run`: load the config (a bad one → ConfigError for the caller), run the daemon.

    The umask makes every file the daemon writes (database, WAL, secrets, configs) private
    whatever the caller's umask was (the unit's `UMask=` does the same under systemd)."""
    os.umask(0o077)
    in_force = load_config(config_path)
    log_to_stdout()
    return asyncio.run(Daemon(config_path, in_force, hooks or Hooks()).run())


def log_to_stdout() -> None:
    """One line an event on stdout, which journald keeps (`hub run` and the test harness)."""
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True
    )
