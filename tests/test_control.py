import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.control import (
    MAX_LINE,
    ProtocolError,
    Reply,
    Request,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    request_id_of,
)


def test_request_round_trip() -> None:
    req = Request(7, "assign", {"address": "C0:11:22:33:44:55", "kind": "blood-pressure"})
    line = encode_request(req)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_request(line) == req


def test_reply_round_trip() -> None:
    ok = Reply(3, True, result={"queue": 12})
    bad = Reply(4, False, error="no such device")
    assert decode_reply(encode_reply(ok)) == ok
    assert decode_reply(encode_reply(bad)) == bad


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{", "not JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"op":"status"}', "'id' must be a non-negative integer"),
        (b'{"id":true,"op":"status"}', "'id' must be"),
        (b'{"id":1,"op":"reboot"}', "unknown op 'reboot'"),
        (b'{"id":1,"op":"pair","args":{}}', "op pair: missing argument 'address'"),
        (b'{"id":1,"op":"status","args":{"x":1}}', "op status: unknown argument 'x'"),
        (b'{"id":1,"op":"status","args":[]}', "'args' must be an object"),
        (b'{"id":1,"op":"status","extra":1}', "unknown field 'extra'"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_request(line)


def test_oversized_line_is_refused() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        decode_request(b'{"id":1,"op":"status","args":{"x":"' + b"a" * MAX_LINE + b'"}}')


def test_failed_reply_needs_error_text() -> None:
    with pytest.raises(ProtocolError, match="'error' string"):
        decode_reply(json.dumps({"id": 1, "ok": False}).encode())


def test_request_id_of_bad_lines() -> None:
    assert request_id_of(b'{"id": 9, "op": "nope"}') == 9
    assert request_id_of(b"garbage") == 0
    assert request_id_of(b'{"id": "9"}') == 0


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_protocol_error(data: bytes) -> None:
    try:
        request = decode_request(data)
    except ProtocolError as exc:
        assert str(exc)
    else:
        assert decode_request(encode_request(request)) == request
