"""Simulated bifurcation against ``anneal`` (and PyPI ``simulated-bifurcation`` where installed) on max-cut.

Instances: K800 and K2000 (complete graphs with ±1 weights drawn with a fixed seed, the family of Goto et al.'s
K2000) and Gset G22 (2000 nodes, best known cut 13359). Every solver runs in the same process, one after the
other; each row gives the best cut, the wall time (compiling excluded: ``prepare`` runs first) and spin updates
per second (replicas × nodes × steps, or reads × nodes × sweeps, per second of wall time).

    PYTHONPATH=.:plugins python benchmarks/bench_bifurcation.py              # everything
    PYTHONPATH=.:plugins python benchmarks/bench_bifurcation.py --only K800 --no-peer

The peer is imported only here (a ``bench`` extra, never a dependency of hopsolve or its tests).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from hopsolve_maxcut.plugin import MaxcutProblem
from hopsolve_maxcut.rudy import Graph

from hopsolve.backends.anneal import AnnealBackend, AnnealParams
from hopsolve.backends.bifurcation import BifurcationBackend, BifurcationParams
from hopsolve.problem import Instance

ROOT = Path(__file__).resolve().parents[1]
GRAPH_SEED = 2000


def complete_pm1(n: int, seed: int = GRAPH_SEED) -> Instance:
    """K_n with weights ±1 (fair coin per edge), as Goto et al.'s K2000."""
    rng = np.random.default_rng(seed)
    heads, tails = np.triu_indices(n, 1)
    weights = rng.choice([-1.0, 1.0], len(heads))
    return Instance("maxcut", f"K{n}", Graph(n, heads.astype(np.int64), tails.astype(np.int64), weights, f"K{n}"))


def cut_of(instance: Instance, spins: np.ndarray) -> float:
    return instance.data.cut_weight(np.asarray(spins))


def run_backend(backend, energy, params, instance, seed=1) -> dict:
    backend.prepare(energy, params)
    began = time.perf_counter()
    samples = backend.solve(energy, params, seed=seed)
    wall = time.perf_counter() - began
    cuts = [cut_of(instance, s) for s in samples.states]
    updates = samples.info.get("updates", 0)
    return {"best": max(cuts), "mean": float(np.mean(cuts)), "wall": wall, "work": samples.work,
            "ups": updates / wall, "timed_out": samples.timed_out}


def run_peer(instance: Instance, agents: int, steps: int, mode: str, timeout: float | None) -> dict | None:
    try:
        import simulated_bifurcation as sb
        import torch
    except ImportError:
        return None
    g: Graph = instance.data
    w = np.zeros((g.n, g.n))
    w[g.heads, g.tails] = g.weights
    w = w + w.T
    torch.set_num_threads(max(1, torch.get_num_threads()))
    matrix = torch.tensor(0.5 * w, dtype=torch.float32)  # minimise Σ_{i<j} w_ij s_i s_j = -(2·cut - Σw)/2
    sb.minimize(matrix, domain="spin", agents=2, max_steps=5, verbose=False, early_stopping=False)  # warm
    began = time.perf_counter()
    spins, _ = sb.minimize(matrix, domain="spin", agents=agents, max_steps=steps, mode=mode, verbose=False,
                           early_stopping=False, best_only=False, timeout=timeout)
    wall = time.perf_counter() - began
    cuts = [cut_of(instance, s) for s in spins.numpy().reshape(agents, -1)]
    done = steps if timeout is None else None  # the peer does not report its step count after a timeout
    return {"best": max(cuts), "mean": float(np.mean(cuts)), "wall": wall, "work": done,
            "ups": agents * g.n * done / wall if done else float("nan"), "timed_out": timeout is not None}


def row(instance: str, solver: str, settings: str, result: dict | None) -> str:
    if result is None:
        return f"| {instance} | {solver} | {settings} | not installed | | | |"
    return (f"| {instance} | {solver} | {settings} | {result['best']:.0f} | {result['mean']:.1f} | "
            f"{result['wall']:.2f} | {result['ups'] / 1e6:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["K800", "K2000", "G22"])
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--limit-reads", type=int, default=60, help="replicas of the 5 s G22 runs")
    args = parser.parse_args()
    problem = MaxcutProblem()
    print("| instance | solver | settings | best cut | mean cut | wall s | M spin updates/s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.only:
        instance = (problem.read(ROOT / "instances" / "gset" / f"{name}.txt") if name.startswith("G")
                    else complete_pm1(int(name[1:])))
        energy = problem.encode(instance)
        anneal = run_backend(AnnealBackend(), energy, AnnealParams(), instance)
        print(row(name, "anneal", "defaults (10 reads × 1000 sweeps)", anneal), flush=True)
        dsb = None
        for mode in ("ballistic", "discrete"):
            params = BifurcationParams(reads=args.reads, steps=args.steps, mode=mode)
            result = run_backend(BifurcationBackend(), energy, params, instance)
            dsb = result if mode == "discrete" else dsb
            label = f"bifurcation {mode}" + (" (the default, mode=auto)" if mode == "discrete" else "")
            print(row(name, label, f"{args.reads} reads × {args.steps} steps", result), flush=True)
        if name == "G22":
            for mode in ("ballistic", "discrete"):
                params = BifurcationParams(reads=args.limit_reads, steps=args.steps, mode=mode, time_limit=5.0)
                result = run_backend(BifurcationBackend(), energy, params, instance)
                print(row(name, f"bifurcation {mode}", f"{args.limit_reads} reads × ≤{args.steps} steps, 5 s limit "
                          f"({result['work']} steps done)", result), flush=True)
        if not args.no_peer:
            for mode in ("ballistic", "discrete"):
                peer = run_peer(instance, args.reads, args.steps, mode, None)
                print(row(name, f"simulated-bifurcation 2.0.0 {mode}", f"{args.reads} agents × {args.steps} steps",
                          peer), flush=True)
            peer = run_peer(instance, args.reads, 10**7, "discrete", dsb["wall"])
            print(row(name, "simulated-bifurcation 2.0.0 discrete", f"{args.reads} agents, timeout = our dSB wall",
                      peer), flush=True)


if __name__ == "__main__":
    main()
