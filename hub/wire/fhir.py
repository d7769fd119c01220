"""Readings as FHIR R4 Observations, the way the HL7 Personal Health Device guide maps a gateway.

A batch is a `transaction` Bundle of conditional creates (`ifNoneExist` on the Observation
identifier), so a FHIR server given the same batch twice stores it once — the same rule the
receiver applies. Per reading:

* `identifier`: system `urn:dho:reading`, value `<hub>/<reading id>/<LOINC>`; one reading may
  give several Observations (a blood-pressure reading gives the 85354-9 panel with systolic,
  diastolic and mean as components, and a separate pulse-rate Observation).
* `effectiveDateTime`: the device's clock when it sent one, else the hub's receive time; the
  receive time and the clock-sync state are kept in extensions alongside.
* `device`: a Device resource per device in the batch (Bluetooth address, manufacturer,
  model, serial, firmware), referred to by its `urn:uuid` fullUrl.
* `subject`: the pseudonymous patient id as a logical identifier reference.
* `interpretation`: the triage colour, read from `reading.details["level"]` (a `hub.model.Level`
  or its string), as the hub's triage code plus the matching HL7 v3 interpretation.
* a missing value (`Observation.special`) becomes `dataAbsentReason`; `Reading.flags` become
  `device-status` extensions.

Clock-sync state comes from `reading.details["clock_sync"]` when the device layer knows it
("synced" / "unsynced"), "no-device-clock" when the device sent no time, else "unknown".
Dicts are built directly (no model library at run time): this runs once per reading.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timezone, tzinfo
from typing import Any

from hub.model import CODES, Code, DeviceInfo, Kind, Level, Observation, Reading

READING_SYSTEM = "urn:dho:reading"
BATCH_SYSTEM = "urn:dho:batch"
PATIENT_SYSTEM = "urn:dho:patient"
BLUETOOTH_SYSTEM = "http://hl7.org/fhir/sid/eui-48/bluetooth"
LOCAL_DEVICE_SYSTEM = "urn:dho:device"  # devices without a Bluetooth address (USB serial)
_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
EXT = "http://dho.example.org/fhir/StructureDefinition/"
EXT_RECEIVED = EXT + "hub-received-time"
EXT_CLOCK = EXT + "clock-sync"
EXT_STATUS = EXT + "device-status"
TRIAGE_SYSTEM = "http://dho.example.org/fhir/CodeSystem/triage"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
DEVICE_ID_TYPE = "http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers"
_DEVICE_NS = uuid.UUID("5d1c8a52-6a0e-4f4e-9a3e-0c3f2b7d9e11")

_CATEGORY_ITEMS = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs",
            }
        ]
    }
]
_CATEGORY = json.dumps(_CATEGORY_ITEMS, separators=(",", ":"))
_CODE = {
    code: json.dumps(
        {"coding": [{"system": "http://loinc.org", "code": code.value, "display": info.display}]},
        separators=(",", ":"),
    )
    for code, info in CODES.items()
}
_LOINC = {code: code.value for code in Code}  # plain str: Enum.value is a slow descriptor
_UNITS = {info.unit: json.dumps(info.unit) for info in CODES.values()}
_CLOCK_EXTENSIONS = {
    clock: f'{{"url":"{EXT_CLOCK}","valueCode":"{clock}"}}'
    for clock in ("synced", "unsynced", "no-device-clock", "unknown")
}
_ABSENT = {
    special: f'"dataAbsentReason":{{"coding":[{{"system":"{ABSENT_SYSTEM}","code":"{reason}"}}]}}'
    for special, reason in {
        "nan": "not-a-number",
        "nres": "error",
        "+inf": "positive-infinity",
        "-inf": "negative-infinity",
        "reserved": "unknown",
    }.items()
}
_INTERPRETATION = {
    level.value: ',"interpretation":'
    + json.dumps(
        [
            {
                "coding": [
                    {"system": TRIAGE_SYSTEM, "code": level.value},
                    {"system": V3_INTERPRETATION, "code": v3, "display": display},
                ]
            }
        ],
        separators=(",", ":"),
    )
    for level, v3, display in (
        (Level.GREEN, "N", "Normal"),
        (Level.YELLOW, "A", "Abnormal"),
        (Level.RED, "AA", "Critical abnormal"),
    )
}
_BP_COMPONENTS = (Code.SYSTOLIC, Code.DIASTOLIC, Code.MEAN_ARTERIAL)


def device_url(hub: str, address: str) -> str:
    """Stable fullUrl of a device's Device resource within any of this hub's Bundles."""
    return f"urn:uuid:{uuid.uuid5(_DEVICE_NS, hub + '/' + address)}"


def identifier(hub: str, reading_id: str, code: Code) -> str:
    """The Observation identifier value: the receiver's de-duplication key."""
    return f"{hub}/{reading_id}/{code.value}"


