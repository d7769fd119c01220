"""Keep optional heavyweights out of the hub's long-running processes.

sqlite-utils (the store's schema helper) imports pandas whenever it is installed, for data
frame features the hub never uses. On a development machine pandas is there (it comes with
the signal benchmark's peers), and costs the daemon about 40 MiB of resident memory; a hub
image has no pandas. Blocking it makes a development run measure what a hub runs.
"""

from __future__ import annotations

import sys

UNUSED = ("pandas",)


def block_unused_imports() -> None:
    """Call before the store is imported. A module imported already is left alone."""
    for name in UNUSED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
