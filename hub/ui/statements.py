"""What the patient's screen says: the daemon's status JSON → a short list of plain statements.

Pure: the status (or why it could not be had) and the time in, `Statement`s out; the words
are chosen later from the catalogues (`texts`). The status carries no health value, and
nothing here adds clinical interpretation: the hospital's `attention` flag becomes "please
contact the clinic", nothing more. Any odd or malformed status is read field by field; a
field of the wrong shape counts as absent, never as an error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from hub.model import aware_time


class Severity(enum.IntEnum):
    """How much a statement matters; the screen lists the worst first."""

    OK = 0
    INFO = 1
    WARN = 2
    PROBLEM = 3


class Say(enum.StrEnum):
    ALL_WELL = "all-well"
    NOT_SET_UP = "not-set-up"
    HUB_NOT_RUNNING = "hub-not-running"
    NO_ACCESS = "no-access"
    NO_ANSWER = "no-answer"
    UNREADABLE = "unreadable"
    CONTACT_CLINIC = "contact-clinic"
    NEEDS_SERVICE = "needs-service"
    DELIVERY_REFUSED = "delivery-refused"
    NO_CONNECTION = "no-connection"  # since `since`; `since` None: never connected yet
    MEASUREMENT_DUE = "measurement-due"  # `device_kind` set: measure again with that device
    MEASUREMENT_MISSED = "measurement-missed"
    BATTERY_LOW = "battery-low"


SEVERITY: Final[dict[Say, Severity]] = {
    Say.ALL_WELL: Severity.OK,
    Say.NOT_SET_UP: Severity.INFO,
    Say.HUB_NOT_RUNNING: Severity.PROBLEM,
    Say.NO_ACCESS: Severity.PROBLEM,
    Say.NO_ANSWER: Severity.PROBLEM,
    Say.UNREADABLE: Severity.PROBLEM,
    Say.CONTACT_CLINIC: Severity.PROBLEM,
    Say.NEEDS_SERVICE: Severity.PROBLEM,
    Say.DELIVERY_REFUSED: Severity.PROBLEM,
    Say.NO_CONNECTION: Severity.WARN,
    Say.MEASUREMENT_DUE: Severity.INFO,
    Say.MEASUREMENT_MISSED: Severity.WARN,
    Say.BATTERY_LOW: Severity.WARN,
}


class Unreachable(enum.Enum):
    """Why there is no status: the client's failure, as the screen explains it."""

    NOT_RUNNING = Say.HUB_NOT_RUNNING
    NO_ACCESS = Say.NO_ACCESS
    NO_ANSWER = Say.NO_ANSWER


@dataclass(frozen=True)
class Statement:
    says: Say
    device_kind: str | None = None
    since: datetime | None = None

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.says]


BATTERY_LOW_PERCENT: Final = 20
DUE_FRESH: Final = timedelta(hours=4)  # a due slot older than this is the schedule's business
MISSED_FRESH: Final = timedelta(hours=12)
_NOT_SET_UP_STATES: Final = frozenset({"not-provisioned", "provisioning"})
_NEEDS_A_PERSON: Final = frozenset({"auth", "not-authorized", "refused"})


def statements(status: object, now: datetime) -> list[Statement]:
    """The statements for `status` (the daemon's status dict, or `Unreachable`) at `now`
    (timezone-aware), worst first; "all is well" when there is nothing to say."""
    if isinstance(status, Unreachable):
        return [Statement(status.value)]
    if not isinstance(status, Mapping):
        return [Statement(Say.UNREADABLE)]
    devices = [d for d in _list(status, "devices") if isinstance(d, Mapping)]
    if _str(status, "state") in _NOT_SET_UP_STATES or not devices:
        return [Statement(Say.NOT_SET_UP)]
    found: list[Statement] = []
    if status.get("attention") is True:
        found.append(Statement(Say.CONTACT_CLINIC))
    if _map(status, "disk").get("full") is True:
        found.append(Statement(Say.NEEDS_SERVICE))
    found += _uplink(_map(status, "uplink"))
    found += _schedule(_list(status, "events"), devices, now)
    for device in devices:
        battery = device.get("battery")
        if _is_number(battery) and battery <= BATTERY_LOW_PERCENT:
            found.append(Statement(Say.BATTERY_LOW, device_kind=_str(device, "kind")))
    found.sort(key=lambda s: s.severity, reverse=True)
    return found or [Statement(Say.ALL_WELL)]


def _uplink(uplink: Mapping[str, Any]) -> list[Statement]:
    if uplink.get("enabled") is not True:
        return []
    problem = _str(uplink, "problem")
    if problem in _NEEDS_A_PERSON:
        return [Statement(Say.DELIVERY_REFUSED)]
    if problem == "outage":
        return [Statement(Say.NO_CONNECTION, since=aware_time(uplink.get("last_ack")))]
    return []


def _schedule(
    events: list[Any], devices: list[Mapping[str, Any]], now: datetime
) -> list[Statement]:
    """The newest due or missed event, if it is recent and no device delivered since."""
    seen = [t for d in devices if (t := aware_time(d.get("last_seen"))) is not None]
    newest: tuple[datetime, str, Mapping[str, Any]] | None = None
    for event in events:
        if not isinstance(event, Mapping):
            continue
        kind, at = _str(event, "kind"), aware_time(event.get("time"))
        if kind not in ("measurement-due", "measurement-missed") or at is None or at > now:
            continue
        if newest is None or at >= newest[0]:
            newest = (at, kind, event)
    if newest is None:
        return []
    at, kind, event = newest
    if any(t >= at for t in seen):
        return []
    if kind == "measurement-missed":
        return [Statement(Say.MEASUREMENT_MISSED, since=at)] if now - at <= MISSED_FRESH else []
    if now - at > DUE_FRESH:
        return []
    address = _str(event, "device")
    kinds = {_str(d, "address"): _str(d, "kind") for d in devices}
    device_kind = kinds.get(address) if address else None
    return [Statement(Say.MEASUREMENT_DUE, device_kind=device_kind, since=at)]


def _map(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    return value if isinstance(value, list) else []


def _str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
