"""hopsolve.solve: one call from every kind of source, each answer checked against the source itself."""

from __future__ import annotations

import doctest
import itertools
import json
import math
import re
import textwrap
import types
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import hopsolve
import hopsolve.sources
from hopsolve import Energy, Instance, ParameterError, Problem, Result, Solution, UserError, build_registry

from .conftest import INSTANCES, ROOT

dimod = pytest.importorskip("dimod")

BERLIN52 = INSTANCES / "tsplib" / "berlin52.tsp"
BURMA14 = INSTANCES / "tsplib" / "burma14.tsp"


def euc_2d_tour_length(path: Path, tour: list[int]) -> int:
    """TSPLIB EUC_2D length of a 1-based tour, from the file's coordinates (independent of hopsolve's reader)."""
    text = path.read_text().split("NODE_COORD_SECTION", 1)[1]
    coords = {int(p[0]): (float(p[1]), float(p[2])) for p in (line.split() for line in text.splitlines())
              if len(p) == 3}
    return sum(int(math.sqrt((coords[a][0] - coords[b][0]) ** 2 + (coords[a][1] - coords[b][1]) ** 2) + 0.5)
               for a, b in zip(tour, tour[1:] + tour[:1]))


def cut_weight(graph: nx.Graph, sides: dict) -> float:
    return sum(d.get("weight", 1) for u, v, d in graph.edges(data=True) if sides[u] != sides[v])


def best_by_brute_force(variables: list, value) -> float:
    return min(value(dict(zip(variables, bits))) for bits in itertools.product((0, 1), repeat=len(variables)))


@pytest.fixture(scope="module")
def burma14():
    return hopsolve.solve(str(BURMA14), seed=1)


# ---- one line per kind of source ----------------------------------------------------------------------------
def test_solve_is_the_public_function():
    assert "solve" in hopsolve.__all__ and callable(hopsolve.solve)
    assert hopsolve.solve is hopsolve.sources.solve
    assert hopsolve.solve_instance.__module__ == "hopsolve.solving" and "solve_path" in hopsolve.__all__


def test_path_as_str_solves_burma14_to_its_published_optimum(burma14):
    assert (burma14.problem, burma14.status, burma14.feasible) == ("tsp", "feasible", True)
    assert sorted(burma14.solution) == list(range(1, 15))
    assert burma14.objective == burma14.reference == 3323 and burma14.gap == 0.0
    assert burma14.violations == {} or not any(burma14.violations.values())


def test_path_with_a_named_problem_and_a_baseline():
    result = hopsolve.solve(BURMA14, problem="tsp", baseline="networkx-greedy")
    assert result.kind == "baseline" and sorted(result.solution) == list(range(1, 15)) and result.objective >= 3323


def test_instance_is_solved_as_its_problem_and_matches_brute_force():
    distances = np.array([[0, 3, 4, 2, 7], [3, 0, 4, 6, 3], [4, 4, 0, 5, 8], [2, 6, 5, 0, 6], [7, 3, 8, 6, 0]])
    instance = build_registry().problem("tsp").from_distances(distances, name="five")
    result = hopsolve.solve(instance, seed=2)
    tour = [c - 1 for c in result.solution]
    assert result.objective == sum(distances[a, b] for a, b in zip(tour, tour[1:] + tour[:1]))
    best = min(sum(distances[a, b] for a, b in zip((0, *p), (*p, 0))) for p in itertools.permutations(range(1, 5)))
    assert result.objective == best and result.instance == "five"


def test_networkx_graph_is_max_cut_keyed_by_node_with_the_cut_recomputed():
    graph = nx.gnm_random_graph(12, 30, seed=4)
    graph = nx.relabel_nodes(graph, {k: f"n{k}" for k in graph})
    for k, (u, v) in enumerate(graph.edges):
        graph.edges[u, v]["weight"] = 1 + k % 3
    result = hopsolve.solve(graph, backend="exact")
    assert result.problem == "maxcut" and set(result.solution) == set(graph.nodes)
    assert set(result.solution.values()) <= {-1, 1}
    assert result.objective == cut_weight(graph, result.solution) == -result.energy
    best = max(cut_weight(graph, dict(zip(graph, sides))) for sides in itertools.product((-1, 1), repeat=12))
    assert result.objective == best and result.status == "optimal"


