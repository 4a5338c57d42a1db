"""JIT cost of a CLI call: the same ``hopsolve solve`` with an empty numba cache (compiles) and with a warm one.

    python benchmarks/bench_jit.py

Kernels are compiled with ``cache=True``; this shows the one-off compile time a fresh checkout pays and what
every later call pays (loading the cache), separately from the solve itself (``wall_time_s`` in the result).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [["instances/qubo/random20.qubo", "--backend", "anneal"],
         ["instances/tsplib/burma14.tsp", "--param", "sweeps=200"],
         ["instances/memory/seed_pictures.patterns", "--option", "cue=instances/memory/cross_near.cue"]]


def timed(args: list[str], cache: str) -> tuple[float, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "hopsolve.cli", "solve", *args, "--seed", "1", "--json"], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, json.loads(out)["wall_time_s"]


def main() -> None:
    print("| command | cold cache (compiles) s | warm cache s | solve itself s |")
    print("|---|---|---|---|")
    for args in CASES:
        with tempfile.TemporaryDirectory() as cache:
            cold, _ = timed(args, cache)
            warm, solve = timed(args, cache)
        print(f"| hopsolve solve {' '.join(args)} | {cold:.1f} | {warm:.1f} | {solve:.2f} |")


if __name__ == "__main__":
    main()
