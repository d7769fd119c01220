"""Measurement and device status as the PHD IG 2.0 represents them.

Measurement status (the device's "early estimate", "questionable", "invalid"...) becomes
`interpretation` codes from the POCD measurement-status system and decides `status` (an early
or ongoing measurement is `preliminary`). The status bits of a cuff, an oximeter or a glucose
meter become the components of a PhdBitsEnumerationObservation (one per reading, its code the
MDC status attribute, each set bit an ASN1ToHL7 code). Device flags the guide has no code for
are listed in a note: no private extensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hub.model import Kind, Reading
from hub.wire.fhir_values import dumps

MSMT_STATUS = "http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status"
ASN1_SYSTEM = "http://terminology.hl7.org/CodeSystem/ASN1ToHL7"
PRELIMINARY_KINDS = frozenset({Kind.CUFF_PRESSURE, Kind.INTERMEDIATE_TEMPERATURE})

# Device flags the PHD IG codes as measurement status (interpretation), and which of them
# make the measurement preliminary.
MEASUREMENT_STATUS = {
    "measurement-ongoing": "msmt-ongoing",
    "early-estimated-data": "early-indication",
    "validated-data": "validated-data",
    "data-for-demonstration": "demo-data",
    "data-for-testing": "test-data",
    "calibration-ongoing": "calibration-ongoing",
    "measurement-unavailable": "not-available",
    "questionable-measurement": "questionable",
    "invalid-measurement": "invalid",
    "measurement-unsuccessful": "invalid",
}
PRELIMINARY_STATUS = frozenset({"msmt-ongoing", "early-indication"})


@dataclass(frozen=True, slots=True)
class StatusAttribute:
    """A device's status bit field as the PHD IG codes it: its MDC attribute code and, by the
    flag name the decoder gives a set bit, the bit's ASN1ToHL7 number and name."""

    code: int
    name: str
    bits: Mapping[str, tuple[int, str]]


def _numbered(*names: tuple[str, str]) -> Mapping[str, tuple[int, str]]:
    """Flag names (decoder's, guide's) in the guide's bit order, which for the oximeter is the
    reverse of the Bluetooth order."""
    return MappingProxyType({ours: (bit, theirs) for bit, (ours, theirs) in enumerate(names)})


BP_STATUS = StatusAttribute(
    8410608, "MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS",
    _numbered(
        ("body-movement", "body-movement"), ("cuff-too-loose", "cuff-too-loose"),
        ("irregular-pulse", "irregular-pulse"), ("pulse-above-range", "pulse-over-range-limit"),
        ("pulse-below-range", "pulse-under-range-limit"),
        ("improper-position", "improper-body-position"),
    ),
)  # fmt: skip
OXIMETER_STATUS = StatusAttribute(
    150604, "MDC_PULS_OXIM_DEV_STATUS",
    _numbered(
        ("sensor-disconnected", "sensor-disconnected"),
        ("sensor-malfunctioning", "sensor-malfunction"),
        ("sensor-displaced", "sensor-displaced"),
        ("unknown-sensor-connected", "sensor-unsupported"),
        ("sensor-unconnected-to-user", "sensor-off"),
        ("sensor-interference", "sensor-interference"),
        ("signal-analysis-ongoing", "signal-searching"),
        ("questionable-pulse", "signal-pulse-questionable"),
        ("nonpulsatile-signal", "signal-non-pulsatile"), ("erratic-signal", "signal-erratic"),
        ("low-perfusion", "signal-low-perfusion"), ("poor-signal", "signal-poor"),
        ("inadequate-signal", "signal-inadequate"),
        ("signal-processing-irregularity", "signal-processing-irregularity"),
        ("equipment-malfunction", "device-equipment-malfunction"),
        ("extended-display-update-ongoing", "device-extended-update"),
    ),
)  # fmt: skip
GLUCOSE_STATUS = StatusAttribute(
    8417752, "MDC_GLU_METER_DEV_STATUS",
    _numbered(
        ("device-battery-low", "device-battery-low"), ("sensor-malfunction", "sensor-malfunction"),
        ("sample-size-insufficient", "sensor-sample-size-insufficient"),
        ("strip-insertion-error", "sensor-strip-insertion"),
        ("strip-type-incorrect", "sensor-strip-type-incorrect"),
        ("result-too-high", "sensor-result-too-high"), ("result-too-low", "sensor-result-too-low"),
        ("temperature-too-high", "sensor-temp-too-high"),
        ("temperature-too-low", "sensor-temp-too-low"),
        ("read-interrupted", "sensor-read-interrupt"),
        ("general-device-fault", "device-gen-fault"),
    ),
)  # fmt: skip
STATUS_ATTRIBUTE: Mapping[Kind, StatusAttribute] = MappingProxyType(
    {
        Kind.BLOOD_PRESSURE: BP_STATUS,
        Kind.CUFF_PRESSURE: BP_STATUS,
        Kind.SPO2_SPOT: OXIMETER_STATUS,
        Kind.SPO2_CONTINUOUS: OXIMETER_STATUS,
        Kind.GLUCOSE: GLUCOSE_STATUS,
    }
)
# Flags about the time field, represented by the time handling itself.
TIME_FLAGS = frozenset({"time-unknown", "device-clock-not-set"})
_NO_BITS: Mapping[str, tuple[int, str]] = MappingProxyType({})


def measurement_status(reading: Reading) -> tuple[str, str, str]:
    """(status, interpretation fragment, note fragment) from the kind and the device flags."""
    preliminary = reading.kind in PRELIMINARY_KINDS
    if not reading.flags:
        return ("preliminary" if preliminary else "final"), "", ""
    codes = sorted({MEASUREMENT_STATUS[f] for f in reading.flags if f in MEASUREMENT_STATUS})
    preliminary = preliminary or not PRELIMINARY_STATUS.isdisjoint(codes)
    interpretation = (
        ',"interpretation":['
        + ",".join(f'{{"coding":[{{"system":"{MSMT_STATUS}","code":"{c}"}}]}}' for c in codes)
        + "]"
        if codes
        else ""
    )
    attribute = STATUS_ATTRIBUTE.get(reading.kind)
    bits = attribute.bits if attribute is not None else _NO_BITS
    other = sorted(
        f
        for f in reading.flags
        if f not in MEASUREMENT_STATUS and f not in bits and f not in TIME_FLAGS
    )
    note = f',"note":[{{"text":{dumps("device status: " + ", ".join(other))}}}]' if other else ""
    return ("preliminary" if preliminary else "final"), interpretation, note


def status_bits(reading: Reading) -> tuple[StatusAttribute, str] | None:
    """The device's status attribute and its set bits as PhdBitsEnumerationObservation
    components, or None when the reading's kind has none or no bit is set."""
    attribute = STATUS_ATTRIBUTE.get(reading.kind)
    if attribute is None or not reading.flags:
        return None
    bits = sorted(attribute.bits[f] for f in reading.flags if f in attribute.bits)
    if not bits:
        return None
    return attribute, ",".join(
        f'{{"code":{{"coding":[{{"system":"{ASN1_SYSTEM}","code":"{attribute.code}.{bit}",'
        f'"display":"{name}"}}]}},"valueBoolean":true}}'
        for bit, name in bits
    )
