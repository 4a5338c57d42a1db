"""Reference solvers for the TSP on the same instances: OR-Tools CP-SAT (exact), routing with guided local
search (heuristic), and networkx's Christofides and greedy tours (cheap)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hopsolve import (
    Baseline,
    BaselineOutcome,
    CpsatParams,
    Instance,
    ParameterError,
    TooLargeError,
    solve_cpsat,
    stoppable,
)

CPSAT_MAX_CITIES = 400


def _integer_distances(instance: Instance) -> np.ndarray:
    d = np.asarray(instance.data.distances)
    if not np.allclose(d, np.rint(d)):
        raise ParameterError("OR-Tools needs integer distances; this instance has fractional ones")
    return np.rint(d).astype(np.int64)


class OrtoolsCpsatTsp(Baseline):
    """Exact TSP with CP-SAT's ``AddCircuit``; status ``optimal`` only when CP-SAT proves it."""

    name = "ortools-cpsat"
    problem = "tsp"
    description = "exact TSP with OR-Tools CP-SAT AddCircuit (proves optimality up to ~75 cities in seconds)"
    exact = True
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        from ortools.sat.python import cp_model

        d = _integer_distances(instance)
        n = len(d)
        if n > CPSAT_MAX_CITIES:
            raise TooLargeError(f"ortools-cpsat builds n(n-1) arc literals and refuses n = {n} > {CPSAT_MAX_CITIES}")
        if n == 1:  # no arcs for AddCircuit: the one tour is the city itself
            return BaselineOutcome(np.zeros(1, dtype=np.int64), "optimal", bound=0.0)
        model = cp_model.CpModel()
        arcs, literals = [], {}
        for i in range(n):
            for j in range(n):
                if i != j:
                    lit = model.NewBoolVar(f"x{i}_{j}")
                    literals[i, j] = lit
                    arcs.append((i, j, lit))
        model.AddCircuit(arcs)
        model.Minimize(sum(int(d[i, j]) * lit for (i, j), lit in literals.items()))
        anytime: list = []
        solver, status = solve_cpsat(model, params, seed, time_limit, anytime)
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status, info={"anytime": anytime})
        successor = {i: j for (i, j), lit in literals.items() if solver.BooleanValue(lit)}
        tour = [0]
        while len(tour) < n:
            tour.append(successor[tour[-1]])
        return BaselineOutcome(np.array(tour), status, bound=float(solver.BestObjectiveBound()),
                               info={"solver_wall_time_s": solver.WallTime(), "anytime": anytime})


ROUTING_MATRIX_MAX_CITIES = 5000
"""Up to this many cities the routing model gets its distances as a matrix held in C++ (``RegisterTransitMatrix``);
above, as a Python callback. The matrix is what makes guided local search work: with the callback every arc cost
is a Python call, and on berlin52 the search found 7902 in 0.04 s and nothing better in 5 s, against the optimum
7542 in 1.4 s with the matrix; at 60 s pcb3038 went from 19.3% above the optimum (and 76 s: the callback's first
solution does not stop at the limit) to 13.3% (61 s). The matrix is passed as a list of lists of Python ints, ~36
bytes and 0.14 µs an entry, so it costs memory and set-up time: fnl4461 (4,461 cities) took 2.8 s to register it
and peaked at 1.27 GB against 0.83 GB (RESULTS §6). Above the cap the callback's memory is what fits."""


