"""Time limits at the extremes a reviewer met: many reads under a tiny limit, and OR-Tools routing under limits
too short for its matrix. Each case runs in this process (kernels compiled first, outside the timing), one after
the other; prints a Markdown row per case: what came back and the wall time of the call.

    PYTHONPATH=.:plugins python benchmarks/time_limit_extremes.py [--routing-limits 3,4,6,10]

The reads cases use ``hopsolve.testing.random_energy(800, 3, density=0.05)`` under a 0.2 s limit (hopfield with
100,000 reads, anneal and bifurcation with 20,000); the routing cases solve ``instances/tsplib-large/pla7397.tsp``
through ``solve_path`` with the baseline.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hopsolve.plugins import build_registry
from hopsolve.solving import solve_path
from hopsolve.testing import random_energy

ROOT = Path(__file__).resolve().parents[1]


def _outcome(call) -> tuple[str, float]:
    began = time.perf_counter()
    try:
        text = call()
    except Exception as exc:  # noqa: BLE001 - a refusal is an outcome to report
        text = f"{type(exc).__name__}: {' '.join(str(exc).split())[:110]}"
    return text, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routing-limits", default="3,4,6,10")
    args = parser.parse_args()
    registry = build_registry()
    energy = random_energy(800, 3, density=0.05)
    print("| case | limit s | outcome | wall s |")
    print("|---|---|---|---|")
    for name, reads in (("hopfield", 100_000), ("anneal", 20_000), ("bifurcation", 20_000)):
        backend = registry.backend(name)
        backend.prepare(energy, backend.params({}))

        def run(backend=backend, reads=reads) -> str:
            samples = backend.solve(energy, backend.params({"time_limit": 0.2, "reads": reads}), seed=1)
            return f"{len(samples):,} reads returned"

        text, wall = _outcome(run)
        print(f"| {name}, {reads:,} reads of 800 units | 0.2 | {text} | {wall:.2f} |", flush=True)
    path = ROOT / "instances" / "tsplib-large" / "pla7397.tsp"
    for limit in (float(x) for x in args.routing_limits.split(",")):
        def routed(limit=limit) -> str:
            result, _, _ = solve_path(registry, path, baseline="ortools-routing", seed=1, time_limit=limit)
            note = f"; note: {result.info['note'][:60]}…" if result.info.get("note") else ""
            return f"{result.status}, gap {100 * result.gap:.2f}% in {result.wall_time_s:.2f} s{note}" if \
                result.gap is not None else f"{result.status} in {result.wall_time_s:.2f} s{note}"

        text, wall = _outcome(routed)
        print(f"| ortools-routing, pla7397 | {limit:g} | {text} | {wall:.2f} |", flush=True)


if __name__ == "__main__":
    main()
