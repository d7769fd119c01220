"""Record Access Control Point 0x2A52 (Glucose, PLX, CGM, Weight Scale stored records).

op u8 | operator u8 | operand. Requests (ops 1-4) are written by the hub; responses (ops 5, 6)
come back as indications. Both directions are encoded and decoded: the hub encodes requests
and decodes responses, a simulated device does the opposite.
Typical download: `04 01` → `05 00 <n u16>`; `01 01` → n records → `06 00 01 01`;
incremental: `01 03 01 <sequence u16>` (records with sequence ≥ n).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TypeVar

from hub.ble.profiles.errors import DecodeError, reserved, trailing, truncated
from hub.ble.profiles.ieee11073 import decode_date_time, encode_date_time

RACP = "0x2A52 Record Access Control Point"


class Op(enum.IntEnum):
    REPORT_RECORDS = 1
    DELETE_RECORDS = 2
    ABORT = 3
    REPORT_NUMBER = 4
    NUMBER_RESPONSE = 5
    RESPONSE_CODE = 6


class Operator(enum.IntEnum):
    NULL = 0
    ALL = 1
    LESS_OR_EQUAL = 2
    GREATER_OR_EQUAL = 3
    WITHIN_RANGE = 4
    FIRST = 5
    LAST = 6


class FilterType(enum.IntEnum):
    SEQUENCE_NUMBER = 1
    USER_FACING_TIME = 2


class ResponseCode(enum.IntEnum):
    SUCCESS = 1
    OP_CODE_NOT_SUPPORTED = 2
    INVALID_OPERATOR = 3
    OPERATOR_NOT_SUPPORTED = 4
    INVALID_OPERAND = 5
    NO_RECORDS_FOUND = 6
    ABORT_UNSUCCESSFUL = 7
    PROCEDURE_NOT_COMPLETED = 8
    OPERAND_NOT_SUPPORTED = 9


# How many filter values each operator takes.
_OPERANDS = {
    Operator.ALL: 0,
    Operator.FIRST: 0,
    Operator.LAST: 0,
    Operator.LESS_OR_EQUAL: 1,
    Operator.GREATER_OR_EQUAL: 1,
    Operator.WITHIN_RANGE: 2,
}
_FILTER_SIZE = {FilterType.SEQUENCE_NUMBER: 2, FilterType.USER_FACING_TIME: 7}
_U16 = struct.Struct("<H")
E = TypeVar("E", bound=enum.IntEnum)


@dataclass(frozen=True, slots=True)
class RacpRequest:
    """A request (ops 1-4). `operand` holds the filter values: one for ≤ and ≥, two (low,
    high) for a range; sequence numbers, or times for the user-facing-time filter."""

    KIND: ClassVar[str] = "racp-request"

    op: Op
    operator: Operator
    filter_type: FilterType | None = None
    operand: tuple[int, ...] | tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class RacpNumberOfRecords:
    KIND: ClassVar[str] = "racp-number-of-records"

    count: int


@dataclass(frozen=True, slots=True)
class RacpResponse:
    """The response code to a request `request_op`. An op code this hub does not know comes
    back as the plain number, echoed in an "Op Code not supported" response (the only
    response that may name one)."""

    KIND: ClassVar[str] = "racp-response"

    request_op: Op | int
    code: ResponseCode

    @property
    def success(self) -> bool:
        return self.code is ResponseCode.SUCCESS

    @property
    def no_records(self) -> bool:
        return self.code is ResponseCode.NO_RECORDS_FOUND


Racp = RacpRequest | RacpNumberOfRecords | RacpResponse


def by_sequence(op: Op, operator: Operator, *numbers: int) -> RacpRequest:
    """A request filtered by sequence number (no numbers for all, first, last)."""
    filter_type = FilterType.SEQUENCE_NUMBER if numbers else None
    return RacpRequest(op, operator, filter_type, numbers)


ABORT = RacpRequest(Op.ABORT, Operator.NULL)


def _enum(kind: type[E], value: int, field: str, offset: int) -> E:
    try:
        return kind(value)
    except ValueError:
        raise reserved(RACP, f"{field} (offset {offset})", value) from None


def _expect_size(data: bytes, size: int, field: str) -> None:
    if len(data) < size:
        raise truncated(RACP, field, 2, size - 2, len(data) - 2)
    if len(data) > size:
        raise trailing(RACP, size, len(data) - size)


def decode(data: bytes) -> Racp:
    if len(data) < 2:
        raise truncated(RACP, "op code and operator", 0, 2, len(data))
    op = _enum(Op, data[0], "op code", 0)
    operator = _enum(Operator, data[1], "operator", 1)
    if op in (Op.ABORT, Op.NUMBER_RESPONSE, Op.RESPONSE_CODE):
        if operator is not Operator.NULL:
            raise DecodeError(f"{RACP}: {op.name} needs the null operator, got {operator.name}")
        if op is Op.ABORT:
            _expect_size(data, 2, "no operand")
            return ABORT
        _expect_size(data, 4, "operand")
        if op is Op.NUMBER_RESPONSE:
            return RacpNumberOfRecords(_U16.unpack_from(data, 2)[0])
        code = _enum(ResponseCode, data[3], "response code", 3)
        if code is ResponseCode.OP_CODE_NOT_SUPPORTED and data[2] not in Op._value2member_map_:
            return RacpResponse(data[2], code)
        return RacpResponse(_enum(Op, data[2], "request op code", 2), code)
    if operator is Operator.NULL:
        raise DecodeError(f"{RACP}: {op.name} needs an operator, got NULL")
    count = _OPERANDS[operator]
    if count == 0:
        _expect_size(data, 2, "no operand")
        return RacpRequest(op, operator)
    if len(data) < 3:
        raise truncated(RACP, "filter type", 2, 1, 0)
    filter_type = _enum(FilterType, data[2], "filter type", 2)
    size = _FILTER_SIZE[filter_type]
    _expect_size(data, 3 + count * size, f"{count} filter value(s) of {size} bytes")
    if filter_type is FilterType.SEQUENCE_NUMBER:
        numbers = struct.unpack_from(f"<{count}H", data, 3)
        return RacpRequest(op, operator, filter_type, numbers)
    times = tuple(decode_date_time(RACP, data, 3 + i * 7) for i in range(count))
    if None in times:
        raise DecodeError(f"{RACP}: user facing time filter with an unknown time")
    return RacpRequest(op, operator, filter_type, times)  # type: ignore[arg-type]


def encode(message: Racp) -> bytes:
    """The bytes of a request or a response; ValueError if a request's operand does not fit
    its operator."""
    if isinstance(message, RacpNumberOfRecords):
        return bytes((Op.NUMBER_RESPONSE, Operator.NULL)) + _U16.pack(message.count)
    if isinstance(message, RacpResponse):
        return bytes((Op.RESPONSE_CODE, Operator.NULL, message.request_op, message.code))
    head = bytes((message.op, message.operator))
    if message.op is Op.ABORT or not _OPERANDS.get(message.operator):
        if message.operand:
            raise ValueError(f"RACP {message.operator.name} takes no operand")
        return head
    if message.filter_type is None or len(message.operand) != _OPERANDS[message.operator]:
        raise ValueError(
            f"RACP {message.operator.name} takes a filter type and "
            f"{_OPERANDS[message.operator]} value(s)"
        )
    head += bytes((message.filter_type,))
    if message.filter_type is FilterType.SEQUENCE_NUMBER:
        return head + b"".join(_U16.pack(n) for n in message.operand)  # type: ignore[arg-type]
    return head + b"".join(encode_date_time(t) for t in message.operand)  # type: ignore[arg-type]
