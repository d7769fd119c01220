"""The control-socket protocol between the daemon and the terminal UI.

Newline-delimited JSON over a Unix socket. A request is `{"id": int, "op": str, "args": {...}}`;
a reply is `{"id": int, "ok": true, "result": ...}` or `{"id": int, "ok": false, "error": str}`.
The module is pure: it turns bytes into validated messages and back, so the daemon's server and
the UI's client share one definition and a malformed line gets a specific refusal, not a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

MAX_LINE: Final = 64 * 1024  # a reply (the status grows with devices and events)
MAX_REQUEST: Final = 4 * 1024  # a request: an op and a few short arguments
MAX_ARG_CHARS: Final = 256  # any one string argument

# op -> (required argument names, optional argument names)
OPS: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "status": (frozenset(), frozenset()),
    "scan": (frozenset(), frozenset({"seconds"})),
    "pair": (frozenset({"address"}), frozenset({"passkey"})),
    "assign": (frozenset({"address", "kind"}), frozenset({"name", "transport", "port"})),
    "unassign": (frozenset({"address"}), frozenset()),
    "test-uplink": (frozenset(), frozenset()),
    "reload": (frozenset(), frozenset()),
}


class ProtocolError(ValueError):
    """A line that is not a valid message; the text says what is wrong with it."""


@dataclass(frozen=True)
class Request:
    id: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    id: int
    ok: bool
    result: Any = None
    error: str | None = None


def encode_request(request: Request) -> bytes:
    return _line({"id": request.id, "op": request.op, "args": request.args})


def encode_reply(reply: Reply) -> bytes:
    body: dict[str, Any] = {"id": reply.id, "ok": reply.ok}
    if reply.ok:
        body["result"] = reply.result
    else:
        body["error"] = reply.error or "failed"
    return _line(body)


def decode_request(line: bytes) -> Request:
    if len(line) > MAX_REQUEST:
        raise ProtocolError(f"request of {len(line)} bytes exceeds {MAX_REQUEST}")
    body = _object(line)
    request_id = _request_id(body)
    op = body.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {op!r}; known: {', '.join(OPS)}")
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError(f"op {op}: 'args' must be an object")
    required, optional = OPS[op]
    missing = sorted(required - args.keys())
    if missing:
        raise ProtocolError(f"op {op}: missing argument {missing[0]!r}")
    unknown = sorted(args.keys() - required - optional)
    if unknown:
        raise ProtocolError(f"op {op}: unknown argument {unknown[0]!r}")
    extra = sorted(body.keys() - {"id", "op", "args"})
    if extra:
        raise ProtocolError(f"unknown field {extra[0]!r}")
    for name, value in args.items():
        _check_argument(op, name, value)
    return Request(request_id, op, args)


def _check_argument(op: str, name: str, value: Any) -> None:
    """Arguments are scalars of bounded size; what they mean is the op's to check."""
    if isinstance(value, str):
        if len(value) > MAX_ARG_CHARS:
            raise ProtocolError(f"op {op}: {name!r} is longer than {MAX_ARG_CHARS} characters")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ProtocolError(f"op {op}: {name!r} must be a finite number")
    elif value is not None and not isinstance(value, int | bool):
        raise ProtocolError(f"op {op}: {name!r} must be a string, a number or a boolean")


def decode_reply(line: bytes) -> Reply:
    body = _object(line)
    request_id = _request_id(body)
    ok = body.get("ok")
    if not isinstance(ok, bool):
        raise ProtocolError("'ok' must be true or false")
    if ok:
        return Reply(request_id, True, result=body.get("result"))
    error = body.get("error")
    if not isinstance(error, str):
        raise ProtocolError("a failed reply needs an 'error' string")
    return Reply(request_id, False, error=error)


def request_id_of(line: bytes) -> int:
    """The id of a line that failed validation, so the refusal can still be matched; 0 if none."""
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return 0
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else 0


def _line(body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode() + b"\n"
    if len(data) > MAX_LINE:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_LINE}")
    return data


def _object(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_LINE:
        raise ProtocolError(f"line of {len(line)} bytes exceeds {MAX_LINE}")
    try:
        body = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON ({exc})") from None
    except RecursionError:
        raise ProtocolError("JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise ProtocolError("a message must be a JSON object")
    return body


def _request_id(body: dict[str, Any]) -> int:
    request_id = body.get("id")
    if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
        raise ProtocolError("'id' must be a non-negative integer")
    return request_id
