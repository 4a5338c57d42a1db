"""Associative-memory speed: batch recall and Storkey learning at N = 1000, against a plain numpy loop.

    python benchmarks/bench_memory_speed.py

Targets (issue 6): recall of 1000 cues on N = 1000 with P = 100 Hebbian patterns well under a second; Storkey
learning of 100 patterns on N = 1000 under a second. The peer in the same run is a straightforward vectorised
numpy implementation (synchronous-free asynchronous sweeps are not vectorisable, so the peer does the same
asynchronous updates one unit at a time in Python for 20 cues and is extrapolated).
"""

from __future__ import annotations

import platform
import time

import numpy as np
from hopsolve_memory.patterns import PatternSet
from hopsolve_memory.plugin import MemoryOptions
from hopsolve_memory.recall import recall
from hopsolve_memory.rules import hebb, storkey


def naive_recall(w: np.ndarray, cue: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = cue.astype(float).copy()
    while True:
        changed = False
        for i in rng.permutation(len(s)):
            new = 1.0 if w[i] @ s > 0 else (-1.0 if w[i] @ s < 0 else s[i])
            if new != s[i]:
                s[i], changed = new, True
        if not changed:
            return s


def main() -> None:
    rng = np.random.default_rng(0)
    n, p, cues_count = 1000, 100, 1000
    patterns = rng.choice([-1, 1], (p, n)).astype(np.int8)
    cues = patterns[rng.integers(0, p, cues_count)].copy()
    cues[rng.random(cues.shape) < 0.1] *= -1
    stored = PatternSet(patterns)
    recall(stored, cues[:2], MemoryOptions(), seed=0)  # compile or load the cached kernels
    start = time.perf_counter()
    results = recall(stored, cues, MemoryOptions(), seed=1)
    ours = time.perf_counter() - start
    exact = np.mean([r.exact for r in results])
    w = hebb(patterns)
    start = time.perf_counter()
    for cue in cues[:20]:
        naive_recall(w, cue, rng)
    naive = (time.perf_counter() - start) / 20 * cues_count
    start = time.perf_counter()
    storkey(patterns)
    learn = time.perf_counter() - start
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print()
    print("| task | hopsolve | peer (python loop, same run) | ratio |")
    print("|---|---|---|---|")
    print(f"| recall 1000 cues, N = 1000, P = 100 Hebbian (10% flipped; {100 * exact:.0f}% exact) | {ours:.3f} s "
          f"| {naive:.1f} s (extrapolated from 20 cues) | {naive / ours:.0f}× |")
    print(f"| Storkey learning, 100 patterns, N = 1000 | {learn:.3f} s | — | — |")


if __name__ == "__main__":
    main()
