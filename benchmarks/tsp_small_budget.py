"""Does the TSP default's schedule for small instances still reach the optimum? (eighteenth session)

For each instance of 14–48 cities, 8 seeds of the anneal default with ``sweeps = max(100, min(2·10⁷ / n, C·n))``,
C given on the command line (the default is ``SMALL_SWEEPS_PER_CITY``); prints how many runs were optimal, the
worst gap and the mean seconds per solve.

    PYTHONPATH=plugins python benchmarks/tsp_small_budget.py 10000
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hopsolve_tsp.plugin import ANNEAL_ATTEMPTS_PER_READ, SMALL_SWEEPS_PER_CITY

from hopsolve.plugins import build_registry
from hopsolve.solving import solve_path

INSTANCES = Path(__file__).resolve().parents[1] / "instances" / "tsplib"
NAMES = ["burma14", "ulysses16", "gr17", "gr21", "ulysses22", "gr24", "fri26", "bayg29", "bays29", "dantzig42",
         "swiss42", "att48", "gr48", "hk48"]


def main() -> None:
    per_city = float(sys.argv[1]) if len(sys.argv) > 1 else SMALL_SWEEPS_PER_CITY
    registry = build_registry()
    for name in NAMES:
        path = INSTANCES / f"{name}.tsp"
        n = registry.problem("tsp").read(path).data.dimension
        sweeps = max(100, int(min(ANNEAL_ATTEMPTS_PER_READ / n, per_city * n)))
        began, optimal, worst = time.perf_counter(), 0, 0.0
        for seed in range(1, 9):
            result, _, _ = solve_path(registry, path, seed=seed, params={"sweeps": sweeps})
            optimal += result.gap == 0
            worst = max(worst, result.gap)
        print(f"{name} n={n} sweeps={sweeps}: optimal {optimal}/8, worst gap {100 * worst:.2f}%, "
              f"{(time.perf_counter() - began) / 8:.2f} s a solve", flush=True)


if __name__ == "__main__":
    main()
