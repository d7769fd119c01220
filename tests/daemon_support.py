"""The in-process daemon tests' configuration: a hub without an uplink, its state and
runtime directories under the test's own directory, fast group commits."""

from __future__ import annotations

from pathlib import Path

OFFLINE = """[hub]
id = "hub-a"
data_dir = "{root}/state"
runtime_dir = "{root}/run"
timezone = "Europe/Oslo"

[store]
flush_ms = 50
disk_floor_mb = {floor_mb}

[uplink]
enabled = false
"""


def offline_config(root: Path, tables: str = "", *, floor_mb: int = 0) -> Path:
    """Write `root/hub.toml`: the offline hub, then `tables` (more TOML), and return it."""
    path = root / "hub.toml"
    path.write_text(OFFLINE.format(root=root, floor_mb=floor_mb) + tables)
    return path
