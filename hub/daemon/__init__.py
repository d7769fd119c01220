"""The hub daemon (`hub run`): devices → triage → store → uplink under one asyncio loop."""

from hub.daemon.service import Daemon, Hooks, load_config, log_to_stdout, run

__all__ = ["Daemon", "Hooks", "load_config", "log_to_stdout", "run"]
