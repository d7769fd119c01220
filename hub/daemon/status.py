"""The hub's health as one JSON object: the control socket's `status` op (and so the patient
screen and the technician's UI) shows it whole; the retained `.../status` message carries its
`public_status`, without triage state (`attention`, alert events), since the broker operator
can read the status topic. Neither holds a health value."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from hub.config import DeviceEntry
from hub.daemon.configs import Refusal
from hub.model import Event, EventKind, Level
from hub.sdnotify import Notifier
from hub.store import DeviceRecord, StoreStatus

if TYPE_CHECKING:
    from hub.uplink.client import Uplink

# Events whose kind and time (never their text) go into the status.
_REPORTED = frozenset(
    {EventKind.ERROR, EventKind.MEASUREMENT_DUE, EventKind.MEASUREMENT_MISSED, EventKind.ALERT}
)


@dataclass(frozen=True)
class StatusInputs:
    hub: str
    version: str
    uptime_s: float
    configured: tuple[DeviceEntry, ...]
    states: dict[str, str]
    records: tuple[DeviceRecord, ...]
    store: StoreStatus
    uplink: Uplink | None
    clock_synced: bool
    errors: tuple[str, ...]
    recent: tuple[Event, ...]
    patient_level: Level | None
    config_version: int | None  # the hospital's config in force; None: the file's only
    config_refused: Refusal | None
    schedule_items: int
    schedule_checked: datetime | None
    provisioned: bool  # the hub has an identity (certificates for its uplink)
    uplink_wanted: bool  # `[uplink] enabled`: without an identity the hub is not provisioned
    time: datetime  # when the status was made (the fleet view tells silent hubs by it)


def build_status(s: StatusInputs) -> dict[str, Any]:
    known = {r.info.address: r for r in s.records}
    devices = []
    for entry in s.configured:
        record = known.get(entry.address)
        devices.append(
            {
                "address": entry.address,
                "kind": entry.kind,
                "name": entry.name,
                "state": s.states.get(entry.address, "unknown"),
                "battery": record.info.battery if record else None,
                "last_seen": record.last_seen.isoformat() if record and record.last_seen else None,
            }
        )
    uplink: dict[str, Any] = {"enabled": s.uplink is not None, "provisioned": s.provisioned}
    if s.uplink is not None:
        stats = s.uplink.stats
        uplink.update(
            problem=s.uplink.problem.value,
            batches_sent=stats.batches_sent,
            acked_batches=stats.acked_batches,
            acked_readings=stats.acked_readings,
            last_ack=s.uplink.last_ack,
        )
    return {
        "state": "not-provisioned" if s.uplink_wanted and not s.provisioned else "online",
        "hub": s.hub,
        "time": s.time.isoformat(),
        "version": s.version,
        "uptime_s": round(s.uptime_s, 1),
        "devices": devices,
        "queue_depth": s.store.queue_depth,
        "disk": {
            "free_bytes": s.store.free_bytes,
            "low": s.store.disk_low,
            "full": s.store.disk_full,
            "raw_shed": s.store.shed,
        },
        "clock_synced": s.clock_synced,
        "uplink": uplink,
        "errors": [*s.errors, *_store_errors(s.store)],
        "events": [
            {"kind": e.kind.value, "time": e.time.isoformat(), "device": e.device}
            for e in s.recent
            if e.kind in _REPORTED
        ],
        "attention": s.patient_level is Level.RED,
        "config": {
            "version": s.config_version,
            "refused": None
            if s.config_refused is None
            else {"version": s.config_refused.version, "key": s.config_refused.key},
        },
        "schedule": {
            "items": s.schedule_items,
            "last_check": s.schedule_checked.isoformat() if s.schedule_checked else None,
        },
        # A damaged database the store replaced: counts only, for the hospital's fleet view.
        "store_damage": None if s.store.damage is None else dataclasses.asdict(s.store.damage),
        "retention": {
            "last_purge": s.store.last_purge,
            "purged_readings": s.store.last_purge_rows,
            "purged_events": s.store.last_purge_events,
        },
    }


# What the retained status topic must not carry: triage state reaches the hospital only
# inside the encrypted batches.
_TRIAGE_KEYS = ("attention",)
_TRIAGE_EVENTS = frozenset({EventKind.ALERT.value})


def public_status(status: dict[str, Any]) -> dict[str, Any]:
    """The status as the retained topic carries it: no triage state."""
    public = {k: v for k, v in status.items() if k not in _TRIAGE_KEYS}
    public["events"] = [e for e in status["events"] if e["kind"] not in _TRIAGE_EVENTS]
    return public


def _store_errors(store: StoreStatus) -> list[str]:
    """What the fleet view must show about the store: counts of readings, nothing else."""
    errors = []
    damage = store.damage
    if damage is not None:
        exact = damage.lost == damage.lost_at_most
        lost = f"{damage.lost}" if exact else f"{damage.lost} to {damage.lost_at_most}"
        errors.append(f"store damaged at {damage.at}: {damage.salvaged} salvaged, {lost} lost")
    if store.unreadable:
        errors.append(f"{store.unreadable} stored readings failed authentication (kept aside)")
    return errors


class StatusSource(Protocol):
    async def status(self) -> dict[str, Any]: ...


class Heartbeat:
    """Every `status_interval_s`: the status retained on the status topic (when the uplink
    runs) and systemd's STATUS= line."""

    def __init__(
        self,
        source: StatusSource,
        uplink: Uplink | None,
        notifier: Notifier,
        interval_s: float,
    ) -> None:
        self._source = source
        self._uplink = uplink
        self._notifier = notifier
        self.interval_s = interval_s

    async def run_once(self) -> None:
        status = await self._source.status()
        if self._uplink is not None:
            public = json.dumps(public_status(status), separators=(",", ":"))
            self._uplink.publish_status(public.encode())
        self._notifier.send(STATUS=status_line(status))


def status_line(status: dict[str, Any]) -> str:
    """systemd's STATUS= line: no health value, as the status itself."""
    uplink = status["uplink"].get("problem", "off") if status["uplink"]["enabled"] else "off"
    return f"{len(status['devices'])} devices, queue {status['queue_depth']}, uplink {uplink}"
