import json
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from mqtt_support import T0, readings

from hub.model import Code, DeviceInfo, Kind, Observation, Reading
from hub.wire import fhir

HUB = "hub-a"
ID = "0192f0e8-7d2a-7000-8000-000000000001"


def _bundle(batch: list[Reading], **kw: object) -> dict:
    return json.loads(fhir.bundle_json("batch-1", HUB, "pseudo-42", batch, T0, **kw))


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _spo2(**kw: object) -> Reading:
    base = {
        "id": ID,
        "device": "AA:BB:CC:DD:EE:FF",
        "kind": Kind.SPO2_SPOT,
        "device_time": None,
        "received": T0,
        "observations": (
            Observation(Code.SPO2, 97.0, "%"),
            Observation(Code.HEART_RATE, 64.0, "/min"),
        ),
    }
    return Reading(**(base | kw))  # type: ignore[arg-type]


def test_blood_pressure_is_a_panel_with_components_and_a_separate_pulse() -> None:
    bundle = _bundle(readings(1, start=1))
    panel, pulse = _resources(bundle, "Observation")
    assert panel["code"]["coding"][0]["code"] == "85354-9"
    parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in panel["component"]}
    assert parts["8480-6"] == {
        "value": 111.0,
        "unit": "mm[Hg]",
        "system": "http://unitsofmeasure.org",
        "code": "mm[Hg]",
    }
    assert parts["8462-4"]["value"] == 71.0 and parts["8478-0"]["value"] == 90.0
    assert pulse["code"]["coding"][0]["code"] == "8867-4"
    assert pulse["valueQuantity"]["value"] == 56.0 and pulse["valueQuantity"]["unit"] == "/min"
    assert "valueQuantity" not in panel


def test_identifier_device_subject_and_times() -> None:
    r = readings(1, start=1)[0]
    bundle = _bundle([r])
    panel = _resources(bundle, "Observation")[0]
    assert panel["identifier"] == [
        {"system": fhir.READING_SYSTEM, "value": f"{HUB}/{r.id}/85354-9"}
    ]
    assert fhir.identifier(HUB, r.id, Code.BP_PANEL) == panel["identifier"][0]["value"]
    entry = bundle["entry"][1]
    assert entry["request"]["ifNoneExist"] == (
        f"identifier={fhir.READING_SYSTEM}|{HUB}/{r.id}/85354-9"
    )
    assert panel["subject"] == {"identifier": {"system": fhir.PATIENT_SYSTEM, "value": "pseudo-42"}}
    # the device clock (naive, set by the hub in UTC) is the effective time...
    assert panel["effectiveDateTime"] == "2026-11-21T08:01:00+00:00"
    ext = {e["url"]: e for e in panel["extension"]}
    # ...and the hub's receive time and the clock-sync state are kept alongside
    assert ext[fhir.EXT_RECEIVED]["valueDateTime"] == "2026-11-21T08:01:02+00:00"
    assert ext[fhir.EXT_CLOCK]["valueCode"] == "synced"
    (device,) = _resources(bundle, "Device")
    assert panel["device"] == {"reference": bundle["entry"][0]["fullUrl"]}
    assert device["identifier"][0]["value"] == "c0:11:22:33:44:55"


def test_device_zone_for_naive_device_clocks() -> None:
    oslo = timezone(timedelta(hours=1))
    panel = _resources(_bundle(readings(1), device_tz=oslo), "Observation")[0]
    assert panel["effectiveDateTime"] == "2026-11-21T08:00:00+01:00"


@pytest.mark.parametrize(
    "zone",
    [
        UTC,
        timezone(timedelta(hours=-3)),
        timezone(timedelta(hours=5, minutes=30, seconds=7, microseconds=9)),
        ZoneInfo("Europe/Oslo"),  # not a fixed offset: summer and winter differ
    ],
    ids=str,
)
def test_naive_device_times_get_the_zone_offset_isoformat_would_give(zone: tzinfo) -> None:
    winter = datetime(2026, 1, 10, 7, 30, 5, 120)
    summer = datetime(2026, 7, 10, 7, 30, 5)
    batch = [_spo2(device_time=when, id=f"{ID[:-1]}{i}") for i, when in enumerate((winter, summer))]
    got = [
        r["effectiveDateTime"] for r in _resources(_bundle(batch, device_tz=zone), "Observation")
    ]
    assert got == [when.replace(tzinfo=zone).isoformat() for when in (winter, summer) for _ in "ab"]