def test_unweighted_networkx_graph_counts_each_edge_once():
    graph = nx.petersen_graph()
    result = hopsolve.solve(graph, seed=1)
    assert result.objective == cut_weight(graph, result.solution) == 12  # the Petersen graph's max cut


def test_qubo_dict_with_any_labels_is_keyed_by_label_and_scored_as_xQx():
    q = {("a", "a"): -2.0, ("a", (1, 2)): 3.0, ((1, 2), (1, 2)): -1.0, ((1, 2), "c"): -2.5, ("c", "a"): 1.5,
         ("c", "c"): 0.5}
    result = hopsolve.solve(q, backend="exact")

    def value(x):
        return sum(v * x[i] * x[j] for (i, j), v in q.items())

    assert result.problem == "qubo" and set(result.solution) == {"a", (1, 2), "c"}
    assert result.objective == pytest.approx(value(result.solution)) and result.energy == pytest.approx(
        result.objective)
    assert result.objective == pytest.approx(best_by_brute_force(["a", (1, 2), "c"], value))


@pytest.mark.parametrize("as_sparse", [False, True], ids=["numpy", "scipy-sparse"])
def test_qubo_matrix_gives_bits_in_index_order_with_energy_xQx(as_sparse):
    q = np.random.default_rng(5).normal(size=(8, 8))  # neither symmetric nor triangular
    result = hopsolve.solve(sp.csr_matrix(q) if as_sparse else q, backend="exact")
    x = np.array(result.solution)
    assert result.solution == [int(b) for b in x] and set(result.solution) <= {0, 1}
    assert result.energy == pytest.approx(x @ q @ x) and result.objective == pytest.approx(x @ q @ x)
    best = min(np.array(bits) @ q @ np.array(bits) for bits in itertools.product((0, 1), repeat=8))
    assert result.objective == pytest.approx(best)


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_bqm_solution_is_in_its_vartype_and_energy_is_bqm_energy(vartype):
    bqm = dimod.generators.gnp_random_bqm(["x", 2, ("p", 3), "y", "z", 7], 0.7, vartype, random_state=6)
    bqm.offset = 1.25
    result = hopsolve.solve(bqm, backend="exact")
    assert set(result.solution) == set(bqm.variables)
    assert set(result.solution.values()) <= ({-1, 1} if vartype == "SPIN" else {0, 1})
    assert result.energy == pytest.approx(bqm.energy(result.solution))
    assert result.objective == pytest.approx(bqm.energy(result.solution))
    assert result.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)


def test_bqm_by_annealing_with_a_seed_is_reproducible():
    bqm = dimod.generators.gnp_random_bqm(30, 0.3, "SPIN", random_state=7)
    first, again = (hopsolve.solve(bqm, seed=3, reads=4) for _ in range(2))
    assert first.solution == again.solution and first.seed == 3 and first.reads == 4
    assert first.energy == pytest.approx(bqm.energy(first.solution))


def _cqm_choose_one() -> dimod.ConstrainedQuadraticModel:
    """Pick exactly one of a, b, c; the objective favours a and b together, so the constraint decides."""
    a, b, c = dimod.Binaries(["a", "b", "c"])
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-2 * a * b + 3 * a - b + 2 * c)
    cqm.add_constraint(a + b + c == 1, label="one")
    return cqm


