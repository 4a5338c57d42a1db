"""TSP quality at a fixed time limit: hopsolve's anneal (feasible-set moves) against OR-Tools routing with guided
local search, and single-flip annealing on the penalty energy, on the TSPLIB instances with 48–105 cities.

    python benchmarks/bench_tsp.py [--time-limit 10] [--seeds 3] [--min-n 48] [--max-n 105]

All solvers get the same wall-clock limit per run on this machine (anneal runs its two reads on two cores; the
routing solver uses one). Prints a Markdown table of gaps to the published optima.
"""

from __future__ import annotations

import argparse
import csv
import platform
from pathlib import Path

import numpy as np

from hopsolve import build_registry, solve_instance

TSPLIB = Path(__file__).resolve().parents[1] / "instances" / "tsplib"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--min-n", type=int, default=48)
    parser.add_argument("--max-n", type=int, default=105)
    parser.add_argument("--flip-sweeps", type=int, default=20000)
    args = parser.parse_args()
    registry = build_registry()
    problem = registry.problem("tsp")
    rows = [r for r in csv.DictReader((TSPLIB / "optima.csv").open())
            if args.min_n <= int(r["n"]) <= args.max_n and r["verified"] == "1"]
    print(f"machine: {platform.machine()}, python {platform.python_version()}; time limit {args.time_limit} s; "
          f"anneal seeds 1..{args.seeds}")
    print()
    print("| instance | n | optimum | anneal mean gap % | anneal best gap % | anneal mean s | routing gap % "
          "| single-flip gap % (feasible reads) |")
    print("|---|---|---|---|---|---|---|---|")
    ours_all, routing_all = [], []
    for row in rows:
        instance = problem.read(TSPLIB / f"{row['name']}.tsp")
        gaps, times = [], []
        for seed in range(1, args.seeds + 1):
            result, _ = solve_instance(registry, "tsp", instance, seed=seed, time_limit=args.time_limit)
            gaps.append(100 * result.gap)
            times.append(result.wall_time_s)
        routing, _ = solve_instance(registry, "tsp", instance, baseline="ortools-routing", seed=1,
                                    time_limit=args.time_limit)
        flip, _ = solve_instance(registry, "tsp", instance, seed=1, time_limit=args.time_limit,
                                 params={"moves": "flip", "sweeps": args.flip_sweeps})
        flip_gap = f"{100 * flip.gap:.1f}" if flip.gap is not None else "none valid"
        ours_all.append(np.mean(gaps))
        routing_all.append(100 * routing.gap)
        print(f"| {row['name']} | {row['n']} | {row['optimum']} | {np.mean(gaps):.2f} | {np.min(gaps):.2f} | "
              f"{np.mean(times):.1f} | {100 * routing.gap:.2f} | {flip_gap} ({flip.feasible_reads}/{flip.reads}) |",
              flush=True)
    print(f"| **mean** | | | **{np.mean(ours_all):.2f}** | | | **{np.mean(routing_all):.2f}** | |")


if __name__ == "__main__":
    main()