def test_no_device_clock_uses_receive_time() -> None:
    obs = _resources(_bundle([_spo2()]), "Observation")
    assert [o["code"]["coding"][0]["code"] for o in obs] == ["59408-5", "8867-4"]
    assert obs[0]["effectiveDateTime"] == T0.isoformat()
    ext = {e["url"]: e for e in obs[0]["extension"]}
    assert ext[fhir.EXT_CLOCK]["valueCode"] == "no-device-clock"
    assert "interpretation" not in obs[0]


@pytest.mark.parametrize(
    ("level", "v3"), [("green", "N"), ("yellow", "A"), ("red", "AA"), ("purple", None)]
)
def test_triage_colour_is_an_interpretation(level: str, v3: str | None) -> None:
    obs = _resources(_bundle([_spo2(details={"level": level})]), "Observation")[0]
    if v3 is None:
        assert "interpretation" not in obs
        return
    codings = obs["interpretation"][0]["coding"]
    assert codings[0] == {"system": fhir.TRIAGE_SYSTEM, "code": level}
    assert codings[1]["code"] == v3


def test_special_values_become_data_absent_reason() -> None:
    r = _spo2(
        observations=(
            Observation(Code.SPO2, None, "%", special="nan"),
            Observation(Code.HEART_RATE, None, "/min", special="+inf"),
            Observation(Code.BODY_TEMPERATURE, float("nan"), "Cel"),
        )
    )
    obs = _resources(_bundle([r]), "Observation")
    reasons = [o["dataAbsentReason"]["coding"][0]["code"] for o in obs]
    assert reasons == ["not-a-number", "positive-infinity", "not-a-number"]
    assert all("valueQuantity" not in o for o in obs)


def test_flags_become_device_status_extensions() -> None:
    r = _spo2(flags=frozenset({"b-flag", "a-flag"}))
    obs = _resources(_bundle([r]), "Observation")[0]
    status = [e["valueCode"] for e in obs["extension"] if e["url"] == fhir.EXT_STATUS]
    assert status == ["a-flag", "b-flag"]


def test_device_information_fills_the_device_resource() -> None:
    info = DeviceInfo("C0:11:22:33:44:55", manufacturer="Omron", model="M7", serial="S1",
                      firmware="2.1")  # fmt: skip
    device = _resources(_bundle(readings(2), devices=lambda _a: info), "Device")
    assert len(device) == 1  # one Device per device, however many readings
    assert device[0]["manufacturer"] == "Omron" and device[0]["serialNumber"] == "S1"
    assert device[0]["deviceName"] == [{"name": "M7", "type": "model-name"}]
    assert device[0]["version"] == [{"type": {"text": "firmware"}, "value": "2.1"}]


def test_device_identifier_is_btmac_for_ble_and_hub_scoped_for_serial() -> None:
    ble, serial = _spo2(), _spo2(id=ID.replace("0001", "0002"), device="cms50d-1")
    devices = _resources(_bundle([ble, serial]), "Device")
    found = sorted((d["identifier"][0] for d in devices), key=lambda i: i["system"])
    assert len(found) == 2
    assert found[0]["system"] == fhir.BLUETOOTH_SYSTEM
    assert found[0]["value"] == "aa:bb:cc:dd:ee:ff"
    assert found[0]["type"]["coding"][0]["code"] == "BTMAC"
    assert found[1] == {"system": fhir.LOCAL_DEVICE_SYSTEM, "value": f"{HUB}/cms50d-1"}


def test_strings_are_escaped() -> None:
    r = _spo2(details={"clock_sync": 'odd"value\\'}, flags=frozenset({"x\ny"}))
    text = fhir.bundle_json("b", HUB, 'pa"tient', [r], T0)
    obs = _resources(json.loads(text), "Observation")[0]
    assert obs["subject"]["identifier"]["value"] == 'pa"tient'


def test_batch_bundle_validates_as_fhir() -> None:
    info = DeviceInfo("C0:11:22:33:44:55", manufacturer="Omron", model="M7", firmware="2.1")
    batch = [*readings(30), _spo2(received=datetime(2026, 1, 1, tzinfo=UTC))]
    bundle = Bundle.model_validate(_bundle(batch, devices=lambda _a: info))
    assert bundle.type == "transaction"
    assert len(bundle.entry) == 2 + 30 * 2 + 2


def test_observation_keys_checks_ownership() -> None:
    bundle = _bundle(readings(3))
    keys = fhir.observation_keys(bundle, HUB)
    assert [k for k, _ in keys] == [
        o["identifier"][0]["value"] for o in _resources(bundle, "Observation")
    ]
    with pytest.raises(fhir.BundleError, match="not this hub's"):
        fhir.observation_keys(bundle, "hub-b")
    for bad in ([], {"resourceType": "Patient"}, {"resourceType": "Bundle", "entry": [1]}):
        with pytest.raises(fhir.BundleError):
            fhir.observation_keys(bad, HUB)
