"""The ``qubo`` problem: minimise ``xᵀQx`` for a raw model, so any backend can run on any energy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hopsolve import Energy, Instance, ParameterError, Problem, Solution
from hopsolve_qubo.qubo_format import QuboModel, read_qubo


class QuboProblem(Problem):
    """Raw QUBO models in the qbsolv ``.qubo`` format; the solution is the bit vector in variable order."""

    name = "qubo"
    description = "minimise x^T Q x over bits (qbsolv .qubo files)"
    suffixes = (".qubo",)
    sense = "min"
    default_backend = "anneal"

    def read(self, path: str | Path) -> Instance:
        model = read_qubo(path)
        return Instance("qubo", Path(path).stem, model, source=str(path))

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None, options=None) -> Energy:
        energy = Energy.from_qubo(instance.data.q)
        return energy.reweighted(**weights) if weights else energy

    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray:
        bits = np.asarray(state)
        if energy.vartype.value == "spin":
            bits = (bits + 1) // 2
        return bits.astype(np.int8)

    def score(self, instance: Instance, candidate) -> Solution:
        model: QuboModel = instance.data
        bits = np.asarray(candidate)
        if bits.shape != (model.num_variables,) or not np.isin(bits, (0, 1)).all():
            raise ParameterError(f"a qubo solution must be {model.num_variables} bits")
        return Solution([int(b) for b in bits], model.value(bits), True)

    def state_of(self, instance: Instance, energy: Energy, candidate) -> np.ndarray:
        bits = np.asarray(candidate, dtype=np.int8)
        return (2 * bits - 1).astype(np.int8) if energy.vartype.value == "spin" else bits
