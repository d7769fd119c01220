from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from profile_strategies import date_times

from hub.ble.profiles import DecodeError, decode
from hub.ble.profiles.racp import (
    ABORT,
    FilterType,
    Op,
    Operator,
    RacpNumberOfRecords,
    RacpRequest,
    RacpResponse,
    ResponseCode,
    by_sequence,
    encode,
)


@pytest.mark.parametrize(
    ("request_", "hex_"),
    [
        (RacpRequest(Op.REPORT_RECORDS, Operator.ALL), "01 01"),
        (by_sequence(Op.REPORT_RECORDS, Operator.LESS_OR_EQUAL, 10), "01 02 01 0A 00"),
        (by_sequence(Op.REPORT_RECORDS, Operator.GREATER_OR_EQUAL, 258), "01 03 01 02 01"),
        (by_sequence(Op.REPORT_RECORDS, Operator.WITHIN_RANGE, 5, 9), "01 04 01 05 00 09 00"),
        (RacpRequest(Op.REPORT_RECORDS, Operator.FIRST), "01 05"),
        (RacpRequest(Op.REPORT_RECORDS, Operator.LAST), "01 06"),
        (RacpRequest(Op.DELETE_RECORDS, Operator.ALL), "02 01"),
        (ABORT, "03 00"),
        (RacpRequest(Op.REPORT_NUMBER, Operator.ALL), "04 01"),
        (by_sequence(Op.REPORT_NUMBER, Operator.GREATER_OR_EQUAL, 3), "04 03 01 03 00"),
    ],
)
def test_requests(request_: RacpRequest, hex_: str) -> None:
    assert encode(request_) == bytes.fromhex(hex_)
    assert decode(0x2A52, bytes.fromhex(hex_)) == request_


def test_user_facing_time_filter() -> None:
    t = datetime(2026, 11, 21, 8, 0)
    request = RacpRequest(
        Op.REPORT_RECORDS, Operator.GREATER_OR_EQUAL, FilterType.USER_FACING_TIME, (t,)
    )
    frame = encode(request)
    assert frame == bytes.fromhex("01 03 02 EA 07 0B 15 08 00 00")
    assert decode(0x2A52, frame) == request


def test_number_of_records_response() -> None:
    assert decode(0x2A52, bytes.fromhex("05 00 2C 01")) == RacpNumberOfRecords(300)


@pytest.mark.parametrize("code", list(ResponseCode))
def test_every_response_code(code: ResponseCode) -> None:
    r = decode(0x2A52, bytes([6, 0, 1, code]))
    assert r == RacpResponse(Op.REPORT_RECORDS, code)
    assert r.success is (code is ResponseCode.SUCCESS)
    assert r.no_records is (code is ResponseCode.NO_RECORDS_FOUND)


@pytest.mark.parametrize("request_op", [0x00, 0x07, 0x09, 0xFF])
def test_op_code_not_supported_echoes_an_unknown_request_op(request_op: int) -> None:
    r = decode(0x2A52, bytes([6, 0, request_op, ResponseCode.OP_CODE_NOT_SUPPORTED]))
    assert r == RacpResponse(request_op, ResponseCode.OP_CODE_NOT_SUPPORTED)
    assert not r.success
    assert encode(r) == bytes([6, 0, request_op, 2])


def test_response_code_names() -> None:
    assert [c.name for c in ResponseCode] == [
        "SUCCESS",
        "OP_CODE_NOT_SUPPORTED",
        "INVALID_OPERATOR",
        "OPERATOR_NOT_SUPPORTED",
        "INVALID_OPERAND",
        "NO_RECORDS_FOUND",
        "ABORT_UNSUCCESSFUL",
        "PROCEDURE_NOT_COMPLETED",
        "OPERAND_NOT_SUPPORTED",
    ]


@pytest.mark.parametrize(
    ("hex_", "match"),
    [
        ("01", "offset 0: op code and operator needs 2"),
        ("00 01", "op code .*reserved value 0x0"),
        ("07 01", "op code .*reserved value 0x7"),
        ("01 07", "operator .*reserved value 0x7"),
        ("01 00", "needs an operator"),
        ("03 01", "needs the null operator"),
        ("03 00 00", "trailing"),
        ("05 00 01", "operand needs 2"),
        ("06 00 01 0A", "response code .*reserved value 0xa"),
        ("06 00 09 01", "request op code .*reserved value 0x9"),
        ("01 02", "filter type needs 1"),
        ("01 02 03 00 00", "filter type .*reserved value 0x3"),
        ("01 04 01 05 00 09", "2 filter value"),
        ("01 01 00", "trailing"),
        ("01 03 02 00 00 00 00 00 00 00", "unknown time"),
    ],
)
def test_malformed(hex_: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(0x2A52, bytes.fromhex(hex_))


def test_encode_refuses_an_operand_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="takes no operand"):
        encode(RacpRequest(Op.REPORT_RECORDS, Operator.ALL, FilterType.SEQUENCE_NUMBER, (1,)))
    with pytest.raises(ValueError, match="2 value"):
        encode(by_sequence(Op.REPORT_RECORDS, Operator.WITHIN_RANGE, 1))


ops = st.sampled_from([Op.REPORT_RECORDS, Op.DELETE_RECORDS, Op.REPORT_NUMBER])


@st.composite
def messages(draw: st.DrawFn) -> RacpRequest | RacpNumberOfRecords | RacpResponse:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return RacpNumberOfRecords(draw(st.integers(0, 0xFFFF)))
    if kind == 1:
        return RacpResponse(
            draw(st.sampled_from(list(Op))), draw(st.sampled_from(list(ResponseCode)))
        )
    if kind == 2:
        return ABORT
    operator = draw(st.sampled_from([o for o in Operator if o is not Operator.NULL]))
    count = {Operator.LESS_OR_EQUAL: 1, Operator.GREATER_OR_EQUAL: 1, Operator.WITHIN_RANGE: 2}.get(
        operator, 0
    )
    if count == 0:
        return RacpRequest(draw(ops), operator)
    if draw(st.booleans()):
        numbers = draw(st.lists(st.integers(0, 0xFFFF), min_size=count, max_size=count))
        return by_sequence(draw(ops), operator, *numbers)
    times = tuple(draw(st.lists(date_times(), min_size=count, max_size=count)))
    return RacpRequest(draw(ops), operator, FilterType.USER_FACING_TIME, times)


@given(messages())
def test_round_trip(message: RacpRequest | RacpNumberOfRecords | RacpResponse) -> None:
    assert decode(0x2A52, encode(message)) == message
