"""Constrained models through the LP path (issue 13's targets): planted 4-colourings and 0/1 knapsacks.

    python benchmarks/bench_cqm.py colouring --sizes 60 100 150 200 --densities 0.1 0.2 --seeds 3
    python benchmarks/bench_cqm.py knapsack --sizes 40 100 200 --seeds 2 --time-limit 20

Every model is built as a ``dimod.ConstrainedQuadraticModel``, written as an LP file with ``dimod.lp.dumps`` and
solved from that file by the CLI (``hopsolve solve FILE.lp ...``), so the LP reader and the automatic weights are
part of what is measured.

- colouring: n nodes get a planted colour out of k = 4; every pair of differently coloured nodes is an edge with
  the probability that gives the requested overall edge density; the model has one discrete constraint per node
  (a one-hot group) and ``x_uc + x_vc ≤ 1`` per edge and colour. hopsolve runs its default (anneal, one-hot moves,
  default budget, no time limit) and the run counts as a success when its colouring is proper and it took at most
  20 s; single-flip annealing on the same penalty model (``--param moves=flip``) is run beside it.
- knapsack: values and weights uniform in 3..99, capacity half the total weight. CP-SAT (``--baseline
  ortools-cpsat``) gives the optimum (or its best bound); hopsolve's default (anneal with slack-aware moves) and
  single-flip annealing on the same penalty model each get ``--time-limit`` seconds.

Prints a Markdown table and appends JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def colouring_lp(n: int, density: float, seed: int, k: int = 4) -> str:
    import dimod

    rng = np.random.default_rng(seed)
    colour = rng.integers(0, k, n)
    different = colour[:, None] != colour[None, :]
    pairs = n * (n - 1) / 2
    probability = min(1.0, density * pairs / max(1, np.triu(different, 1).sum()))
    cqm = dimod.ConstrainedQuadraticModel()
    for node in range(n):
        cqm.add_discrete([f"x{node}_{c}" for c in range(k)], label=f"node{node}")
    edges = [(u, v) for u in range(n) for v in range(u + 1, n) if different[u, v] and rng.random() < probability]
    for u, v in edges:
        for c in range(k):
            cqm.add_constraint(dimod.Binary(f"x{u}_{c}") + dimod.Binary(f"x{v}_{c}") <= 1, label=f"conflict{u}_{v}_{c}")
    return dimod.lp.dumps(cqm)


def knapsack_lp(n: int, seed: int) -> str:
    import dimod

    rng = np.random.default_rng(seed)
    weights, values = rng.integers(3, 100, n), rng.integers(3, 100, n)
    cqm = dimod.ConstrainedQuadraticModel()
    x = [dimod.Binary(f"x{i}") for i in range(n)]
    cqm.set_objective(sum(-int(values[i]) * x[i] for i in range(n)))
    cqm.add_constraint(sum(int(weights[i]) * x[i] for i in range(n)) <= int(weights.sum() // 2), label="capacity")
    return dimod.lp.dumps(cqm)


def run(path: Path, *args: str) -> dict:
    command = [sys.executable, "-m", "hopsolve.cli", "solve", str(path), "--json", "--seed", "1", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 130):
        return {"status": "error", "error": done.stderr.strip().splitlines()[-1] if done.stderr else "?"}
    return json.loads(done.stdout)


def colouring(args: argparse.Namespace, folder: Path, out) -> None:
    print("| n | density | seed | default: proper | time s | single flips: proper | time s |")
    print("|---|---|---|---|---|---|---|")
    successes = total = 0
    for n in args.sizes:
        for density in args.densities:
            for seed in range(1, args.seeds + 1):
                path = folder / f"colour_{n}_{density}_{seed}.lp"
                path.write_text(colouring_lp(n, density, seed))
                default = run(path)
                flips = run(path, "--param", "moves=flip")
                ok = bool(default.get("feasible")) and default.get("wall_time_s", 1e9) <= 20.0
                successes += ok
                total += 1
                print(f"| {n} | {density} | {seed} | {default.get('feasible')} | {default.get('wall_time_s', 0):.2f} "
                      f"| {flips.get('feasible')} | {flips.get('wall_time_s', 0):.2f} |", flush=True)
                out.write(json.dumps({"bench": "colouring", "n": n, "density": density, "seed": seed,
                                      "default": default, "flip": flips}) + "\n")
    print(f"\nproper colouring within 20 s: {successes}/{total} ({100.0 * successes / max(1, total):.0f}%)")


def _gap(record: dict, best: float | None) -> str:
    if not record.get("feasible"):
        return "infeasible"
    if best is None:
        return "–"
    return f"{100.0 * (record['objective'] - best) / abs(best):.2f}"


def knapsack(args: argparse.Namespace, folder: Path, out) -> None:
    limit = str(args.time_limit)
    print("| items | seed | CP-SAT | status | default | gap % | single flips | gap % |")
    print("|---|---|---|---|---|---|---|---|")
    gaps = []
    for n in args.sizes:
        for seed in range(1, args.seeds + 1):
            path = folder / f"knapsack_{n}_{seed}.lp"
            path.write_text(knapsack_lp(n, seed))
            cpsat = run(path, "--baseline", "ortools-cpsat", "--time-limit", limit)
            default = run(path, "--time-limit", limit)
            flips = run(path, "--time-limit", limit, "--param", "moves=flip")
            best = cpsat.get("objective")

            gaps.append(_gap(default, best))
            print(f"| {n} | {seed} | {best} | {cpsat.get('status')} | {default.get('objective')} | "
                  f"{_gap(default, best)} | {flips.get('objective')} | {_gap(flips, best)} |", flush=True)
            out.write(json.dumps({"bench": "knapsack", "n": n, "seed": seed, "cpsat": cpsat, "default": default,
                                  "flip": flips}) + "\n")
    print(f"\ndefault gaps: {', '.join(gaps)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", choices=["colouring", "knapsack"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 100, 150, 200])
    parser.add_argument("--densities", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--out", default="benchmarks/out/cqm.jsonl")
    args = parser.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, open(args.out, "a") as out:
        (colouring if args.bench == "colouring" else knapsack)(args, Path(folder), out)


if __name__ == "__main__":
    main()
