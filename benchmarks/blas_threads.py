"""Why ``tank`` holds BLAS to one thread: the time of a small matrix product (one field evaluation of a
``size``-city tour energy) on one BLAS thread and on the library's default, in the same process and minute.

    python benchmarks/blas_threads.py [--size 100] [--repeats 200] [--gap-ms 1]

Between products the script does ``--gap-ms`` of other work, as an integration step does (outputs, checks): the
BLAS threads then go idle between products and must be woken for the next one. Run it on an idle machine and
again while other processes keep the cores busy (e.g. beside a benchmark): waking a thread whose core is taken
is what stalls.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def timings(a: np.ndarray, b: np.ndarray, repeats: int, gap: float) -> np.ndarray:
    a @ b  # warm
    out = np.empty(repeats)
    for k in range(repeats):
        other_work = time.perf_counter() + gap
        while time.perf_counter() < other_work:
            pass
        began = time.perf_counter()
        a @ b
        out[k] = time.perf_counter() - began
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=1.0)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a, b = rng.random((args.size, args.size)), rng.random((args.size, args.size))
    default = max((p.get("num_threads", 1) for p in threadpool_info() if p.get("user_api") == "blas"), default=1)
    rows = [(f"default ({default} threads)", timings(a, b, args.repeats, args.gap_ms / 1e3))]
    with threadpool_limits(limits=1, user_api="blas"):
        rows.append(("one thread", timings(a, b, args.repeats, args.gap_ms / 1e3)))
    print(f"{args.size}×{args.size} product, {args.repeats} repeats, {args.gap_ms:g} ms of other work between")
    print("| BLAS threads | min ms | median ms | 90th percentile ms |")
    print("|---|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {1e3 * t.min():.3f} | {1e3 * np.median(t):.3f} | {1e3 * np.percentile(t, 90):.3f} |")


if __name__ == "__main__":
    main()
