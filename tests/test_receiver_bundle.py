"""The receiver's Bundle reading: the fast typed decode and the full `json.loads` check agree
on every input — the same keys for a good Bundle, the same refusal for any other."""

import json

import pytest
from fhir_support import T0, every_kind
from hypothesis import given
from hypothesis import strategies as st

from hub.receiver.bundle import _checked_keys, _well_formed_keys, bundle_keys
from hub.wire.envelope import EnvelopeError
from hub.wire.fhir import bundle_json

KINDS = list(every_kind().values())  # SampledData, summaries, PHD devices, status bits...
GOOD = bundle_json("b-1", "hub-a", "p", KINDS[:3], T0).encode()


def _outcome(payload: bytes, hub: str = "hub-a", batch: str = "b-1", count: int = 3) -> object:
    try:
        return bundle_keys(payload, hub, batch, count)
    except EnvelopeError as exc:
        return (exc.refusal, exc.detail)


def _reference(payload: bytes, hub: str = "hub-a", batch: str = "b-1", count: int = 3) -> object:
    try:
        return _checked_keys(payload, hub, batch, count)
    except EnvelopeError as exc:
        return (exc.refusal, exc.detail)


def test_a_good_bundle_takes_the_fast_path_with_the_same_keys() -> None:
    fast = _well_formed_keys(GOOD, "hub-a", "b-1", 3)
    assert fast is not None
    assert fast == _checked_keys(GOOD, "hub-a", "b-1", 3)
    # blood pressure: coincident timestamp, panel, status bits, pulse; cuff pressure; heart rate
    assert len(fast) == 6
    assert {key.split("/")[2] for key, _ in fast} == {
        "67975", "85354-9", "8410608", "8867-4", "8357-6"
    }  # fmt: skip


def test_every_kind_of_reading_is_keyed_and_counted() -> None:
    payload = bundle_json("b-9", "hub-a", "p", KINDS, T0).encode()
    fast = _well_formed_keys(payload, "hub-a", "b-9", len(KINDS))
    assert fast is not None and fast == _checked_keys(payload, "hub-a", "b-9", len(KINDS))


def _edited(edit: object) -> bytes:
    bundle = json.loads(GOOD)
    edit(bundle)  # type: ignore[operator]
    return json.dumps(bundle).encode()


def _obs(bundle: dict) -> dict:
    return next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")


@pytest.mark.parametrize(
    "payload",
    [
        _edited(lambda b: _obs(b)["resource"].pop("identifier")),
        _edited(lambda b: _obs(b)["resource"]["identifier"][0].pop("system")),
        _edited(lambda b: _obs(b)["resource"]["identifier"][0].update(value=None)),
        _edited(lambda b: _obs(b)["resource"]["identifier"][0].update(value="hub-b/x/1")),
        _edited(lambda b: _obs(b)["resource"].update(identifier=[7])),
        _edited(lambda b: _obs(b).pop("resource")),
        _edited(lambda b: b["entry"].append("not an entry")),
        _edited(lambda b: b["identifier"].update(extra="x")),
        _edited(lambda b: b.update(resourceType="Observation")),
        _edited(lambda b: b.update(entry={})),
        _edited(lambda b: b.update(subject="patiënt")),  # not ASCII: the full check
        _edited(lambda b: b.update(note=float("nan"))),  # json.loads takes NaN, msgspec not
        GOOD.replace(b'"type"', b'"t\xffpe"', 1),  # bad UTF-8 where msgspec only skips
        GOOD.replace(b"{", b"[", 1),
        b"[" * 5000 + b"]" * 5000,
        b"",
    ],
)
def test_anything_else_is_judged_by_the_full_check(payload: bytes) -> None:
    assert _outcome(payload) == _reference(payload)


@pytest.mark.parametrize(("hub", "batch", "count"), [("hub-b", "b-1", 3), ("hub-a", "b-2", 3),
                                                     ("hub-a", "b-1", 4)])  # fmt: skip
def test_header_mismatches_are_refused_alike(hub: str, batch: str, count: int) -> None:
    outcome = _outcome(GOOD, hub, batch, count)
    assert isinstance(outcome, tuple)
    assert outcome == _reference(GOOD, hub, batch, count)


_SPLICED = st.builds(
    lambda at, extra: GOOD[:at] + extra + GOOD[at:],
    st.integers(0, len(GOOD)),
    st.binary(max_size=8),
)


@given(st.binary(max_size=200) | _SPLICED)
def test_fuzzed_payloads_get_the_same_outcome(payload: bytes) -> None:
    assert _outcome(payload) == _reference(payload)
