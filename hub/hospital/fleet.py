"""`hub hospital fleet`: every enrolled hub's retained status, as a table or JSON.

The status a hub publishes (retained, `dho/v1/hubs/<hub>/status`, `hub.daemon.status`)
carries no health value; its `time` (ISO 8601 with offset) says when it was published, and
`config.version` which downlink config is in force. A hub whose latest status is older than
`silent_after`, whose last will says it went offline, or that never published one, is
marked silent. `rows` is pure; `collect` reads the broker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from hub.hospital.layout import HospitalDir
from hub.hospital.mqtt import Endpoint, retained
from hub.model import aware_time
from hub.wire import topics


@dataclass(frozen=True)
class Row:
    hub: str
    state: str  # online, silent, offline, never-seen, revoked
    last_seen: str | None
    silent_s: float | None
    version: str | None
    config_version: int | None
    devices: str  # "kind battery%" per device, or "-"
    queue_depth: int | None
    clock_synced: bool | None
    problems: str


def rows(
    statuses: Mapping[str, bytes],
    enrolled: Iterable[str],
    revoked: Iterable[str],
    now: datetime,
    silent_after_s: float,
) -> list[Row]:
    """One row per hub that is enrolled, revoked or has a status; statuses by topic."""
    by_hub: dict[str, dict[str, Any]] = {}
    for topic, payload in statuses.items():
        hub = topics.hub_of(topic)
        if hub is not None and topic == topics.status(hub):
            by_hub[hub] = _parse(payload)
    gone = set(revoked)
    return [_row(hub, by_hub.get(hub), hub in gone, now, silent_after_s)
            for hub in sorted({*enrolled, *gone, *by_hub})]  # fmt: skip


def _parse(payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except ValueError:
        return {"state": "unreadable"}
    return body if isinstance(body, dict) else {"state": "unreadable"}


def _row(hub: str, body: dict[str, Any] | None, revoked: bool, now: datetime,
         silent_after_s: float) -> Row:  # fmt: skip
    body = body or {}
    seen = aware_time(body.get("time"))
    silent_s = (now - seen).total_seconds() if seen else None
    if revoked:
        state = "revoked"
    elif not body:
        state = "never-seen"
    elif body.get("state") == "offline":
        state = "offline"
    elif silent_s is None or silent_s > silent_after_s:
        state = "silent"
    else:
        state = "online"
    devices = [
        f"{d.get('kind', '?')} {d['battery']}%" if isinstance(d.get("battery"), int)
        else str(d.get("kind", "?"))
        for d in _typed(body, "devices", list, []) if isinstance(d, dict)
    ]  # fmt: skip
    uplink = _typed(body, "uplink", dict, {})
    problems = [str(e) for e in _typed(body, "errors", list, [])]
    if uplink.get("problem") not in (None, "", "none"):
        problems.insert(0, f"uplink: {uplink['problem']}")
    config = _typed(body, "config", dict, {})
    refused = _typed(config, "refused", dict, None)
    if refused is not None:
        problems.append(f"config {refused.get('version')} refused at {refused.get('key')}")
    if body and seen is None and state != "offline":
        problems.append("status carries no time")
    return Row(
        hub=hub,
        state=state,
        last_seen=seen.isoformat() if seen else None,
        silent_s=round(silent_s, 1) if silent_s is not None else None,
        version=_typed(body, "version", str, None),
        config_version=_typed(config, "version", int, None),
        devices=", ".join(devices) or "-",
        queue_depth=_typed(body, "queue_depth", int, None),
        clock_synced=_typed(body, "clock_synced", bool, None),
        problems="; ".join(problems),
    )


def _typed(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    """A field of the status, or `default` when a hub sent it of another type."""
    value = body.get(name)
    return value if type(value) is kind else default


def table(found: list[Row]) -> str:
    head = ("hub", "state", "last seen", "version", "config", "devices", "queue", "clock",
            "problems")  # fmt: skip
    lines = [head]
    for r in found:
        lines.append((r.hub, r.state, r.last_seen or "-", r.version or "-",
                      "-" if r.config_version is None else str(r.config_version), r.devices,
                      "-" if r.queue_depth is None else str(r.queue_depth),
                      {True: "synced", False: "NOT SYNCED", None: "-"}[r.clock_synced],
                      r.problems or "-"))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)  # fmt: skip


def as_json(found: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in found]


def collect(place: HospitalDir, now: datetime, silent_after_s: float,
            endpoint: Endpoint | None = None) -> list[Row]:  # fmt: skip
    statuses = retained(endpoint or Endpoint.ops(place), f"{topics.ROOT}/+/status")
    enrolled = [p.stem for p in place.enrollment.glob("*.pub")]
    revoked = [p.stem for p in place.enrollment.glob("*.revoked")]
    return rows(statuses, enrolled, revoked, now, silent_after_s)
