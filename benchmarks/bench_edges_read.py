"""Reading a large max-cut edge list (``.edges``): the numpy fast path against the line-by-line reader.

    PYTHONPATH=.:plugins python benchmarks/bench_edges_read.py --nodes 200000 --edges 1000000

Writes a random simple graph (``i j`` lines, unweighted, numpy seed 0) to a temporary directory, reads it with
each path once, and checks the two graphs agree.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from fast_path_timing import read_fast_and_slow
from hopsolve_maxcut import rudy


def write_edges(path: Path, nodes: int, edges: int) -> None:
    rng = np.random.default_rng(0)
    pairs = rng.integers(1, nodes + 1, (2 * edges, 2))
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    pairs = np.unique(pairs, axis=0)[:edges]
    rng.shuffle(pairs)
    np.savetxt(path, pairs, fmt="%d %d")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.edges"
        write_edges(path, args.nodes, args.edges)
        print(f"{path.name}: {path.stat().st_size / 1e6:.0f} MB", flush=True)
        fast, slow = read_fast_and_slow(rudy, "_fast_edges", rudy.read_graph, path)
        same = (fast.n == slow.n and np.array_equal(fast.heads, slow.heads)
                and np.array_equal(fast.tails, slow.tails) and np.array_equal(fast.weights, slow.weights))
        print("same graph:", same)


if __name__ == "__main__":
    main()
