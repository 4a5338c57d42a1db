"""Max-cut references: OR-Tools CP-SAT (exact on small graphs) and networkx's one-exchange local search."""

from __future__ import annotations

import time

import numpy as np

from hopsolve import (
    Baseline,
    BaselineOutcome,
    CpsatParams,
    Instance,
    TooLargeError,
    cpsat_build_timeout,
    integer_values,
    solve_cpsat,
)

CPSAT_MAX_EDGES = 20000

OBJECTIVE_SHARE = 0.8
"""Adding the objective takes about this share of the time the edges took (0.68-0.84 on G1, G22 and G55, on a
loaded machine): a build of m edges is projected as m · (1 + this) edges while it runs
(:func:`hopsolve.cpsat_build_timeout`)."""


class OrtoolsCpsatMaxcut(Baseline):
    """Exact max-cut: a boolean per node, ``cut_e = x_i XOR x_j`` per edge, maximise Σ w_e cut_e."""

    name = "ortools-cpsat"
    imports = ("ortools.sat.python.cp_model",)
    problem = "maxcut"
    description = "exact max-cut with OR-Tools CP-SAT (small graphs; status optimal only when proven)"
    exact = True
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        started = time.perf_counter()
        from ortools.sat.python import cp_model

        g = instance.data
        if len(g.weights) > CPSAT_MAX_EDGES:
            raise TooLargeError(f"ortools-cpsat max-cut refuses {len(g.weights)} > {CPSAT_MAX_EDGES} edges")
        weights = integer_values(g.weights, "ortools-cpsat", "edge weights")
        model = cp_model.CpModel()
        x = [model.NewBoolVar(f"x{i}") for i in range(g.n)]
        if g.n:
            model.Add(x[0] == 0)  # the two sides are interchangeable
        cuts = []
        building, edges = time.perf_counter(), len(weights)
        for k, (i, j) in enumerate(zip(g.heads.tolist(), g.tails.tolist())):
            # G22's 19,990 edges took 0.17 s to add and its objective 0.12 s more: a 0.2 s limit ended at 0.28 s
            if k >= max(2, edges // 20) and k % 500 == 0:
                late = cpsat_build_timeout(started, building, k, edges * (1 + OBJECTIVE_SHARE), time_limit)
                if late is not None:
                    return late
            cut = model.NewBoolVar(f"c{i}_{j}")
            model.AddBoolXOr([x[i], x[j], cut.Not()])
            cuts.append(cut)
        model.Maximize(cp_model.LinearExpr.WeightedSum(cuts, [int(w) for w in weights]))
        anytime: list = []
        solver, status = solve_cpsat(model, params, seed, time_limit, anytime, started=started)
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status, info={"anytime": anytime})
        sides = np.array([1 if solver.BooleanValue(v) else -1 for v in x])
        return BaselineOutcome(sides, status, bound=float(solver.BestObjectiveBound()), info={"anytime": anytime})


class NetworkxOneExchange(Baseline):
    """networkx's ``one_exchange`` local search (move one node while the cut grows)."""

    stops_at_time_limit = False  # one library call, run to its end

    name = "networkx-one-exchange"
    imports = ("networkx.algorithms.approximation",)
    problem = "maxcut"
    description = "networkx one-exchange local search (a cheap local optimum)"

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        import networkx as nx
        from networkx.algorithms.approximation import maxcut

        g = instance.data
        graph = nx.Graph()
        graph.add_nodes_from(range(g.n))
        graph.add_weighted_edges_from(zip(g.heads.tolist(), g.tails.tolist(), g.weights.tolist()))
        _, (left, _right) = maxcut.one_exchange(graph, weight="weight", seed=seed)
        sides = -np.ones(g.n, dtype=int)
        sides[list(left)] = 1
        return BaselineOutcome(sides, "feasible")


BASELINES = (OrtoolsCpsatMaxcut, NetworkxOneExchange)
