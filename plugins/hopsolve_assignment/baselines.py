"""Assignment references: scipy's and OR-Tools' exact linear assignment, and CP-SAT for small QAPs."""

from __future__ import annotations

import time

import numpy as np

from hopsolve import (
    MAX_EXACT,
    Baseline,
    BaselineOutcome,
    CpsatParams,
    Instance,
    TooLargeError,
    cpsat_build_timeout,
    integer_values,
    solve_cpsat,
)

QAP_CPSAT_MAX = 15
MINIMIZE_SHARE = 0.4
"""Setting the objective (a weighted sum of n²(n−1)² products) takes about this share of the rows' building time
(nug15: 0.097 s against 0.257 s)."""


class ScipyLinearSumAssignment(Baseline):
    """``scipy.optimize.linear_sum_assignment`` (exact, O(n³))."""

    stops_at_time_limit = False  # one library call, run to its end

    deterministic = True
    name = "scipy-lsa"
    imports = ("scipy.optimize",)
    problem = "assignment"
    description = "scipy.optimize.linear_sum_assignment (exact)"
    exact = True

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        from scipy.optimize import linear_sum_assignment

        _, cols = linear_sum_assignment(instance.data)
        return BaselineOutcome(cols, "optimal")


class OrtoolsLinearSumAssignment(Baseline):
    """OR-Tools' ``SimpleLinearSumAssignment`` (exact; integer costs)."""

    stops_at_time_limit = False  # one library call, run to its end

    deterministic = True
    name = "ortools-lsa"
    imports = ("ortools.graph.python.linear_sum_assignment",)
    problem = "assignment"
    description = "OR-Tools SimpleLinearSumAssignment (exact, integer costs)"
    exact = True

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        from ortools.graph.python import linear_sum_assignment

        c = integer_values(instance.data, "ortools-lsa", "costs")
        n = len(c)
        solver = linear_sum_assignment.SimpleLinearSumAssignment()
        rows, cols = np.divmod(np.arange(n * n), n)
        solver.add_arcs_with_cost(rows, cols, c.ravel())
        if solver.solve() != solver.OPTIMAL:
            return BaselineOutcome(None, "infeasible")
        return BaselineOutcome(np.array([solver.right_mate(i) for i in range(n)]), "optimal")


class OrtoolsCpsatQap(Baseline):
    """QAP in CP-SAT with linearised products; optimal only when proven (small instances, n ≤ 15)."""

    name = "ortools-cpsat"
    imports = ("ortools.sat.python.cp_model",)
    problem = "qap"
    description = "quadratic assignment in OR-Tools CP-SAT (n ≤ 15, linearised; 10 s without a time limit)"
    exact = True
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        started = time.perf_counter()
        from ortools.sat.python import cp_model

        flow, distance = instance.data
        n = len(flow)
        if n > QAP_CPSAT_MAX:
            raise TooLargeError(f"ortools-cpsat QAP refuses n = {n} > {QAP_CPSAT_MAX} (n⁴ product variables)")
        flow = integer_values(flow, "ortools-cpsat", "flows and distances")
        distance = integer_values(distance, "ortools-cpsat", "flows and distances")
        if not float(np.abs(flow).sum()) * float(np.abs(distance).max(initial=0)) < MAX_EXACT:
            raise TooLargeError("ortools-cpsat QAP: the objective's terms could reach 2^53; scale the data down")
        limit = time_limit if time_limit is not None else 10.0
        model = cp_model.CpModel()
        x = [[model.NewBoolVar(f"x{i}_{k}") for k in range(n)] for i in range(n)]
        for i in range(n):
            model.AddExactlyOne(x[i])
            model.AddExactlyOne(x[j][i] for j in range(n))
        variables, coefficients = [], []
        building = time.perf_counter()
        for i in range(n):
            # building the n⁴ products can outlast a short limit: the model is not finished when its rows, its
            # objective (MINIMIZE_SHARE) and CP-SAT's loading would pass it
            late = cpsat_build_timeout(started, building, i, n * (1 + MINIMIZE_SHARE), limit)
            if late is not None:
                return late
            for j in range(n):
                if i == j or flow[i, j] == 0:
                    continue
                for k in range(n):
                    for m in range(n):
                        if k == m or distance[k, m] == 0:
                            continue
                        y = model.NewBoolVar("")
                        coefficient = int(flow[i, j]) * int(distance[k, m])
                        if coefficient > 0:  # minimised, y only needs a lower bound: y ≥ x_ik ∧ x_jm
                            model.AddBoolOr([x[i][k].Not(), x[j][m].Not(), y])
                        else:  # a negative cost would set y for free: y ≤ x_ik and y ≤ x_jm
                            model.AddImplication(y, x[i][k])
                            model.AddImplication(y, x[j][m])
                        variables.append(y)
                        coefficients.append(coefficient)
        for i in range(n):
            for k in range(n):
                if flow[i, i] and distance[k, k]:
                    variables.append(x[i][k])
                    coefficients.append(int(flow[i, i]) * int(distance[k, k]))
        model.Minimize(cp_model.LinearExpr.WeightedSum(variables, coefficients))  # sum() took 0.1 s at n = 15
        solver, status = solve_cpsat(model, params, seed, limit, started=started)
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status)
        p = np.array([[solver.BooleanValue(v) for v in row] for row in x]).argmax(axis=1)
        return BaselineOutcome(p, status, bound=float(solver.BestObjectiveBound()))


BASELINES = (ScipyLinearSumAssignment, OrtoolsLinearSumAssignment, OrtoolsCpsatQap)
