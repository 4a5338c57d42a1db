"""The third-party colouring example (tests/third_party/hopsolve-colouring): installed as pip would leave it, run
from the CLI and ``bench``, its DIMACS reader, its encoding checked by the conformance kit and by enumeration."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import build_registry, solve_instance
from hopsolve.backends.exact import ExactBackend
from hopsolve.testing import check_problem

from .installing import assert_public_api_only, fake_install, pip_install

EXAMPLE = Path(__file__).resolve().parent / "third_party" / "hopsolve-colouring"
INSTANCES = EXAMPLE / "instances"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package laid out in a site folder on ``sys.path`` (a dist-info with its entry point, as pip leaves it)."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLE / "hopsolve_colouring", site / "hopsolve_colouring")
    fake_install(site, "hopsolve-colouring", {"colouring": "hopsolve_colouring"}, {})
    sys.path.insert(0, str(site))
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.startswith("hopsolve_colouring")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def colouring(installed):
    from hopsolve_colouring import dimacs, problem

    return problem.ColouringProblem(), dimacs


@pytest.fixture(scope="module")
def plugin_registry(installed):
    return build_registry({"HOPSOLVE_ALLOW_PLUGINS": "colouring"})


def proper(edges, colours) -> bool:
    return all(colours[u - 1] != colours[v - 1] for u, v in edges)


def edges_of(path: Path) -> list[tuple[int, int]]:
    return [tuple(map(int, line.split()[1:])) for line in path.read_text().splitlines() if line.startswith("e ")]


# ---- installed and run as a user would ----------------------------------------------------------------------------
def test_installed_plugin_is_listed_with_its_baselines(installed, cli):
    listed = json.loads(cli("plugins", "--json").out)
    problems = {p["name"]: p for p in listed["problems"]}
    assert problems["colouring"]["distribution"] == "hopsolve-colouring"
    baselines = {(b["name"], b["problem"]) for b in listed["baselines"]}
    assert {("dsatur", "colouring"), ("ortools-cpsat", "colouring")} <= baselines


@pytest.mark.slow
def test_pip_install_registers_it_and_the_console_solves(tmp_path):
    """The real thing: pip builds and installs the package (its χ table included) and the CLI uses it."""
    env = {**pip_install(EXAMPLE, tmp_path / "site"), "HOPSOLVE_ALLOW_PLUGINS": "colouring"}
    out = subprocess.run([sys.executable, "-m", "hopsolve.cli", "solve", str(INSTANCES / "myciel3.col"), "--option",
                          "colours=4", "--seed", "1", "--json"], env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout)
    assert result["feasible"] and result["objective"] == 4 and result["reference"] == 4


def test_cli_colours_myciel3_properly_with_four_colours(installed, cli):
    path = INSTANCES / "myciel3.col"
    run = cli("solve", path, "--option", "colours=4", "--seed", "1", "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["problem"] == "colouring" and result["feasible"] and result["status"] == "feasible"
    assert result["params"]["options"] == {"colours": 4} and result["params"]["moves"] == "onehot"
    assert result["objective"] == 4 and result["reference"] == 4 and result["gap"] == 0.0
    assert result["violations"] == {"onehot": 0.0, "conflicts": 0.0}
    assert sorted(set(result["solution"])) == [1, 2, 3, 4] and proper(edges_of(path), result["solution"])


def test_cli_default_k_is_dsatur_and_the_summary_names_conflicts(installed, cli, tmp_path):
    dsatur = json.loads(cli("solve", INSTANCES / "queen6_6.col", "--baseline", "dsatur", "--json").out)
    assert dsatur["status"] == "feasible" and dsatur["objective"] == 9
    result = json.loads(cli("solve", INSTANCES / "queen6_6.col", "--seed", "2", "--json").out)
    assert result["params"]["options"] == {"colours": None} and result["feasible"] and result["objective"] <= 9
    # k below χ: never feasible; the summary reports the conflicts and no objective
    run = cli("solve", INSTANCES / "queen5_5.col", "--option", "colours=4", "--seed", "2")
    assert run.code == 0 and "infeasible" in run.out and "objective" not in run.out.splitlines()[0]
    assert "violations: conflicts=" in run.out


def test_cli_writes_and_draws_the_colouring(installed, cli, tmp_path):
    out, image = tmp_path / "myciel4.sol", tmp_path / "myciel4.png"
    run = cli("solve", INSTANCES / "myciel4.col", "--option", "colours=5", "--seed", "3", "--out", out,
              "--plot", image)
    assert run.code == 0, run.err
    colours = [int(line) for line in out.read_text().split()]
    assert len(colours) == 23 and proper(edges_of(INSTANCES / "myciel4.col"), colours)
    assert image.stat().st_size > 1000


def test_bench_runs_a_two_instance_grid_and_reports_it(installed, cli, tmp_path):
    out = tmp_path / "colouring.jsonl"
    run = cli("bench", "--instances", INSTANCES / "myciel3.col", INSTANCES / "queen5_5.col",
              "--solvers", "anneal,dsatur", "--seeds", "2", "--out", out)
    assert run.code == 0, run.err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    anneal = [r for r in records if r["solver"] == "anneal"]
    dsatur = [r for r in records if r["solver"] == "dsatur"]
    assert len(anneal) == 4 and len(dsatur) == 2  # the deterministic baseline runs once per instance
    assert {r["instance"]: r["reference"] for r in records} == {"myciel3": 4, "queen5_5": 5}
    # the default k is DSatur's count, which is χ on both: every run is a chromatic colouring
    assert all(r["feasible"] and r["gap"] == 0.0 for r in records)
    run = cli("bench", "--instances", INSTANCES / "myciel4.col", "--solvers", "anneal", "--seeds", "1",
              "--option", "colours=6", "--out", out)
    [extra] = [json.loads(line) for line in out.read_text().splitlines()][len(records):]
    assert run.code == 0 and extra["params"]["options"] == {"colours": 6} and extra["feasible"]
    report = cli("report", out)
    assert report.code == 0 and "myciel3" in report.out


def test_cpsat_baseline_proves_the_chromatic_number(installed, cli):
    for name, chi in (("myciel3", 4), ("queen5_5", 5)):
        result = json.loads(cli("solve", INSTANCES / f"{name}.col", "--baseline", "ortools-cpsat",
                                "--time-limit", "30", "--json").out)
        assert result["status"] == "optimal" and result["objective"] == chi and result["gap"] == 0.0


@pytest.mark.parametrize(("text", "line", "message"), [
    ("e 1 2\np edge 2 1\n", 1, "an 'e' line before the 'p edge N M' line"),
    ("c only comments\n", None, "no 'p edge N M' line"),
    ("p edge 3 1\np edge 3 1\ne 1 2\n", 2, "a second 'p' line (the first is line 1)"),
    ("p edge three 1\ne 1 2\n", 1, "node count 'three' is not a number"),
    ("p cnf 3 1\ne 1 2\n", 1, "expected 'p edge N M', got 'p cnf 3 1'"),
    ("p edge 0 0\n", 1, "'p edge N M' needs N ≥ 1 and M ≥ 0, got 0 0"),
    ("p edge 3 2\ne 1 2\ne 1 4\n", 3, "node 4 is not in 1..3"),
    ("p edge 3 2\ne 1 2\ne 2 2\n", 3, "self-loop on node 2: no colouring of this graph is proper"),
    ("p edge 3 2\ne 1 2 3\n", 2, "expected 'e u v', got 'e 1 2 3'"),
    ("p edge 3 3\ne 1 2\ne 2 3\n", 3, "'p edge 3 3' announces 3 edges, found 2 'e' lines"),
    ("p edge 3 1\nn 1 5\ne 1 2\n", 2, "unexpected line 'n 1 5': a .col file has only c, p and e lines"),
    ("p edge 3 1\ne 1 x\n", 2, "node 'x' is not a number"),
])
def test_malformed_files_are_one_line_errors(installed, cli, tmp_path, text, line, message):
    path = tmp_path / "bad.col"
    path.write_text(text)
    run = cli("solve", path)
    where = f"{path}:{line}:" if line is not None else f"{path}:"
    assert run.code == 2
    assert run.err.strip() == f"hopsolve: error: {where} {message}"


def test_bad_option_and_weight_are_one_line_errors(installed, cli):
    run = cli("solve", INSTANCES / "myciel3.col", "--option", "colours=0")
    assert run.code == 2 and "colours must be at least 1" in run.err and len(run.err.strip().splitlines()) == 1
    run = cli("solve", INSTANCES / "myciel3.col", "--weight", "objective=2")
    assert run.code == 2 and "this energy has terms onehot, conflicts" in run.err


# ---- the reader -----------------------------------------------------------------------------------------------
graphs = st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(1, n), st.integers(1, n)).filter(lambda e: e[0] != e[1]),
                         max_size=60)))


@given(graphs, st.lists(st.text(alphabet="abc xyz:=", max_size=20), max_size=3))
@settings(max_examples=80, deadline=None)
def test_written_graphs_read_back_equal(installed, colouring, tmp_path_factory, graph, comments):
    _, dimacs = colouring
    n, pairs = graph
    folder = tmp_path_factory.mktemp("col")
    written = dimacs.ColGraph.build(n, [(u - 1, v - 1) for u, v in pairs])
    dimacs.write_col(written, folder / "g.col", comments)
    back = dimacs.read_col(folder / "g.col")
    assert back.n == n and np.array_equal(back.edges, written.edges) and back.duplicates == 0
    assert back.comments == tuple(c.strip() for c in comments)
    # the same edges as raw lines, repeats and reversed pairs included: merged, and counted
    raw = folder / "raw.col"
    raw.write_text(f"c raw\np edge {n} {len(pairs)}\n" + "".join(f"e {u} {v}\n" for u, v in pairs))
    merged = dimacs.read_col(raw)
    assert np.array_equal(merged.edges, written.edges)
    assert merged.duplicates == len(pairs) - len({(min(e), max(e)) for e in pairs})


def test_shipped_instances_read_with_their_chromatic_numbers(colouring):
    problem, _ = colouring
    expected = {"myciel3": (11, 20, 4), "myciel7": (191, 2360, 8), "queen6_6": (36, 290, 7),
                "queen8_8": (64, 728, 9), "le450_15d": (450, 16750, 15)}
    for name, (n, m, chi) in expected.items():
        instance = problem.read(INSTANCES / f"{name}.col")
        assert (instance.data.n, instance.data.m, instance.reference) == (n, m, chi)
        assert instance.meta["duplicate_edges"] == 0
    assert len(list(INSTANCES.glob("*.col"))) == 13


def test_reference_needs_matching_counts_and_a_table_beside_the_file_wins(colouring, tmp_path):
    problem, _ = colouring
    (tmp_path / "myciel3.col").write_text("p edge 3 2\ne 1 2\ne 2 3\n")
    assert problem.read(tmp_path / "myciel3.col").reference is None  # the name alone is not enough
    (tmp_path / "chromatic.csv").write_text("name,n,m,chromatic\nmyciel3,3,2,2\n")
    assert problem.read(tmp_path / "myciel3.col").reference == 2


# ---- the encoding ---------------------------------------------------------------------------------------------
def all_proper_colourings(n: int, edges: list[tuple[int, int]], k: int) -> list[tuple[int, ...]]:
    return [c for c in itertools.product(range(k), repeat=n) if all(c[u] != c[v] for u, v in edges)]


def test_conformance_kit_on_a_five_cycle(colouring):
    problem, _ = colouring
    instance = problem.from_graph(nx.cycle_graph(5), "c5", reference=3)
    assert problem.default_colours(instance) == 3
    candidates = all_proper_colourings(5, [(i, (i + 1) % 5) for i in range(5)], 3)[:6]
    check_problem(problem, instance, [list(c) for c in candidates], optimum_by_exact=True)


@pytest.mark.parametrize(("graph", "k"), [(nx.cycle_graph(5), 3), (nx.complete_bipartite_graph(2, 3), 2),
                                          (nx.complete_graph(3), 3), (nx.path_graph(4), 3)])
def test_every_ground_state_is_a_proper_colouring_and_every_proper_colouring_a_ground_state(colouring, graph, k):
    problem, _ = colouring
    instance = problem.from_graph(nx.convert_node_labels_to_integers(graph))
    energy = problem.encode(instance, options=problem.options({"colours": k}))
    samples = ExactBackend().solve(energy, ExactBackend().params({"max_states": 10_000}))
    found = {tuple(problem.candidate(instance, energy, s)) for s in samples.states}
    edges = [tuple(e) for e in instance.data.edges.tolist()]
    assert samples.best_energy == pytest.approx(0.0)
    assert found == set(all_proper_colourings(instance.data.n, edges, k))


def test_below_the_chromatic_number_the_ground_state_is_not_feasible(colouring):
    problem, _ = colouring
    instance = problem.from_graph(nx.complete_graph(4), "k4", reference=4)
    energy = problem.encode(instance, options=problem.options({"colours": 3}))
    samples = ExactBackend().solve(energy)
    solution = problem.decode(instance, energy, samples.best, repair=True)
    assert samples.best_energy >= 1 and not solution.feasible


def test_repair_mends_a_node_without_a_colour(colouring):
    problem, _ = colouring
    instance = problem.from_graph(nx.path_graph(3))
    energy = problem.encode(instance, options=problem.options({"colours": 2}))
    state = problem.state_of(instance, energy, [0, 1, 0])
    state[3] = 0  # node 1 loses its colour (unit 1·k + 1)
    assert problem.decode(instance, energy, state).value is None
    mended = problem.decode(instance, energy, state, repair=True)
    assert mended.repaired and mended.value == [1, 2, 1] and not mended.feasible  # raw feasibility stays honest


@pytest.mark.parametrize("name", ["myciel4", "queen5_5", "myciel5"])
def test_anneal_finds_a_chromatic_colouring(colouring, plugin_registry, name):
    problem, _ = colouring
    instance = problem.read(INSTANCES / f"{name}.col")
    for seed in range(3):
        result, solution = solve_instance(plugin_registry, "colouring", instance, seed=seed,
                                          options={"colours": int(instance.reference)})
        assert result.feasible and result.objective == instance.reference, (name, seed, result.violations)


@pytest.mark.parametrize("backend", ["hopfield", "tank"])
def test_group_backends_keep_one_colour_per_node(colouring, plugin_registry, backend):
    problem, _ = colouring
    instance = problem.read(INSTANCES / "myciel3.col")
    result, solution = solve_instance(plugin_registry, "colouring", instance, backend=backend, seed=1,
                                      options={"colours": 4})
    assert result.violations["onehot"] == pytest.approx(0.0) and solution.value is not None


def test_single_flips_run_on_the_same_penalty_model(colouring, plugin_registry):
    problem, _ = colouring
    instance = problem.read(INSTANCES / "myciel3.col")
    result, _ = solve_instance(plugin_registry, "colouring", instance, seed=1, options={"colours": 4},
                               params={"moves": "flip", "sweeps": 2000})
    assert result.params["moves"] == "flip" and result.feasible


def test_the_plugin_imports_only_the_public_api():
    assert_public_api_only(EXAMPLE / "hopsolve_colouring", EXAMPLE)
