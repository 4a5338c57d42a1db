"""Running an OR-Tools CP-SAT model the same way for every problem: parameters, seed, limit, status."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hopsolve.baseline import DECIMAL_SCALE_DIGITS, BaselineOutcome, decimal_scale
from hopsolve.errors import ParameterError
from hopsolve.interrupt import stoppable
from hopsolve.params import require

MIN_SEARCH_SECONDS = 0.01
"""CP-SAT's search time when building and loading the model leave less of the limit: enough for a first solution
on small models, so the run still answers (as ``timeout`` where it finds none)."""

LOAD_SHARE = 0.25
"""CP-SAT's loading and end of a model take up to about this share of the time Python took to build it, on top of
its search limit (0.10-0.28 measured on QAP, max-cut and TSP models; nug15's: built in 0.35 s, and a 0.5 s limit
ended at 0.55 s): held back from the search, and a model with less than that left is not searched (``timeout``)."""


def cpsat_build_timeout(started: float, building: float, done: float, total: float,
                        time_limit: float | None) -> BaselineOutcome | None:
    """The ``timeout`` outcome a baseline returns at once, with a note, when its CP-SAT model could not be built and
    loaded within ``time_limit`` (seconds from ``started``, the baseline's start), projected from the pace so far:
    ``done`` of the model's ``total`` parts (rows, say) built since ``building``, and :data:`LOAD_SHARE` more for
    CP-SAT's loading; ``None`` while it fits (or without a limit). a280's TSP model took 0.65 s to build under a
    0.1 s limit, and the run ended there."""
    if time_limit is None:
        return None
    now = time.perf_counter()
    ready = (now - started + (now - building) / max(done, 1) * (total - done)) * (1 + LOAD_SHARE)
    if ready <= time_limit:
        return None
    return BaselineOutcome(None, "timeout", info={"note": (
        f"building this model and loading it into CP-SAT would take about {ready:.2g} s: the {time_limit:g} s limit "
        "leaves no time to search")})


MAX_OBJECTIVE_SUM = 2**53
"""The most an objective's scaled integer coefficients may sum to in magnitude: CP-SAT works in 64-bit integers
(a coefficient of -4e21 crashed its Python binding; coefficients of 5e18 each made it refuse the model), and below
2^53 every objective value is also exact as the float hopsolve reports."""


def cpsat_scale(values: Any, what: str) -> float:
    """The power of ten that makes every one of ``values`` an integer for CP-SAT (:func:`hopsolve.decimal_scale`),
    refused in one line naming ``what`` where none of at most :data:`~hopsolve.baseline.DECIMAL_SCALE_DIGITS`
    digits does (the cqm and qubo baselines' scales of their coefficients)."""
    found = decimal_scale(np.asarray(values, dtype=np.float64))
    if found is None:
        raise ParameterError(f"ortools-cpsat needs {what} that are multiples of 10^-{DECIMAL_SCALE_DIGITS}")
    return found[1]


def quadratic_objective(model: Any, bools: Mapping[Any, Any], linear: Iterable[tuple[Any, float]],
                        quadratic: Iterable[tuple[Any, Any, float]], scale: float) -> Any:
    """``Σ round(scale·b)·x_v + Σ round(scale·b)·x_u·x_v`` over the CP-SAT booleans ``bools[v]``, as one linear
    expression of ``model``: each product of two booleans a boolean of its own tied to their AND both ways (a square
    ``x_v·x_v`` is ``x_v``), zero coefficients left out. ``scale`` must make every coefficient an integer
    (:func:`hopsolve.decimal_scale`): the objective is then ``scale`` times the model's, exactly."""
    from ortools.sat.python import cp_model

    variables, weights = [], []
    for v, bias in linear:
        if bias:
            variables.append(bools[v])
            weights.append(int(round(scale * float(bias))))
    for u, v, bias in quadratic:
        if not bias:
            continue
        if u == v:
            product = bools[u]
        else:
            product = model.NewBoolVar(f"{u}*{v}")
            model.AddBoolAnd([bools[u], bools[v]]).OnlyEnforceIf(product)
            model.AddBoolOr([bools[u].Not(), bools[v].Not()]).OnlyEnforceIf(product.Not())
        variables.append(product)
        weights.append(int(round(scale * float(bias))))
    total = sum(abs(w) for w in weights)
    if total >= MAX_OBJECTIVE_SUM:  # CP-SAT's int64 arithmetic: it crashed converting -4e21, or refused the model
        raise ParameterError(f"the objective's coefficients, scaled to integers (×{scale:g}), sum to {total:.3g} in "
                             f"magnitude, past the {MAX_OBJECTIVE_SUM:.3g} OR-Tools CP-SAT computes exactly; scale "
                             "the model down or use fewer decimals")
    return cp_model.LinearExpr.WeightedSum(variables, weights)


@dataclass(frozen=True)
class CpsatParams:
    """CP-SAT parameters shared by the ``ortools-cpsat`` baselines."""

    workers: int = 0
    """Search workers (0: one per core)."""

    def validate(self) -> None:
        require(self.workers >= 0, "baseline 'ortools-cpsat'", "workers must be non-negative")


def solve_cpsat(model: Any, params: CpsatParams, seed: int, time_limit: float | None,
                anytime: list | None = None, started: float | None = None) -> tuple[Any, str]:
    """Solve ``model``; returns the solver (to read values) and ``optimal``, ``feasible``, ``infeasible`` or
    ``timeout`` (no solution within the limit). ``optimal`` only when CP-SAT proves it. ``anytime``, when given,
    receives ``[seconds, objective]`` for every solution CP-SAT finds (its objective is the model's). ``started``
    (``time.perf_counter()`` when the baseline began) counts building the model in the limit: CP-SAT is given
    what is left of it (G1's model took 0.6 s to build, and a 1 s limit ended at 1.64 s), less
    :data:`LOAD_SHARE` of the building time."""
    from ortools.sat.python import cp_model

    class Recorder(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            anytime.append([self.WallTime(), self.ObjectiveValue()])

    solver = cp_model.CpSolver()
    # Ctrl-C is hopsolve's to handle (hopsolve.interrupt): it stops the search through StopSearch and keeps the
    # best solution, and the run is reported as interrupted
    solver.parameters.catch_sigint_signal = False
    solver.parameters.num_workers = params.workers or (os.cpu_count() or 1)
    solver.parameters.random_seed = seed % (2**31)
    if time_limit is not None:
        built = time.perf_counter() - started if started is not None else 0.0
        left = float(time_limit) - built - LOAD_SHARE * built
        if left <= 0 and built > 0:  # CP-SAT would end past the limit before it began to search
            return solver, "timeout"
        solver.parameters.max_time_in_seconds = max(left, MIN_SEARCH_SECONDS)
    with stoppable(solver.StopSearch):
        status = solver.Solve(model, Recorder() if anytime is not None else None)
    if status == cp_model.MODEL_INVALID:  # was reported "timeout", as if the search had found nothing in time
        reason = ((model.Validate() or "").strip().splitlines() or ["no reason given"])[0].rstrip(":")
        raise ParameterError(f"OR-Tools CP-SAT refused the model as invalid ({reason}); its integer coefficients or "
                             "their sums may pass 2^63")
    names = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible"}
    return solver, names.get(status, "timeout")
