"""OR-Tools CP-SAT on a constrained quadratic model: exact where it proves optimality, the reference otherwise."""

from __future__ import annotations

import time

from hopsolve import (
    Baseline,
    BaselineOutcome,
    CpsatParams,
    Instance,
    ParameterError,
    cpsat_scale,
    quadratic_objective,
    solve_cpsat,
)
from hopsolve_cqm.encoding import CqmData


class OrtoolsCpsatCqm(Baseline):
    """The model in CP-SAT: a boolean per binary variable, each product ``x_i x_j`` of the objective a boolean
    ``AND``, every linear constraint scaled to integers; the objective scaled to integers too."""

    name = "ortools-cpsat"
    imports = ("ortools.sat.python.cp_model",)
    problem = "cqm"
    exact = True
    description = "constrained quadratic models in OR-Tools CP-SAT (products linearised; optimal only when proven)"
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        started = time.perf_counter()
        from ortools.sat.python import cp_model

        data: CqmData = instance.data
        cqm = data.binary
        model = cp_model.CpModel()
        x = {v: model.NewBoolVar(str(k)) for k, v in enumerate(data.variables)}
        for label, constraint in cqm.constraints.items():
            lhs = constraint.lhs
            if len(lhs.quadratic):
                raise ParameterError(f"ortools-cpsat: constraint {label!r} is quadratic")
            values = [float(b) for b in lhs.linear.values()] + [float(constraint.rhs) - float(lhs.offset)]
            scale = cpsat_scale(values, f"constraint {label!r} coefficients")
            expression = sum(int(round(scale * float(b))) * x[v] for v, b in lhs.linear.items())
            rhs = int(round(scale * (float(constraint.rhs) - float(lhs.offset))))
            sense = constraint.sense.name
            model.Add(expression == rhs if sense == "Eq" else expression <= rhs if sense == "Le" else expression >= rhs)
        objective = cqm.objective
        coefficients = [float(b) for b in objective.linear.values()] + [float(b) for b in objective.quadratic.values()]
        scale = cpsat_scale(coefficients or [0.0], "objective coefficients")
        model.Minimize(quadratic_objective(model, x, objective.linear.items(),
                                           ((u, v, b) for (u, v), b in objective.quadratic.items()), scale))
        anytime: list = []
        solver, status = solve_cpsat(model, params, seed, time_limit if time_limit is not None else 10.0, anytime,
                                     started=started)
        offset = float(objective.offset)
        curve = [[t, value / scale + offset] for t, value in anytime]
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status, info={"anytime": curve})
        bits = {v: int(solver.BooleanValue(x[v])) for v in data.variables}
        candidate = {v: (2 * bits[v] - 1 if v in data.spins else bits[v]) for v in data.variables}
        return BaselineOutcome(candidate, status, bound=float(solver.BestObjectiveBound()) / scale + offset,
                               info={"anytime": curve})
