"""Every change to the config in force: the file reloaded (SIGHUP, control socket), the
technician's assignments (control socket), the hospital's downlink config (uplink).

Each change is checked whole (`InForce.of`), then applied to the running parts, kept on disk
(the assignments file, the signed downlink config) and recorded in the config history; a
refused one changes nothing and is reported in the event log and the status. systemd hears
RELOADING=1 before a change and READY=1 after it, applied or refused (sd_notify(3)).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hub.config import ConfigError
from hub.daemon import assignments, configs
from hub.daemon.configs import InForce, Refusal
from hub.daemon.control_server import OpError
from hub.daemon.events import EventLog
from hub.daemon.status import StatusSource, status_line
from hub.model import Event, EventKind
from hub.sdnotify import Notifier
from hub.store import StoreOwner
from hub.uplink import setup
from hub.uplink.client import UplinkKeys
from hub.wire.messages import DownlinkConfig


class Target(Protocol):
    """The running parts a new config in force reaches (triage, patient, devices)."""

    async def apply(self, old: InForce, new: InForce) -> None: ...


class ConfigChanges:
    def __init__(
        self,
        config_path: Path,
        in_force: InForce,
        events: EventLog,
        notifier: Notifier,
    ) -> None:
        self.config_path = config_path
        self.in_force = in_force
        self.refused: Refusal | None = None
        self._events = events
        self._notifier = notifier
        self._store: StoreOwner | None = None
        self._target: Target | None = None
        self._status: StatusSource | None = None

    def attach(self, store: StoreOwner, target: Target, status: StatusSource) -> None:
        """Once the daemon's parts run: changes from now on are applied to them."""
        self._store, self._target, self._status = store, target, status

    @property
    def _data_dir(self) -> Path:
        return self.in_force.cfg.hub.data_dir

    async def take_stored_downlink(self, keys: UplinkKeys, store: StoreOwner) -> None:
        """At start, before the parts are built: the last good hospital config again (the
        broker may be out of reach), verified again with the hospital's key."""
        signed = await store.kept_downlink()
        legacy = await asyncio.to_thread(configs.take_legacy_downlink, self._data_dir)
        if signed is None and legacy is not None:
            signed = legacy
            await store.keep_downlink(signed)
        if signed is None:
            return
        found = configs.verified(signed, keys.hospital_signing, self.in_force.cfg.hub.id)
        if found is None:
            self._events.error("the kept downlink config does not verify; waiting for the broker's")
            return
        try:
            self.in_force = self.in_force.with_downlink(found)
        except ConfigError as exc:
            self._events.error(f"stored downlink config refused: {exc}")

    async def record_file(self, store: StoreOwner) -> None:
        """The file's hash in the config history when it differs from the last recorded."""
        sha = self.in_force.layers.file_digest
        history = await store.config_history()
        last = next((r for r in reversed(history) if r.version == configs.FILE_VERSION), None)
        if last is None or last.sha256 != sha:
            now = datetime.now(UTC)
            await store.record_config(configs.FILE_VERSION, sha, now, str(self.config_path))

    async def downlink(self, downlink: DownlinkConfig, raw: bytes) -> None:
        """The hospital's config, whole or not at all; applied, kept and recorded."""
        async with self._reloading():
            try:
                new = self.in_force.with_downlink(downlink)
            except ConfigError as exc:
                self.refused = Refusal(downlink.version, exc.key or "config")
                self._events.error(
                    f"downlink config version {downlink.version} refused whole: {exc}"
                )
                return
            await self._apply(new)
            self.refused = None
            store = self._attached_store()
            await store.keep_downlink(raw)
            now = datetime.now(UTC)
            await store.record_config(str(downlink.version), configs.digest(raw), now, "downlink")
            message = f"applied downlink config version {downlink.version}"
            self._events.report(Event(EventKind.STATUS, now, message))

    async def reload(self) -> dict[str, Any]:
        """Read the config file again; a bad one is refused and the running one kept."""
        async with self._reloading():
            old = self.in_force
            try:
                file, laid, sha = await asyncio.to_thread(configs.load_file, self.config_path)
                layers = dataclasses.replace(
                    old.layers, file=file, assignments=laid, file_digest=sha
                )
                new = InForce.of(layers)
                setup.check(new.cfg, str(self.config_path))
            except ConfigError as exc:
                self._events.error(f"new configuration refused, keeping the old one: {exc}")
                raise OpError(str(exc)) from exc
            restart = [
                n for n in ("store", "uplink", "ble") if getattr(new.cfg, n) != getattr(old.cfg, n)
            ]
            restart += ["hub"] if new.cfg.hub != old.cfg.hub else []
            await self._apply(new)
            await self.record_file(self._attached_store())
            now = datetime.now(UTC)
            self._events.report(Event(EventKind.STATUS, now, "configuration reloaded"))
            return {
                "reloaded": True,
                "devices_changed": new.cfg.devices != old.cfg.devices,
                "restart_needed": restart,
            }

    async def reassign(self, new: assignments.Assignments) -> dict[str, Any]:
        """The technician's assignments changed (control socket): checked, kept, applied."""
        async with self._reloading():
            try:
                in_force = self.in_force.with_assignments(new)
            except ConfigError as exc:
                raise OpError(str(exc)) from exc
            path = self._data_dir / assignments.FILE_NAME
            await asyncio.to_thread(assignments.save, path, new)
            changed = in_force.cfg.devices != self.in_force.cfg.devices
            await self._apply(in_force)
            devices = [d.address for d in self.in_force.cfg.devices]
            return {"devices": devices, "devices_changed": changed}

    async def _apply(self, new: InForce) -> None:
        if self._target is None:
            raise OpError("the daemon is still starting")
        old, self.in_force = self.in_force, new
        await self._target.apply(old, new)

    def _attached_store(self) -> StoreOwner:
        if self._store is None:
            raise OpError("the daemon is still starting")
        return self._store

    @contextlib.asynccontextmanager
    async def _reloading(self) -> AsyncIterator[None]:
        monotonic_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._notifier.send(RELOADING="1", MONOTONIC_USEC=str(monotonic_us))
        try:
            yield
        finally:
            line = status_line(await self._status.status()) if self._status else "starting"
            self._notifier.send(READY="1", STATUS=line)
