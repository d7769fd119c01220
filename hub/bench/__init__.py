"""`hub bench`: benchmarks that report figures and a peer or ceiling measured in the same run.

Absolute times on a shared machine mean little; a ratio to something measured alongside holds.
Each benchmark module exposes `run() -> BenchResult`; `BENCHES` maps names to modules so that
only the requested benchmark's imports are paid for. The peers and the simulated devices come
with the `bench` extra (`PEERS`); without it a benchmark is refused in one line, before import.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub import extras

BENCHES: dict[str, str] = {
    "ble": "hub.bench.ble",
    "store": "hub.bench.store",
    "decode": "hub.bench.decode",
    "signal": "hub.bench.signal",
    "uplink": "hub.bench.uplink",
    "e2e": "hub.bench.e2e",
    "enroll": "hub.bench.enroll",
    "soak": "hub.bench.soak",
    "ui": "hub.bench.ui",
}
# What each benchmark imports beyond the runtime dependencies (the `bench` extra).
PEERS: dict[str, tuple[str, ...]] = {
    "ble": ("bumble",),
    "decode": ("bumble",),
    "signal": ("neurokit2", "heartpy"),
    "e2e": ("bumble",),
    "soak": ("bumble",),
}


@dataclass(frozen=True)
class Target:
    value: float
    target: float
    higher_is_better: bool = True

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


@dataclass
class BenchResult:
    bench: str
    figures: dict[str, float] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "bench": self.bench,
            "figures": {k: _round(v) for k, v in self.figures.items()},
            "targets": {
                k: {"value": _round(t.value), "target": t.target, "met": t.met}
                for k, t in self.targets.items()
            },
        }

    def as_table(self) -> str:
        width = max([len(k) for k in (*self.figures, *self.targets)] + [10])
        lines = [f"bench {self.bench}", ""]
        lines += [f"  {k:<{width}}  {_round(v):>14}" for k, v in self.figures.items()]
        if self.targets:
            lines += ["", f"  {'target':<{width}}  {'value':>14}  {'needs':>10}  met"]
            for k, t in self.targets.items():
                sign = ">=" if t.higher_is_better else "<="
                lines.append(
                    f"  {k:<{width}}  {_round(t.value):>14}  {sign}{t.target:>8}  "
                    f"{'yes' if t.met else 'NO'}"
                )
        return "\n".join(lines)


def names() -> list[str]:
    return sorted(BENCHES)


def run(name: str) -> BenchResult:
    """Run one benchmark, or all of them merged under prefixed names for `all`."""
    for each in names() if name == "all" else [name]:
        extras.require("bench", *PEERS.get(each, ()))
    if name != "all":
        return importlib.import_module(BENCHES[name]).run()
    merged = BenchResult("all")
    for each in names():
        result = run(each)
        merged.figures.update({f"{each}.{k}": v for k, v in result.figures.items()})
        merged.targets.update({f"{each}.{k}": t for k, t in result.targets.items()})
    return merged


def best_rate(work: Callable[[], int], *, repeats: int = 5, min_seconds: float = 0.1) -> float:
    """Items per second of `work` (which returns how many items it handled), best of `repeats`.

    The best run is the one least disturbed by other load on the machine."""
    best = 0.0
    for _ in range(repeats):
        items = 0
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < min_seconds:
            items += work()
            elapsed = time.perf_counter() - start
        best = max(best, items / elapsed)
    return best


def _round(value: float) -> float:
    return float(f"{value:.4g}") if isinstance(value, float) else value
