"""The hub's health as one JSON object: the retained `.../status` message, the control
socket's `status` op and the patient screen all show this. No health values: the broker
operator can read the status topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.config import DeviceEntry
from hub.model import Event, EventKind, Level
from hub.store import StoreStatus
from hub.store.store import DeviceRecord

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
    uplink: dict[str, Any] = {"enabled": s.uplink is not None}
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
        "state": "online",
        "hub": s.hub,
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
        "errors": list(s.errors),
        "events": [
            {"kind": e.kind.value, "time": e.time.isoformat(), "device": e.device}
            for e in s.recent
            if e.kind in _REPORTED
        ],
        "attention": s.patient_level is Level.RED,
    }
