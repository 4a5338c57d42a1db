"""TSP at real sizes: on-the-fly distances, candidate lists, the tour move table, lazy energies, cold starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hopsolve_tsp.encoding import encode_tsp
from hopsolve_tsp.plugin import TspProblem
from hopsolve_tsp.tsplib import distance_matrix, read_tsplib
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve.backends import _tour_kernels as TK
from hopsolve.backends._tour_start import greedy_tour, space_filling_tour
from hopsolve.backends.anneal import AnnealBackend, AnnealParams, tour_mix
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.metric import KINDS, Metric

from .conftest import INSTANCES, ROOT

TSPLIB = INSTANCES / "tsplib"
COORDINATE_FILES = sorted(p for p in TSPLIB.glob("*.tsp") if read_tsplib(p).edge_weight_type != "EXPLICIT")


@pytest.mark.parametrize("path", COORDINATE_FILES, ids=lambda p: p.stem)
def test_on_the_fly_distances_equal_the_matrix_for_every_pair(path):
    instance = read_tsplib(path)
    reference = distance_matrix(instance.edge_weight_type, instance.coordinates)
    n = instance.dimension
    rows, cols = np.divmod(np.arange(n * n), n)
    assert np.array_equal(instance.metric.pairs(rows, cols).reshape(n, n), reference)
    assert instance.metric.max_distance == reference.max()


def test_every_coordinate_rule_is_covered_by_the_shipped_instances():
    kinds = {read_tsplib(p).edge_weight_type for p in COORDINATE_FILES}
    assert kinds >= {"EUC_2D", "CEIL_2D", "ATT", "GEO"}
    assert set(KINDS) >= kinds


@pytest.mark.parametrize("kind", ["EUC_2D", "MAN_2D", "MAX_2D", "CEIL_2D", "ATT", "GEO", "EUC_3D", "MAN_3D",
                                  "MAX_3D"])
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_every_rule_matches_the_numpy_reference_and_brute_force_neighbours(kind, seed):
    rng = np.random.default_rng(seed)
    width = 3 if kind.endswith("3D") else 2
    n = int(rng.integers(5, 40))
    # integer-ish coordinates make many ties, the hard case for candidate lists
    points = rng.integers(-50, 50, size=(n, width)).astype(float) + rng.choice([0.0, 0.5], size=(n, width))
    if kind == "GEO":
        points = rng.uniform(-80, 80, size=(n, 2)).round(2)
    metric = Metric(kind, points=points)
    reference = distance_matrix(kind, points)
    assert np.array_equal(metric.matrix_form(), reference)
    first, last = sorted(rng.integers(0, n + 1, size=2).tolist())
    assert np.array_equal(metric.rows(first, last), reference[first:last])
    assert metric.max_distance == reference.max()
    k = min(6, n - 1)
    found = metric.neighbours(k)
    brute = reference.astype(float)
    np.fill_diagonal(brute, np.inf)
    # the k smallest distances, nearest first; ties to the lower index wherever they end before the list's last
    # distance (at that one a point past the KD-tree's margin may tie: Metric.neighbours)
    assert np.array_equal(np.take_along_axis(brute, found, axis=1), np.sort(brute, axis=1)[:, :k])
    for i, row in enumerate(brute):
        ranked = np.lexsort((np.arange(n), row))[:k]
        settled = row[ranked] < row[ranked[-1]]
        assert np.array_equal(found[i][settled], ranked[settled]) and np.all(np.diff(found[i][~settled]) > 0)
    assert not np.any(found == np.arange(n)[:, None])
    assert all(len(set(row)) == k for row in found.tolist())


def test_explicit_metric_keeps_its_matrix_and_neighbours():
    instance = read_tsplib(TSPLIB / "gr24.tsp")
    metric = instance.metric
    assert metric.kind == "EXPLICIT" and metric.matrix_form() is metric.matrix
    d = metric.matrix.astype(float)
    np.fill_diagonal(d, np.inf)
    assert np.array_equal(np.take_along_axis(d, metric.neighbours(5), axis=1), np.sort(d, axis=1)[:, :5])


def _random_tour_state(n, seed):
    rng = np.random.default_rng(seed)
    tour = rng.permutation(n).astype(np.int64)
    return tour, np.argsort(tour).astype(np.int64), np.uint64(rng.integers(1, 2**62))


@pytest.mark.parametrize("move", TK.MOVE_NAMES)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(6, 60))
def test_every_move_delta_equals_the_recomputed_tour_change(move, seed, n):
    points = np.random.default_rng(seed).random((n, 2)) * 1000
    metric = Metric("EUC_2D", points=points)
    problem = TK.TourProblem(metric.arrays, metric.neighbours(5), n)
    tour, pos, x_rng = _random_tour_state(n, seed)
    kind = TK.MOVE_NAMES.index(move)
    for _ in range(20):  # both orientations and both roles are drawn at random inside each proposal
        before = metric.tour_length(tour)
        plan = np.zeros((TK.PLAN_STEPS, 3), dtype=np.int64)
        valid, delta, x_rng = TK.propose(kind, problem, tour, pos, np.uint64(x_rng), plan)
        if not valid:
            continue
        TK.apply_plan(tour, pos, plan)
        assert np.array_equal(np.sort(tour), np.arange(n))
        assert np.array_equal(pos[tour], np.arange(n))
        assert metric.tour_length(tour) - before == pytest.approx(delta, abs=1e-6)


def test_the_move_table_drives_the_mix_parameter():
    mix = tour_mix("2opt:0.6,oropt:0.3,swap:0.1")
    assert mix.tolist() == pytest.approx([0.6, 0.3, 0.1, 0.0])
    with pytest.raises(ParameterError, match="unknown move 'three-opt'"):
        tour_mix("three-opt:1")
    with pytest.raises(ParameterError, match="positive"):
        tour_mix("2opt:0")
    with pytest.raises(ParameterError, match="2opt is named twice"):  # its weights were summed without a word
        tour_mix("2opt:0.6,2opt:0.4")
    assert tour_mix("2opt:3,oropt:1").tolist() == pytest.approx([0.75, 0.25, 0.0, 0.0])  # relative weights
    with pytest.raises(ParameterError, match="tour energy"):
        AnnealBackend().solve(encode_tsp(np.ones((4, 4)) - np.eye(4))[0], AnnealParams(moves="2opt:1"))


def test_greedy_start_is_a_tour_and_much_shorter_than_random():
    instance = read_tsplib(TSPLIB / "pr1002.tsp")
    metric = instance.metric
    tour = greedy_tour(metric.arrays, metric.neighbours(10))
    assert np.array_equal(np.sort(tour), np.arange(instance.dimension))
    random_length = metric.tour_length(np.random.default_rng(0).permutation(instance.dimension))
    assert metric.tour_length(tour) < 0.3 * random_length
    assert metric.tour_length(tour) < 1.3 * 259045  # greedy edge: 14–20% above the optimum on such instances


@pytest.mark.parametrize("kind", ["EUC_2D", "ATT", "GEO"])
def test_greedy_shortcuts_give_the_tour_of_the_plain_method(kind):
    """The packed-key sort orders edges as the three-key ``lexsort``, and the join's k-d tree shortlist picks the
    free end a scan of all of them picks: the greedy tour is the same, city for city."""
    from hopsolve.backends import _tour_start as TS
    from hopsolve.metric import Metric

    rng = np.random.default_rng(3)
    points = rng.integers(0, 400, (3000, 2)).astype(float)  # a coarse grid: many equal lengths, many ties
    if kind == "GEO":
        points = points / 10.0
    metric = Metric(kind, points=points)
    arrays, neighbours = metric.arrays, metric.neighbours(4)  # few candidates: thousands of fragments to join
    n, k = neighbours.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    first, second = np.minimum(rows, neighbours.ravel()), np.maximum(rows, neighbours.ravel())
    lengths = metric.pairs(first, second).astype(float)
    order = np.lexsort((second, first, lengths))
    packed_first, packed_second = TS._shortest_first(n, first, second, lengths)
    assert np.array_equal(packed_first, first[order]) and np.array_equal(packed_second, second[order])
    adj, degree = np.full((n, 2), -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    TS._greedy_fragments(n, packed_first, packed_second, adj, degree)
    ends = np.flatnonzero(degree < 2)
    assert len(ends) > 8 * TS.JOIN_CANDIDATES
    shortlisted = TS._join(arrays, adj, degree, ends, TS._end_candidates(arrays, ends))
    scanned = TS._join(arrays, adj, degree, ends, np.zeros((len(ends), 0), dtype=np.int64))
    assert np.array_equal(shortlisted, scanned) and np.array_equal(np.sort(scanned), np.arange(n))


def test_space_filling_tour_visits_a_grid_cell_by_cell():
    side = 16  # a Hilbert curve over a 2^k grid steps between neighbouring cells only
    grid = np.array([(x, y) for x in range(side) for y in range(side)], dtype=float)
    order = space_filling_tour(grid[::-1])  # the input order must not matter
    visited = grid[::-1][order]
    assert np.array_equal(np.sort(order), np.arange(side * side))
    assert np.abs(np.diff(visited, axis=0)).sum(axis=1).max() == 1.0


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 2**31), width=st.sampled_from([2, 3]))
def test_space_filling_tour_is_a_permutation_for_any_points(n, seed, width):
    rng = np.random.default_rng(seed)
    points = rng.integers(-5, 5, size=(n, width)) * rng.choice([1e-9, 1.0, 1e12])  # ties, tiny and huge spans
    order = space_filling_tour(points)
    assert np.array_equal(np.sort(order), np.arange(n))


def test_a_limit_too_short_for_the_greedy_start_gives_the_space_filling_tour_and_replays(registry, monkeypatch):
    from hopsolve.backends import anneal as anneal_module
    from hopsolve.solving import solve_path

    path = TSPLIB / "pr1002.tsp"
    monkeypatch.setattr(anneal_module, "projected_setup_seconds", lambda metric, k: 1e9)
    result, solution, instance = solve_path(registry, path, seed=3, time_limit=5.0)
    assert result.info["start"] == "space-filling" and result.info["sweeps_done"] == 0
    assert result.feasible and result.objective == result.info["start_length"]
    assert result.objective < 0.3 * instance.data.tour_length(np.random.default_rng(0).permutation(1002))
    assert result.info["replay"] == {"sweeps": result.params["sweeps"], "replan": "0:0", "start": "space-filling"}
    from hopsolve.cli import _summary

    summary = _summary(result)  # the limit stopped no sweep: the summary said it had, "after 0 of its 232 sweeps"
    assert "space-filling-curve tour, not annealed" in summary and "the time limit stopped" not in summary
    monkeypatch.undo()
    replayed, again, _ = solve_path(registry, path, seed=3, params=result.info["replay"])
    assert again.value == solution.value and replayed.info["start"] == "space-filling"


def test_space_filling_start_needs_coordinates():
    metric = Metric.from_matrix(np.array([[0, 2, 3], [2, 0, 4], [3, 4, 0]]))
    from hopsolve.permutation import tour_energy

    with pytest.raises(ParameterError, match="space-filling needs city coordinates"):
        AnnealBackend().solve(tour_energy(metric), AnnealParams(start="space-filling", sweeps=2), seed=1)


@pytest.mark.parametrize("form", ["hopfield-tank", "lucas"])
def test_metric_energy_equals_the_matrix_penalty_energy(form):
    instance = read_tsplib(TSPLIB / "ulysses16.tsp")  # GEO
    lazy, _ = encode_tsp(instance.metric, form=form)
    dense, _ = encode_tsp(instance.distances, form=form)
    assert lazy.permutation.is_tour and dense.permutation.metric is None
    rng = np.random.default_rng(1)
    n = instance.dimension
    for _ in range(5):
        positions = rng.permutation(n)
        state = dense.layout.state(positions, dense.vartype, dense.num_variables)
        assert lazy.energy(state) == pytest.approx(dense.energy(state))
        assert lazy.permutation.value(positions) == pytest.approx(dense.permutation.value(positions))
        assert lazy.violations(state) == dense.violations(state)
        assert all(v == 0 for v in lazy.violations(state).values())
    broken = rng.integers(0, 2, size=dense.num_variables)
    assert lazy.energy(broken) == pytest.approx(dense.energy(broken))


def test_permutation_samples_score_as_their_bit_states():
    problem = TspProblem()
    instance = problem.read(TSPLIB / "eil51.tsp")
    energy = problem.encode(instance)
    samples = AnnealBackend().solve(energy, AnnealParams(reads=2, sweeps=50), seed=3)
    assert samples.permutations.shape == (2, 51) and samples.states is not None
    assert np.allclose(energy.energies(samples.states), samples.energies)
    for row in range(2):
        by_bits = problem.decode(instance, energy, samples.states[row])
        by_permutation = problem.decode_permutation(instance, energy, samples.permutations[row])
        assert by_bits == by_permutation and by_bits.feasible


def _write_uniform(path: Path, n: int, seed: int) -> None:
    xy = np.random.default_rng(seed).random((n, 2)) * 1_000_000
    lines = [f"NAME: uniform{n}", "TYPE: TSP", f"DIMENSION: {n}", "EDGE_WEIGHT_TYPE: EUC_2D", "NODE_COORD_SECTION"]
    lines += [f"{i + 1} {x:.1f} {y:.1f}" for i, (x, y) in enumerate(xy)]
    path.write_text("\n".join(lines) + "\nEOF\n")


def test_a_large_instance_is_solved_without_any_n_squared_structure(tmp_path, registry, monkeypatch):
    # 20,000 cities: the distance matrix alone would be 3.2 GB; allow 64 MB of matrices in all
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(64 * 2**20))
    path = tmp_path / "uniform20000.tsp"
    _write_uniform(path, 20_000, seed=5)
    from hopsolve.solving import solve_path

    result, solution, instance = solve_path(registry, path, seed=2, time_limit=4.0)
    assert result.feasible and sorted(solution.value) == list(range(1, 20_001))
    assert result.objective == instance.data.tour_length(np.asarray(solution.value) - 1)
    assert result.objective < 1.25 * result.info["start_length"]
    # an energy of 4·10⁸ units: asking for the bit-state energy is refused in one line, not a MemoryError
    energy = registry.problem("tsp").encode(instance)
    with pytest.raises(TooLargeError, match="HOPSOLVE_MAX_MATRIX_BYTES"):
        energy.term("objective").term  # noqa: B018 - building the term is what is refused
    with pytest.raises(TooLargeError):
        energy.permutation.layout.state(np.arange(20_000), energy.vartype, energy.num_variables)
    with pytest.raises(TooLargeError):
        _ = instance.data.distances


def _cold_solve(cache: Path, *extra: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    run = subprocess.run([sys.executable, "-m", "hopsolve.cli", "solve", str(TSPLIB / "berlin52.tsp"), "--seed", "4",
                          "--json", *extra], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.slow
def test_a_cold_first_run_equals_the_warm_one_and_is_not_squeezed(tmp_path):
    cache = tmp_path / "numba-cache"
    # one cold compile (the slow part): the time limit must not pay for it. Whether the run then ends its schedule
    # before the limit depends on the machine's pace (under CI's load, once, it did not), so that is not asserted:
    # tens of seconds of compile against a 3 s limit, and still the sweeps of a run that had the whole limit
    cold = _cold_solve(cache, "--time-limit", "3")
    assert cold["info"]["compile_s"] > 3.0 and cold["info"]["sweeps_done"] > 10_000
    assert cold["gap"] <= 0.01
    # the warm rerun of the cold run's recorded budget is the same tour, without the compile
    replay = [arg for key, value in cold["info"]["replay"].items() for arg in ("--param", f"{key}={value}")]
    warm = _cold_solve(cache, *replay)
    assert warm["info"]["sweeps_done"] == cold["info"]["sweeps_done"]
    assert cold["solution"] == warm["solution"] and cold["objective"] == warm["objective"]
    assert cold["info"]["compile_s"] > warm["info"]["compile_s"]


def test_progress_bar_shows_the_best_length_on_a_terminal(monkeypatch):
    import io

    from hopsolve import terminal

    monkeypatch.setattr(terminal, "SHOW_AFTER_S", 0.0)
    stream = io.StringIO()
    progress = terminal.SolveProgress(stream, force=True)
    progress({"done": 10, "total": 100, "best_energy": 3.0, "best_length": 7542.0})
    progress({"done": 50, "total": 100, "best_energy": 2.0, "best_length": 7500.0})
    progress.close()
    assert "best 7500" in stream.getvalue() and "50/100" in stream.getvalue()
    monkeypatch.setattr(terminal, "COMPILE_NOTE_AFTER_S", 0.0)
    slow = io.StringIO()
    noting = terminal.SolveProgress(slow, force=True)
    noting({"stage": "preparing"})
    time.sleep(0.2)
    noting({"stage": "solving"})
    noting.close()
    assert "compiling kernels" in slow.getvalue()
    quiet = io.StringIO()  # not a terminal: nothing is drawn
    terminal.SolveProgress(quiet)({"done": 1, "total": 2})
    assert quiet.getvalue() == ""
    timed = io.StringIO()  # a time limit's bar counts seconds, and a long length is shown in full
    bar = terminal.SolveProgress(timed, force=True)
    bar({"done": 3.25, "total": 10.0, "unit": "s", "best_length": 188733742.0})
    bar.close()
    assert "3.2/10.0 s" in timed.getvalue() and "best 188733742" in timed.getvalue() and "s/s" not in timed.getvalue()


def test_the_progress_bar_s_elapsed_time_counts_from_the_start_of_the_solve(monkeypatch):
    """A bar that appears 3 s into the solve says 3 s elapsed (and 7 s left of a 10 s limit), not 0."""
    import io
    import types

    from hopsolve import terminal

    clock = types.SimpleNamespace(now=100.0)
    monkeypatch.setattr(terminal, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    stream = io.StringIO()
    progress = terminal.SolveProgress(stream, force=True)
    progress({"stage": "preparing"})
    clock.now += 1.0  # compiling: not the solve's time
    progress({"stage": "solving"})
    clock.now += 3.0
    progress({"done": 3.0, "total": 10.0, "unit": "s", "best_energy": -5.0})
    progress.close()
    assert "3.0/10.0 s [00:03<00:07" in stream.getvalue()


def test_without_tqdm_a_long_solve_says_once_how_to_get_a_bar(monkeypatch):
    import io
    import sys

    from hopsolve import terminal

    monkeypatch.setattr(terminal, "SHOW_AFTER_S", 0.0)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    stream = io.StringIO()
    progress = terminal.SolveProgress(stream, force=True)
    progress({"done": 1, "total": 4})
    progress({"done": 2, "total": 4})
    progress.close()
    assert stream.getvalue().count("hopsolve[progress]") == 1


WARMUP_CHECK = r"""
import ast, importlib, pathlib, pkgutil, sys
from numba.core.registry import CPUDispatcher
from hopsolve.cli import main
assert main(["warmup"]) == 0
def njitted(node):
    return any("jit" in ast.unparse(d) for d in node.decorator_list)