class _FakeCqmProblem(Problem):
    """A stand-in cqm plugin: penalties by dimod.cqm_to_bqm, scored by the CQM itself."""

    name = "cqm"
    sense = "min"

    @staticmethod
    def from_cqm(cqm):
        bqm, invert = dimod.cqm_to_bqm(cqm, lagrange_multiplier=10.0)
        return Instance("cqm", "cqm", (cqm, bqm, invert))

    def read(self, path):
        raise ParameterError("no files")

    def encode(self, instance, weights=None, options=None):
        return Energy.from_dimod(instance.data[1])

    def candidate(self, instance, energy, state):
        return instance.data[2](dict(zip(energy.labels, (int(v) for v in state))))

    def score(self, instance, candidate):
        cqm = instance.data[0]
        return Solution({k: int(v) for k, v in candidate.items()}, float(cqm.objective.energy(candidate)),
                        bool(cqm.check_feasible(candidate)))


def test_cqm_goes_to_the_cqm_plugins_from_cqm():
    plugin = types.ModuleType("fake_cqm_plugin")
    plugin.hopsolve_problems = hopsolve.hookimpl(lambda register: register(_FakeCqmProblem))
    registry = build_registry({"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1"}, extra_plugins=[plugin])
    result = hopsolve.solve(_cqm_choose_one(), backend="exact", registry=registry)
    assert (result.problem, result.feasible, result.solution, result.objective) == ("cqm", True, {"a": 0, "b": 1,
                                                                                                  "c": 0}, -1.0)


def test_cqm_with_the_installed_plugins_is_solved_or_a_one_line_error():
    registry = build_registry()
    cqm = _cqm_choose_one()
    if "cqm" in registry.problems:  # the cqm plugin is installed: its answer is the CQM's optimum
        result = hopsolve.solve(cqm, seed=1, registry=registry)
        assert result.problem == "cqm" and result.solution == {"a": 0, "b": 1, "c": 0}
        assert result.feasible == cqm.check_feasible(result.solution) is True
        assert result.objective == pytest.approx(cqm.objective.energy(result.solution)) == -1.0
    else:
        with pytest.raises(ParameterError, match="needs the cqm problem plugin") as error:
            hopsolve.solve(cqm, registry=registry)
        assert "\n" not in str(error.value)


def test_cqm_without_the_plugin_is_a_one_line_parameter_error():
    registry = build_registry({"HOPSOLVE_ALLOW_PLUGINS": "qubo"})
    with pytest.raises(ParameterError, match=r"needs the cqm problem plugin.*installed problems: qubo$") as error:
        hopsolve.solve(_cqm_choose_one(), registry=registry)
    assert "\n" not in str(error.value)


# ---- errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "kwargs", "match"), [
    (3.5, {}, r"cannot take a builtins\.float; it takes a file path .*networkx graph.*QUBO dict"),
    ([[1, 2], [3, 4]], {}, r"cannot take a builtins\.list"),
    (nx.path_graph(3), {"problem": "tsp"}, "networkx graph .* is solved as problem 'maxcut', not 'tsp'"),
    ({("a", "b"): 1, "c": 2}, {}, r"its key 'c' is not a pair"),
    ({("a", "b"): "one"}, {}, r"\('a', 'b'\) maps to 'one'"),
    (np.ones((2, 3)), {}, r"must be square, got shape \(2, 3\)"),
    (np.ones(4), {}, r"must be square, got shape \(4,\)"),
    (np.full((2, 2), np.nan), {}, "finite"),
    ({("a", "b"): 1}, {"backend": "exact", "baseline": "ortools-cpsat"}, "either a backend or a baseline"),
    ({("a", "b"): 1}, {"params": {"no_such": 1}}, "no_such"),
])
def test_bad_sources_and_settings_are_one_line_parameter_errors(source, kwargs, match):
    with pytest.raises(ParameterError, match=match) as error:
        hopsolve.solve(source, **kwargs)
    assert "\n" not in str(error.value)


def test_instance_of_another_problem_and_a_missing_file_are_user_errors(tmp_path):
    instance = build_registry().problem("tsp").from_distances(np.ones((3, 3)) - np.eye(3), name="tri")
    with pytest.raises(ParameterError, match="'tri' is a 'tsp' instance, not 'qubo'"):
        hopsolve.solve(instance, problem="qubo")
    with pytest.raises(UserError, match="no such file"):
        hopsolve.solve(tmp_path / "missing.tsp")


