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
    Metric,
    TooLargeError,
    check_matrix_size,
    cpsat_build_timeout,
    integer_values,
    solve_cpsat,
    stoppable,
)

CPSAT_MAX_CITIES = 400


def _integer_distances(instance: Instance) -> np.ndarray:
    return integer_values(instance.data.distances, "OR-Tools", "distances")


OBJECTIVE_SHARE = 0.9
"""Adding the circuit and the objective takes about this share of the time the arcs took (0.79-1.05 on a280 and
lin318, on a loaded machine): a build of n rows is projected as n · (1 + this) rows while it runs
(:func:`hopsolve.cpsat_build_timeout`). Writing the objective into the model's proto directly took a tenth of the time,
but CP-SAT's loading, allowed as a share of the build (``LOAD_SHARE``), then overran a 2 s limit by 5%."""


class OrtoolsCpsatTsp(Baseline):
    """Exact TSP with CP-SAT's ``AddCircuit``; status ``optimal`` only when CP-SAT proves it."""

    name = "ortools-cpsat"
    imports = ("ortools.sat.python.cp_model",)
    problem = "tsp"
    description = ("exact TSP with OR-Tools CP-SAT AddCircuit (within the tsp problem's default 10 s it proved "
                   "burma14 to dantzig42, 0.1-6.4 s, and ended att48 feasible, unproven; refuses more than "
                   f"{CPSAT_MAX_CITIES} cities)")
    exact = True
    Params = CpsatParams

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        started = time.perf_counter()
        from ortools.sat.python import cp_model

        d = _integer_distances(instance)
        n = len(d)
        if n > CPSAT_MAX_CITIES:
            raise TooLargeError(f"ortools-cpsat builds n(n-1) arc literals and refuses n = {n} > {CPSAT_MAX_CITIES}")
        if n == 1:  # no arcs for AddCircuit: the one tour is the city itself
            return BaselineOutcome(np.zeros(1, dtype=np.int64), "optimal", bound=0.0)
        model = cp_model.CpModel()
        arcs, literals, costs = [], {}, []
        building = time.perf_counter()
        for i in range(n):
            # a280's model took 0.65 s to build, and a 0.1 s limit ended there (judged from a twentieth of the rows:
            # the first row's pace, Python's warm-up in it, projected 1.2 s where 0.6 s is taken)
            late = cpsat_build_timeout(started, building, i, n * (1 + OBJECTIVE_SHARE), time_limit) \
                if i >= max(2, n // 20) else None
            if late is not None:
                return late
            for j in range(n):
                if i != j:
                    lit = model.NewBoolVar(f"x{i}_{j}")
                    literals[i, j] = lit
                    arcs.append((i, j, lit))
                    costs.append(int(d[i, j]))
        model.AddCircuit(arcs)
        model.Minimize(cp_model.LinearExpr.WeightedSum(list(literals.values()), costs))
        anytime: list = []
        solver, status = solve_cpsat(model, params, seed, time_limit, anytime, started=started)
        if status not in ("optimal", "feasible"):
            return BaselineOutcome(None, status, info={"anytime": anytime})
        successor = {i: j for (i, j), lit in literals.items() if solver.BooleanValue(lit)}
        tour = [0]
        while len(tour) < n:
            tour.append(successor[tour[-1]])
        return BaselineOutcome(np.array(tour), status, bound=float(solver.BestObjectiveBound()),
                               info={"solver_wall_time_s": solver.WallTime(), "anytime": anytime})


ROUTING_BYTES_PER_DISTANCE = 16
"""What one distance costs the routing baseline: OR-Tools holds its matrix in C++ (``RegisterTransitMatrix``, 8
bytes an entry) and takes it as a list of lists of Python ints (8 bytes a reference, the ints shared: see
:data:`ROUTING_SHARED_INTS`). The matrix is what makes guided local search work: through a Python callback every
arc cost was a Python call, and on berlin52 the search found 7902 in 0.04 s and nothing better in 5 s (against the
optimum 7542 in 1.4 s with the matrix); on rl5915 at a 30 s limit the callback's first tour came at 23 s and the
search returned at 71 s, 27% above the optimum. So there is no callback any more: an instance whose matrix does not
fit ``HOPSOLVE_MAX_MATRIX_BYTES`` (default 2 GiB: about 11,500 cities; about 7,000 where the ints cannot be shared,
:data:`ROUTING_SHARED_INTS`) is refused in one line."""

ROUTING_SHARED_INTS = 1 << 20
"""Distances up to this value are passed as references to one shared Python int each (a table built once), 8 bytes
an entry in the lists; larger ones as fresh ints, 36 bytes an entry (``tolist``: fnl4461 peaked at 1.27 GB that
way against 0.83 GB without the baseline)."""

ROUTING_REGISTER_S_PER_ENTRY = 40e-9
"""Seconds ``RegisterTransitMatrix`` takes a distance (one C++ call that cannot be interrupted: measured 41–51 ns an
entry on rl5915 and u2319 with another test run beside it, 29 ns on pla7397 on a quieter machine). A run whose
limit would pass inside it ends before it, with the nearest-neighbour start tour: pla7397 at a 4 s limit ended at
5.4 s without a tour, having built that tour and thrown it away."""

ROUTING_BLOCK_ENTRIES = 1 << 20
"""Distances are computed (:meth:`Metric.rows`) this many at a time, so no n × n numpy matrix is built beside the
lists."""


ROUTING_CPP_BYTES_PER_DISTANCE = 8
"""What OR-Tools' own copy of the matrix costs a distance (``RegisterTransitMatrix`` keeps int64s), held beside the
Python lists while it copies them."""


def _address_space_left() -> int | None:
    """Bytes of address space this process may still map under ``ulimit -v`` (``RLIMIT_AS`` less the ``VmSize``
    of ``/proc/self/status``); ``None`` without such a limit or where it cannot be read (not Linux)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return soft - 1024 * size_kb


def _check_address_space(needed: float, n: int) -> None:
    """Refuse in one line a matrix that the process's ``ulimit -v`` cannot hold: OR-Tools' C++ copy of it ran out
    of memory inside ``RegisterTransitMatrix`` and aborted the process (``std::bad_alloc``, exit 134) instead of
    raising a ``MemoryError`` Python could report (pla7397 under ``ulimit -v 1300000``)."""
    left = _address_space_left()
    if left is not None and needed > left:
        raise TooLargeError(f"ortools-routing's {n:,}×{n:,} distance matrix needs about {needed / 2**30:.2g} GiB "
                            f"(its lists and OR-Tools' copy), more than the {max(left, 0) / 2**30:.2g} GiB of "
                            "address space this process has left under its ulimit -v; use hopsolve's backends "
                            "(the default anneal) or raise the limit")


def _routing_matrix_kind(instance: Instance) -> tuple[np.ndarray | None, int, bool]:
    """(the rounded explicit distances or ``None``, the largest distance, whether the lists can share their ints)
    of ``instance``'s routing matrix, after checking that it fits the memory limit and what ``ulimit -v`` leaves:
    the baseline checks this before building its start tour (pla85900's was built, 4 s, before the refusal)."""
    metric = instance.data.metric
    n = metric.size
    explicit = _integer_distances(instance) if metric.kind == "EXPLICIT" else None
    low, high = ((0, metric.max_distance) if explicit is None or explicit.size == 0
                 else (int(explicit.min()), int(explicit.max())))  # the rounded values the table is indexed by
    shared = low >= 0 and high <= ROUTING_SHARED_INTS
    per_entry = ROUTING_BYTES_PER_DISTANCE if shared else ROUTING_BYTES_PER_DISTANCE + 28
    check_matrix_size(n * n, f"ortools-routing's {n:,}×{n:,} distance matrix", bytes_per_entry=per_entry,
                      entries="distances", instead="use hopsolve's backends (the default anneal) at this size")
    _check_address_space(n * n * (per_entry + ROUTING_CPP_BYTES_PER_DISTANCE), n)
    return explicit, int(high), shared


ROUTING_OVERSHOOT_SHARE = 0.03
"""The share of the time left that OR-Tools' routing search is not given: it returns after its limit."""


def _routing_matrix(instance: Instance, deadline: float,
                    kind: tuple[np.ndarray | None, int, bool] | None = None) -> list[list[int]] | None:
    """The distances as ``RegisterTransitMatrix`` takes them (a list of rows of ints), built a block of rows at a
    time after checking their memory (:data:`ROUTING_BYTES_PER_DISTANCE`) against the limit; None when the
    ``deadline`` (a ``time.perf_counter`` reading) passes first (rl11849's lists take about 5 s here), or when the
    pace of the blocks built so far projects the rest and OR-Tools' registration of the matrix
    (:data:`ROUTING_REGISTER_S_PER_ENTRY`) past it: then the run ends early with its start tour instead of late.
    ``kind`` is :func:`_routing_matrix_kind`'s answer where the caller has it already (else it is computed here)."""
    metric = instance.data.metric
    n = metric.size
    explicit, high, shared = kind if kind is not None else _routing_matrix_kind(instance)
    ints = np.array(list(range(int(high) + 1)), dtype=object) if shared else None
    rows = max(1, ROUTING_BLOCK_ENTRIES // max(n, 1))
    matrix: list[list[int]] = []
    registering = ROUTING_REGISTER_S_PER_ENTRY * n * n
    began = time.perf_counter()
    for first in range(0, n, rows):
        now = time.perf_counter()
        pace = (now - began) / first if first else 0.0  # seconds a row, from the rows built so far
        if now + pace * (n - first) + registering > deadline:
            return None
        block = explicit[first:first + rows] if explicit is not None else metric.rows(first, min(n, first + rows))
        matrix.extend(ints[block].tolist() if shared else block.tolist())
    return matrix


def _nearest_neighbour_tour(metric: Metric) -> np.ndarray:
    """Path-cheapest-arc's tour, built here: from city 0, always on to the nearest city not yet visited (ties to the
    lower index), looked up among each city's 8 nearest (:meth:`Metric.neighbours`) and among all the rest when
    those are visited or the one found ties with the list's last (a city off the list may tie with it and have a
    lower index: the KD-tree behind the lists ranks by unrounded distances). OR-Tools' own construction does
    the same with n² arc evaluations and does not stop at the time limit: rl11849's took 7.4 s under a 5 s limit;
    this one 0.7 s."""
    n = metric.size
    near = metric.neighbours(min(8, n - 1))
    k = near.shape[1]
    near_distance = metric.pairs(np.repeat(np.arange(n), k), near.ravel()).reshape(n, k)
    visited = np.zeros(n, dtype=bool)
    tour = np.empty(n, dtype=np.int64)
    city = 0
    for step in range(n):
        tour[step] = city
        visited[city] = True
        if step == n - 1:
            break
        free = ~visited[near[city]]
        first = int(np.argmax(free))
        # a city off the list is no nearer than the list's last, but may tie with it and have a lower index
        if free[first] and near_distance[city, first] < near_distance[city, -1]:
            city = int(near[city, first])
        else:
            rest = np.flatnonzero(~visited)
            city = int(rest[np.argmin(metric.pairs(np.full(len(rest), city), rest))])
    return tour


class OrtoolsRoutingTsp(Baseline):
    """OR-Tools routing: a first solution, then guided local search until the time limit (never proves). The
    limit counts from the call: building the model (the distance matrix, see
    :data:`ROUTING_BYTES_PER_DISTANCE`) comes out of it. The default first solution, path cheapest arc (a nearest
    neighbour tour), is built here (:func:`_nearest_neighbour_tour`) and handed to OR-Tools, because OR-Tools'
    own first solutions do not stop at the limit; the other strategies are OR-Tools' and may overrun it. The search
    takes no seed (OR-Tools' routing search has none): runs with different seeds differ only in how far it got in
    the time, so a bench's seeds of this baseline are repeats, not independent tries."""

    name = "ortools-routing"
    imports = ("ortools.constraint_solver.pywrapcp",)
    problem = "tsp"
    description = ("OR-Tools routing, path-cheapest-arc start + guided local search (runs until its time limit: 10 s "
                   "unless --time-limit is given)")

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
        began = time.perf_counter()  # the limit counts from the call, the import included
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2

        limit = time_limit if time_limit is not None else 10.0
        n = instance.data.dimension
        kind = _routing_matrix_kind(instance)  # refused before anything is built where the matrix cannot be held
        # path-cheapest-arc's tour, built first: the answer if the limit passes before the search can improve it
        first_tour = (_nearest_neighbour_tour(instance.data.metric)
                      if params.first_solution == "path_cheapest_arc" and n > 2 else None)

        def short_of_time(stage: str) -> BaselineOutcome:
            if first_tour is None:
                return BaselineOutcome(None, "timeout", info={"anytime": [], "note": f"the time limit ends {stage}"})
            return BaselineOutcome(first_tour, "feasible", info={"anytime": [], "note": (
                f"the time limit ends {stage}: the nearest-neighbour start tour, not searched")})

        matrix = _routing_matrix(instance, began + limit, kind)  # its checks and explicit distances done once
        if matrix is None or time.perf_counter() + ROUTING_REGISTER_S_PER_ENTRY * n * n > began + limit:
            return short_of_time("before OR-Tools' search could start (its distance matrix is built and then "
                                 "registered in one call that cannot stop)")
        manager = pywrapcp.RoutingIndexManager(len(matrix), 1, 0)
        routing = pywrapcp.RoutingModel(manager)
        # RegisterTransitMatrix takes the costs by node (it maps routing indices to nodes itself) and copies them
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(matrix))
        del matrix
        search = pywrapcp.DefaultRoutingSearchParameters()
        search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy,
                                                 params.first_solution.upper())
        search.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic,
                                                    params.metaheuristic.upper())
        anytime: list = []
        started = time.perf_counter()
        routing.AddAtSolutionCallback(lambda: anytime.append([time.perf_counter() - started,
                                                              routing.CostVar().Value()]))
        stop = threading.Event()  # set on Ctrl-C (hopsolve.stoppable): the search ends with its best tour
        routing.AddSearchMonitor(routing.solver().CustomLimit(stop.is_set))
        def milliseconds_left() -> int:  # the search gets what is left of the limit when it is set, less
            # ROUTING_OVERSHOOT_SHARE: it checks its clock between moves and returns late (berlin52 at 5 s: 5.03 s
            # of wall time idle, past 5.25 s on a loaded CI machine, a timeout)
            left = limit - (time.perf_counter() - began)
            return max(1, int(1000 * left * (1.0 - ROUTING_OVERSHOOT_SHARE)))

        search.time_limit.FromMilliseconds(milliseconds_left())
        start = None
        if first_tour is not None:
            routing.CloseModelWithParameters(search)
            start = routing.ReadAssignmentFromRoutes([[manager.NodeToIndex(int(city)) for city in first_tour[1:]]],
                                                     True)
            search.time_limit.FromMilliseconds(milliseconds_left())  # after the start was built
        with stoppable(stop.set):
            solution = (routing.SolveWithParameters(search) if start is None
                        else routing.SolveFromAssignmentWithParameters(start, search))
        if solution is None and first_tour is not None:  # the limit passed before the search returned: its start
            return BaselineOutcome(first_tour, "feasible", info={"anytime": anytime, "note": "the time limit passed "
                                                                 "before OR-Tools' search: its start tour"})
        if solution is None:
            return BaselineOutcome(None, "timeout", info={"anytime": anytime})
        tour, index = [], routing.Start(0)
        while not routing.IsEnd(index):
            tour.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        return BaselineOutcome(np.array(tour), "feasible", info={"anytime": anytime})


