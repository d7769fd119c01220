"""The UI's end of the control socket: typed requests and replies (`hub.control`) over one
Unix-socket connection, opened when first needed and again after the daemon restarts.

Every way of not getting an answer becomes a `Unavailable` whose `reason` the screen turns
into a plain sentence: the daemon is not running (no socket, or nobody listening), the socket
may not be opened (permissions), or no usable answer came in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from pathlib import Path
from typing import Any, Final

from hub.control import (
    MAX_LINE,
    OPS,
    ProtocolError,
    Reply,
    Request,
    decode_reply,
    encode_request,
)

DEFAULT_SOCKET: Final = Path("/run/hub/control.sock")
_MAX_PATH = 100  # as the daemon's server: a longer path is reached through /proc/self/fd


class Reason(enum.Enum):
    NOT_RUNNING = "not-running"
    NO_ACCESS = "no-access"
    NO_ANSWER = "no-answer"


class Unavailable(Exception):
    """No answer from the daemon; `reason` says why, the message says it for a log."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class OpRefused(Exception):
    """The daemon answered and refused the op; the message is the daemon's."""


class ControlClient:
    """One connection, one request at a time (the daemon answers each line in order)."""

    def __init__(self, path: Path = DEFAULT_SOCKET, *, timeout_s: float = 10.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._next_id = 0
        self._lock = asyncio.Lock()

    async def status(self) -> dict[str, Any]:
        result = await self.call("status")
        if not isinstance(result, dict):
            raise Unavailable(Reason.NO_ANSWER, "the status is not a JSON object")
        return result

    async def call(self, op: str, **args: Any) -> Any:
        """The result of `op`; `Unavailable` when the daemon cannot be asked, `OpRefused`
        when it refused. A connection the daemon closed is reopened once."""
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        async with self._lock:
            self._next_id += 1
            request = Request(self._next_id, op, args)
            try:
                reply = await self._exchange(request)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()  # the daemon restarted: once more on a new connection
                try:
                    reply = await self._exchange(request)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    await self.close()
                    raise Unavailable(Reason.NOT_RUNNING, f"connection lost: {exc}") from None
        if not reply.ok:
            raise OpRefused(reply.error or "refused")
        return reply.result

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _exchange(self, request: Request) -> Reply:
        reader, writer = await self._connection()
        try:
            async with asyncio.timeout(self.timeout_s):
                writer.write(encode_request(request))
                await writer.drain()
                line = await reader.readuntil(b"\n")
        except (TimeoutError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise Unavailable(Reason.NO_ANSWER, f"no usable answer: {exc!r}") from None
        try:
            reply = decode_reply(line)
        except ProtocolError as exc:
            await self.close()
            raise Unavailable(Reason.NO_ANSWER, f"a malformed answer: {exc}") from None
        if reply.id != request.id:
            await self.close()
            raise Unavailable(Reason.NO_ANSWER, f"answer {reply.id} to request {request.id}")
        return reply

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            try:
                self._streams = await self._open()
            except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
                raise Unavailable(Reason.NOT_RUNNING, f"{self.path}: {exc.strerror}") from None
            except PermissionError as exc:
                raise Unavailable(Reason.NO_ACCESS, f"{self.path}: {exc.strerror}") from None
            except OSError as exc:
                raise Unavailable(Reason.NOT_RUNNING, f"{self.path}: {exc}") from None
        return self._streams

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if len(os.fsencode(self.path)) <= _MAX_PATH:
            return await asyncio.open_unix_connection(str(self.path), limit=MAX_LINE + 1)
        directory = os.open(self.path.parent, os.O_PATH | os.O_DIRECTORY)
        try:
            short = f"/proc/self/fd/{directory}/{self.path.name}"
            return await asyncio.open_unix_connection(short, limit=MAX_LINE + 1)
        finally:
            os.close(directory)
