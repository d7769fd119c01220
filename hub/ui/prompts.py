"""Which spoken prompts are new: each occurrence is spoken once, never at every poll.

An occurrence is a key taken from the status and its statements: a due measurement (by the
time it became due), the hospital connection being lost (for as long as it stays lost), a
device delivering (by its `last_seen` time, the status's only sign that a measurement came
in: it has no reading and no value). A prompt is spoken when its occurrence first appears.
At start-up the devices' current `last_seen` times are the baseline, not news. Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from hub.ui.statements import Say, Statement


class Prompt(enum.StrEnum):
    MEASUREMENT_DUE = "measurement-due"
    MEASUREMENT_RECEIVED = "measurement-received"
    CONNECTION_LOST = "connection-lost"


Occurrences = frozenset[tuple[Prompt, str]]


def occurrences(status: object, said: Iterable[Statement]) -> Occurrences:
    """The prompt-worthy occurrences in `status` (as the daemon sent it) and its statements."""
    found: set[tuple[Prompt, str]] = set()
    for statement in said:
        if statement.says is Say.MEASUREMENT_DUE:
            since = statement.since.isoformat() if statement.since else ""
            found.add((Prompt.MEASUREMENT_DUE, f"{statement.device_kind}@{since}"))
        elif statement.says is Say.NO_CONNECTION:
            found.add((Prompt.CONNECTION_LOST, ""))
    devices = status.get("devices") if isinstance(status, Mapping) else None
    for device in devices if isinstance(devices, list) else []:
        if isinstance(device, Mapping):
            seen: Any = device.get("last_seen")
            if isinstance(seen, str):
                found.add((Prompt.MEASUREMENT_RECEIVED, f"{device.get('address')}@{seen}"))
    return frozenset(found)


def new_prompts(before: Occurrences | None, after: Occurrences) -> list[Prompt]:
    """The prompts to speak going from `before` (None: the screen just started) to `after`,
    each kind once, in a fixed order."""
    known = before if before is not None else {o for o in after if o[0] is _BASELINE}
    fresh = {kind for kind, _ in after - known}
    return [p for p in Prompt if p in fresh]


_BASELINE = Prompt.MEASUREMENT_RECEIVED