# ---- the result: plot, JSON ---------------------------------------------------------------------------------
def test_plot_draws_the_tour_into_an_agg_figure(burma14):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure()
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    assert burma14.plot(ax=ax) is ax
    drawn = ax.lines[0].get_xydata()
    assert len(drawn) == 15 and (drawn[0] == drawn[-1]).all()  # a closed loop over the 14 cities
    figure.canvas.draw()
    assert burma14.plot().figure is not figure  # without ax: a new figure


def test_plot_where_the_problem_cannot_draw_and_on_a_result_without_an_instance(burma14):
    with pytest.raises(UserError, match="problem 'maxcut' cannot draw"):
        hopsolve.solve(nx.path_graph(3), seed=1).plot()
    bare = Result(**{f: getattr(burma14, f) for f in burma14.__dataclass_fields__})
    with pytest.raises(UserError, match="keeps no instance"):
        bare.plot()


def test_the_instance_behind_plot_stays_out_of_the_json(burma14):
    record = burma14.to_dict()
    assert set(record) == set(Result.__dataclass_fields__)
    assert json.loads(burma14.to_json())["solution"] == burma14.solution
    labelled = hopsolve.solve({("a", 1): -1.0}, seed=1)
    assert json.loads(labelled.to_json())["solution"] == {"a": 1, "1": 1}


def test_docstring_example_runs():
    assert doctest.testmod(hopsolve.sources).failed == 0


def test_readme_from_python_section_runs_and_solves_berlin52(tmp_path, monkeypatch):
    """Every code block of the README's "From Python" section runs, in order, beside the shipped instances; its
    berlin52 tour (seed 1) is the published optimum, its length recomputed from the file."""
    section = (ROOT / "README.md").read_text().split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", section, flags=re.S)]
    assert len(blocks) >= 5
    (tmp_path / "instances").symlink_to(INSTANCES)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    berlin52 = namespace["result"]
    assert sorted(berlin52.solution) == list(range(1, 53)) and berlin52.seed == 1 and berlin52.gap == 0.0
    assert berlin52.objective == euc_2d_tour_length(BERLIN52, berlin52.solution) == 7542
    assert (tmp_path / "berlin52.png").exists()
    assert namespace["cut"].objective == 12


def test_a_plugin_that_failed_to_load_is_a_warning_from_python_too(monkeypatch, tmp_path):
    """The CLI names a broken plugin in one line; ``hopsolve.solve`` said nothing (the failure sat in
    ``build_registry().failures``). It is a ``UserWarning`` now, and a file no plugin reads names the Python
    argument, not only the CLI flag."""
    monkeypatch.setenv("HOPSOLVE_PLUGINS", "no_such_hopsolve_plugin")
    with pytest.warns(UserWarning, match="plugin 'no_such_hopsolve_plugin' failed: ModuleNotFoundError"):
        result = hopsolve.solve({("a", "a"): -1.0}, backend="exact")
    assert result.objective == -1.0
    odd = tmp_path / "x.unknownsuffix"
    odd.write_text("1\n")
    monkeypatch.delenv("HOPSOLVE_PLUGINS")
    with pytest.raises(UserError, match=r"--problem \(problem= from Python\)"):
        hopsolve.solve(odd)


def test_a_directed_graph_cuts_every_arc_as_documented():
    """Arcs u→v and v→u both cut add both weights: the cut of the undirected graph with the weights summed."""
    directed = nx.DiGraph()
    directed.add_weighted_edges_from([(0, 1, 2.0), (1, 0, 3.0), (1, 2, 1.0), (2, 0, 4.0)])
    undirected = nx.Graph()
    undirected.add_weighted_edges_from([(0, 1, 5.0), (1, 2, 1.0), (2, 0, 4.0)])
    assert hopsolve.solve(directed, backend="exact").objective == hopsolve.solve(undirected, backend="exact").objective


