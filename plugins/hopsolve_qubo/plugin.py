"""The ``qubo`` problem: minimise ``xᵀQx`` for a raw model, so any backend can run on any energy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve import Energy, Instance, ParameterError, Problem, Solution, check_exact_sum, check_matrix_input
from hopsolve_qubo.qubo_format import QuboModel, read_qubo


class QuboProblem(Problem):
    """Raw QUBO models in the qbsolv ``.qubo`` format or built in memory (:meth:`from_qubo`); the solution is the
    bit vector in variable order."""

    name = "qubo"
    data_type = QuboModel
    description = "minimise x^T Q x over bits (qbsolv .qubo files)"
    suffixes = (".qubo",)
    sense = "min"
    default_backend = "anneal"

    def read(self, path: str | Path) -> Instance:
        model = read_qubo(path)
        return Instance("qubo", Path(path).stem, model, source=str(path))

    @staticmethod
    def from_qubo(q: Any, offset: float = 0.0, name: str = "qubo", labels: Sequence[Any] | None = None, *,
                  exact_checked: bool = False) -> Instance:
        """An instance from a square matrix ``Q`` (numpy or scipy sparse; any square Q: ``xᵀQx`` counts ``Q_ij``
        and ``Q_ji`` alike) and an ``offset``; ``labels`` (the variables' names, in order) go to ``meta``. The
        coefficients' sizes must sum to less than 2^53, as a file's, unless ``exact_checked`` (the caller checked
        the model it converted: a spin model's bits quadruple its couplings)."""
        check_matrix_input(q, "a QUBO matrix")  # before the float64 copy below: a dense one took 9 GB to fail
        if np.iscomplexobj(q):
            raise ParameterError("a QUBO matrix must be real, got complex entries")
        if not sp.issparse(q):
            try:
                q = np.asarray(q, dtype=np.float64)
            except (TypeError, ValueError):
                raise ParameterError("a QUBO matrix must hold numbers") from None
        if len(q.shape) != 2 or q.shape[0] != q.shape[1]:
            raise ParameterError(f"a QUBO matrix must be square, got shape {tuple(q.shape)}")
        matrix = sp.csr_matrix(q, dtype=np.float64)
        if not np.isfinite(matrix.data).all() or not np.isfinite(offset):
            raise ParameterError("a QUBO's coefficients must be finite numbers")
        with np.errstate(over="ignore"):  # 1e308s sum to inf: refused below
            largest = float(np.abs(matrix.data).sum()) + abs(float(offset))  # as a .qubo file's are (read_qubo)
        if not exact_checked:  # {(0, 0): -(2**60 + 1)} was solved as -2**60
            check_exact_sum(largest, None, "a QUBO's energy", error=ParameterError)
        if labels is not None and len(labels) != matrix.shape[0]:
            raise ParameterError(f"{len(labels)} labels for {matrix.shape[0]} QUBO variables")
        meta = {} if labels is None else {"labels": list(labels)}
        return Instance("qubo", name, QuboModel(matrix, float(offset)), meta=meta)

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None, options=None) -> Energy:
        energy = Energy.from_qubo(instance.data.q, instance.data.offset)
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
