"""A child process for the crash and rotation tests: writes readings to a store for ever,
group-committing 20 at a time, and reports every committed id on stdout, one per line, in a
single write per group (atomic on a pipe) only after `flush` returned."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from hub.ids import ReadingIds
from hub.model import Code, Kind, Observation, Reading
from hub.store import KeySource, Store, StoreOptions


def main(db: str, key: str) -> None:
    store = Store.open(Path(db), KeySource(Path(key)), StoreOptions(disk_floor_mb=0))
    ids = ReadingIds()
    n = 0
    while True:
        group = []
        for _ in range(20):
            n += 1
            kind = Kind.HEART_RATE if n % 4 else Kind.BLOOD_PRESSURE
            group.append(
                Reading(
                    ids.new(),
                    "C0:11:22:33:44:57" if kind is Kind.HEART_RATE else "C0:11:22:33:44:55",
                    kind,
                    None,
                    datetime.now(UTC),
                    (Observation(Code.HEART_RATE, 60.0 + n % 30, "/min"),),
                    details={"rr_s": (0.8, 0.82), "n": n},
                )
            )
        store.add(group)
        committed = store.flush()
        os.write(1, "".join(f"{i}\n" for i in committed).encode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
