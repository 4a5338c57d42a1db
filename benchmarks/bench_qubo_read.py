"""Reading a large dense ``.qubo`` file: the numpy fast path against the line-by-line reader (same matrix).

    PYTHONPATH=.:plugins python benchmarks/bench_qubo_read.py --n 3000

Writes a dense QUBO of ``n`` variables (normal weights, 6 decimals, numpy seed 1; n(n+1)/2 lines) to a temporary
directory, reads it with each path once, and checks the two matrices agree.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from fast_path_timing import read_fast_and_slow
from hopsolve_qubo import qubo_format


def write_dense(path: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    heads, tails = np.triu_indices(n, 1)
    with path.open("w") as out:
        out.write(f"c dense random QUBO, {n} variables, N(0, 1) weights, numpy seed 1\n")
        out.write(f"p qubo 0 {n} {n} {len(heads)}\n")
        np.savetxt(out, np.column_stack([np.arange(n), np.arange(n), rng.normal(size=n)]), fmt="%d %d %.6f")
        np.savetxt(out, np.column_stack([heads, tails, rng.normal(size=len(heads))]), fmt="%d %d %.6f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"dense{args.n}.qubo"
        write_dense(path, args.n)
        print(f"{path.name}: {path.stat().st_size / 1e6:.0f} MB", flush=True)
        fast, slow = read_fast_and_slow(qubo_format, "_fast_qubo", qubo_format.read_qubo, path)
        print("same matrix:", (fast.q != slow.q).nnz == 0)


if __name__ == "__main__":
    main()