def bundle_json(
    batch_id: str,
    hub: str,
    patient: str,
    readings: Sequence[Reading],
    created: datetime,
    devices: Callable[[str], DeviceInfo | None] = lambda _address: None,
    device_tz: tzinfo = UTC,
) -> str:
    """A transaction Bundle of `readings` and the Device resources they refer to, as JSON text.

    `device_tz` is the zone device clocks were set in, for devices that send a time without
    an offset (the hub sets device clocks, so it knows)."""
    subject = _dumps({"identifier": {"system": PATIENT_SYSTEM, "value": patient}})
    hub_prefix = _escaped(hub) + "/"
    device_zone = _Zone(device_tz)
    entries: list[str] = []
    refs: dict[str, str] = {}
    for reading in readings:
        ref = refs.get(reading.device)
        if ref is None:
            url = device_url(hub, reading.device)
            ref = refs[reading.device] = _dumps({"reference": url})
            entries.append(_dumps(_device_entry(url, hub, reading.device, devices(reading.device))))
        entries.extend(_observation_entries(hub_prefix, reading, subject, ref, device_zone))
    head = _dumps(
        {
            "resourceType": "Bundle",
            "identifier": {"system": BATCH_SYSTEM, "value": batch_id},
            "type": "transaction",
            "timestamp": created.isoformat(),
        }
    )
    return f'{head[:-1]},"entry":[{",".join(entries)}]}}'


def _observation_entries(
    hub_prefix: str, reading: Reading, subject: str, device: str, device_zone: _Zone
) -> list[str]:
    """The Bundle entries (Observation + conditional-create request) of one reading.

    Built from JSON fragments rather than dicts passed to json.dumps: this runs for every
    reading the hub ever sends, and the constant parts are serialised once at import."""
    received = reading.received.isoformat()
    details = reading.details
    if reading.device_time is None:
        effective, clock = received, "no-device-clock"
    else:
        effective = device_zone.isoformat(reading.device_time)
        clock = str(details.get("clock_sync", "unknown"))
    clock_extension = _CLOCK_EXTENSIONS.get(clock) or (
        f'{{"url":"{EXT_CLOCK}","valueCode":"{_escaped(clock)}"}}'
    )
    status = (
        "".join(
            f',{{"url":"{EXT_STATUS}","valueCode":"{_escaped(f)}"}}' for f in sorted(reading.flags)
        )
        if reading.flags
        else ""
    )
    level = details.get("level")
    interpretation = _INTERPRETATION.get(level, "") if isinstance(level, str) else ""
    context = (
        f'"extension":[{{"url":"{EXT_RECEIVED}","valueDateTime":"{received}"}},'
        f'{clock_extension}{status}],"status":"final","category":{_CATEGORY},'
        f'"subject":{subject},"effectiveDateTime":"{effective}","device":{device}{interpretation}'
    )
    ident = f"{hub_prefix}{_escaped(reading.id)}/"
    observations = reading.observations
    if reading.kind is Kind.BLOOD_PRESSURE:
        parts = [o for o in observations if o.code in _BP_COMPONENTS]
        if parts:
            components = ",".join(f'{{"code":{_CODE[o.code]},{_value(o)}}}' for o in parts)
            entries = [_entry(context, ident, Code.BP_PANEL, f'"component":[{components}]')]
            entries += [
                _entry(context, ident, o.code, _value(o))
                for o in observations
                if o.code not in _BP_COMPONENTS
            ]
            return entries
    return [_entry(context, ident, o.code, _value(o)) for o in observations]


