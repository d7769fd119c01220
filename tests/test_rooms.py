"""The runtime rooms never import the harness: not directly, not through another module.

The daemon, the receiver and the other rooms a hub image or a hospital runs must not pull in
the throw-away PKI, the local broker, the simulated devices, the demo or the benchmarks
(DESIGN.md, "Packages and their rooms"). Checked on the import graph read from the sources
(every `import` and `from ... import`, inside functions too, relative ones resolved).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parent.parent / "hub"
RUNTIME = (
    "hub.daemon", "hub.receiver", "hub.uplink", "hub.store", "hub.wire", "hub.ble",
    "hub.serial", "hub.signal", "hub.model", "hub.config", "hub.identity", "hub.hospital",
    "hub.diagnose",
)  # fmt: skip
HARNESS = ("hub.testbed", "hub.sim", "hub.demo", "hub.bench")


def module_sources(root: Path) -> dict[str, str]:
    """Module name → source for every .py file of the package at `root`."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.read_text()
    return out


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def imported(module: str, source: str, is_package: bool) -> Iterator[str]:
    """Names of the modules `source` (the module `module`) imports: for `from A import b`,
    both `A` and `A.b` (which may be a module or only an attribute)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def harness_chains(sources: Mapping[str, str]) -> list[list[str]]:
    """For each runtime module that reaches a harness module through the package's imports,
    the chain of modules from one to the other."""
    packages = {m for m, s in sources.items() if m in {n.rpartition(".")[0] for n in sources}}
    edges = {
        m: sorted({n for n in imported(m, s, m in packages) if n.startswith("hub")})
        for m, s in sources.items()
    }
    chains = []
    for start in sorted(m for m in sources if _within(m, RUNTIME)):
        seen, stack = {start}, [[start]]
        while stack:
            chain = stack.pop()
            for name in edges.get(chain[-1], []):
                if _within(name, HARNESS):
                    chains.append([*chain, name])
                elif name in sources and name not in seen:
                    seen.add(name)
                    stack.append([*chain, name])
    return chains


def test_no_runtime_room_reaches_the_harness() -> None:
    sources = module_sources(HUB)
    assert "hub.daemon" in sources and "hub.testbed" in sources  # the walk found the package
    assert harness_chains(sources) == []


@pytest.mark.parametrize(
    ("module", "line", "reached"),
    [
        ("hub.daemon", "from hub.testbed.pki import make_pki", "hub.testbed.pki"),
        ("hub.receiver.app", "import hub.demo.app", "hub.demo.app"),
        ("hub.store", "from ..sim import air", "hub.sim"),
        ("hub.uplink.client", "def later():\n    from hub.bench import e2e", "hub.bench"),
        ("hub.wire", "from hub import testbed", "hub.testbed"),
    ],
)
def test_a_planted_harness_import_is_caught(module: str, line: str, reached: str) -> None:
    sources = module_sources(HUB)
    sources[module] += f"\n{line}\n"
    chains = harness_chains(sources)
    assert [module, reached] in [[c[0], c[-1]] for c in chains]


def test_an_import_through_a_shared_module_is_caught() -> None:
    sources = {
        "hub": "",
        "hub.daemon": "from hub.daemon import run",
        "hub.daemon.run": "from hub import helpers",
        "hub.helpers": "import hub.testbed.world",
        "hub.testbed": "",
        "hub.testbed.world": "",
    }
    assert harness_chains(sources) == [
        ["hub.daemon", "hub.daemon.run", "hub.helpers", "hub.testbed.world"],
        ["hub.daemon.run", "hub.helpers", "hub.testbed.world"],
    ]
