"""The hub's FHIR against the rules the independent validator cannot load: the PHD IG 2.0
profiles and the R4 vital-signs rules Medplum does not check (fixed UCUM codes, the BP panel's
component slices). Each test is named after the rule it checks."""

from __future__ import annotations

import json
import math
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir_support import CUFF, HUB, INFO, OXIMETER, PATIENT, SERIAL, T0, bundle, every_kind
from fhir_support import resources as of_type
from hypothesis import given
from hypothesis import strategies as st

from hub.model import Code, Kind, Observation, Reading, SampleBlock
from hub.wire import fhir, fhir_values, phd_status
from hub.wire.phd_devices import (
    BLUETOOTH_SYSTEM,
    DEVICE_ID_TYPE,
    EUI64_SYSTEM,
    LOCAL_DEVICE_SYSTEM,
)

KINDS = every_kind()
BATCH = bundle(list(KINDS.values()))
OBSERVATIONS = of_type(BATCH, "Observation")
MDC = "urn:iso:std:iso:11073:10101"
LOINC = "http://loinc.org"


def _by_code(code: str) -> list[dict]:
    return [o for o in OBSERVATIONS if any(c["code"] == code for c in o["code"]["coding"])]


def _codes(concept: dict, system: str) -> list[str]:
    return [c["code"] for c in concept["coding"] if c["system"] == system]


def _measurements() -> list[dict]:
    """Observations of readings (not coincident timestamps)."""
    return [o for o in OBSERVATIONS if "67975" not in _codes(o["code"], MDC)]


def test_vital_signs_oxygensat_carries_2708_6_beside_59408_5() -> None:
    for obs in _by_code("59408-5"):
        assert {"2708-6", "59408-5"} <= set(_codes(obs["code"], LOINC))


def test_vital_signs_bodyheight_unit_is_cm() -> None:
    (height,) = _by_code("8302-2")
    assert height["valueQuantity"] == {
        "value": 177.0, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        ("8867-4", "/min"),
        ("59408-5", "%"),
        ("8310-5", "Cel"),
        ("29463-7", "kg"),
        ("39156-5", "kg/m2"),
        ("9279-1", "/min"),
    ],
)
def test_vital_signs_value_quantity_uses_the_profiles_ucum_code(code: str, unit: str) -> None:
    for obs in _by_code(code):
        if "valueQuantity" in obs:
            assert obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"
            assert obs["valueQuantity"]["code"] == unit


def test_vital_signs_bp_panel_component_slices() -> None:
    (panel,) = _by_code("85354-9")
    parts = {_codes(c["code"], LOINC)[0]: c for c in panel["component"]}
    assert parts["8480-6"]["valueQuantity"]["value"] == 128.0
    assert parts["8462-4"]["valueQuantity"]["value"] == 82.0
    assert all(p["valueQuantity"]["code"] == "mm[Hg]" for p in parts.values())
    assert "valueQuantity" not in panel


def test_vital_signs_category_and_other_categories() -> None:
    def category(code: str) -> str:
        obs = _by_code(code)[0]
        return next(
            c["coding"][0]["code"]
            for c in obs["category"]
            if c["coding"][0]["system"] == fhir.OBS_CATEGORY
        )

    assert category("85354-9") == category("59408-5") == "vital-signs"
    assert category("2339-0") == "laboratory"
    assert category("61006-3") == "exam"


def test_phd_mdc_code_beside_loinc_on_every_observation_and_component() -> None:
    for obs in OBSERVATIONS:
        assert len(_codes(obs["code"], MDC)) == 1, obs["code"]
        for component in obs.get("component", []):
            systems = {c["system"] for c in component["code"]["coding"]}
            if MDC in systems:
                continue
            # not a measured quantity with an MDC term: a summary statistic, HRV (SDNN by
            # LOINC, the rest in the hub's system) or a status bit in the PHD's ASN1 system
            assert systems <= {
                fhir_values.STATISTIC_SYSTEM,
                fhir_values.SUMMARY_SYSTEM,
                phd_status.ASN1_SYSTEM,
                LOINC,
            }
            assert obs.get("effectivePeriod") or phd_status.ASN1_SYSTEM in systems
    (panel,) = _by_code("85354-9")
    assert [_codes(c["code"], MDC)[0] for c in panel["component"]] == ["150021", "150022", "150023"]


