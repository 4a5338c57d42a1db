"""Shared fixtures: a fresh registry per test and a CLI runner that captures output and exit code."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hopsolve import Energy, Vartype, build_registry
from hopsolve.cli import main

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
DATA = Path(__file__).resolve().parent / "data"


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def registry():
    return build_registry()


@pytest.fixture
def cli(capsys) -> Callable[..., CliRun]:
    def run(*args: str | os.PathLike) -> CliRun:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


def small_maxcut(tmp_path: Path):
    """A seeded 40-node ±1 max-cut graph written as a Gset file and read back: (the maxcut problem, the instance)."""
    import numpy as np

    rng = np.random.default_rng(5)
    edges = [(i, j, int(rng.choice([-1, 1]))) for i in range(1, 41) for j in range(i + 1, 41) if rng.random() < 0.2]
    path = tmp_path / "g40.txt"
    path.write_text(f"40 {len(edges)}\n" + "".join(f"{i} {j} {w}\n" for i, j, w in edges))
    problem = build_registry().problem("maxcut")
    return problem, problem.read(path)


def torus_energy(side: int, seed: int, bias: float = 0.3) -> Energy:
    """A ±1 spin glass on a ``side`` × ``side`` torus (each unit coupled to its right and lower neighbours), with
    random biases of size ``bias`` (0: a max-cut energy, symmetric under flipping every spin)."""
    rng = np.random.default_rng(seed)
    n = side * side
    w = np.zeros((n, n))
    for i in range(side):
        for j in range(side):
            a = i * side + j
            for b in (i * side + (j + 1) % side, ((i + 1) % side) * side + j):
                w[a, b] = w[b, a] = rng.choice([-1.0, 1.0])
    biases = bias * rng.choice([-1.0, 1.0], n) if bias else np.zeros(n)
    return Energy.from_hopfield(w, biases, 0.0, Vartype.SPIN)


def complete_pm1_energy(n: int, seed: int, bias: bool = False, weight: float = 1.0) -> Energy:
    """A spin model on the complete graph K_n with couplings ±``weight`` (fair coins), and integer biases in
    [-3, 3] when ``bias``: one coupling magnitude, so bifurcation holds it as bits and sign rows."""
    rng = np.random.default_rng(seed)
    w = weight * np.triu(rng.choice([-1.0, 1.0], (n, n)), 1)
    b = rng.integers(-3, 4, n).astype(float) if bias else np.zeros(n)
    return Energy.from_hopfield(w + w.T, b, 0.0, "spin")