class _Zone:
    """ISO 8601 text of device times in the zone device clocks were set in."""

    __slots__ = ("suffix", "zone")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        # A fixed offset (datetime.timezone) is the same text after every naive time, so it
        # is formatted once instead of attaching the zone to each time (~1 µs a reading).
        fixed = isinstance(zone, timezone)
        self.suffix = datetime(2000, 1, 1, tzinfo=zone).isoformat()[19:] if fixed else None

    def isoformat(self, when: datetime) -> str:
        if when.tzinfo is not None:
            return when.isoformat()
        if self.suffix is not None:
            return when.isoformat() + self.suffix
        return when.replace(tzinfo=self.zone).isoformat()


def _entry(context: str, ident: str, code: Code, value: str) -> str:
    key = f"{ident}{_LOINC[code]}"
    return (
        f'{{"resource":{{"resourceType":"Observation",{context},"identifier":[{{"system":'
        f'"{READING_SYSTEM}","value":"{key}"}}],"code":{_CODE[code]},{value}}},'
        f'"request":{{"method":"POST","url":"Observation","ifNoneExist":'
        f'"identifier={READING_SYSTEM}|{key}"}}}}'
    )


def _value(obs: Observation) -> str:
    value = obs.value
    if value is None:
        return _ABSENT.get(obs.special or "", _ABSENT["reserved"])
    if not math.isfinite(value):
        return _ABSENT["nan" if math.isnan(value) else "+inf" if value > 0 else "-inf"]
    unit = _UNITS.get(obs.unit) or _dumps(obs.unit)
    return (
        f'"valueQuantity":{{"value":{value!r},"unit":{unit},'
        f'"system":"http://unitsofmeasure.org","code":{unit}}}'
    )


def _device_identifier(hub: str, address: str) -> dict[str, Any]:
    """A Bluetooth address as the PHD guide's BTMAC identifier; any other device name (a USB
    serial oximeter's) is only unique on its hub, so it is qualified by the hub id."""
    if _MAC.fullmatch(address):
        return {
            "type": {"coding": [{"system": DEVICE_ID_TYPE, "code": "BTMAC"}]},
            "system": BLUETOOTH_SYSTEM,
            "value": address.lower(),
        }
    return {"system": LOCAL_DEVICE_SYSTEM, "value": f"{hub}/{address}"}


def _device_entry(url: str, hub: str, address: str, info: DeviceInfo | None) -> dict[str, Any]:
    device: dict[str, Any] = {
        "resourceType": "Device",
        "identifier": [_device_identifier(hub, address)],
    }
    if info is not None:
        if info.manufacturer:
            device["manufacturer"] = info.manufacturer
        if info.serial:
            device["serialNumber"] = info.serial
        if info.model:
            device["deviceName"] = [{"name": info.model, "type": "model-name"}]
        versions = [
            {"type": {"text": label}, "value": value}
            for label, value in (
                ("hardware", info.hardware),
                ("firmware", info.firmware),
                ("software", info.software),
            )
            if value
        ]
        if versions:
            device["version"] = versions
    return {
        "fullUrl": url,
        "resource": device,
        "request": {
            "method": "POST",
            "url": "Device",
            "ifNoneExist": f"identifier={BLUETOOTH_SYSTEM}|{address.lower()}",
        },
    }


def _escaped(text: str) -> str:
    """`text` as the inside of a JSON string; ids and codes need no escaping, so they skip
    the encoder."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return _dumps(text)[1:-1]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class BundleError(ValueError):
    """A decrypted batch that is not a Bundle this contract produces."""


def observation_keys(bundle: Any, hub: str) -> list[tuple[str, int]]:
    """(identifier value, entry index) of each Observation in a batch Bundle from `hub`.

    Every identifier must belong to `hub`: a hub cannot claim another hub's readings (which
    would let it shadow them in the receiver's de-duplication)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BundleError("not a Bundle")
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        raise BundleError("Bundle without entries")
    prefix = hub + "/"
    keys: list[tuple[str, int]] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise BundleError(f"entry {index} has no resource")
        if resource.get("resourceType") != "Observation":
            continue
        try:
            ident = resource["identifier"][0]
            system, value = ident["system"], ident["value"]
        except (KeyError, IndexError, TypeError) as exc:
            raise BundleError(f"entry {index}: Observation without identifier") from exc
        if system != READING_SYSTEM or not isinstance(value, str) or not value.startswith(prefix):
            raise BundleError(f"entry {index}: identifier {value!r} is not this hub's")
        keys.append((value, index))
    return keys
