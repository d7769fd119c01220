"""Readings as FHIR R4 Observations: the R4 vital-signs profiles and the HL7 Personal Health
Device IG 2.0 (a gateway — the hub — forwarding what personal health devices measured).

A batch is a `transaction` Bundle of conditional creates (`ifNoneExist` on the identifier), so
a FHIR server given the same batch twice stores it once — the same rule the receiver applies.
It holds the hub as a PhgDevice, each measuring device as a PhdDevice (`hub.wire.phd_devices`),
the patient as a Patient carrying only the pseudonymous id (the hospital's register resolves
it; `hub.receiver.register`), and per reading:

* `identifier`: system `urn:dho:reading`, value `<hub>/<reading id>/<code>`; one reading may
  give several Observations (a blood-pressure reading gives the 85354-9 panel with systolic,
  diastolic and mean as components, a pulse-rate Observation and, when the cuff reported any,
  its measurement-status bits).
* `code`: LOINC and the MDC code beside it (`hub.wire.mdc`); SpO2 also carries 2708-6.
* `effectiveDateTime`: the device's clock when it sent one, else the hub's receive time. When
  the device layer measured the device clock's offset from the hub's (`details["clock_offset_s"]`,
  device minus hub), the time is corrected onto the hub's timeline and a coincident-timestamp
  Observation (device time and hub time at the same instant) is referenced, as the PHD IG does.
* `effectivePeriod`: per-minute summaries (mean as the value, minimum, maximum and valid
  seconds as components) and stream blocks (one `SampledData` per device stream per minute,
  "E" where a second had no sample).
* `status`: `final`, or `preliminary` for what is not a result yet: intermediate cuff
  pressures and temperatures, and measurements the device marks early or ongoing.
* measurement status flags become the PHD's `interpretation` codes (POCD measurement-status);
  blood-pressure status bits a PhdBitsEnumerationObservation; flags without a PHD code a note.
* triage colour: `meta.tag` (system `TRIAGE_SYSTEM`, searchable with `_tag`). The PHD IG
  requires every `interpretation` to carry a measurement-status code, so the colour — a
  workflow label from the hub's rules, not the device's judgement — is not put there.

Dicts are not built per reading: this runs for every reading the hub ever sends, so the
constant parts are JSON fragments made once at import and joined per reading.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from hub.model import CODES, Code, DeviceInfo, Kind, Reading
from hub.wire import mdc
from hub.wire.fhir_values import dumps, period, sampled, summary_parts, value
from hub.wire.phd_devices import (
    BLUETOOTH_SYSTEM,
    LOCAL_DEVICE_SYSTEM,
    device_entry,
    device_url,
    gateway_entry,
)
from hub.wire.phd_status import (
    PRELIMINARY_KINDS,
    StatusAttribute,
    measurement_status,
    status_bits,
)

__all__ = ["BLUETOOTH_SYSTEM", "LOCAL_DEVICE_SYSTEM", "device_url"]

READING_SYSTEM = "urn:dho:reading"
BATCH_SYSTEM = "urn:dho:batch"
PATIENT_SYSTEM = "urn:dho:patient"
TRIAGE_SYSTEM = "http://dho.example.org/fhir/CodeSystem/triage"
GATEWAY_EXT = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
CTS_EXT = "http://hl7.org/fhir/uv/phd/StructureDefinition/CoincidentTimeStampReference"
PHD = "http://hl7.org/fhir/uv/phd/StructureDefinition/"
PHD_CATEGORY = "http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_NS = uuid.UUID("0b6f4e0e-4a63-4d4e-8f3e-5b1f3c2a9d70")

_BP_COMPONENTS = (Code.SYSTOLIC, Code.DIASTOLIC, Code.MEAN_ARTERIAL)


def _code_json(code: Code, kind: Kind) -> str:
    info, term = CODES[code], mdc.mdc_for(code, kind)
    codings = (
        []
        if code in mdc.MDC_ONLY
        else [{"system": "http://loinc.org", "code": code.value, "display": info.display}]
    )
    extra = mdc.EXTRA_LOINC.get(code)
    if extra is not None:
        codings.append({"system": "http://loinc.org", "code": extra[0], "display": extra[1]})
    codings.append({"system": mdc.MDC_SYSTEM, "code": str(term.code), "display": term.name})
    return dumps({"coding": codings})


def _static(code: Code, kind: Kind) -> tuple[str, str, str]:
    """The constant JSON fragments of an Observation of `code` from `kind`: up to its meta
    tags, from its category to its identifier value, and from there through its code."""
    if kind is Kind.STREAM_BLOCK:
        phd = "PhdRtsaObservation"
    elif code is Code.BP_PANEL:
        phd = "PhdCompoundNumericObservation"
    else:
        phd = "PhdNumericObservation"
    profiles = [PHD + phd]
    vital = mdc.VITAL_SIGN_PROFILE.get(code)
    if vital is not None and kind not in PRELIMINARY_KINDS and kind is not Kind.STREAM_BLOCK:
        profiles.append(mdc.VITAL_SIGNS + vital)
    category = [
        {"coding": [{"system": OBS_CATEGORY, "code": mdc.category(code)}]},
        {"coding": [{"system": PHD_CATEGORY, "code": "phd"}]},
    ]
    head = f'{{"resource":{{"resourceType":"Observation","meta":{{"profile":{dumps(profiles)}'
    middle = f',"category":{dumps(category)},"identifier":[{{"system":"{READING_SYSTEM}","value":"'
    return head, middle, f'"}}],"code":{_code_json(code, kind)},'


_STATIC = {(code, kind): _static(code, kind) for code in Code for kind in Kind}
_CODE_VALUE = {code: code.value for code in Code}  # plain str: Enum.value is a slow descriptor
_COMPONENT_CODE = {code: _code_json(code, Kind.BLOOD_PRESSURE) for code in _BP_COMPONENTS}
_TAGS = {
    level: f',"tag":[{{"system":"{TRIAGE_SYSTEM}","code":"{level}"}}]'
    for level in ("green", "yellow", "red")
}


def _mdc_code(term: mdc.Mdc) -> str:
    return dumps({"coding": [{"system": mdc.MDC_SYSTEM, "code": str(term.code),
                               "display": term.name}]})  # fmt: skip


_CTS_CODE = _mdc_code(mdc.ABSOLUTE_TIME)


def identifier(hub: str, reading_id: str, code: Code) -> str:
    """The Observation identifier value: the receiver's de-duplication key."""
    return f"{hub}/{reading_id}/{code.value}"


