"""How the uplink reads the outbox: a real store, no broker (`_take` is what `_pump` calls
for a new batch once there is room in the window)."""

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from mqtt_support import fill_store, open_store, readings

from hub.store import Store
from hub.uplink.client import Uplink, UplinkKeys, UplinkSettings


class CountingOutbox:
    """The store, counting `queue_depth` calls (each one scans the readings table)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.depth_calls = 0
        self.next_batch = store.next_batch
        self.unacked_batches = store.unacked_batches
        self.acknowledge = store.acknowledge

    def queue_depth(self) -> int:
        self.depth_calls += 1
        return self.store.queue_depth()


def test_a_known_full_batch_is_taken_without_counting_the_table_again(tmp_path: Path) -> None:
    fill_store(tmp_path / "hub", readings(1100))
    store = open_store(tmp_path / "hub")
    outbox = CountingOutbox(store)
    settings = UplinkSettings(hub="hub-a", host="127.0.0.1", port=1, ca=tmp_path / "ca.crt",
                              cert=None, key=None, batch_max=500, batch_seconds=0.5)  # fmt: skip
    signing = Ed25519PrivateKey.generate()
    keys = UplinkKeys(signing, X25519PrivateKey.generate().public_key(), signing.public_key())
    uplink = Uplink(settings, outbox, keys)
    try:
        sizes = []
        for now in (10.0, 11.0, 12.0, 13.0):
            batch = uplink._take(now)
            sizes.append(batch.count if batch else 0)
            if batch:
                store.acknowledge(batch.id)
        assert sizes == [500, 500, 100, 0]
        # Counted for the first batch; the second was known to be waiting (600 left); counted
        # again once fewer than a batch were left, and once more to find the outbox empty.
        assert outbox.depth_calls == 3
    finally:
        store.close()
