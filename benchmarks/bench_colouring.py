"""Graph colouring through the third-party ``colouring`` plugin (``tests/third_party/hopsolve-colouring``).

    python benchmarks/bench_colouring.py planted [--seeds 10] [--time-limit 20]
    python benchmarks/bench_colouring.py dimacs [--time-limit 20] [--only myciel3,queen8_8]

``planted``: graphs with a planted 4-colouring — n ∈ {60, 100, 150, 200}, edge density m / C(n, 2) ∈ {0.10,
0.15, 0.20}: the nodes are split into 4 classes of sizes as equal as possible (at random) and every pair of nodes
in different classes is an edge with the probability that makes the expected density the target; graph ``s`` is
generated and annealed with seed ``s``. Each graph is solved with k = 4 by ``anneal`` (one-hot moves, the plugin's
default budget, the time limit as a cap) and by single-flip ``anneal`` on the same penalty energy (``moves=flip``,
same defaults and cap); the table gives the share of seeds with a proper colouring and the wall times.

``dimacs``: the 13 shipped DIMACS instances. For each, anneal tries k from DSatur's count downwards; a k gets the
default budget (capped at the limit) and, if that finds no proper colouring, one run that fills the limit
(``fill_time``); the descent stops at the first k where both fail. Reported: the fewest colours a proper colouring
used, against χ, DSatur and OR-Tools CP-SAT (minimum colouring, same limit, both cores), with the seconds anneal
spent in all.

The plugin is imported from its folder here (no install needed).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from hopsolve import Instance, build_registry, solve_instance

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "third_party" / "hopsolve-colouring"
sys.path.insert(0, str(EXAMPLE))

from hopsolve_colouring.dimacs import ColGraph, dsatur  # noqa: E402

SIZES = (60, 100, 150, 200)
DENSITIES = (0.10, 0.15, 0.20)
DIMACS = ("myciel3", "myciel4", "myciel5", "myciel6", "myciel7", "queen5_5", "queen6_6", "queen7_7", "queen8_8",
          "le450_15a", "le450_15b", "le450_15c", "le450_15d")


def planted_graph(n: int, density: float, k: int, seed: int) -> ColGraph:
    """A graph with a planted k-colouring and expected edge density ``density`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.arange(n) % k)
    iu, ju = np.triu_indices(n, 1)
    between = classes[iu] != classes[ju]
    keep = between & (rng.random(len(iu)) < density * len(iu) / between.sum())
    return ColGraph.build(n, zip(iu[keep].tolist(), ju[keep].tolist()), f"planted{n}_{density:.2f}_{seed}")


def _registry():
    return build_registry({"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1", "HOPSOLVE_PLUGINS": "hopsolve_colouring"})


def run_planted(args: argparse.Namespace) -> None:
    registry = _registry()
    print(f"planted 4-colourings, k = 4, limit {args.time_limit:g} s, seeds 0..{args.seeds - 1}")
    print()
    print("| n | density | mean degree | one-hot moves: proper | mean s | max s | single flips: proper | mean s |")
    print("|---|---|---|---|---|---|---|---|")
    totals = {"onehot": 0, "flip": 0}
    runs = 0
    for n in SIZES:
        for density in DENSITIES:
            found = {"onehot": [], "flip": []}
            walls = {"onehot": [], "flip": []}
            degrees = []
            for seed in range(args.seeds):
                graph = planted_graph(n, density, 4, seed)
                degrees.append(2 * graph.m / n)
                instance = Instance("colouring", graph.name, graph, reference=None)
                for moves in ("onehot", "flip"):
                    result, _ = solve_instance(registry, "colouring", instance, seed=seed, time_limit=args.time_limit,
                                               options={"colours": 4}, params={"moves": moves})
                    proper = result.feasible and result.wall_time_s <= args.time_limit
                    found[moves].append(proper)
                    walls[moves].append(result.wall_time_s)
            runs += args.seeds
            for moves in totals:
                totals[moves] += sum(found[moves])
            print(f"| {n} | {density:.2f} | {np.mean(degrees):.1f} | {sum(found['onehot'])}/{args.seeds} | "
                  f"{np.mean(walls['onehot']):.2f} | {np.max(walls['onehot']):.2f} | "
                  f"{sum(found['flip'])}/{args.seeds} | {np.mean(walls['flip']):.2f} |", flush=True)
    print(f"| **all** | | | **{totals['onehot']}/{runs} ({100 * totals['onehot'] / runs:.1f}%)** | | | "
          f"**{totals['flip']}/{runs} ({100 * totals['flip'] / runs:.1f}%)** | |")


def run_dimacs(args: argparse.Namespace) -> None:
    registry = _registry()
    problem = registry.problem("colouring")
    names = args.only.split(",") if args.only else DIMACS
    print(f"DIMACS instances, anneal seed {args.seed}, limit {args.time_limit:g} s per k (and for CP-SAT)")
    print()
    print("| instance | n | m | χ | DSatur | anneal colours | anneal s (all k tried) | CP-SAT colours (status) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        instance = problem.read(EXAMPLE / "instances" / f"{name}.col")
        start = int(dsatur(instance.data).max()) + 1
        best, spent = None, 0.0
        for k in range(start, 0, -1):
            result = None
            for params in ({}, {"fill_time": True}):
                result, _ = solve_instance(registry, "colouring", instance, seed=args.seed,
                                           time_limit=args.time_limit, options={"colours": k}, params=params)
                spent += result.wall_time_s
                if result.feasible:
                    break
            if not result.feasible:
                break
            best = int(result.objective) if best is None else min(best, int(result.objective))
        started = time.perf_counter()
        cpsat, _ = solve_instance(registry, "colouring", instance, baseline="ortools-cpsat", seed=args.seed,
                                  time_limit=args.time_limit)
        cpsat_s = time.perf_counter() - started
        cp = f"{cpsat.objective:g} ({cpsat.status}, {cpsat_s:.0f} s)" if cpsat.objective is not None else cpsat.status
        print(f"| {name} | {instance.data.n} | {instance.data.m} | {instance.reference:g} | {start} | "
              f"{best if best is not None else 'none'} | {spent:.1f} | {cp} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=("planted", "dimacs"))
    parser.add_argument("--seeds", type=int, default=10, help="planted: graphs (and anneal seeds) per cell")
    parser.add_argument("--seed", type=int, default=1, help="dimacs: the anneal and CP-SAT seed")
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--only", help="dimacs: comma-separated instance names")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}, {platform.node()}")
    if args.part == "planted":
        run_planted(args)
    else:
        run_dimacs(args)


if __name__ == "__main__":
    main()
