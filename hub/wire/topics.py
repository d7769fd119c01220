"""MQTT topic names of the hub ↔ hospital contract (version 1)."""

from __future__ import annotations

ROOT = "dho/v1/hubs"
SHARE_GROUP = "receivers"


def up(hub: str) -> str:
    """Batches from the hub (QoS 1)."""
    return f"{ROOT}/{hub}/up"


def ack(hub: str) -> str:
    """The hospital's acknowledgements and refusals of the hub's batches."""
    return f"{ROOT}/{hub}/ack"


def status(hub: str) -> str:
    """Retained health of the hub; the last will says "offline"."""
    return f"{ROOT}/{hub}/status"


def config(hub: str) -> str:
    """Retained, signed configuration from the hospital."""
    return f"{ROOT}/{hub}/config"


def shared_up() -> str:
    """What receivers subscribe to, so several instances split the load."""
    return f"$share/{SHARE_GROUP}/{ROOT}/+/up"


def hub_of(topic: str) -> str | None:
    """The hub id in `dho/v1/hubs/<hub>/<leaf>`, or None for any other topic."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    return parts[0] if len(parts) == 2 and parts[0] else None