NETWORKX_BYTES_PER_EDGE = {"greedy": 400, "christofides": 800}
"""What networkx's complete graph costs an edge, with what each algorithm builds from it (measured peaks less the
interpreter's: greedy 340–460 bytes on pr1002 and fnl4461, Christofides 700 on pr1002). fnl4461's greedy tour took
3.5 GB unchecked, and under a smaller ``ulimit -v`` ran out of memory inside networkx."""


def _networkx_tour(instance: Instance, algorithm: str) -> BaselineOutcome:
    """A networkx approximation's tour (its cycle without the closing city); networkx needs two cities or more."""
    from networkx.algorithms import approximation

    n = instance.data.dimension
    if n == 1:
        return BaselineOutcome(np.zeros(1, dtype=np.int64), "feasible")
    check_matrix_size(n * (n - 1) // 2, f"networkx's complete graph of {n:,} cities",
                      bytes_per_entry=NETWORKX_BYTES_PER_EDGE[algorithm], entries="edges",
                      instead=("use ortools-routing or a backend (anneal)" if _routing_fits(n)
                               else "use a backend (anneal)"))
    graph = _graph(instance)
    if algorithm == "christofides":
        cycle = approximation.christofides(graph)
    else:  # by keyword: the second positional parameter is the weight attribute, not the start
        cycle = approximation.greedy_tsp(graph, weight="weight", source=0)
    return BaselineOutcome(np.array(cycle[:-1]), "feasible")


def _routing_fits(n: int) -> bool:
    """Whether ortools-routing's matrix of ``n`` cities fits the memory limit (at its smallest, shared ints): only
    then is it worth suggesting (usa13509's networkx refusal named it, and it refuses usa13509 too)."""
    try:
        check_matrix_size(n * n, "", bytes_per_entry=ROUTING_BYTES_PER_DISTANCE)
    except TooLargeError:
        return False
    return True


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
    imports = ("networkx.algorithms.approximation",)
    problem = "tsp"
    description = "networkx Christofides approximation (1.5-approximate on metric instances)"

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        return _networkx_tour(instance, "christofides")


class NetworkxGreedy(Baseline):
    """networkx's greedy nearest-neighbour tour from city 1."""

    stops_at_time_limit = False  # one library call, run to its end

    deterministic = True
    name = "networkx-greedy"
    imports = ("networkx.algorithms.approximation",)
    problem = "tsp"
    description = "networkx greedy (nearest-neighbour) tour"

    def solve(self, instance: Instance, params, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        return _networkx_tour(instance, "greedy")


BASELINES = (OrtoolsCpsatTsp, OrtoolsRoutingTsp, NetworkxChristofides, NetworkxGreedy)
