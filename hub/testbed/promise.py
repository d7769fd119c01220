"""What the demo promises, counted for the demo and the pulled-plug tests: every reading the
hub measured is at the receiver once.

Two independent views. By id: the readings the hub took on (`measured`) against the reading
ids the receiver stored. By content: every record in the devices' memories (cuff and scale)
against the receiver's Observations with that code and device time — a record stored twice
under two ids would show here, since the receiver de-duplicates only by id.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.config import load
from hub.model import Code
from hub.receiver.db import ReceiverDb
from hub.store.admin import open_store
from hub.testbed.patient import CUFF, MEASUREMENT, SCALE, Flash, record_time

SPOT_CODE = {CUFF: Code.BP_PANEL.value, SCALE: Code.BODY_WEIGHT.value}


def receiver_view(db_path: Path) -> tuple[set[str], collections.Counter[tuple[str, str]]]:
    """`bundle_view` of everything the receiver stored."""
    if not db_path.exists():
        return set(), collections.Counter()
    db = ReceiverDb(db_path)
    try:
        return bundle_view(db.export_bundle())
    finally:
        db.close()


def bundle_view(bundle: Mapping[str, Any]) -> tuple[set[str], collections.Counter[tuple[str, str]]]:
    """Reading ids of a Bundle's Observations, and for each (LOINC, device time) how many
    reading ids carry it (Observations of a period — summaries, stream blocks — have none)."""
    ids: set[str] = set()
    by_content: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource.get("resourceType") != "Observation":
            continue
        _hub, reading_id, code = resource["identifier"][0]["value"].rsplit("/", 2)
        ids.add(reading_id)
        if "effectiveDateTime" in resource:
            when = datetime.fromisoformat(resource["effectiveDateTime"]).replace(tzinfo=None)
            by_content[(code, when.isoformat())].add(reading_id)
    return ids, collections.Counter({k: len(v) for k, v in by_content.items()})


def device_records(flash: Mapping[str, Flash]) -> list[tuple[str, str]]:
    """(LOINC, device time) of every record in the devices' memories."""
    out = []
    for address, memory in flash.items():
        for _seq, frame in memory.records:
            when = record_time(MEASUREMENT[address], frame)
            if when is not None:
                out.append((SPOT_CODE[address], when.isoformat()))
    return out


def hub_store_ids(config_path: Path) -> tuple[set[str], set[str]]:
    """Reading ids in the hub's store, and those the hospital acknowledged: read after the
    daemon stopped, through the store as the configuration opens it."""
    with open_store(load(config_path)) as store:
        return store.reading_ids(), store.reading_ids(acknowledged=True)


def promise(
    measured: Iterable[str],
    stored_ids: Iterable[str],
    acked_ids: Iterable[str],
    flash: Mapping[str, Flash],
    receiver_db: Path,
) -> dict[str, Any]:
    measured_ids = set(measured)
    received, by_content = receiver_view(receiver_db)
    records = device_records(flash)
    copies = [by_content.get(key, 0) for key in records]
    acked = set(acked_ids)
    return {
        "measured": len(measured_ids),
        "stored": len(measured_ids & set(stored_ids)),
        "delivered": len(measured_ids & received),
        "acked": len(acked & measured_ids),
        "lost": len(measured_ids - received),
        "duplicates": sum(c - 1 for c in copies if c > 1),
        "device_records": len(records),
        "device_records_missing": sum(1 for c in copies if c == 0),
        "acked_not_at_receiver": len(acked - received),
    }
