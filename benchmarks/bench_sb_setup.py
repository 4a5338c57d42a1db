"""The ``bifurcation`` backend's set-up and whole solves on dense ±1 complete graphs: the minimum and median of
five solves of one step (almost all set-up) and of 1000 steps, 20 reads, compiling excluded.

    PYTHONPATH=.:plugins python benchmarks/bench_sb_setup.py --n 2000
    PYTHONPATH=.:plugins python benchmarks/bench_sb_setup.py --n 2000 --mode ballistic --product-share 0.3

Run it from two checkouts in turn (``PYTHONPATH`` picks the one measured) to compare commits; RESULTS §9.0.
``--product-share`` sets ballistic runs' ``PRODUCT_SHARE`` (``never``: the coupling rows only) to measure it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from bench_bifurcation import complete_pm1
from hopsolve_maxcut.plugin import MaxcutProblem

from hopsolve.backends.bifurcation import BifurcationBackend, BifurcationParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mode", choices=["discrete", "ballistic"], default="discrete")
    parser.add_argument("--product-share", default=None, help="a number, or 'never'")
    args = parser.parse_args()
    label = ""
    if args.product_share is not None:
        from hopsolve.backends import _sb_product

        _sb_product.PRODUCT_SHARE = float("inf") if args.product_share == "never" else float(args.product_share)
        label = f", product share {args.product_share}"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    energy = MaxcutProblem().encode(complete_pm1(args.n))
    backend = BifurcationBackend()
    for steps in (1, 1000):
        params = BifurcationParams(reads=20, steps=steps, mode=args.mode)
        backend.prepare(energy, params)
        times = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            backend.solve(energy, params, seed=1)
            times.append(time.perf_counter() - began)
        print(f"{commit} K{args.n} {args.mode} 20 × {steps}{label}: min {min(times):.3f} s, "
              f"median {statistics.median(times):.3f} s", flush=True)


if __name__ == "__main__":
    main()