def patient_url(hub: str, patient: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, hub + '/patient/' + patient)}"


def bundle_json(
    batch_id: str,
    hub: str,
    patient: str,
    readings: Sequence[Reading],
    created: datetime,
    devices: Callable[[str], DeviceInfo | None] = lambda _address: None,
    device_tz: tzinfo = UTC,
) -> str:
    """A transaction Bundle of `readings`, the patient and the Devices they refer to, as JSON.

    `device_tz` is the zone device clocks were set in, for devices that send a time without
    an offset (the hub sets device clocks, so it knows)."""
    gateway = gateway_entry(hub)
    subject_url = patient_url(hub, patient)
    entries = [dumps(gateway), dumps(_patient_entry(subject_url, patient))]
    batch = _Batch(
        hub_prefix=_escaped(hub) + "/",
        context=(
            f'"extension":[{{"url":"{GATEWAY_EXT}","valueReference":'
            f'{{"reference":"{gateway["fullUrl"]}"}}}}'
        ),
        subject=f'"subject":{{"reference":"{subject_url}"}}',
        gateway=f'{{"reference":"{gateway["fullUrl"]}"}}',
        zone=_Zone(device_tz),
    )
    refs: dict[str, str] = {}
    for reading in readings:
        ref = refs.get(reading.device)
        if ref is None:
            entry = device_entry(hub, reading.device, devices(reading.device))
            ref = refs[reading.device] = f'{{"reference":"{entry["fullUrl"]}"}}'
            entries.append(dumps(entry))
        entries.extend(batch.entries(reading, ref))
    head = dumps(
        {
            "resourceType": "Bundle",
            "identifier": {"system": BATCH_SYSTEM, "value": batch_id},
            "type": "transaction",
            "timestamp": created.isoformat(),
        }
    )
    return f'{head[:-1]},"entry":[{",".join(entries)}]}}'


