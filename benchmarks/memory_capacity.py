"""Capacity of every learning rule: recall of random ±1 patterns from cues with a fixed fraction of flipped bits,
against the load α = P/N, for N = 100 and N = 1000.

    python benchmarks/memory_capacity.py [--flip 0.1] [--cues 100] [--plot benchmarks/figures/memory_capacity.png]

For each rule, size and P: store P random patterns, corrupt up to ``--cues`` of them, run asynchronous Hopfield
dynamics (the ``hopfield`` backend; the continuous update for ``modern``) and report the fraction of cues recalled
exactly and the fraction with overlap ≥ 0.95. Known results to compare with: Hebbian retrieval collapses near
α ≈ 0.138 (exact recall of a given pattern near N/(2 ln N), of all at once near N/(4 ln N)); Storkey and
pseudo-inverse go beyond; dense n = 3 holds about N²/(2·3·ln N) patterns; exp more still.
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np
from hopsolve_memory.patterns import PatternSet
from hopsolve_memory.plugin import MemoryOptions
from hopsolve_memory.recall import recall

LOADS = {
    100: {"hebb": [2, 5, 8, 11, 14, 17, 20, 25, 30, 40], "storkey": [5, 10, 15, 20, 25, 30, 40, 50],
          "pinv": [10, 20, 30, 40, 50, 60, 70, 80, 90], "dense": [25, 50, 100, 150, 200, 300, 400, 600],
          "exp": [50, 100, 200, 400, 800], "modern": [50, 100, 200, 400, 800]},
    1000: {"hebb": [50, 72, 100, 120, 138, 150, 175, 200], "storkey": [100, 150, 200, 250, 300, 350],
           "pinv": [200, 400, 600, 800], "dense": [500, 1000, 2000], "exp": [1000, 2000],
           "modern": [1000, 2000]},
}


def measure(rule: str, n: int, p: int, flip: float, cues: int, seed: int) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    patterns = rng.choice([-1, 1], (p, n)).astype(np.int8)
    chosen = rng.choice(p, min(cues, p), replace=False)
    corrupted = patterns[chosen].copy()
    for cue in corrupted:
        cue[rng.choice(n, int(flip * n), replace=False)] *= -1
    options = MemoryOptions(rule=rule, degree=3, beta=1.0)
    start = time.perf_counter()
    results = recall(PatternSet(patterns), corrupted, options, seed=seed)
    elapsed = time.perf_counter() - start
    exact = np.mean([r.exact and r.match == chosen[k] + 1 for k, r in enumerate(results)])
    overlap = np.mean([(r.cue is not None) and float(patterns[chosen[k]] @ np.array(r.recalled)) / n >= 0.95
                       for k, r in enumerate(results)])
    return float(exact), float(overlap), elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--cues", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--plot", default="benchmarks/figures/memory_capacity.png")
    args = parser.parse_args()
    curves: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
    print(f"machine: {platform.machine()}, python {platform.python_version()}; cues with {100 * args.flip:.0f}% "
          f"flipped bits, up to {args.cues} cues per point")
    for n in args.sizes:
        print(f"\n#### N = {n} (N/(2 ln N) = {n / (2 * math.log(n)):.0f}; 0.138·N = {0.138 * n:.0f}; "
              f"N²/(6 ln N) = {n * n / (6 * math.log(n)):.0f})\n")
        print("| rule | P | α = P/N | exact recall | overlap ≥ 0.95 | seconds |")
        print("|---|---|---|---|---|---|")
        for rule, loads in LOADS[n].items():
            for p in loads:
                exact, overlap, elapsed = measure(rule, n, p, args.flip, args.cues, seed=p)
                curves.setdefault((n, rule), []).append((p / n, exact, overlap))
                print(f"| {rule} | {p} | {p / n:.3f} | {exact:.2f} | {overlap:.2f} | {elapsed:.2f} |", flush=True)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(args.sizes), figsize=(6 * len(args.sizes), 4.2), squeeze=False)
        for ax, n in zip(axes[0], args.sizes):
            for (size, rule), points in curves.items():
                if size == n:
                    alphas, _, overlaps = zip(*points)
                    ax.plot(np.array(alphas) * n, overlaps, "-o", ms=3, label=rule)
            ax.axvline(0.138 * n, color="0.6", ls="--", lw=1, label="0.138 N")
            ax.set_xscale("log")
            ax.set_xlabel("number of stored patterns P")
            ax.set_ylabel("successful retrieval rate (overlap ≥ 0.95)")
            ax.set_title(f"{n} neurons, {100 * args.flip:.0f}% of the cue flipped")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
