"""``tank``'s default on random Euclidean TSPs: Potts mean-field annealing from the computed critical gain.

Hold-out instances: unit-square cities from seeds 0…k-1 (the schedule's defaults were looked at on seeds 500+).
Distances ×1000 rounded, default encoding (``hopsolve solve x.tsp --backend tank``), default ``TankParams`` (10
reads, the best kept; no discrete polish). Gap against OR-Tools CP-SAT (``ortools-cpsat`` baseline, 60 s).

    python benchmarks/tsp_tank_mfa.py [--sizes 10 30 50] [--instances 20 10 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from hopsolve_tsp.plugin import TspProblem

from hopsolve import build_registry, solve_instance
from hopsolve.backends.tank import TankBackend, TankParams


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 50])
    parser.add_argument("--instances", type=int, nargs="+", default=[20, 10, 3])
    args = parser.parse_args()
    problem, registry = TspProblem(), build_registry()
    print("| cities | instances | valid | median gap % | mean gap % | worst gap % | median wall s (tank) |")
    print("|---|---|---|---|---|---|---|")
    for n, count in zip(args.sizes, args.instances):
        valid, gaps, walls = 0, [], []
        for seed in range(count):
            xy = np.random.default_rng(seed).random((n, 2))
            d = np.rint(1000 * np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(int)
            instance = TspProblem.from_distances(d, name=f"unit{n}-{seed}")
            energy = problem.encode(instance)
            started = time.perf_counter()
            samples = TankBackend().solve(energy, TankParams(), seed=seed)
            walls.append(time.perf_counter() - started)
            solution = problem.decode(instance, energy, samples.best)
            if solution.feasible:
                valid += 1
                exact, _ = solve_instance(registry, "tsp", instance, baseline="ortools-cpsat", time_limit=60)
                gaps.append(100 * (solution.objective - exact.objective) / exact.objective)
        stats = [f"{f(gaps):.2f}" if gaps else "—" for f in (np.median, np.mean, np.max)]
        print(f"| {n} | {count} | {valid}/{count} | {stats[0]} | {stats[1]} | {stats[2]} | "
              f"{np.median(walls):.2f} |", flush=True)


if __name__ == "__main__":
    main()