def _patient_entry(url: str, patient: str) -> dict[str, Any]:
    return {
        "fullUrl": url,
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": PATIENT_SYSTEM, "value": patient}],
        },
        "request": {
            "method": "POST",
            "url": "Patient",
            "ifNoneExist": f"identifier={PATIENT_SYSTEM}|{patient}",
        },
    }


class _Batch:
    """The per-batch constant fragments and the Observation entries of each reading."""

    __slots__ = ("context", "gateway", "hub_prefix", "subject", "zone")

    def __init__(self, hub_prefix: str, context: str, subject: str, gateway: str, zone: _Zone):
        self.hub_prefix = hub_prefix
        self.context = context
        self.subject = subject
        self.gateway = gateway
        self.zone = zone

    def entries(self, reading: Reading, device: str) -> list[str]:
        ident = f"{self.hub_prefix}{_escaped(reading.id)}/"
        out: list[str] = []
        extensions = self.context
        effective, offset = self._effective(reading)
        if offset is not None:
            cts_url, cts = self._coincident(reading, ident, device, offset)
            out.append(cts)
            extensions += f',{{"url":"{CTS_EXT}","valueReference":{{"reference":"{cts_url}"}}}}'
        result, interpretation, note = measurement_status(reading)
        level = reading.details.get("level")
        tag = _TAGS.get(level, "") if isinstance(level, str) else ""
        common = (
            f'{extensions}],"status":"{result}",{self.subject},{effective},'
            f'"device":{device}{interpretation}{note}'
        )
        kind = reading.kind
        if kind is Kind.STREAM_BLOCK and reading.samples is not None:
            block = reading.samples
            out.append(_entry(common, tag, ident, block.code, kind, sampled(block)))
            return out
        observations = reading.observations
        bits = status_bits(reading)
        if bits is not None:
            out.append(_bits_entry(common, ident, *bits))
        if kind is Kind.SUMMARY:
            out.extend(
                _entry(common, tag, ident, o.code, kind, value(o) + summary_parts(reading))
                for o in observations
            )
            return out
        if kind is Kind.BLOOD_PRESSURE:
            parts = [o for o in observations if o.code in _BP_COMPONENTS]
            if parts:
                components = ",".join(
                    f'{{"code":{_COMPONENT_CODE[o.code]},{value(o)}}}' for o in parts
                )
                panel = f'"component":[{components}]'
                out.append(_entry(common, tag, ident, Code.BP_PANEL, kind, panel))
                observations = tuple(o for o in observations if o.code not in _BP_COMPONENTS)
        out.extend(_entry(common, tag, ident, o.code, kind, value(o)) for o in observations)
        return out

    def _effective(self, reading: Reading) -> tuple[str, float | None]:
        """The effective[x] fragment and the device clock's offset when it is known."""
        details = reading.details
        if reading.kind is Kind.STREAM_BLOCK and reading.samples is not None:
            block = reading.samples
            end = block.start + timedelta(seconds=block.period_s * block.count)
            return period(block.start, end), None
        if reading.kind is Kind.SUMMARY and "period_start" in details:
            start = datetime.fromisoformat(str(details["period_start"]))
            end = start + timedelta(seconds=float(details.get("period_s", 60)))
            return period(start, end), None
        if reading.device_time is None:
            return f'"effectiveDateTime":"{reading.received.isoformat()}"', None
        offset = details.get("clock_offset_s")
        when = reading.device_time
        if isinstance(offset, int | float) and not isinstance(offset, bool):
            corrected = self.zone.aware(when) - timedelta(seconds=offset)
            return f'"effectiveDateTime":"{corrected.isoformat()}"', float(offset)
        return f'"effectiveDateTime":"{self.zone.isoformat(when)}"', None

    def _coincident(
        self, reading: Reading, ident: str, device: str, offset: float
    ) -> tuple[str, str]:
        """A PhdCoincidentTimeStampObservation: at the hub's receive time, the device clock
        read `received + offset`."""
        key = f"{ident}{mdc.ABSOLUTE_TIME.code}"
        url = f"urn:uuid:{uuid.uuid5(_NS, key)}"
        device_clock = reading.received + timedelta(seconds=offset)
        resource = (
            f'{{"resourceType":"Observation","meta":{{"profile":["{PHD}'
            f'PhdCoincidentTimeStampObservation"]}},"identifier":[{{"system":"{READING_SYSTEM}",'
            f'"value":"{key}"}}],"status":"final","code":{_CTS_CODE},"subject":{device},'
            f'"effectiveDateTime":"{reading.received.isoformat()}",'
            f'"valueDateTime":"{device_clock.isoformat()}","device":{self.gateway}}}'
        )
        return url, (
            f'{{"fullUrl":"{url}","resource":{resource},"request":{{"method":"POST",'
            f'"url":"Observation","ifNoneExist":"identifier={READING_SYSTEM}|{key}"}}}}'
        )


