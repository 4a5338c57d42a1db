"""Ballistic against discrete simulated bifurcation with the backend's defaults, on one energy of each kind.

Which mode should ``bifurcation`` default to? Both modes run their documented defaults (10 replicas × 1000 steps,
derived step and coupling scale) with the same seeds on: one Gset graph of every family and size (random, ±1
random, toroidal, planar, ±1 planar; 800–3000 nodes), complete ±1 graphs and Gaussian Sherrington–Kirkpatrick
models drawn with seeds that no other benchmark uses, and the shipped random QUBO. Gset graphs report the cut,
the others the energy's value (lower is better), so each row says which is better.

    PYTHONPATH=.:plugins python benchmarks/sb_modes.py --seeds 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from hopsolve_maxcut.plugin import MaxcutProblem
from hopsolve_maxcut.rudy import Graph

from hopsolve.backends.bifurcation import BifurcationBackend, BifurcationParams
from hopsolve.plugins import build_registry
from hopsolve.problem import Instance

ROOT = Path(__file__).resolve().parents[1]
GSET = ["G1", "G6", "G11", "G14", "G18", "G22", "G27", "G32", "G35", "G39", "G43", "G48", "G51", "G55", "G60"]


def complete_pm1(n: int, seed: int) -> Instance:
    """K_n with weights ±1 (a fair coin per edge)."""
    rng = np.random.default_rng(seed)
    heads, tails = np.triu_indices(n, 1)
    weights = rng.choice([-1.0, 1.0], len(heads))
    return Instance("maxcut", f"K{n}-s{seed}", Graph(n, heads.astype(np.int64), tails.astype(np.int64), weights,
                                                     f"K{n}"))


def gaussian_sk(n: int, seed: int) -> Instance:
    """K_n with N(0, 1) weights: the Sherrington–Kirkpatrick model as a weighted max-cut."""
    rng = np.random.default_rng(seed)
    heads, tails = np.triu_indices(n, 1)
    weights = rng.standard_normal(len(heads))
    return Instance("maxcut", f"SK{n}-s{seed}", Graph(n, heads.astype(np.int64), tails.astype(np.int64), weights,
                                                      f"SK{n}"))


def instances(registry) -> list[tuple[str, object, object]]:
    """(name, problem, instance) for every energy compared."""
    maxcut = MaxcutProblem()
    found = [(name, maxcut, maxcut.read(ROOT / "instances" / "gset" / f"{name}.txt")) for name in GSET]
    found += [(inst.name, maxcut, inst) for inst in (complete_pm1(1000, 31), complete_pm1(1500, 32),
                                                     gaussian_sk(800, 33), gaussian_sk(1500, 34))]
    qubo = registry.problem("qubo")
    found.append(("random20.qubo", qubo, qubo.read(ROOT / "instances" / "qubo" / "random20.qubo")))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    registry = build_registry()
    print("| instance | value | ballistic best / mean | discrete best / mean | ballistic s | discrete s | better |")
    print("|---|---|---|---|---|---|---|")
    for name, problem, instance in instances(registry):
        if args.only and name not in args.only:
            continue
        energy = problem.encode(instance)
        cut = problem.name == "maxcut"
        scores: dict[str, list[float]] = {}
        walls: dict[str, float] = {}
        for mode in ("ballistic", "discrete"):
            backend, params = BifurcationBackend(), BifurcationParams(mode=mode)
            backend.prepare(energy, params)
            values, wall = [], 0.0
            for seed in range(1, args.seeds + 1):
                began = time.perf_counter()
                samples = backend.solve(energy, params, seed=seed)
                wall += time.perf_counter() - began
                best = problem.decode(instance, energy, samples.states[int(np.argmin(samples.energies))])
                values.append(float(best.objective))
            scores[mode], walls[mode] = values, wall / args.seeds
        pick = max if cut else min
        b, d = pick(scores["ballistic"]), pick(scores["discrete"])
        mb, md = np.mean(scores["ballistic"]), np.mean(scores["discrete"])
        better = ("tie" if (b, mb) == (d, md) else
                  "discrete" if (pick(d, b) == d and d != b) or (d == b and pick(md, mb) == md) else "ballistic")
        print(f"| {name} | {'cut' if cut else 'energy'} | {b:.6g} / {mb:.6g} | {d:.6g} / {md:.6g} | "
              f"{walls['ballistic']:.2f} | {walls['discrete']:.2f} | {better} |", flush=True)


if __name__ == "__main__":
    main()
