"""Measurement and device status as the PHD IG 2.0 represents them.

Measurement status (the device's "early estimate", "questionable", "invalid"...) becomes
`interpretation` codes from the POCD measurement-status system and decides `status` (an early
or ongoing measurement is `preliminary`). A blood-pressure cuff's status bits become the
components of a PhdBitsEnumerationObservation (MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS). Device
flags the guide has no code for here are listed in a note: no private extensions.
"""

from __future__ import annotations

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
# Blood-pressure measurement status (MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS) bit by flag name.
BP_STATUS_CODE = 8410608
BP_STATUS_BITS = {
    "body-movement": (0, "body-movement"),
    "cuff-too-loose": (1, "cuff-too-loose"),
    "irregular-pulse": (2, "irregular-pulse"),
    "pulse-above-range": (3, "pulse-over-range-limit"),
    "pulse-below-range": (4, "pulse-under-range-limit"),
    "improper-position": (5, "improper-body-position"),
}
# Flags about the time field, represented by the time handling itself.
TIME_FLAGS = frozenset({"time-unknown", "device-clock-not-set"})


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
    other = sorted(
        f
        for f in reading.flags
        if f not in MEASUREMENT_STATUS and f not in BP_STATUS_BITS and f not in TIME_FLAGS
    )
    note = f',"note":[{{"text":{dumps("device status: " + ", ".join(other))}}}]' if other else ""
    return ("preliminary" if preliminary else "final"), interpretation, note


def _bp_status_bits(flags: frozenset[str]) -> list[tuple[int, str]]:
    return sorted(BP_STATUS_BITS[f] for f in flags if f in BP_STATUS_BITS)


def bp_status_components(flags: frozenset[str]) -> str:
    """The set bits of the cuff's measurement status, as PhdBitsEnumerationObservation
    components (empty when none is set)."""
    bits = sorted(BP_STATUS_BITS[f] for f in flags if f in BP_STATUS_BITS)
    return ",".join(
        f'{{"code":{{"coding":[{{"system":"{ASN1_SYSTEM}","code":"{BP_STATUS_CODE}.{bit}",'
        f'"display":"{name}"}}]}},"valueBoolean":true}}'
        for bit, name in bits
    )