def test_phd_pulse_rate_mdc_code_follows_the_measuring_device() -> None:
    pulses = {_codes(o["code"], MDC)[0] for o in _by_code("8867-4")}
    assert pulses == {"149546", "149530", "147842"}  # cuff, oximeter, heart-rate sensor


def test_phd_gateway_device_extension_on_every_observation() -> None:
    (gateway,) = [e for e in BATCH["entry"] if "PhgDevice" in str(e["resource"].get("meta"))]
    assert _codes(gateway["resource"]["type"], MDC) == ["531981"]
    for obs in _measurements():
        ext = [e for e in obs["extension"] if e["url"] == fhir.GATEWAY_EXT]
        assert ext == [
            {"url": fhir.GATEWAY_EXT, "valueReference": {"reference": gateway["fullUrl"]}}
        ]


def test_phd_device_system_id_type_and_specialization() -> None:
    devices = {
        d["identifier"][-1]["value"]: d
        for d in of_type(BATCH, "Device")
        if "PhdDevice" in d["meta"]["profile"][0]
    }
    cuff = devices[CUFF.lower()]
    assert cuff["identifier"][0] == {
        "type": {"coding": [{"system": DEVICE_ID_TYPE, "code": "SYSID"}]},
        "system": EUI64_SYSTEM,
        "value": "C0-11-22-FF-FE-33-44-55",  # from the Bluetooth address
    }
    assert cuff["identifier"][1]["type"]["coding"][0]["code"] == "BTMAC"
    assert _codes(cuff["type"], MDC) == ["65573"]
    assert _codes(cuff["specialization"][0]["systemType"], MDC) == ["528391"]
    assert cuff["manufacturer"] == "Omron" and cuff["modelNumber"] == "M7"
    assert cuff["serialNumber"] == "S1"
    versions = {_codes(v["type"], MDC)[0]: v["value"] for v in cuff["version"]}
    assert versions == {"531974": "1.0", "531975": "3.0", "531976": "2.1"}
    oximeter = devices[OXIMETER.lower()]
    assert oximeter["identifier"][0]["value"] == "00-11-22-33-44-55-66-77"  # its System ID


def test_phd_device_required_elements_present_or_data_absent() -> None:
    text = fhir.bundle_json("b", HUB, PATIENT, [KINDS["serial-spo2"]], T0)
    (serial,) = [d for d in of_type(json.loads(text), "Device") if "PhdDevice" in str(d["meta"])]
    absent = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                             "valueCode": "unknown"}]}  # fmt: skip
    assert serial["_manufacturer"] == absent and serial["_modelNumber"] == absent
    assert serial["version"][0]["_value"] == absent and _codes(serial["type"], MDC) == ["65573"]
    assert [i["system"] for i in serial["identifier"]] == [LOCAL_DEVICE_SYSTEM]  # no EUI-64
    assert "manufacturer" not in serial and "modelNumber" not in serial


def test_phd_device_lookup_uses_the_identifier_it_was_written_with() -> None:
    for entry in BATCH["entry"]:
        if entry["resource"]["resourceType"] != "Device":
            continue
        own = entry["resource"]["identifier"][-1]
        assert entry["request"]["ifNoneExist"] == f"identifier={own['system']}|{own['value']}"
    serial = next(
        d for d in of_type(BATCH, "Device") if d["identifier"][-1]["system"] == LOCAL_DEVICE_SYSTEM
    )
    assert serial["identifier"][-1]["value"] == f"{HUB}/{SERIAL}"
    assert BLUETOOTH_SYSTEM not in json.dumps(serial)


def test_phd_coincident_timestamp_when_the_device_clock_is_off() -> None:
    (panel,) = _by_code("85354-9")
    # the cuff's clock ran 30 s behind the hub's: its 07:59:58 is the hub's 08:00:28
    assert panel["effectiveDateTime"] == "2026-11-21T08:00:28+00:00"
    (ref,) = [e for e in panel["extension"] if e["url"] == fhir.CTS_EXT]
    cts = next(
        e["resource"]
        for e in BATCH["entry"]
        if e.get("fullUrl") == ref["valueReference"]["reference"]
    )
    assert _codes(cts["code"], MDC) == ["67975"]
    received = datetime.fromisoformat(cts["effectiveDateTime"])
    assert datetime.fromisoformat(cts["valueDateTime"]) == received - timedelta(seconds=30)
    assert cts["subject"] == panel["device"]  # the PHD, per PhdCoincidentTimeStampObservation


