"""The UI's control-socket client against the daemon's real socket server: answers,
refusals, a daemon that is not running or restarts, and answers it cannot use."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

import hub
from hub.daemon.control_server import ControlServer, OpError
from hub.ui.client import ControlClient, OpRefused, Reason, Unavailable


class Ops:
    """A daemon's op handler in miniature: a status that counts how often it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    async def handle(self, op: str, args: dict[str, Any]) -> Any:
        if op == "status":
            self.asked += 1
            return {"state": "online", "asked": self.asked}
        raise OpError(f"{op} is not available here")


async def reason_of(client: ControlClient) -> Reason:
    with pytest.raises(Unavailable) as caught:
        await client.status()
    return caught.value.reason


def test_answers_refusals_and_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "run" / "control.sock"

    async def scenario() -> None:
        client = ControlClient(path)
        assert await reason_of(client) is Reason.NOT_RUNNING  # no socket yet
        ops = Ops()
        server = ControlServer(path, ops.handle)
        await server.start()
        assert await client.status() == {"state": "online", "asked": 1}
        assert (await client.status())["asked"] == 2  # the same connection, kept
        with pytest.raises(OpRefused, match="test-uplink is not available here"):
            await client.call("test-uplink")
        with pytest.raises(ValueError, match="unknown op 'format'"):
            await client.call("format")
        await server.stop()
        assert await reason_of(client) is Reason.NOT_RUNNING
        server = ControlServer(path, ops.handle)
        await server.start()  # the daemon is back: a new connection, no restart of the UI
        assert (await client.status())["asked"] == 3
        await server.stop()
        await client.close()

    asyncio.run(scenario())


def test_a_stale_socket_file_is_a_daemon_not_running(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    with socket.socket(socket.AF_UNIX) as left_behind:
        left_behind.bind(str(path))  # bound, never listening: as after a killed daemon

    async def scenario() -> None:
        assert await reason_of(ControlClient(path)) is Reason.NOT_RUNNING

    asyncio.run(scenario())


def test_a_socket_path_longer_than_sun_path(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 90) / "control.sock"

    async def scenario() -> None:
        server = ControlServer(path, Ops().handle)
        await server.start()
        client = ControlClient(path)
        assert (await client.status())["asked"] == 1
        await client.close()
        await server.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "answer",
    [
        b"not json\n",
        b'{"id": 99, "ok": true, "result": {}}\n',  # another request's answer
        b'{"id": 1, "ok": true, "result": [1, 2]}\n',  # a status that is not an object
        None,  # no answer at all
    ],
)
def test_an_unusable_answer_is_no_answer(tmp_path: Path, answer: bytes | None) -> None:
    path = tmp_path / "control.sock"

    async def scenario() -> None:
        async def odd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            if answer is not None:
                writer.write(answer)
                await writer.drain()
            await reader.read()  # until the client hangs up

        server = await asyncio.start_unix_server(odd, path=str(path))
        client = ControlClient(path, timeout_s=0.5)
        assert await reason_of(client) is Reason.NO_ANSWER
        await client.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())


PROBE = """
import asyncio, sys
from pathlib import Path
from hub.ui.client import ControlClient, Unavailable

async def probe():
    try:
        await ControlClient(Path(sys.argv[1])).status()
    except Unavailable as exc:
        print(exc.reason.value)
    else:
        print("answered")

asyncio.run(probe())
"""


def test_a_socket_it_may_not_open_is_no_access(tmp_path: Path) -> None:
    """The screen's user outside the daemon's group: the directory (0750) or the socket
    (0660) shuts it out. As root the probe runs as nobody, with the system's Python (the
    client needs only the standard library) since the venv's may be out of nobody's reach;
    otherwise the directory is locked."""
    path = tmp_path / "run" / "control.sock"
    as_nobody = os.geteuid() == 0
    python = shutil.which("python3", path="/usr/bin:/bin") if as_nobody else sys.executable
    if python is None:
        pytest.skip("no system python3 to run the probe as nobody")
    repo = str(Path(hub.__file__).parent.parent)

    async def scenario() -> str:
        server = ControlServer(path, Ops().handle)
        await server.start()
        if not as_nobody:
            path.parent.chmod(0)
        try:
            probe = await asyncio.create_subprocess_exec(
                python, "-c", PROBE, str(path),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": repo}, cwd="/",
                user=65534 if as_nobody else None, group=65534 if as_nobody else None,
                extra_groups=[] if as_nobody else None,
            )  # fmt: skip
            out, err = await probe.communicate()
        finally:
            path.parent.chmod(0o750)
            await server.stop()
        if probe.returncode != 0:
            pytest.skip(f"the probe cannot run as another user here: {err.decode()[-200:]}")
        return out.decode().strip()

    assert asyncio.run(scenario()) == Reason.NO_ACCESS.value
