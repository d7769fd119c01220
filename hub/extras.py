"""The optional parts of the package (pyproject.toml's extras) and the one-line refusal when
one is missing: a hub image installs only the runtime dependencies, so `hub demo` and
`hub bench` check for theirs before importing them."""

from __future__ import annotations

import importlib


class MissingExtra(Exception):
    """An extra is not installed; the message names it and the command that installs it."""


def require(extra: str, *modules: str) -> None:
    """Import `modules` (what `extra` installs) or refuse, naming the first one missing."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtra(
                f"needs the '{extra}' extra ({name} is not installed); "
                f"install it: pip install -e '.[{extra}]'"
            ) from None