class OrtoolsRoutingTsp(Baseline):
    """OR-Tools routing: a first solution, then guided local search until the time limit (never proves). The
    limit counts from the call: building the model (the distance matrix, see
    :data:`ROUTING_MATRIX_MAX_CITIES`) comes out of it."""

    name = "ortools-routing"
    problem = "tsp"
    description = "OR-Tools routing, path-cheapest-arc start + guided local search (needs a time limit)"

    @dataclass(frozen=True)
    class Params:
        """Routing parameters."""

        first_solution: Literal["path_cheapest_arc", "christofides", "savings", "global_cheapest_arc"] = (
            "path_cheapest_arc")
        """First-solution strategy."""
        metaheuristic: Literal["guided_local_search", "simulated_annealing", "tabu_search", "greedy_descent"] = (
            "guided_local_search")
        """Local-search metaheuristic."""

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2

        began = time.perf_counter()
        d = _integer_distances(instance)
        n = len(d)
        manager = pywrapcp.RoutingIndexManager(n, 1, 0)
        routing = pywrapcp.RoutingModel(manager)

        def distance(from_index: int, to_index: int) -> int:
            return int(d[manager.IndexToNode(from_index), manager.IndexToNode(to_index)])

        # RegisterTransitMatrix takes the costs by node (it maps routing indices to nodes itself): d as it is
        callback = (routing.RegisterTransitMatrix(d.tolist()) if n <= ROUTING_MATRIX_MAX_CITIES else
                    routing.RegisterTransitCallback(distance))
        routing.SetArcCostEvaluatorOfAllVehicles(callback)
        search = pywrapcp.DefaultRoutingSearchParameters()
        search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy,
                                                 params.first_solution.upper())
        search.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic,
                                                    params.metaheuristic.upper())
        left = (time_limit if time_limit is not None else 10.0) - (time.perf_counter() - began)
        search.time_limit.FromMilliseconds(max(1, int(1000 * left)))
        anytime: list = []
        started = time.perf_counter()
        routing.AddAtSolutionCallback(lambda: anytime.append([time.perf_counter() - started,
                                                              routing.CostVar().Value()]))
        stop = threading.Event()  # set on Ctrl-C (hopsolve.stoppable): the search ends with its best tour
        routing.AddSearchMonitor(routing.solver().CustomLimit(stop.is_set))
        with stoppable(stop.set):
            solution = routing.SolveWithParameters(search)
        if solution is None:
            return BaselineOutcome(None, "timeout", info={"anytime": anytime})
        tour, index = [], routing.Start(0)
        while not routing.IsEnd(index):
            tour.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        return BaselineOutcome(np.array(tour), "feasible", info={"anytime": anytime})


def _networkx_tour(instance: Instance, algorithm: str) -> BaselineOutcome:
    """A networkx approximation's tour (its cycle without the closing city); networkx needs two cities or more."""
    from networkx.algorithms import approximation

    if instance.data.dimension == 1:
        return BaselineOutcome(np.zeros(1, dtype=np.int64), "feasible")
    graph = _graph(instance)
    if algorithm == "christofides":
        cycle = approximation.christofides(graph)
    else:  # by keyword: the second positional parameter is the weight attribute, not the start
        cycle = approximation.greedy_tsp(graph, weight="weight", source=0)
    return BaselineOutcome(np.array(cycle[:-1]), "feasible")


def _graph(instance: Instance):
    import networkx as nx

    d = np.asarray(instance.data.distances, dtype=float)
    graph = nx.Graph()
    n = len(d)
    graph.add_weighted_edges_from((i, j, d[i, j]) for i in range(n) for j in range(i + 1, n))
    return graph


class NetworkxChristofides(Baseline):
    """networkx's Christofides tour (within 1.5× of optimal on metric instances)."""

    stops_at_time_limit = False  # one library call, run to its end

    deterministic = True
    name = "networkx-christofides"
    problem = "tsp"
    description = "networkx Christofides approximation (1.5-approximate on metric instances)"

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        return _networkx_tour(instance, "christofides")


class NetworkxGreedy(Baseline):
    """networkx's greedy nearest-neighbour tour from city 1."""

    stops_at_time_limit = False  # one library call, run to its end

    deterministic = True
    name = "networkx-greedy"
    problem = "tsp"
    description = "networkx greedy (nearest-neighbour) tour"

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        return _networkx_tour(instance, "greedy")


BASELINES = (OrtoolsCpsatTsp, OrtoolsRoutingTsp, NetworkxChristofides, NetworkxGreedy)