def test_phd_effective_is_the_device_time_or_the_reception_time() -> None:
    (temp,) = [o for o in _by_code("8310-5") if o["status"] == "final"]
    assert temp["effectiveDateTime"] == "2026-11-21T07:59:58+00:00"  # device clock, no offset
    (rate,) = _by_code("9279-1")
    assert rate["effectiveDateTime"] == T0.isoformat()  # no device clock: reception


def test_phd_status_preliminary_for_intermediate_and_early_measurements() -> None:
    (cuff,) = _by_code("150300")
    assert cuff["status"] == "preliminary"
    assert _codes(cuff["code"], LOINC) == []  # 8357-6 is "Blood pressure method"
    assert not any("StructureDefinition/bp" in p for p in cuff["meta"]["profile"])
    statuses = sorted(o["status"] for o in _by_code("8310-5"))
    assert statuses == ["final", "preliminary"]
    spot = _by_code("59408-5")[0]  # flagged early-estimated-data by the oximeter
    assert spot["status"] == "preliminary"
    assert spot["interpretation"] == [
        {"coding": [{"system": phd_status.MSMT_STATUS, "code": "early-indication"}]}
    ]
    preliminary = [o for o in OBSERVATIONS if o["status"] == "preliminary"]
    assert all("vitalsigns" not in str(o["meta"]) for o in preliminary)


def test_phd_bits_enumeration_for_cuff_status() -> None:
    (bits,) = _by_code("8410608")
    assert "PhdBitsEnumerationObservation" in bits["meta"]["profile"][0]
    set_bits = [c["code"]["coding"][0]["code"] for c in bits["component"]]
    assert set_bits == ["8410608.0", "8410608.2"]  # body movement, irregular pulse
    assert all(c["valueBoolean"] is True for c in bits["component"])


@pytest.mark.parametrize(
    ("code", "bits"),
    [
        # Bluetooth PLX bits 5 (low perfusion) and 13 (sensor displaced): the guide numbers
        # MDC_PULS_OXIM_DEV_STATUS the other way round
        ("150604", ["150604.2", "150604.10"]),
        ("8417752", ["8417752.0"]),  # glucose meter: battery low
    ],
)
def test_phd_bits_enumeration_for_device_status(code: str, bits: list[str]) -> None:
    (obs,) = _by_code(code)
    assert [c["code"]["coding"][0]["code"] for c in obs["component"]] == bits
    assert obs["component"][0]["code"]["coding"][0]["system"] == phd_status.ASN1_SYSTEM


def test_device_flags_without_a_phd_code_go_to_a_note_not_an_extension() -> None:
    (glucose,) = _by_code("2339-0")
    assert glucose["note"] == [{"text": "device status: time-fault"}]
    assert all(e["url"] in (fhir.GATEWAY_EXT, fhir.CTS_EXT) for e in glucose["extension"])


def test_triage_colour_is_a_searchable_tag_not_an_interpretation() -> None:
    (panel,) = _by_code("85354-9")
    assert {"system": fhir.TRIAGE_SYSTEM, "code": "yellow"} in panel["meta"]["tag"]
    assert "interpretation" not in panel
    (glucose,) = _by_code("2339-0")
    assert glucose["meta"]["tag"] == [{"system": fhir.TRIAGE_SYSTEM, "code": "red"}]


def test_summary_has_effective_period_and_statistics() -> None:
    summary = next(o for o in _by_code("59408-5") if "effectivePeriod" in o)
    assert summary["effectivePeriod"] == {
        "start": "2026-11-21T07:59:00+00:00", "end": "2026-11-21T08:00:00+00:00"
    }  # fmt: skip
    assert summary["valueQuantity"]["value"] == 96.5
    parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in summary["component"]}
    assert parts["minimum"]["value"] == 95.0 and parts["maximum"]["value"] == 98.0
    assert parts["valid-seconds"] == {
        "value": 58, "unit": "s", "system": "http://unitsofmeasure.org", "code": "s"
    }  # fmt: skip


