"""The Device resources of a batch, as the PHD IG 2.0 lays them out: the hub as the gateway
(PhgDevice) and each measuring device as a PhdDevice.

A device is looked up (the conditional create's `ifNoneExist`) by the very identifier it is
written with: its Bluetooth address for a BLE device, its hub-scoped name for a USB serial
device (which has no address of its own). Looking a serial device up by a Bluetooth system it
was never written with made a FHIR server create a new Device for every batch.

The System ID identifier (EUI-64) is the device's Bluetooth System ID when the device layer
read it (`DeviceInfo.system_id`), else the EUI-64 the IEEE guidelines derive from an EUI-48
(its two halves around FF-FE); a USB serial device has neither and goes without (PHD IG 2.0
makes it optional). The hub's own EUI-64 is not known to this pure layer: the gateway is
identified by its hub id.

PHD IG 2.0 requires a PhdDevice's manufacturer, model number and at least one version. Until
the device layer has read them from Device Information they are sent as present-but-unknown
(the data-absent-reason extension on the primitive), never invented.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from hub import __version__
from hub.model import DeviceInfo
from hub.wire.mdc import (
    GENERIC_SPECIALIZATION,
    MDC_SYSTEM,
    PHD_TYPE,
    PHG_TYPE,
    SPECIALIZATIONS,
    VERSION_TYPES,
    Mdc,
)

BLUETOOTH_SYSTEM = "http://hl7.org/fhir/sid/eui-48/bluetooth"
EUI64_SYSTEM = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"
LOCAL_DEVICE_SYSTEM = "urn:dho:device"  # devices without a Bluetooth address (USB serial)
HUB_SYSTEM = "urn:dho:hub"
DEVICE_ID_TYPE = "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers"
ASN1_SYSTEM = "http://terminology.hl7.org/CodeSystem/ASN1ToHL7"
V2_BINARY = "http://terminology.hl7.org/CodeSystem/v2-0136"
PHD_DEVICE = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdDevice"
PHG_DEVICE = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhgDevice"
ABSENT = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                          "valueCode": "unknown"}]}  # fmt: skip
# The version of a 104xx specialization the device implements is not in the Bluetooth
# services; the Bluetooth profiles map to version 1 of each specialization.
SPECIALIZATION_VERSION = "1"
_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
_DEVICE_NS = uuid.UUID("5d1c8a52-6a0e-4f4e-9a3e-0c3f2b7d9e11")


def device_url(hub: str, address: str) -> str:
    """Stable fullUrl of a device's Device resource within any of this hub's Bundles."""
    return f"urn:uuid:{uuid.uuid5(_DEVICE_NS, hub + '/' + address)}"


def gateway_url(hub: str) -> str:
    """Stable fullUrl of the hub's own (gateway) Device resource."""
    return f"urn:uuid:{uuid.uuid5(_DEVICE_NS, hub)}"


def lookup_identifier(hub: str, address: str) -> tuple[str, str]:
    """(system, value) a device is written with and looked up by."""
    if _MAC.fullmatch(address):
        return BLUETOOTH_SYSTEM, address.lower()
    return LOCAL_DEVICE_SYSTEM, f"{hub}/{address}"


def system_id(address: str, info: DeviceInfo | None) -> str | None:
    """The device's EUI-64 as dash-separated upper-case hex, when it has one."""
    if info is not None and info.system_id:
        raw = info.system_id.replace(":", "").replace("-", "").upper()
    elif _MAC.fullmatch(address):
        octets = address.replace(":", "").upper()
        raw = octets[:6] + "FFFE" + octets[6:]
    else:
        return None
    return "-".join(raw[i : i + 2] for i in range(0, len(raw), 2))


def _coding(mdc: Mdc) -> dict[str, Any]:
    return {"coding": [{"system": MDC_SYSTEM, "code": str(mdc.code), "display": mdc.name}]}


def _sysid(value: str) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": DEVICE_ID_TYPE, "code": "SYSID"}]},
        "system": EUI64_SYSTEM,
        "value": value,
    }


def device_entry(hub: str, address: str, info: DeviceInfo | None) -> dict[str, Any]:
    """The Bundle entry (PhdDevice + conditional create) of one measuring device."""
    system, value = lookup_identifier(hub, address)
    own: dict[str, Any] = {"system": system, "value": value}
    if system == BLUETOOTH_SYSTEM:
        own["type"] = {"coding": [{"system": DEVICE_ID_TYPE, "code": "BTMAC"}]}
    eui64 = system_id(address, info)
    info = info if info is not None else DeviceInfo(address)
    device: dict[str, Any] = {
        "resourceType": "Device",
        "meta": {"profile": [PHD_DEVICE]},
        "identifier": ([_sysid(eui64)] if eui64 else []) + [own],
        "type": _coding(PHD_TYPE),
        "specialization": [
            {
                "systemType": _coding(SPECIALIZATIONS.get(info.kind, GENERIC_SPECIALIZATION)),
                "version": SPECIALIZATION_VERSION,
            }
        ],
    }
    for element, text in (("manufacturer", info.manufacturer), ("modelNumber", info.model)):
        if text:
            device[element] = text
        else:
            device["_" + element] = ABSENT
    if info.serial:
        device["serialNumber"] = info.serial
    device["version"] = [
        {"type": _coding(mdc), "value": getattr(info, field)}
        for field, mdc in VERSION_TYPES
        if getattr(info, field)
    ] or [{"type": _coding(VERSION_TYPES[2][1]), "_value": ABSENT}]
    return {
        "fullUrl": device_url(hub, address),
        "resource": device,
        "request": {
            "method": "POST",
            "url": "Device",
            "ifNoneExist": f"identifier={system}|{value}",
        },
    }


def gateway_entry(hub: str) -> dict[str, Any]:
    """The Bundle entry (PhgDevice + conditional create) of the hub itself."""
    device = {
        "resourceType": "Device",
        "meta": {"profile": [PHG_DEVICE]},
        "identifier": [{"system": HUB_SYSTEM, "value": hub}],
        "type": _coding(PHG_TYPE),
        "specialization": [{"systemType": _coding(GENERIC_SPECIALIZATION)}],
        "manufacturer": "dho-hub",
        "modelNumber": "dho-hub",
        "version": [{"type": _coding(VERSION_TYPES[1][1]), "value": __version__}],
        # Regulation status (MDC_REG_CERT_DATA_CONTINUA_REG_STATUS bit 0): set = unregulated.
        "property": [
            {
                "type": {"coding": [{"system": ASN1_SYSTEM, "code": "532354.0"}]},
                "valueCode": [{"coding": [{"system": V2_BINARY, "code": "Y"}]}],
            }
        ],
    }
    return {
        "fullUrl": gateway_url(hub),
        "resource": device,
        "request": {
            "method": "POST",
            "url": "Device",
            "ifNoneExist": f"identifier={HUB_SYSTEM}|{hub}",
        },
    }