def test_a_long_preparation_says_once_that_kernels_compile(monkeypatch, capsys):
    """From Python a first run compiled for 45–55 s without a word (the CLI says it is compiling); now
    ``hopsolve.solve`` says it on stderr when the preparation takes longer than the note's delay, and only then."""
    import time as clock

    import hopsolve.terminal as terminal
    from hopsolve.backends.exact import ExactBackend

    monkeypatch.setattr(terminal, "COMPILE_NOTE_AFTER_S", 0.05)
    slow = ExactBackend.prepare
    monkeypatch.setattr(ExactBackend, "prepare", lambda self, energy, params: clock.sleep(0.4) or slow(
        self, energy, params))
    hopsolve.solve({("a", "a"): -1.0}, backend="exact")
    assert capsys.readouterr().err.count("hopsolve: compiling kernels") == 1
    monkeypatch.setattr(ExactBackend, "prepare", slow)
    hopsolve.solve({("a", "a"): -1.0}, backend="exact")
    clock.sleep(0.2)  # past the note's delay: a cancelled note stays unsaid
    assert "compiling" not in capsys.readouterr().err


def _tile_reads(monkeypatch, reads: np.ndarray, pause: float = 0.0) -> None:
    """Make anneal return ``reads`` (permutations) as its samples, after ``pause`` seconds."""
    import time

    from hopsolve.backends.anneal import AnnealBackend
    from hopsolve.sampleset import SampleSet

    def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
        size = energy.permutation.size
        if size != reads.shape[1]:  # the warm-up's miniature
            return SampleSet.from_permutations(energy, np.arange(size)[None, :])
        time.sleep(pause)
        return SampleSet.from_permutations(energy, reads)

    monkeypatch.setattr(AnnealBackend, "solve", solve)


def test_equal_reads_are_decoded_once_and_all_counted(registry, monkeypatch):
    """1,000 copies of rl5915's start took 1.2 s to decode one by one under a 1 s limit."""
    from hopsolve.solving import solve_instance

    tsp = registry.problem("tsp")
    instance = tsp.read(INSTANCES / "tsplib" / "burma14.tsp")
    calls = []
    original = type(tsp).decode_permutation
    monkeypatch.setattr(type(tsp), "decode_permutation", lambda self, *a: calls.append(1) or original(self, *a))
    reads = np.tile(np.arange(14), (50, 1))
    reads[20:] = reads[20:, ::-1]
    _tile_reads(monkeypatch, reads)
    result, solution = solve_instance(registry, "tsp", instance, backend="anneal", seed=1)
    assert len(calls) == 2 and result.reads == 50 and result.feasible_reads == 50
    assert "decoded_reads" not in result.info
    assert solution.objective == instance.data.tour_length(np.arange(14))


def test_a_timed_run_s_decoding_ends_at_the_limit_with_the_best_reads(registry, monkeypatch):
    """Decoding runs lowest energy first and stops at the time limit once one read is decoded."""
    from hopsolve.solving import solve_instance

    tsp = registry.problem("tsp")
    instance = tsp.read(INSTANCES / "tsplib" / "burma14.tsp")
    rng = np.random.default_rng(3)
    reads = np.array([rng.permutation(14) for _ in range(40)])
    _tile_reads(monkeypatch, reads, pause=0.3)  # the backend alone takes the whole limit
    result, solution = solve_instance(registry, "tsp", instance, backend="anneal", seed=1, time_limit=0.2)
    assert result.info["decoded_reads"] == 1 and result.feasible_reads == 1 and result.reads == 40
    assert result.info["timed_out"]  # the reads left undecoded are the limit's doing
    lengths = [instance.data.tour_length(np.argsort(p)) for p in reads]  # a read is positions: its tour sorts them
    assert solution.objective == min(lengths)  # the lowest energy is the shortest tour


