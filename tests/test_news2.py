import contextlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.signal import news2

NORMAL = {
    "resp_rate": 16,
    "spo2": 98,
    "spo2_scale": 1,
    "on_oxygen": False,
    "systolic": 120,
    "pulse": 70,
    "consciousness": "A",
    "temp": 37.0,
}


def score_of(**changes: object) -> news2.Result:
    return news2.score(news2.parse(json.dumps({**NORMAL, **changes})))


# (value just inside one band, its sub-score) on both sides of every edge of the RCP table
EDGES = {
    "resp_rate": [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)],
    "systolic": [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
    "pulse": [
        (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1),
        (110, 1), (111, 2), (130, 2), (131, 3),
    ],
    "temp": [
        (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2),
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [(name, v, s) for name, pairs in EDGES.items() for v, s in pairs],
)
def test_every_band_edge_of_numeric_parameters(name: str, value: float, expected: int) -> None:
    result = score_of(**{name: value})
    assert result.subscores[name] == expected
    assert result.score == expected


@pytest.mark.parametrize(
    ("spo2", "expected"), [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
)
@pytest.mark.parametrize("on_oxygen", [False, True])
def test_spo2_scale_1_edges_ignore_oxygen(spo2: int, expected: int, on_oxygen: bool) -> None:
    result = score_of(spo2=spo2, on_oxygen=on_oxygen)
    assert result.subscores["spo2"] == expected
    assert result.subscores["on_oxygen"] == (2 if on_oxygen else 0)


@pytest.mark.parametrize(
    ("spo2", "on_air", "on_oxygen"),
    [
        (83, 3, 3), (84, 2, 2), (85, 2, 2), (86, 1, 1), (87, 1, 1), (88, 0, 0),
        (92, 0, 0), (93, 0, 1), (94, 0, 1), (95, 0, 2), (96, 0, 2), (97, 0, 3), (100, 0, 3),
    ],
)  # fmt: skip
def test_spo2_scale_2_edges_on_air_and_on_oxygen(spo2: int, on_air: int, on_oxygen: int) -> None:
    assert score_of(spo2=spo2, spo2_scale=2).subscores["spo2"] == on_air
    oxygen = score_of(spo2=spo2, spo2_scale=2, on_oxygen=True)
    assert oxygen.subscores["spo2"] == on_oxygen
    assert oxygen.score == on_oxygen + 2


@pytest.mark.parametrize(("level", "expected"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness(level: str, expected: int) -> None:
    assert score_of(consciousness=level).subscores["consciousness"] == expected


@pytest.mark.parametrize(
    ("changes", "score", "risk"),
    [
        ({}, 0, "low"),
        ({"resp_rate": 21, "pulse": 111}, 4, "low"),  # 2 + 2, no single 3
        ({"systolic": 90}, 3, "low-medium"),  # a single parameter scoring 3
        ({"systolic": 90, "pulse": 91}, 4, "low-medium"),
        ({"systolic": 90, "temp": 39.1}, 5, "medium"),  # a 3 but aggregate 5: medium
        ({"resp_rate": 21, "pulse": 111, "temp": 38.1}, 5, "medium"),
        ({"resp_rate": 21, "pulse": 111, "temp": 39.1}, 6, "medium"),
        ({"resp_rate": 25, "pulse": 111, "temp": 39.1}, 7, "high"),
        ({"resp_rate": 25, "spo2": 91, "systolic": 90, "pulse": 131, "consciousness": "U",
          "temp": 35.0, "on_oxygen": True}, 20, "high"),
    ],
)  # fmt: skip
def test_aggregate_and_risk(changes: dict[str, object], score: int, risk: str) -> None:
    result = score_of(**changes)
    assert (result.score, result.risk) == (score, risk)
    assert result.score == sum(result.subscores.values())


def test_non_integer_values_fall_in_the_band_they_do_not_exceed() -> None:
    assert score_of(resp_rate=20.5).subscores["resp_rate"] == 2
    assert score_of(temp=38.05).subscores["temp"] == 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "expected one JSON object"),
        (json.dumps({k: v for k, v in NORMAL.items() if k != "temp"}), "missing key 'temp'"),
        (json.dumps({**NORMAL, "weight": 80}), "unknown key 'weight'"),
        (json.dumps({**NORMAL, "pulse": "70"}), "pulse: expected a number"),
        (json.dumps({**NORMAL, "pulse": True}), "pulse: expected a number"),
        (json.dumps({**NORMAL, "spo2": 101}), "spo2: expected a number from 0 to 100"),
        (json.dumps({**NORMAL, "temp": -3}), "temp: expected a number"),
        ('{"resp_rate": NaN}', "missing key"),
        (json.dumps({**NORMAL}).replace("16", "NaN"), "resp_rate: expected a number from"),
        (json.dumps({**NORMAL, "spo2_scale": 3}), "spo2_scale: expected 1 or 2"),
        (json.dumps({**NORMAL, "spo2_scale": True}), "spo2_scale: expected 1 or 2"),
        (json.dumps({**NORMAL, "on_oxygen": 1}), "on_oxygen: expected true or false"),
        (json.dumps({**NORMAL, "consciousness": "a"}), "consciousness: expected one of"),
        (json.dumps({**NORMAL, "consciousness": ["A"]}), "consciousness: expected one of"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(text: str | bytes, fragment: str) -> None:
    with pytest.raises(news2.InputError) as info:
        news2.parse(text)
    assert fragment in str(info.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(st.fixed_dictionaries({k: json_values for k in NORMAL}) | json_values)
def test_any_json_either_scores_or_is_refused(obj: object) -> None:
    try:
        text = json.dumps(obj)
    except ValueError:
        return
    try:
        result = news2.score(news2.parse(text))
    except news2.InputError as exc:
        assert str(exc)
        return
    assert 0 <= result.score <= 20
    assert result.risk in ("low", "low-medium", "medium", "high")
    assert not math.isnan(result.score)


@given(st.binary(max_size=64))
def test_any_bytes_either_score_or_are_refused(data: bytes) -> None:
    with contextlib.suppress(news2.InputError):
        news2.score(news2.parse(data))
