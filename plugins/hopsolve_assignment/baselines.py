"""Assignment references: scipy's and OR-Tools' exact linear assignment, and CP-SAT for small QAPs."""

from __future__ import annotations

import time

import numpy as np

from hopsolve import Baseline, BaselineOutcome, CpsatParams, Instance, ParameterError, TooLargeError, solve_cpsat

QAP_CPSAT_MAX = 15


class ScipyLinearSumAssignment(Baseline):
    """``scipy.optimize.linear_sum_assignment`` (exact, O(n³))."""

    stops_at_time_limit = False  # one library call, run to its end

    deterministic = True
    name = "scipy-lsa"
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
    problem = "assignment"
    description = "OR-Tools SimpleLinearSumAssignment (exact, integer costs)"
    exact = True

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        from ortools.graph.python import linear_sum_assignment

        c = instance.data
        if not np.allclose(c, np.rint(c)):
            raise ParameterError("ortools-lsa needs integer costs")
        n = len(c)
        solver = linear_sum_assignment.SimpleLinearSumAssignment()
        rows, cols = np.divmod(np.arange(n * n), n)
        solver.add_arcs_with_cost(rows, cols, np.rint(c).astype(np.int64).ravel())
        if solver.solve() != solver.OPTIMAL:
            return BaselineOutcome(None, "infeasible")
        return BaselineOutcome(np.array([solver.right_mate(i) for i in range(n)]), "optimal")


class OrtoolsCpsatQap(Baseline):
    """QAP in CP-SAT with linearised products; optimal only when proven (small instances, n ≤ 15)."""

    name = "ortools-cpsat"
    problem = "qap"
    description = "quadratic assignment in OR-Tools CP-SAT (n ≤ 15, linearised; needs a time limit to stop)"
    exact = True
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        started = time.perf_counter()
        from ortools.sat.python import cp_model

        flow, distance = instance.data
        n = len(flow)
        if n > QAP_CPSAT_MAX:
            raise TooLargeError(f"ortools-cpsat QAP refuses n = {n} > {QAP_CPSAT_MAX} (n⁴ product variables)")
        if not (np.allclose(flow, np.rint(flow)) and np.allclose(distance, np.rint(distance))):
            raise ParameterError("ortools-cpsat needs integer flows and distances")
        model = cp_model.CpModel()
        x = [[model.NewBoolVar(f"x{i}_{k}") for k in range(n)] for i in range(n)]
        for i in range(n):
            model.AddExactlyOne(x[i])
            model.AddExactlyOne(x[j][i] for j in range(n))
        terms = []
        for i in range(n):
            for j in range(n):
                if i == j or flow[i, j] == 0:
                    continue
                for k in range(n):
                    for m in range(n):
                        if k == m or distance[k, m] == 0:
                            continue
                        y = model.NewBoolVar("")
                        model.AddBoolOr([x[i][k].Not(), x[j][m].Not(), y])  # y ≥ x_ik ∧ x_jm
                        terms.append(int(flow[i, j] * distance[k, m]) * y)
        diagonal = [int(flow[i, i] * distance[k, k]) * x[i][k] for i in range(n) for k in range(n)
                    if flow[i, i] and distance[k, k]]
        model.Minimize(sum(terms) + sum(diagonal))
        solver, status = solve_cpsat(model, params, seed, time_limit if time_limit is not None else 10.0,
                                     started=started)
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status)
        p = np.array([[solver.BooleanValue(v) for v in row] for row in x]).argmax(axis=1)
        return BaselineOutcome(p, status, bound=float(solver.BestObjectiveBound()))


BASELINES = (ScipyLinearSumAssignment, OrtoolsLinearSumAssignment, OrtoolsCpsatQap)