def test_a_sparse_qubo_of_a_billion_variables_is_refused_before_scipy_converts_it():
    """Two entries in a 10⁹ × 10⁹ sparse matrix: scipy's conversion to CSR allocated 3.7 GiB and raised a
    MemoryError after 13 s; the variables' count is now checked against the memory limit first."""
    q = sp.coo_matrix(([1.0, -1.0], ([0, 5], [1, 5])), shape=(10**9, 10**9))
    with pytest.raises(hopsolve.MemoryLimitError, match="1,000,000,000 variables of this QUBO"):
        hopsolve.solve(q, seed=1, reads=1)


def test_a_result_records_the_time_limit_given_beside_what_the_solver_had():
    """``params.time_limit`` is what the backend had after reading and encoding (29.8 for a 30 s limit): the limit
    the caller gave was recorded nowhere in the result."""
    import hopsolve

    result = hopsolve.solve(INSTANCES / "tsplib" / "burma14.tsp", seed=1, time_limit=1.5)
    assert result.info["time_limit_given"] == 1.5 and result.params["time_limit"] < 1.5
    assert "time_limit_given" not in hopsolve.solve(INSTANCES / "tsplib" / "burma14.tsp", seed=1).info


def test_python_inputs_whose_values_or_labels_would_go_wrong_are_refused_in_one_line():
    """A networkx edge weight 'x' was a bare "could not convert string to float", and the QUBO variables 0 and '0'
    came back as one key of the result's JSON, the other dropped."""
    import networkx as nx

    import hopsolve

    graph = nx.Graph()
    graph.add_edge(0, 1, weight="x")
    with pytest.raises(hopsolve.ParameterError, match=r"edge \(0, 1\) has weight='x', not a number"):
        hopsolve.solve(graph)
    graph[0][1]["weight"] = float("nan")
    with pytest.raises(hopsolve.ParameterError, match="not a finite number"):
        hopsolve.solve(graph)
    with pytest.raises(hopsolve.ParameterError, match="variables 0 and '0' would be written as the same key"):
        hopsolve.solve({(0, 0): -1.0, ("0", "0"): 1.0, (0, "0"): 0.5}, backend="exact")


def test_solve_takes_repair_as_the_cli_does():
    """The README says ``hopsolve.solve``'s keywords are the CLI's options; ``repair=True`` was a TypeError."""
    import hopsolve

    params = {"units": "graded", "schedule": "fixed", "max_steps": 50}
    result = hopsolve.solve(INSTANCES / "qaplib" / "nug12.dat", backend="tank", seed=1, params=params, repair=True)
    assert result.repaired and result.objective is not None and not result.feasible
    plain = hopsolve.solve(INSTANCES / "qaplib" / "nug12.dat", backend="tank", seed=1, params=params)
    assert not plain.repaired and plain.objective is None


def test_a_short_limit_holds_back_a_share_of_itself_for_scoring_not_a_fixed_0_05_s():
    """A fixed 0.05 s held back for scoring left a 0.05 s run its 5% minimum (a280: no sweep at all)."""
    import hopsolve

    result = hopsolve.solve(np.array([[1.0, -2.0], [0.0, 1.0]]), backend="anneal", seed=1, time_limit=0.05)
    assert result.params["time_limit"] > 0.02, result.params["time_limit"]


def test_repair_with_a_baseline_is_refused_not_ignored(cli):
    run = cli("solve", INSTANCES / "qaplib" / "nug12.dat", "--baseline", "ortools-cpsat", "--repair")
    assert run.code == 2 and "--repair mends a backend's invalid final state" in run.err


def test_a_dok_matrix_is_a_matrix_not_a_qubo_dict():
    """A scipy dok matrix is a dict: solved as a QUBO dict, its variables without entries vanished ({2: 1, 0: 1})."""
    d = sp.dok_matrix((3, 3))
    d[2, 2] = d[0, 0] = -1
    assert hopsolve.solve(d, seed=1).solution == hopsolve.solve(sp.csr_matrix(d), seed=1).solution == [1, 1, 1]