called, modules = set(), []
for package in ("hopsolve", "hopsolve_tsp", "hopsolve_maxcut", "hopsolve_qubo", "hopsolve_assignment",
                "hopsolve_memory", "hopsolve_cqm"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        modules.append(module)
        tree = ast.parse(pathlib.Path(module.__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not njitted(node):
                for call in ast.walk(node):
                    if isinstance(call, ast.Call):
                        f = call.func
                        called.add(f.id if isinstance(f, ast.Name) else getattr(f, "attr", None))
missing = sorted(f"{m.__name__}.{name}" for m in modules for name, obj in vars(m).items()
                 if isinstance(obj, CPUDispatcher) and obj.__module__ == m.__name__ and name in called
                 and obj.targetoptions.get("inline") != "always" and not obj.signatures)
print("MISSING:" + " ".join(missing))
"""


@pytest.mark.slow
def test_warmup_compiles_every_kernel_that_python_code_calls():
    """In a fresh process, ``hopsolve warmup`` leaves every kernel that Python code calls (not only other kernels)
    compiled or loaded: none waits for a user's first solve (the tabu walks' and the pattern energies' had)."""
    plugins = Path(__file__).resolve().parents[1] / "plugins"
    env = {**os.environ, "PYTHONPATH": f"{plugins}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run([sys.executable, "-c", WARMUP_CHECK], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "backend anneal" in run.stdout and "problem tsp" in run.stdout
    assert run.stdout.splitlines()[-1] == "MISSING:"



SHIPPED = sorted((INSTANCES / "tsplib").glob("*.tsp")) + sorted((INSTANCES / "tsplib-large").glob("*.tsp"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_instance_gives_a_valid_tour(path, registry):
    from hopsolve.solving import solve_path

    result, solution, instance = solve_path(registry, path, seed=1, params={"sweeps": 3})
    n = instance.data.dimension
    assert result.feasible and sorted(solution.value) == list(range(1, n + 1))
    assert result.objective == instance.data.tour_length(np.asarray(solution.value) - 1)
    if result.reference is not None:
        assert result.objective >= result.reference


def test_ctrl_c_keeps_the_best_tour_and_says_interrupted(registry):
    from hopsolve.solving import solve_path

    calls = []

    def interrupt(update):
        if "done" in update:
            calls.append(update)
        if len(calls) == 3:
            raise KeyboardInterrupt

    result, solution, instance = solve_path(registry, TSPLIB / "kroA100.tsp", seed=1, params={"sweeps": 10**7},
                                            callback=interrupt)
    assert result.status == "interrupted" and result.info["interrupted"]
    assert sorted(solution.value) == list(range(1, 101))
    assert result.objective <= result.info["start_length"]
    assert result.info["sweeps_done"] < 10**7


def test_plot_draws_into_a_given_axes_and_the_cli_says_where_it_wrote(registry, cli, tmp_path):
    from matplotlib.figure import Figure

    from hopsolve.solving import solve_path

    result, solution, instance = solve_path(registry, TSPLIB / "eil51.tsp", seed=1, params={"sweeps": 100})
    ax = Figure().subplots()
    assert registry.problem("tsp").plot(instance, solution, ax=ax) is ax
    line = ax.get_lines()[0]
    assert len(line.get_xdata()) == 52  # the closed tour
    out, png = tmp_path / "eil51.tour", tmp_path / "eil51.png"
    run = cli("solve", TSPLIB / "eil51.tsp", "--param", "sweeps=100", "--out", out, "--plot", png)
    assert run.code == 0 and out.exists() and png.exists()
    assert f"wrote the solution to {out}" in run.err and f"drew the solution to {png}" in run.err


def test_absolute_gap_is_reported_where_the_relative_one_is_undefined():
    from hopsolve.result import absolute_gap, relative_gap

    assert relative_gap(3.0, 0.0) is None and absolute_gap(3.0, 0.0) == 3.0
    assert absolute_gap(10.0, 12.0, "max") == 2.0 and absolute_gap(None, 1.0) is None


def test_a_copy_of_a_large_instance_elsewhere_keeps_its_optimum(tmp_path, cli):
    """The packaged table had only the small instances' optima: d2103 copied to another folder lost its reference
    and gap. Every row of ``instances/tsplib-large/optima.csv`` is in it now."""
    import csv

    packaged = {row["name"]: row for row in csv.DictReader(
        (ROOT / "plugins" / "hopsolve_tsp" / "data" / "optima.csv").open())}
    for row in csv.DictReader((INSTANCES / "tsplib-large" / "optima.csv").open()):
        assert packaged[row["name"]]["optimum"] == row["optimum"]
        assert packaged[row["name"]]["identity_length"] == row["identity_length"]
    copy = tmp_path / "d2103.tsp"
    copy.write_text((INSTANCES / "tsplib-large" / "d2103.tsp").read_text())
    result = json.loads(cli("solve", copy, "--time-limit", "1", "--seed", "1", "--json").out)
    assert result["reference"] == 80450 and result["gap"] is not None


def test_a_user_s_candidate_lists_too_slow_for_the_limit_are_refused_naming_neighbours(monkeypatch):
    """neighbours=5914 on rl5915 at a 1 s limit ran 16 s: the projection of the greedy start built 4,095 lists of
    4,095 on its sample three times, then the lists were built anyway for the space-filling start. Now the sample's
    lists have at most 64 neighbours, the projection scales by the candidates a point, and lists projected past the
    time left are refused naming the parameter; the default's lists are not projected at all."""
    from hopsolve.backends import _tour_start

    asked = []
    original = Metric.neighbours
    monkeypatch.setattr(Metric, "neighbours", lambda self, k: asked.append((self.size, k)) or original(self, k))
    points = np.random.default_rng(4).random((5000, 2)) * 1e5
    metric = Metric("EUC_2D", points=points)
    projected = _tour_start.projected_setup_seconds(metric, 4999, greedy=False)
    assert asked and max(k for _, k in asked) == _tour_start.NEIGHBOURS_SAMPLE_K
    assert all(size == _tour_start.SETUP_SAMPLE for size, _ in asked)
    assert projected > 0  # its accuracy is measured, not tested (the docstring's figures)
    asked.clear()
    from hopsolve.permutation import tour_energy

    energy = tour_energy(metric)
    with pytest.raises(TooLargeError, match=r"candidate lists of 4,999 neighbours for 5,000 cities .* \(neighbours"):
        AnnealBackend().solve(energy, AnnealParams(neighbours=4999, time_limit=0.2), seed=1)
    assert all(k <= _tour_start.NEIGHBOURS_SAMPLE_K for _, k in asked)  # refused before the real lists


def test_candidate_lists_past_the_memory_limit_are_refused_before_the_query(monkeypatch):
    """neighbours=85899 on pla85900 asked the KD-tree for 85,900 × 85,900 distances and indices (118 GB)."""
    from hopsolve import MemoryLimitError

    metric = Metric("EUC_2D", points=np.random.default_rng(1).random((2000, 2)))
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(10**7))
    with pytest.raises(MemoryLimitError, match=r"candidate lists of 1,999 neighbours for 2,000 points \(neighbours\)"):
        metric.neighbours(5000)
    assert metric.neighbours(10).shape == (2000, 10)


@settings(max_examples=50, deadline=None)
@given(reads=st.integers(0, 5), n=st.integers(0, 40), seed=st.integers(0, 2**31))
def test_inverse_permutations_are_what_argsort_gives(reads, n, seed):
    from hopsolve.permutation_rows import inverse_permutations

    rng = np.random.default_rng(seed)
    rows = np.array([rng.permutation(n) for _ in range(reads)], dtype=np.int64).reshape(reads, n)
    np.testing.assert_array_equal(inverse_permutations(rows), np.argsort(rows, axis=1))


def test_inverse_permutations_refuse_a_row_that_is_not_a_permutation():
    """The compiled inversion writes where the row points: a repeat or a position out of range is refused, not
    written past the row's end."""
    from hopsolve.permutation_rows import inverse_permutations

    for bad in ([0, 1, 1], [0, 1, 3], [0, -1, 2]):
        with pytest.raises(ParameterError, match="row 1 is not a permutation of 0..2"):
            inverse_permutations(np.array([[2, 0, 1], bad]))


@settings(max_examples=30, deadline=None)
@given(reads=st.integers(1, 4), n=st.integers(1, 30), seed=st.integers(0, 2**31),
       kind=st.sampled_from([k for k in KINDS if k not in ("EXPLICIT", "GEO")]))
def test_lengths_of_position_rows_are_each_tours_length(reads, n, seed, kind):
    """Row r puts city c at position ``rows[r, c]``: its tour is the row's inverse, and the batch of lengths is
    :meth:`Metric.tour_length` of each (what ``SampleSet.from_permutations`` scores reads by)."""
    rng = np.random.default_rng(seed)
    metric = Metric(kind, rng.integers(0, 1000, size=(n, 3 if kind.endswith("3D") else 2)).astype(float))
    rows = np.array([rng.permutation(n) for _ in range(reads)], dtype=np.int64)
    expected = [metric.tour_length(np.argsort(row)) for row in rows]
    assert metric.lengths_of_positions(rows).tolist() == expected


@pytest.mark.parametrize("serial_below", [0, 10**9], ids=["parallel", "one-thread"])
def test_both_ways_of_scoring_and_inverting_rows_agree(monkeypatch, serial_below):
    """Small batches run on one thread, large ones in parallel (waking the threads cost ~20 ms on a busy
    machine): either way the same inverses and lengths, and the same refusal of a row that is not a permutation."""
    from hopsolve import metric as metric_module
    from hopsolve import permutation_rows

    monkeypatch.setattr(metric_module, "SERIAL_BELOW", serial_below)
    monkeypatch.setattr(permutation_rows, "SERIAL_BELOW", serial_below)
    rng = np.random.default_rng(11)
    metric = Metric("EUC_2D", rng.integers(0, 1000, size=(40, 2)).astype(float))
    rows = np.array([rng.permutation(40) for _ in range(7)])
    np.testing.assert_array_equal(permutation_rows.inverse_permutations(rows), np.argsort(rows, axis=1))
    assert metric.lengths_of_positions(rows).tolist() == [metric.tour_length(np.argsort(r)) for r in rows]
    assert metric_module._max_over(metric.arrays, np.arange(40)) == max(
        metric.pairs(np.repeat(np.arange(40), 40), np.tile(np.arange(40), 40)))
    rows[5, 3] = rows[5, 4]
    with pytest.raises(ParameterError, match="row 5 is not a permutation"):
        permutation_rows.inverse_permutations(rows)
    with pytest.raises(ParameterError, match="row 5 is not a permutation"):
        metric.lengths_of_positions(rows)


def test_lengths_of_positions_refuse_rows_that_are_not_permutations():
    metric = Metric("EUC_2D", np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]))
    assert metric.lengths_of_positions(np.array([[0, 1, 2], [2, 1, 0]])).tolist() == [20, 20]
    with pytest.raises(ParameterError, match="row 0 is not a permutation"):
        metric.lengths_of_positions(np.array([[0, 0, 2]]))
    with pytest.raises(ParameterError, match="rows of 3 positions"):
        metric.lengths_of_positions(np.array([[0, 1]]))


def test_a_tour_energy_scores_many_reads_as_it_scores_one():
    """``PermutationView.energies`` (the batch path of the metric) gives each read the energy its one-read
    :meth:`energy` gives, weight and offset included."""
    from hopsolve.permutation import tour_energy

    points = np.random.default_rng(4).integers(0, 500, size=(12, 2)).astype(float)
    energy = tour_energy(Metric("ATT", points))
    view = energy.permutation
    rows = np.array([np.random.default_rng(s).permutation(12) for s in range(5)])
    for weight in (1.0, 0.37):
        np.testing.assert_array_equal(view.energies(rows, weight), [view.energy(row, weight) for row in rows])


def test_anneal_refuses_a_start_it_would_not_use():
    """``start`` chooses the tour moves' first tour: on a QAP, or a tour annealed by flips, it was ignored (a
    random start asked for, the run started elsewhere, nothing said)."""
    from hopsolve import build_registry

    registry = build_registry()
    qap = registry.problem("qap")
    nug12 = qap.encode(qap.read(INSTANCES / "qaplib" / "nug12.dat"))
    with pytest.raises(ParameterError, match="start=random chooses where a tour's reads start without initial "
                                             "states; this energy's permutations are not tours"):
        AnnealBackend().solve(nug12, AnnealParams(start="random"), seed=1)
    tsp = registry.problem("tsp")
    tour = tsp.encode(tsp.read(TSPLIB / "ulysses16.tsp"))
    with pytest.raises(ParameterError, match="start=space-filling .*; moves=flip does not start from a tour"):
        AnnealBackend().solve(tour, AnnealParams(start="space-filling", moves="flip", sweeps=5), seed=1)
    samples = AnnealBackend().solve(tour, AnnealParams(start="random", reads=2, sweeps=5), seed=1)
    assert samples.info["start"] == "random"


def test_fix_first_on_a_large_tour_builds_no_matrix(monkeypatch):
    """``fix_first`` sent a TSP to the n × n matrix: pcb3038's 147 MB was refused under this limit (and
    pla85900's, naming anneal as the way out, which it was not). Pinned, it is annealed from the coordinates; a
    backend that needs the (n-1)² arrays is still refused before building them."""
    from hopsolve import build_registry

    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(20 * 1024**2))
    registry = build_registry()
    problem = registry.problem("tsp")
    instance = problem.read(INSTANCES / "tsplib-large" / "pcb3038.tsp")
    energy = problem.encode(instance, options=problem.options({"fix_first": "true"}))
    samples = AnnealBackend().solve(energy, AnnealParams(reads=1, sweeps=3), seed=2)
    tour = problem.decode_permutation(instance, energy, samples.permutations[0])
    assert tour.feasible and tour.value[0] == 1 and sorted(tour.value) == list(range(1, 3039))
    assert samples.best_energy == pytest.approx(energy.permutation.energy(samples.permutations[0], 1.0))
    with pytest.raises(TooLargeError, match="over the limit of 20.0 MiB"):
        registry.backend("tank").solve(energy, registry.backend("tank").params({"reads": 1}), seed=1)


def test_a_timed_tour_anneal_bounds_its_first_sweep_before_making_it(monkeypatch):
    """1,000 reads of rl5915 at a 1 s limit made one sweep of all reads (0.3 s) past the limit: the first sweep is
    now projected from the timed sample of move deltas, and a first sweep that would end late is not made."""
    from hopsolve.backends import anneal as anneal_module
    from hopsolve.permutation import tour_energy

    seen = {}
    original = anneal_module._run_chunked

    def recording(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(anneal_module, "_run_chunked", recording)
    energy = tour_energy(Metric("EUC_2D", points=np.random.default_rng(2).random((300, 2)) * 1000))
    fast = AnnealBackend().solve(energy, AnnealParams(reads=4, sweeps=50, time_limit=30.0), seed=1)
    assert seen["first_sweep"] > 0 and fast.work > 0
    real_sample = TK.sample_deltas

    def slow_sample(*args):
        time.sleep(0.02)  # 5 µs a delta: 2,000 reads × 300 moves project to a first sweep of ~1.5 s on 2 threads
        return real_sample(*args)

    monkeypatch.setattr(TK, "sample_deltas", slow_sample)
    late = AnnealBackend().solve(energy, AnnealParams(reads=2000, sweeps=50, time_limit=0.5, threads=2), seed=1)
    assert late.timed_out and late.work == 0  # the starts stand, as when the set-up spends the limit


def test_the_first_sweep_s_projection_leaves_out_the_kernel_s_compilation(monkeypatch):
    """A tour anneal called without ``prepare`` in a fresh process compiles (or loads) its delta sampler inside the
    timing that projects the first sweep: a second's compile projected a first sweep of ~2 s for 2,000 reads of
    300 cities, and the run returned its start tours. A first call that takes 0.4 s (the compile, emulated) no
    longer stops the run."""
    from hopsolve.permutation import tour_energy

    energy = tour_energy(Metric("EUC_2D", points=np.random.default_rng(2).random((300, 2)) * 1000))
    real_sample = TK.sample_deltas
    calls = []

    def compiling_once(*args):
        calls.append(args[4])
        if len(calls) == 1:
            time.sleep(0.4)
        return real_sample(*args)

    monkeypatch.setattr(TK, "sample_deltas", compiling_once)
    run = AnnealBackend().solve(energy, AnnealParams(reads=2000, sweeps=50, time_limit=2.0, threads=2), seed=1)
    assert run.work > 0, run.info


def test_an_energy_with_lazy_labels_does_not_list_them(monkeypatch):
    """The distinct-labels check made a set of GridLabels: 7.4·10⁹ tuples for pla85900 (killed at 23 GB), 12 s of
    pcb3038's 5 s limit. Lazy labels are distinct by construction and are not read."""
    from hopsolve_tsp import encoding

    def listed(self, index):
        raise AssertionError("a label was read")

    monkeypatch.setattr(encoding.GridLabels, "__getitem__", listed)
    problem = TspProblem()
    energy = problem.encode(problem.read(INSTANCES / "tsplib-large" / "pcb3038.tsp"), None, problem.options({}))
    assert len(energy.labels) == 3038 * 3038
    assert len(energy.reweighted(row=2.0).labels) == 3038 * 3038  # every Energy built again checks its labels
