import logging
import os
import socket
from pathlib import Path

import pytest

from hub.sdnotify import Notifier, notify_address, watchdog_interval_s


def test_messages_reach_the_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(10)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.enabled
        assert notifier.send(READY="1", STATUS="store open") is None
        assert server.recv(4096) == b"READY=1\nSTATUS=store open"
        notifier.close()
    finally:
        server.close()


def test_send_error_is_returned_not_swallowed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "absent")})
    with caplog.at_level(logging.WARNING, logger="hub.sdnotify"):
        error = notifier.send(WATCHDOG="1")
        assert isinstance(notifier.send(WATCHDOG="1"), FileNotFoundError)
    assert isinstance(error, FileNotFoundError)
    assert len(caplog.records) == 1  # logged once, not on every watchdog ping
    assert "absent" in caplog.records[0].getMessage()


def test_not_under_systemd_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.send(READY="1") is None


def test_abstract_socket_and_watchdog_interval() -> None:
    assert notify_address({"NOTIFY_SOCKET": "@hub"}) == "\0hub"
    me = os.getpid()
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}, me) == 10.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, me) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "x"}, me) is None
