"""The per-device connection state machine (pure): which state may follow which."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class DeviceState(enum.StrEnum):
    WAITING = "waiting"  # assigned, waiting for it to advertise
    CONNECTING = "connecting"
    PAIRING = "pairing"
    CONNECTED = "connected"  # subscribed, receiving
    DOWNLOADING = "downloading"  # fetching stored records (RACP)
    BACKOFF = "backoff"  # waiting before the next attempt
    STOPPED = "stopped"


_S = DeviceState
TRANSITIONS: Mapping[DeviceState, frozenset[DeviceState]] = MappingProxyType(
    {
        _S.WAITING: frozenset({_S.CONNECTING, _S.BACKOFF, _S.STOPPED}),
        _S.CONNECTING: frozenset({_S.PAIRING, _S.CONNECTED, _S.BACKOFF, _S.WAITING, _S.STOPPED}),
        _S.PAIRING: frozenset({_S.CONNECTED, _S.BACKOFF, _S.WAITING, _S.STOPPED}),
        _S.CONNECTED: frozenset({_S.PAIRING, _S.DOWNLOADING, _S.BACKOFF, _S.WAITING, _S.STOPPED}),
        _S.DOWNLOADING: frozenset({_S.CONNECTED, _S.BACKOFF, _S.WAITING, _S.STOPPED}),
        _S.BACKOFF: frozenset({_S.WAITING, _S.STOPPED}),
        _S.STOPPED: frozenset(),
    }
)


class TransitionError(RuntimeError):
    """A state change the machine does not allow: a bug in the manager, never bad input."""


def advance(current: DeviceState, new: DeviceState) -> DeviceState:
    if new is current:
        return current
    if new not in TRANSITIONS[current]:
        raise TransitionError(f"{current} -> {new} is not a valid device state change")
    return new
