"""Devices the technician assigned or unassigned through the control socket.

The configuration file belongs to the image and the technician's tools, so the daemon keeps
its own changes in a small JSON file in the state directory and lays them over the file's
`[[devices]]`: an assignment adds or replaces a device, an unassignment removes one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.config import Config, ConfigError, DeviceEntry, build
from hub.files import read_regular
from hub.keyfiles import write_atomic

FILE_NAME = "assignments.json"
MAX_ASSIGNED = 32  # a patient's home has a few devices; the file never grows past this


@dataclass(frozen=True)
class Assignments:
    assigned: tuple[DeviceEntry, ...] = ()
    unassigned: frozenset[str] = frozenset()

    def assign(self, entry: DeviceEntry) -> Assignments:
        kept = tuple(d for d in self.assigned if d.address != entry.address)
        if len(kept) >= MAX_ASSIGNED:
            raise ConfigError("control socket", "device", f"at most {MAX_ASSIGNED} devices")
        return Assignments((*kept, entry), self.unassigned - {entry.address})

    def unassign(self, address: str) -> Assignments:
        kept = tuple(d for d in self.assigned if d.address != address)
        return Assignments(kept, self.unassigned | {address})

    def apply(self, config: Config) -> Config:
        mine = {d.address for d in self.assigned}
        base = tuple(
            d for d in config.devices if d.address not in mine and d.address not in self.unassigned
        )
        return dataclasses.replace(config, devices=base + self.assigned)


def entry(raw: Mapping[str, Any], source: str = "control socket") -> DeviceEntry:
    """A device entry validated as the config file's `[[devices]]` are (ConfigError if bad):
    `address` and `kind`, optionally `name`, `transport` and `port`; nothing else."""
    built: DeviceEntry = build(DeviceEntry, dict(raw), source, "device")
    return built


def load(path: Path) -> Assignments:
    try:
        body = json.loads(read_regular(path).decode("utf-8"))
    except FileNotFoundError:
        return Assignments()
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), "", f"unreadable ({exc})") from exc
    if not isinstance(body, dict):
        raise ConfigError(str(path), "", "expected a JSON object")
    assigned = tuple(entry(d, str(path)) for d in body.get("assigned", []) if isinstance(d, dict))
    return Assignments(assigned, frozenset(str(a) for a in body.get("unassigned", [])))


def save(path: Path, assignments: Assignments) -> None:
    body = {
        "assigned": [dataclasses.asdict(d) for d in assignments.assigned],
        "unassigned": sorted(assignments.unassigned),
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(body, indent=1) + "\n").encode(), 0o600)
