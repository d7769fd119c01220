"""One identity per reading, end to end: the id a record gets where its bytes are decoded is
the id the hospital's receiver stores, over the real uplink, broker and receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from waiting import until

from hub.model import Reading
from hub.testbed.hub_side import DemoHub
from hub.testbed.intake import RECORD_KINDS, IntakeCounter
from hub.testbed.patient import Script
from hub.testbed.promise import receiver_view
from hub.testbed.world import World


class DecodedIds(IntakeCounter):
    """Also keeps every id a device record had when the daemon's intake first saw it."""

    def __init__(self) -> None:
        super().__init__()
        self.decoded: dict[str, set[str]] = {address: set() for address in RECORD_KINDS}

    def received(self, reading: Reading) -> None:
        super().received(reading)
        if RECORD_KINDS.get(reading.device) is reading.kind:
            self.decoded[reading.device].add(reading.id)


@pytest.mark.slow
def test_the_id_given_at_decoding_is_the_id_the_receiver_stores(tmp_path: Path) -> None:
    world = World.create(tmp_path / "w")
    world.start()
    script = Script(cuff_every_s=1.0, scale_every_s=1.5, deteriorate_after_s=3600)
    try:
        hub = DemoHub(world.config_path, world.work / "devices", script)
        hub.intake = counter = DecodedIds()

        async def scenario() -> None:
            async with hub:
                await until(
                    lambda: all(len(ids) >= 2 for ids in counter.decoded.values()),
                    "records from the cuff and the scale",
                )
                assert await hub.drain(120.0)  # every record the devices hold, acknowledged

        asyncio.run(scenario())
    finally:
        world.stop()
    stored, _by_content = receiver_view(world.receiver_db)
    decoded = set().union(*counter.decoded.values())
    assert all(counter.decoded.values())  # records from the cuff and from the scale
    assert decoded <= stored  # the same ids, unchanged on the way
    taken = set().union(*counter.records.values())
    assert taken == decoded  # the daemon never re-labelled a record