def test_an_energy_keeps_its_own_copy_of_a_caller_s_sparse_matrix():
    """The clean-up pruned and sorted the caller's float64 CSR matrix in place, and the energy shared its data: a
    later change to the caller's matrix changed the energy (-1 became -5)."""
    w = sp.csr_matrix((np.array([0.0, 1.0, 1.0, 0.0]), np.array([2, 1, 0, 0]), np.array([0, 2, 3, 4])), shape=(3, 3))
    energy = Energy.from_hopfield(w, None)
    assert w.nnz == 4 and w.indices.tolist() == [2, 1, 0, 0]
    w.data[:] *= 5
    assert energy.energies(np.ones(3)).tolist() == [-1.0]


@pytest.mark.parametrize("matrix", [
    lambda: np.ones((14_000, 14_000), dtype=np.int8), lambda: np.broadcast_to(np.float64(1.0), (100_000, 100_000)),
    lambda: sp.coo_matrix(([-1.0], ([0], [0])), shape=(10**8, 10**8)),
])
def test_a_matrix_past_the_memory_limit_is_refused_before_it_is_converted(matrix):
    """A dense 14,000² QUBO of ones took 9.3 GB and 51 s to end in numpy's MemoryError; a 10⁵² view without memory
    behind it 17 s; a sparse one of 10⁸ variables overran a 5 s limit by 35 s before it was refused."""
    given = matrix()
    with pytest.raises(hopsolve.MemoryLimitError, match="HOPSOLVE_MAX_MATRIX_BYTES"):
        hopsolve.solve(given, seed=1, time_limit=5)
    with pytest.raises(hopsolve.MemoryLimitError, match="HOPSOLVE_MAX_MATRIX_BYTES"):
        Energy.from_qubo(given)


def test_python_s_arguments_are_checked_as_the_command_line_s_are():
    """numpy scalars as time limits were refused ("must be positive", of 0.5); a time limit given twice was run
    with one and judged a timeout against the other; an instance of another problem, "no" as repair, an empty
    permutation energy and a sense of "minimize" went through to deep or silent failures; coefficients past 2^53
    were rounded in silence where a file's are refused."""
    q = np.array([[-1.0, 2.0], [0.0, -1.0]])
    assert hopsolve.solve(q, seed=1, time_limit=np.float32(0.5)).status == "feasible"
    # float32's 0.1 is the 0.1 it prints, not 0.10000000149 (refused as a second value beside params' 0.1)
    assert hopsolve.solve(q, seed=1, time_limit=np.float32(0.1), params={"time_limit": 0.1}).status == "feasible"
    assert hopsolve.solve(q, seed=1, time_limit=np.int64(1)).status == "feasible"
    assert hopsolve.solve(q, seed=1, time_limit=1, params={"time_limit": "1.0"}).status == "feasible"
    registry = build_registry()
    tsp = registry.problem("tsp").from_distances(np.zeros((3, 3)))
    for call, said in [
        (lambda: hopsolve.solve(q, seed=1, time_limit=1, params={"time_limit": 3}), "time_limit is given twice"),
        (lambda: hopsolve.solve(q, seed=1, time_limit=10**400), r"got 10{39}$"),  # an OverflowError, 400 digits
        (lambda: hopsolve.solve_instance(registry, "qubo", tsp), "a 'tsp' instance, not a 'qubo' one"),
        (lambda: hopsolve.solve(q, seed=1, repair="no"), "repair must be true or false"),
        (lambda: hopsolve.permutation_energy(np.zeros((0, 0)), np.zeros((0, 0))), "at least one item"),
        (lambda: hopsolve.relative_gap(1.0, 2.0, "minimize"), "sense must be 'min' or 'max'"),
        (lambda: hopsolve.solve({(0, 0): -(2**60 + 1), (0, 1): 3}, seed=1), "below 2\\^53|less than 2\\^53"),
        (lambda: hopsolve.solve(nx.Graph([(0, 1, {"weight": 2**60 + 1})]), seed=1), "below 2\\^53"),
    ]:
        with pytest.raises(ParameterError, match=said):
            call()