def _bits_entry(common: str, ident: str, attribute: StatusAttribute, components: str) -> str:
    """A PhdBitsEnumerationObservation of the device status bits that are set."""
    key = f"{ident}{attribute.code}"
    code = _mdc_code(mdc.Mdc(attribute.code, attribute.name))
    return (
        f'{{"resource":{{"resourceType":"Observation","meta":{{"profile":["{PHD}'
        f'PhdBitsEnumerationObservation"]}},"category":[{{"coding":[{{"system":"{PHD_CATEGORY}",'
        f'"code":"phd"}}]}}],{common},"identifier":[{{"system":"{READING_SYSTEM}","value":'
        f'"{key}"}}],"code":{code},"component":[{components}]}},'
        f'"request":{{"method":"POST","url":"Observation","ifNoneExist":'
        f'"identifier={READING_SYSTEM}|{key}"}}}}'
    )


def _entry(common: str, tag: str, ident: str, code: Code, kind: Kind, value: str) -> str:
    head, middle, tail = _STATIC[code, kind]
    key = f"{ident}{_CODE_VALUE[code]}"
    return (
        f'{head}{tag}}},{common}{middle}{key}{tail}{value}}},"request":{{"method":"POST",'
        f'"url":"Observation","ifNoneExist":"identifier={READING_SYSTEM}|{key}"}}}}'
    )


class _Zone:
    """ISO 8601 text of device times in the zone device clocks were set in."""

    __slots__ = ("suffix", "zone")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        # A fixed offset (datetime.timezone) is the same text after every naive time, so it
        # is formatted once instead of attaching the zone to each time (~1 µs a reading).
        fixed = isinstance(zone, timezone)
        self.suffix = datetime(2000, 1, 1, tzinfo=zone).isoformat()[19:] if fixed else None

    def aware(self, when: datetime) -> datetime:
        return when if when.tzinfo is not None else when.replace(tzinfo=self.zone)

    def isoformat(self, when: datetime) -> str:
        if when.tzinfo is not None:
            return when.isoformat()
        if self.suffix is not None:
            return when.isoformat() + self.suffix
        return when.replace(tzinfo=self.zone).isoformat()


def _escaped(text: str) -> str:
    """`text` as the inside of a JSON string; ids and codes need no escaping, so they skip
    the encoder."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return dumps(text)[1:-1]


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
