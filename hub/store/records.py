"""What the hub keeps besides readings: its devices, its events, its config history and the
hospital's config in force.

Device details, event texts and the hospital's config are sealed like readings; config
history holds only a version, a hash, a time and where the config came from, in clear.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from hub.model import DeviceInfo, Event, EventKind, Level
from hub.store.api import ConfigRecord, DeviceRecord, Problem, ReadResult
from hub.store.crypto import AuthError
from hub.store.sealing import DEVICES, DOWNLINK, EVENTS, row_label
from hub.store.session import Session, from_ms, ms
from hub.store.values import CodecError, decode_value, encode_value


def record_device(
    session: Session, info: DeviceInfo, bond_state: str, last_seen: datetime | None, patient: str
) -> None:
    """Insert or replace what the hub knows about a device."""
    plaintext = encode_value({"info": dataclasses.asdict(info), "patient": patient})
    with session.transaction():
        session.conn.execute(
            "INSERT OR REPLACE INTO devices (address, bond_state, last_seen_ms, key_id, "
            "payload) VALUES (?, ?, ?, ?, ?)",
            (
                info.address,
                bond_state,
                None if last_seen is None else ms(last_seen),
                session.seals.active,
                session.seals.seal(DEVICES, info.address, "", "", plaintext),
            ),
        )


def devices(session: Session) -> ReadResult[DeviceRecord]:
    rows = session.conn.execute(
        "SELECT address, bond_state, last_seen_ms, key_id, payload FROM devices ORDER BY address"
    ).fetchall()
    items, problems = [], []
    for address, bond_state, last_seen_ms, key_id, payload in rows:
        try:
            body = decode_value(session.seals.open(DEVICES, address, "", "", key_id, payload))
            items.append(
                DeviceRecord(
                    info=DeviceInfo(**body["info"]),
                    bond_state=bond_state,
                    last_seen=None if last_seen_ms is None else from_ms(last_seen_ms),
                    patient=body["patient"],
                )
            )
        except (AuthError, CodecError, KeyError, TypeError) as exc:
            problems.append(Problem("devices", address, str(exc)))
    return ReadResult(tuple(items), tuple(problems))


def events(session: Session, since: datetime | None) -> ReadResult[Event]:
    """Events in time order: all, or those at or after `since` (by the time index)."""
    rows = session.conn.execute(
        "SELECT id, kind, key_id, payload FROM events WHERE time_ms >= ? ORDER BY time_ms, id",
        (-(2**63) if since is None else ms(since),),
    ).fetchall()
    items, problems = [], []
    for pk, kind, key_id, payload in rows:
        try:
            body = decode_value(session.seals.open(EVENTS, pk, "", kind, key_id, payload))
            items.append(
                Event(
                    kind=EventKind(kind),
                    time=body["time"],
                    message=body["message"],
                    device=body["device"],
                    level=Level(body["level"]) if body["level"] else None,
                    details=body["details"],
                )
            )
        except (AuthError, CodecError, KeyError, TypeError, ValueError) as exc:
            problems.append(Problem("events", row_label(pk), str(exc)))
    return ReadResult(tuple(items), tuple(problems))


def record_config(
    session: Session, version: str, sha256: str, applied: datetime, source: str
) -> None:
    with session.transaction():
        session.conn.execute(
            "INSERT INTO config_history (version, sha256, applied_ms, source) VALUES (?, ?, ?, ?)",
            (version, sha256, ms(applied), source),
        )


def config_history(session: Session) -> list[ConfigRecord]:
    rows = session.conn.execute(
        "SELECT version, sha256, applied_ms, source FROM config_history ORDER BY id"
    ).fetchall()
    return [ConfigRecord(v, h, from_ms(t), s or "") for v, h, t, s in rows]


_HOSPITAL = "hospital"  # the one row of `downlink_config`


def keep_downlink(session: Session, signed: bytes) -> None:
    """Keep the hospital's config in force, as it was signed, sealed with the data key."""
    with session.transaction():
        session.conn.execute(
            "INSERT OR REPLACE INTO downlink_config (name, key_id, payload) VALUES (?, ?, ?)",
            (
                _HOSPITAL,
                session.seals.active,
                session.seals.seal(DOWNLINK, _HOSPITAL, "", "", signed),
            ),
        )


def kept_downlink(session: Session) -> bytes | None:
    """The hospital's config kept last, or None (none yet, or its seal does not open: the
    caller then waits for the retained copy from the broker)."""
    row = session.conn.execute(
        "SELECT key_id, payload FROM downlink_config WHERE name = ?", (_HOSPITAL,)
    ).fetchone()
    if row is None:
        return None
    try:
        return session.seals.open(DOWNLINK, _HOSPITAL, "", "", row[0], row[1])
    except AuthError:
        return None
