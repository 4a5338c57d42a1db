"""OR-Tools CP-SAT on a raw QUBO: the exact reference every backend's answer on a ``.qubo`` file is measured against."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from hopsolve import (
    Baseline,
    BaselineOutcome,
    CpsatParams,
    Instance,
    TooLargeError,
    cpsat_build_timeout,
    cpsat_scale,
    quadratic_objective,
    solve_cpsat,
)
from hopsolve_qubo.qubo_format import QuboModel, upper_folded

CPSAT_MAX_COUPLINGS = 20000
"""Couplings (distinct pairs i < j) past which the model is refused: each is a boolean and two clauses in CP-SAT,
and CP-SAT proves optimality only on small models anyway (as max-cut's :data:`CPSAT_MAX_EDGES`)."""


def qubo_terms(q: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``xᵀQx`` on bits as ``(linear, heads, tails, weights)``: ``Q_ii`` (x² = x) as each unit's linear bias, and
    ``Q_ij + Q_ji`` once per pair i < j, zeros left out."""
    folded = upper_folded(q)
    linear = np.zeros(q.shape[0])
    diagonal = folded.row == folded.col
    linear[folded.row[diagonal]] = folded.data[diagonal]
    pairs = ~diagonal & (folded.data != 0)
    return (linear, folded.row[pairs].astype(np.int64), folded.col[pairs].astype(np.int64),
            folded.data[pairs])


class OrtoolsCpsatQubo(Baseline):
    """Exact QUBO: a boolean per bit, each coupled pair a boolean tied to their AND, minimise the scaled sum."""

    name = "ortools-cpsat"
    imports = ("ortools.sat.python.cp_model",)
    problem = "qubo"
    exact = True
    description = ("exact QUBO with OR-Tools CP-SAT (products linearised; decimal coefficients; status optimal only "
                   "when proven)")
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        started = time.perf_counter()
        from ortools.sat.python import cp_model

        data: QuboModel = instance.data
        linear, heads, tails, weights = qubo_terms(data.q)
        if len(weights) > CPSAT_MAX_COUPLINGS:
            raise TooLargeError(f"ortools-cpsat refuses a QUBO of {len(weights):,} couplings > "
                                f"{CPSAT_MAX_COUPLINGS:,} (its proofs are for small models)")
        scale = cpsat_scale(np.concatenate([linear, weights, [0.0]]), "QUBO coefficients")
        model = cp_model.CpModel()
        building = time.perf_counter()
        x = [model.NewBoolVar(f"x{i}") for i in range(data.num_variables)]
        late = cpsat_build_timeout(started, building, max(1, len(x)), len(x) + 3 * len(weights), time_limit)
        if late is not None:
            return late
        model.Minimize(quadratic_objective(model, x, enumerate(linear.tolist()),
                                           zip(heads.tolist(), tails.tolist(), weights.tolist()), scale))
        anytime: list = []
        solver, status = solve_cpsat(model, params, seed, time_limit if time_limit is not None else 10.0, anytime,
                                     started=started)
        curve = [[t, value / scale + data.offset] for t, value in anytime]
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status, info={"anytime": curve})
        bits = np.array([int(solver.BooleanValue(v)) for v in x], dtype=np.int8)
        return BaselineOutcome(bits, status, bound=float(solver.BestObjectiveBound()) / scale + data.offset,
                               info={"anytime": curve})
