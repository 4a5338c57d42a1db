"""Colouring references: DSatur (greedy, instant) and OR-Tools CP-SAT (exact chromatic number on small graphs)."""

from __future__ import annotations

import numpy as np

from hopsolve import Baseline, BaselineOutcome, CpsatParams, Instance, TooLargeError, solve_cpsat
from hopsolve_colouring.dimacs import dsatur

CPSAT_MAX_LITERALS = 2_000_000  # edges × colours of the model


class DsaturColouring(Baseline):
    """Brélaz's DSatur greedy colouring (:func:`hopsolve_colouring.dimacs.dsatur`); the default k's source."""

    name = "dsatur"
    problem = "colouring"
    description = "DSatur greedy colouring (Brélaz 1979), deterministic"
    deterministic = True

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        return BaselineOutcome(dsatur(instance.data), "feasible")


class OrtoolsCpsatColouring(Baseline):
    """Minimum colouring with CP-SAT: ``x[v][c]`` for c below the DSatur count K, exactly one colour per node, no
    edge inside a colour, ``used[c]`` ordered (colour c+1 only after c), minimise Σ used; DSatur's colouring is
    the hint. Status ``optimal`` only when CP-SAT proves χ."""

    name = "ortools-cpsat"
    problem = "colouring"
    description = "minimum colouring with OR-Tools CP-SAT (proves χ on small graphs; status optimal only then)"
    exact = True
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        from ortools.sat.python import cp_model

        graph = instance.data
        start = dsatur(graph)
        k = int(start.max(initial=0)) + 1
        if graph.m * k > CPSAT_MAX_LITERALS:
            raise TooLargeError(f"ortools-cpsat colouring refuses {graph.m} edges × {k} colours")
        model = cp_model.CpModel()
        x = [[model.NewBoolVar(f"x{v}_{c}") for c in range(k)] for v in range(graph.n)]
        used = [model.NewBoolVar(f"used{c}") for c in range(k)]
        for v in range(graph.n):
            model.AddExactlyOne(x[v])
            for c in range(k):
                model.AddImplication(x[v][c], used[c])
                model.AddHint(x[v][c], int(start[v] == c))
        for u, v in graph.edges.tolist():
            for c in range(k):
                model.AddBoolOr([x[u][c].Not(), x[v][c].Not()])
        for c in range(k - 1):
            model.AddImplication(used[c + 1], used[c])
        if graph.n:
            model.Add(x[0][0] == 1)  # colours are interchangeable
        model.Minimize(sum(used))
        anytime: list = []
        solver, status = solve_cpsat(model, params, seed, time_limit, anytime)
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status, info={"anytime": anytime})
        colours = np.array([next(c for c in range(k) if solver.BooleanValue(x[v][c])) for v in range(graph.n)])
        return BaselineOutcome(colours, status, bound=float(solver.BestObjectiveBound()), info={"anytime": anytime})


BASELINES = (DsaturColouring, OrtoolsCpsatColouring)
