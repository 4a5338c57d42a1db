"""OR-Tools CP-SAT on a raw QUBO: the exact reference every backend's answer on a ``.qubo`` file is measured against."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from hopsolve import (
    DECIMAL_SCALE_DIGITS,
    Baseline,
    BaselineOutcome,
    CpsatParams,
    Instance,
    ParameterError,
    TooLargeError,
    cpsat_build_timeout,
    decimal_scale,
    quadratic_objective,
    solve_cpsat,
)
from hopsolve_qubo.qubo_format import QuboModel

CPSAT_MAX_COUPLINGS = 20000
"""Couplings (distinct pairs i < j) past which the model is refused: each is a boolean and two clauses in CP-SAT,
and CP-SAT proves optimality only on small models anyway (as max-cut's :data:`CPSAT_MAX_EDGES`)."""


def qubo_terms(q: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``xᵀQx`` on bits as ``(linear, heads, tails, weights)``: ``Q_ii`` (x² = x) as each unit's linear bias, and
    ``Q_ij + Q_ji`` once per pair i < j, zeros left out."""
    coo = sp.coo_matrix(q)
    linear = np.zeros(q.shape[0])
    np.add.at(linear, coo.row[coo.row == coo.col], coo.data[coo.row == coo.col])
    off = coo.row != coo.col
    pairs = sp.coo_matrix((coo.data[off], (np.minimum(coo.row[off], coo.col[off]),
                                            np.maximum(coo.row[off], coo.col[off]))), shape=q.shape).tocsr()
    pairs.sum_duplicates()
    pairs.eliminate_zeros()
    pairs = pairs.tocoo()
    return linear, pairs.row.astype(np.int64), pairs.col.astype(np.int64), pairs.data


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
        found = decimal_scale(np.concatenate([linear, weights, [0.0]]))
        if found is None:
            raise ParameterError(f"ortools-cpsat needs QUBO coefficients that are multiples of "
                                 f"10^-{DECIMAL_SCALE_DIGITS} (decimals it can scale to integers exactly)")
        scale = found[1]
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