def test_heart_rate_summary_carries_the_minutes_hrv() -> None:
    summary = next(o for o in _by_code("8867-4") if "effectivePeriod" in o)
    parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in summary["component"]}
    assert parts["80404-7"]["value"] == 41.5 and parts["80404-7"]["code"] == "ms"
    assert parts["rmssd"]["value"] == 35.25 and parts["pnn50"]["code"] == "%"


def test_rtsa_one_sampled_data_per_stream_minute_with_gaps_marked() -> None:
    (block,) = [o for o in OBSERVATIONS if "valueSampledData" in o]
    sampled = block["valueSampledData"]
    assert sampled["data"] == "97 97 E 96 98 97"
    assert sampled["period"] == 1000.0 and sampled["dimensions"] == 1 and sampled["factor"] == 1
    assert sampled["origin"]["code"] == "%"
    assert "PhdRtsaObservation" in block["meta"]["profile"][0]
    assert block["effectivePeriod"]["end"] == "2026-11-21T07:59:06+00:00"  # 6 samples of 1 s


def test_patient_is_a_resource_found_by_its_pseudonym() -> None:
    (patient,) = of_type(BATCH, "Patient")
    assert patient["identifier"] == [{"system": fhir.PATIENT_SYSTEM, "value": PATIENT}]
    url = next(e["fullUrl"] for e in BATCH["entry"] if e["resource"] is patient)
    assert all(o["subject"] == {"reference": url} for o in _measurements())


def test_identifiers_are_the_receivers_keys() -> None:
    keys = fhir.observation_keys(BATCH, HUB)
    assert len(keys) == len(OBSERVATIONS)
    assert len({k for k, _ in keys}) == len(keys)
    with pytest.raises(fhir.BundleError, match="not this hub's"):
        fhir.observation_keys(BATCH, "hub-b")
    for bad in ([], {"resourceType": "Patient"}, {"resourceType": "Bundle", "entry": [1]}):
        with pytest.raises(fhir.BundleError):
            fhir.observation_keys(bad, HUB)


def test_special_values_become_data_absent_reason() -> None:
    r = Reading("r-1", CUFF, Kind.SPO2_SPOT, None, T0, (
        Observation(Code.SPO2, None, "%", special="nan"),
        Observation(Code.HEART_RATE, None, "/min", special="+inf"),
        Observation(Code.BODY_TEMPERATURE, float("nan"), "Cel"),
    ))  # fmt: skip
    obs = of_type(bundle([r]), "Observation")
    assert [o["dataAbsentReason"]["coding"][0]["code"] for o in obs] == [
        "not-a-number", "positive-infinity", "not-a-number"
    ]  # fmt: skip


def test_naive_device_times_take_the_device_zone() -> None:
    oslo = timezone(timedelta(hours=1))
    r = Reading("r-2", CUFF, Kind.TEMPERATURE, datetime(2026, 1, 10, 7, 30), T0,
                (Observation(Code.BODY_TEMPERATURE, 37.0, "Cel"),))  # fmt: skip
    text = fhir.bundle_json("b", HUB, PATIENT, [r], T0, INFO.get, device_tz=oslo)
    assert of_type(json.loads(text), "Observation")[0]["effectiveDateTime"] == (
        "2026-01-10T07:30:00+01:00"
    )


def test_strings_are_escaped() -> None:
    text = fhir.bundle_json("b", HUB, 'pa"tient', [KINDS["temperature"]], T0)
    assert of_type(json.loads(text), "Patient")[0]["identifier"][0]["value"] == 'pa"tient'


def test_batch_bundle_validates_as_r4b() -> None:
    assert Bundle.model_validate(BATCH).type == "transaction"
    assert datetime.fromisoformat(BATCH["timestamp"]).tzinfo == UTC


@given(st.lists(st.floats(-1e9, 1e9, width=32) | st.just(float("nan")), min_size=1, max_size=120))
def test_rtsa_data_round_trips_every_sample_and_gap(values: list[float]) -> None:
    block = SampleBlock(Code.HEART_RATE, T0, 1.0, struct.pack(f"<{len(values)}f", *values))
    data = json.loads("{" + fhir_values.sampled(block) + "}")["valueSampledData"]["data"]
    back = data.split(" ")
    assert len(back) == len(values)
    for text, sent in zip(back, values, strict=True):
        if math.isnan(sent):
            assert text == "E"
        else:
            assert struct.unpack("<f", struct.pack("<f", float(text)))[0] == sent
