"""The daemon's end of the control socket: a Unix socket in the runtime directory, mode 0660,
newline-delimited JSON (`hub.control`). Each line is answered in order; a malformed line gets a
refusal with its id, never a dropped connection or a crash.

Limits, so that no client can take the daemon's file descriptors or memory: at most
`MAX_CLIENTS` connections (one more is refused at once with a line saying so), a connection
idle for `IDLE_S` is closed, a request line is at most `MAX_REQUEST` bytes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hub.control import (
    MAX_REQUEST,
    ProtocolError,
    Reply,
    decode_request,
    encode_reply,
    request_id_of,
)

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]
_MAX_PATH = 100  # sun_path holds 108 bytes with the terminating NUL; keep a margin
MAX_CLIENTS = 32  # the technician's UI, the patient's screen, a few shells and scripts
IDLE_S = 120.0


class OpError(Exception):
    """An op that could not be done; the message goes back to the client."""


class ControlServer:
    def __init__(
        self,
        path: Path,
        handler: Handler,
        *,
        max_clients: int = MAX_CLIENTS,
        idle_s: float = IDLE_S,
    ) -> None:
        self.path = path
        self._handler = handler
        self._max_clients = max_clients
        self._idle_s = idle_s
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket of a killed daemon
        # A socket path is limited to 107 bytes; a longer one is bound through the directory's
        # /proc/self/fd entry (Linux), which names the same place in a few bytes.
        directory = os.open(self.path.parent, os.O_PATH | os.O_DIRECTORY)
        short = f"/proc/self/fd/{directory}/{self.path.name}"
        old = os.umask(0o117)  # the socket is born 0660: no window with a wider mode
        try:
            self._server = await asyncio.start_unix_server(
                self._serve,
                path=short if len(os.fsencode(self.path)) > _MAX_PATH else str(self.path),
                limit=MAX_REQUEST + 1,
            )
        finally:
            os.umask(old)
            os.close(directory)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._clients) >= self._max_clients:
            with contextlib.suppress(ConnectionError):
                writer.write(encode_reply(Reply(0, False, error="too many connections")))
            writer.close()
            return
        self._clients.add(task)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._idle_s):
                        line = await reader.readuntil(b"\n")
                except (asyncio.IncompleteReadError, TimeoutError):
                    return  # the client left, or said nothing for too long
                except asyncio.LimitOverrunError:
                    writer.write(encode_reply(Reply(0, False, error="line too long")))
                    await writer.drain()
                    return
                writer.write(await self._answer(line))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._clients.discard(task)
            writer.close()

    async def _answer(self, line: bytes) -> bytes:
        try:
            request = decode_request(line)
        except ProtocolError as exc:
            return encode_reply(Reply(request_id_of(line), False, error=str(exc)))
        try:
            result = await self._handler(request.op, request.args)
        except OpError as exc:
            return encode_reply(Reply(request.id, False, error=str(exc)))
        except Exception as exc:  # a bug in one op must not take the daemon down
            log.exception("control op %s failed", request.op)
            return encode_reply(Reply(request.id, False, error=f"internal error: {exc}"))
        try:
            return encode_reply(Reply(request.id, True, result=result))
        except (ProtocolError, ValueError, TypeError) as exc:
            return encode_reply(Reply(request.id, False, error=f"reply not encodable: {exc}"))
