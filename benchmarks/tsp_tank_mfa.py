"""``tank``'s default on random Euclidean TSPs (serial Potts mean-field annealing from the computed critical
temperature; ``--schedule mfa`` for the integrated network), and on shipped assignment and QAP files.

Hold-out instances: unit-square cities from seeds 0…k-1 (the schedule's defaults were looked at on seeds 500+).
Distances ×1000 rounded, default encoding (``hopsolve solve x.tsp --backend tank``), default ``TankParams`` (10
reads, the best kept; no discrete polish). Gap against OR-Tools CP-SAT (``ortools-cpsat`` baseline, 60 s). "own
tours" is the share of all reads whose rows ended as a permutation by themselves, before the clean-up
(``finish=assignment``) that makes every read valid.

    python benchmarks/tsp_tank_mfa.py [--sizes 10 30 50] [--instances 20 10 3] [--schedule auto]
    python benchmarks/tsp_tank_mfa.py --files instances/qaplib/nug12.dat ... [--seeds 3]

With ``--files``: ``hopsolve solve FILE --backend tank --seed S`` for each file and seed (the problem from the
suffix; ``.txt`` under ``orlib-assign`` as assignment), the gap to the file's published optimum.

With ``--settings``: several ``TankParams`` settings (Python dict literals) on the same random instances from
``--first-seed`` on (tuning seeds are 500+), each setting's best read and mean read relative to the best tour any
setting found (no optimum needed), and the reads the clean-up projected:

    python benchmarks/tsp_tank_mfa.py --sizes 50 100 --instances 4 4 --first-seed 500 \
        --settings "{}" "{'self_coupling_off_at': 0.95}"
"""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path

import numpy as np
from hopsolve_tsp.plugin import TspProblem

from hopsolve import build_registry, solve_instance
from hopsolve.backends.tank import TankBackend, TankParams
from hopsolve.solving import solve_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 50])
    parser.add_argument("--instances", type=int, nargs="+", default=[20, 10, 3])
    parser.add_argument("--schedule", default="auto")
    parser.add_argument("--files", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--settings", nargs="+", help="TankParams settings to compare, as dict literals")
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    problem, registry = TspProblem(), build_registry()
    if args.settings:
        compare(problem, args.sizes, args.instances, args.first_seed, [ast.literal_eval(s) for s in args.settings])
        return
    if args.files:
        files(registry, args.files, args.seeds, args.schedule)
        return
    print("| cities | instances | valid | own tours (reads) | median gap % | mean gap % | worst gap % "
          "| median wall s (tank) |")
    print("|---|---|---|---|---|---|---|---|")
    for n, count in zip(args.sizes, args.instances):
        valid, gaps, walls, own, total = 0, [], [], 0, 0
        for seed in range(count):
            instance = _random_tsp(n, seed)
            energy = problem.encode(instance)
            started = time.perf_counter()
            samples = TankBackend().solve(energy, TankParams(schedule=args.schedule), seed=seed)
            walls.append(time.perf_counter() - started)
            own += len(samples) - samples.info["projected"]
            total += len(samples)
            solution = problem.decode(instance, energy, samples.best)
            if solution.feasible:
                valid += 1
                exact, _ = solve_instance(registry, "tsp", instance, baseline="ortools-cpsat", time_limit=60)
                gaps.append(100 * (solution.objective - exact.objective) / exact.objective)
        stats = [f"{f(gaps):.2f}" if gaps else "—" for f in (np.median, np.mean, np.max)]
        print(f"| {n} | {count} | {valid}/{count} | {own}/{total} | {stats[0]} | {stats[1]} | {stats[2]} | "
              f"{np.median(walls):.2f} |", flush=True)


def _random_tsp(n: int, seed: int):
    xy = np.random.default_rng(seed).random((n, 2))
    d = np.rint(1000 * np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(int)
    return TspProblem.from_distances(d, name=f"unit{n}-{seed}")


def compare(problem: TspProblem, sizes: list[int], counts: list[int], first_seed: int, settings: list[dict]) -> None:
    """Each setting's best and mean read, relative to the best tour any setting found on the same instance."""
    print("| cities | setting | best of the reads | mean read | reads projected |")
    print("|---|---|---|---|---|")
    for n, count in zip(sizes, counts):
        rows: list[list[tuple[float, float, int, int]]] = [[] for _ in settings]
        for seed in range(first_seed, first_seed + count):
            instance = _random_tsp(n, seed)
            energy = problem.encode(instance)
            found = []
            for extra in settings:
                samples = TankBackend().solve(energy, TankParams(**extra), seed=seed)
                tours = np.array([problem.decode(instance, energy, s).objective for s in samples.states], float)
                found.append((tours.min(), tours.mean(), int(samples.info["projected"]), len(tours)))
            reference = min(best for best, _, _, _ in found)
            for row, (best, mean, projected, reads) in zip(rows, found):
                row.append((best / reference, mean / reference, projected, reads))
        for extra, row in zip(settings, rows):
            table = np.array(row)
            print(f"| {n} | `{extra}` | {table[:, 0].mean():.4f} | {table[:, 1].mean():.3f} | "
                  f"{int(table[:, 2].sum())}/{int(table[:, 3].sum())} |", flush=True)


def files(registry, paths: list[Path], seeds: int, schedule: str) -> None:
    """The gap of ``tank``'s default on each file, over ``seeds`` seeds, against its published optimum."""
    print("| instance | seeds | valid | own permutations (reads) | best gap % | median gap % | median wall s |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        problem = "assignment" if path.parent.name == "orlib-assign" else None
        gaps, walls, own, total, valid = [], [], 0, 0, 0
        for seed in range(1, seeds + 1):
            result, _, _ = solve_path(registry, path, problem=problem, backend="tank", seed=seed,
                                      params={"schedule": schedule})
            walls.append(result.wall_time_s)
            total += result.reads
            own += result.reads - int(result.info.get("projected", 0))
            valid += result.feasible
            if result.feasible and result.gap is not None:
                gaps.append(100 * result.gap)
        best = f"{min(gaps):.2f}" if gaps else "—"
        median = f"{np.median(gaps):.2f}" if gaps else "—"
        print(f"| {path.stem} | {seeds} | {valid}/{seeds} | {own}/{total} | {best} | {median} | "
              f"{np.median(walls):.2f} |", flush=True)


if __name__ == "__main__":
    main()
