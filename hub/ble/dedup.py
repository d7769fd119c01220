"""Stable ids for records a device sends again (after a dropped link, or a full RACP report).

A record is the same record when the device gives it the same device time and sequence number
(and the same values): it keeps the id it got the first time, so the store and the hospital see
one reading however often the device repeats it. Records with neither a device time nor a
sequence number (live streams) cannot be told apart from a new identical one and always get a
new id."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from hub.model import Measurement


def record_key(measurement: Measurement) -> Hashable | None:
    sequence = measurement.details.get("sequence")
    if measurement.device_time is None and sequence is None:
        return None
    return (measurement.kind, measurement.device_time, sequence, measurement.observations)


class RecordIds:
    """Per-device memory of recent record keys → reading ids (bounded, oldest forgotten)."""

    def __init__(self, new_id: Callable[[], str], capacity: int = 4096) -> None:
        self._new_id = new_id
        self._capacity = capacity
        self._ids: OrderedDict[Hashable, str] = OrderedDict()

    def id_for(self, measurement: Measurement) -> tuple[str, bool]:
        """The reading id for `measurement`, and whether it was seen before."""
        key = record_key(measurement)
        if key is None:
            return self._new_id(), False
        known = self._ids.get(key)
        if known is not None:
            self._ids.move_to_end(key)
            return known, True
        new = self._new_id()
        self._ids[key] = new
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return new, False