@pytest.mark.parametrize("problem, data", [
    ("tsp", np.ones((4, 4))), ("maxcut", np.ones((4, 4))), ("qubo", [[1.0, 2.0], [0.0, 1.0]]),
    ("assignment", [[1.0, 2.0], [2.0, 1.0]]), ("qap", np.ones((3, 3))), ("memory", np.ones(4)), ("cqm", {"x": 1}),
])
def test_an_instance_built_by_hand_with_another_form_of_data_is_refused_in_one_line(problem, data):
    """``Instance("tsp", "x", matrix)`` failed inside the plugin: ``'numpy.ndarray' object has no attribute
    'dimension'`` (an AttributeError, a traceback from the command line's Python API users). Each problem names
    the type its data must be (``Problem.data_type``) and the constructors that make it."""
    registry = build_registry()
    with pytest.raises(ParameterError, match=rf"the {problem} instance's data is a \w+, not \w+: make instances "
                                             r"with \w+Problem\.read"):
        hopsolve.solve_instance(registry, problem, hopsolve.Instance(problem, "x", data), seed=1, time_limit=1)


def test_helpers_refuse_arguments_of_the_wrong_kind():
    """``parse_assignments("a=1", ...)`` read the string's characters as pairs; ``OneHotLayout.square(2.5)`` was
    taken."""
    from hopsolve.params import parse_assignments

    assert parse_assignments("a=1", "--param") == {"a": "1"}
    with pytest.raises(ParameterError, match="must be text like key=value"):
        parse_assignments([3], "--param")
    with pytest.raises(ParameterError, match="whole number of items"):
        hopsolve.OneHotLayout.square(2.5)
    assert hopsolve.OneHotLayout.square(np.int64(3)).size == 3


def test_a_subclass_problem_solves_its_parent_s_instances():
    """The check that an instance is the solving problem's refused a third party's TSP variant (a TspProblem
    subclass whose read returns "tsp" instances): "the instance is a 'tsp' instance, not a 'mytsp' one"."""
    from hopsolve_tsp.plugin import TspProblem

    class MyTsp(TspProblem):
        name = "mytsp"
        suffixes = (".mytsp",)

    module = types.ModuleType("mytsp_plugin")
    module.hopsolve_problems = hopsolve.hookimpl(lambda register: register(MyTsp))
    registry = build_registry(extra_plugins=[module])
    instance = registry.problem("tsp").from_distances([[0, 1, 2], [1, 0, 1], [2, 1, 0]])
    result, _ = hopsolve.solve_instance(registry, "mytsp", instance, backend="anneal", seed=1, time_limit=1)
    assert result.objective == 4


def test_a_spin_bqm_is_judged_exact_as_given_not_in_its_bits_form():
    """Σ|J| = 2^51 is exact; its bits' form quadruples the couplings and was refused past 2^53."""
    bqm = dimod.BinaryQuadraticModel({}, {("a", "b"): 2**50, ("b", "c"): 2**50}, 0.0, "SPIN")
    assert hopsolve.solve(bqm, backend="exact").objective == -(2**51)
    with pytest.raises(ParameterError, match="BQM's energy could reach"):
        hopsolve.solve(dimod.BinaryQuadraticModel({}, {("a", "b"): 2**53}, 0.0, "SPIN"), backend="exact")


def test_a_qubo_s_symmetric_form_is_checked_before_it_is_built(monkeypatch):
    """Q's entries passed the limit, and its symmetric form, twice their count, was built before it was checked."""
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(40_000_000))
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 19_999, 2_200_000)
    q = sp.csr_matrix((np.ones(len(rows)), (rows, rows + 1 + rng.integers(0, 19_999 - rows))), shape=(20_000, 20_000))
    assert 64 * 20_000 + 12 * q.nnz < 40_000_000 < 24 * q.nnz
    with pytest.raises(hopsolve.MemoryLimitError, match="Q's symmetric form"):
        Energy.from_qubo(q)
