"""Every section refuses a wrong key, a wrong type and a wrong value with file + key in the text."""

from pathlib import Path

import pytest

from hub import config
from hub.config import ConfigError

MINIMAL = '[hub]\nid = "hub-0001"\n'


def test_minimal_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(MINIMAL)
    cfg = config.load(path)
    assert cfg.hub.id == "hub-0001"
    assert cfg.store.retention_days == 7
    assert cfg.uplink.port == 8883
    assert cfg.ble.max_connections == 3
    assert cfg.patient.pathway == "general"
    assert cfg.devices == ()
    assert cfg.store_path == Path("/var/lib/hub/hub.db")


def test_full_file_is_typed() -> None:
    cfg = config.loads(
        MINIMAL
        + """
data_dir = "/tmp/h"
language = "en"
[store]
retention_days = 30
key_file = "/tmp/h/k"
[uplink]
host = "broker.example"
port = 8884
batch_seconds = 5
[ble]
scan_mode = "active"
[patient]
id = "p-123"
pathway = "copd"
[[devices]]
address = "C0:11:22:33:44:55"
kind = "pulse-oximeter"
[[devices]]
address = "C0:11:22:33:44:66"
kind = "blood-pressure"
name = "cuff"
"""
    )
    assert cfg.hub.data_dir == Path("/tmp/h")
    assert cfg.store_path == Path("/tmp/h/hub.db")
    assert cfg.store.key_file == Path("/tmp/h/k")
    assert cfg.uplink.batch_seconds == 5.0 and isinstance(cfg.uplink.batch_seconds, float)
    assert cfg.ble.scan_mode == "active"
    assert cfg.patient.pathway == "copd"
    assert [d.kind for d in cfg.devices] == ["pulse-oximeter", "blood-pressure"]
    assert cfg.devices[1].name == "cuff"


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ('[hub]\nid = "A B"\n', "hub.id", "lower-case letters"),
        ('[hub]\nid = "hub-1"\nlanguage = "de"\n', "hub.language", "one of 'nb', 'en'"),
        ('[hub]\nid = "hub-1"\ncolour = 1\n', "hub.colour", "unknown key"),
        ("[hub]\nid = 7\n", "hub.id", "got 7 (int)"),
        ('[store]\nretention_days = "7"\n', "store.retention_days", "an integer from 0 to 3650"),
        ("[store]\nretention_days = -1\n", "store.retention_days", "from 0 to 3650"),
        ("[store]\nflush_ms = 1.5\n", "store.flush_ms", "an integer"),
        ("[store]\nwal = true\n", "store.wal", "unknown key"),
        ('[store]\npath = ""\n', "store.path", "a file path"),
        ("[uplink]\nport = 70000\n", "uplink.port", "from 1 to 65535"),
        ('[uplink]\nenabled = "yes"\n', "uplink.enabled", "true or false"),
        ("[uplink]\nbatch_seconds = 0\n", "uplink.batch_seconds", "a number from 0.01"),
        ("[uplink]\npasword = 1\n", "uplink.pasword", "unknown key"),
        ("[ble]\nmax_connections = 0\n", "ble.max_connections", "from 1 to 10"),
        ('[ble]\nscan_mode = "loud"\n', "ble.scan_mode", "'passive', 'active'"),
        ("[ble]\nmax_connections = true\n", "ble.max_connections", "an integer"),
        ('[patient]\npathway = "asthma"\n', "patient.pathway", "'copd'"),
        ("[patient]\nid = 5\n", "patient.id", "a string"),
        (
            '[[devices]]\naddress = "c0:11:22:33:44:55"\nkind = "glucose"\n',
            "devices[0].address",
            "BLE address",
        ),
        (
            '[[devices]]\naddress = "C0:11:22:33:44:55"\nkind = "toaster"\n',
            "devices[0].kind",
            "one of",
        ),
        ('[[devices]]\nkind = "glucose"\n', "devices[0].address", "missing"),
        (
            '[[devices]]\naddress = "cms50d 1"\nkind = "pulse-oximeter"\n',
            "devices[0].address",
            "letters, digits",
        ),
        (
            '[[devices]]\naddress = "cms50d-1"\nkind = "pulse-oximeter"\n',
            "devices[0].address",
            "BLE address",
        ),
        (
            '[[devices]]\naddress = "C0:11:22:33:44:55"\nkind = "glucose"\nport = "auto"\n',
            "devices[0].port",
            "only for transport = 'serial'",
        ),
        (
            '[[devices]]\naddress = "cms50d-1"\nkind = "pulse-oximeter"\ntransport = "serial"\n',
            "devices[0].port",
            "missing; a serial device needs",
        ),
        (
            '[[devices]]\naddress = "ox"\nkind = "pulse-oximeter"\ntransport = "serial"\n'
            'port = "ttyUSB0"\n',
            "devices[0].port",
            "'/dev/ttyUSB0', or 'auto'",
        ),
        (
            '[[devices]]\naddress = "ox"\nkind = "glucose"\ntransport = "serial"\nport = "auto"\n',
            "devices[0].kind",
            "needs one of 'pulse-oximeter', got 'glucose'",
        ),
        ('devices = "cuff"\n', "devices", "a list"),
        ("store = 3\n", "store", "expected a table"),
    ],
)
def test_each_section_refuses_bad_input_naming_file_and_key(
    extra: str, key: str, expected: str
) -> None:
    text = extra if extra.startswith("[hub]") else MINIMAL + extra
    if extra.startswith(("devices", "store =")):
        text = extra + MINIMAL
    with pytest.raises(ConfigError) as err:
        config.loads(text, "/etc/hub/hub.toml")
    message = str(err.value)
    assert message.startswith(f"/etc/hub/hub.toml: {key}: "), message
    assert expected in message


def test_serial_device_entry() -> None:
    cfg = config.loads(
        MINIMAL
        + """
[[devices]]
address = "cms50d-1"
kind = "pulse-oximeter"
transport = "serial"
port = "/dev/serial/by-id/usb-Silicon_Labs_CP2102-if00-port0"
[[devices]]
address = "C0:11:22:33:44:55"
kind = "pulse-oximeter"
"""
    )
    serial, ble = cfg.devices
    assert (serial.address, serial.transport) == ("cms50d-1", "serial")
    assert serial.port == "/dev/serial/by-id/usb-Silicon_Labs_CP2102-if00-port0"
    assert (ble.transport, ble.port) == ("ble", "")


def test_missing_hub_section_and_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^x.toml: hub: missing"):
        config.loads("", "x.toml")
    with pytest.raises(ConfigError, match=r"^x.toml: not valid TOML \(.*line 1"):
        config.loads("[hub\n", "x.toml")
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope.toml: cannot read the file"):
        config.load(missing)
