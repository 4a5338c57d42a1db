"""The assignment and qap plugins: formats, optima, exact baselines, feasible-set annealing, bad input."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
from hopsolve_assignment.formats import read_cost_matrix, read_qaplib, read_qaplib_solution
from hopsolve_assignment.plugin import AssignmentProblem, QapProblem

from hopsolve import Instance, ParseError
from hopsolve.testing import check_problem

from .conftest import DATA, INSTANCES

QAPLIB = INSTANCES / "qaplib"
QAP_OPTIMA = {r["name"]: r for r in csv.DictReader((QAPLIB / "optima.csv").open())}


@pytest.mark.parametrize("name", sorted(QAP_OPTIMA))
def test_qaplib_solutions_recompute_to_the_optima(name):
    flow, distance = read_qaplib(QAPLIB / f"{name}.dat")
    n, cost, perm = read_qaplib_solution(QAPLIB / f"{name}.sln")
    if "inverse" in QAP_OPTIMA[name]["sln_convention"]:
        perm = np.argsort(perm)
    solution = QapProblem().score(QapProblem().read(QAPLIB / f"{name}.dat"), perm)
    assert solution.objective == float(QAP_OPTIMA[name]["opt"]) == cost


def test_a_table_optimum_applies_only_to_the_instance_it_was_found_on(tmp_path):
    """Every shipped instance gets its optimum (the packaged table agrees with the shipped one), and an edited copy
    under the same name gets none: a QAP or assignment table row matched by name and size alone, so a copy with one
    number changed could be reported below its "optimum"."""
    from importlib import resources

    for table, folder in (("qap_optima.csv", QAPLIB), ("assign_optima.csv", INSTANCES / "orlib-assign")):
        packaged = {r["name"]: r for r in csv.DictReader(
            resources.files("hopsolve_assignment").joinpath(f"data/{table}").read_text().splitlines())}
        shipped = {r["name"]: r for r in csv.DictReader((folder / "optima.csv").open())}
        assert packaged.keys() == shipped.keys()
        for name, row in shipped.items():
            assert packaged[name]["identity_cost"] == row["identity_cost"] != "", name
    for name, row in QAP_OPTIMA.items():
        assert QapProblem().read(QAPLIB / f"{name}.dat").reference == float(row["opt"]), name
    for name, row in ((r["name"], r) for r in csv.DictReader((INSTANCES / "orlib-assign" / "optima.csv").open())):
        if int(row["n"]) <= 300:  # the larger ones take a second each to read
            assert AssignmentProblem().read(INSTANCES / "orlib-assign" / f"{name}.txt").reference == float(row["opt"])
    lines = (QAPLIB / "nug12.dat").read_text().splitlines()
    row = next(k for k, line in enumerate(lines) if len(line.split()) == 12)  # the first row of the first matrix
    values = lines[row].split()
    values[1] = str(int(values[1]) + 1)
    lines[row] = " ".join(values)
    (tmp_path / "nug12.dat").write_text("\n".join(lines) + "\n")
    assert QapProblem().read(tmp_path / "nug12.dat").reference is None
    text = (INSTANCES / "orlib-assign" / "assign100.txt").read_text().split()
    text[1] = str(int(text[1]) + 1)  # the first cost, C[0, 0]
    (tmp_path / "assign100.txt").write_text(" ".join(text) + "\n")
    assert AssignmentProblem().read(tmp_path / "assign100.txt").reference is None
    assert AssignmentProblem().read(INSTANCES / "orlib-assign" / "assign100.txt").reference == 305


def test_orlib_assignment_optima_match_scipy(cli):
    for name, optimum in [("assign100", 305), ("assign200", 475)]:
        result = json.loads(cli("solve", INSTANCES / "orlib-assign" / f"{name}.txt", "--problem", "assignment",
                                "--baseline", "scipy-lsa", "--json").out)
        assert result["objective"] == optimum == result["reference"] and result["status"] == "optimal"
        other = json.loads(cli("solve", INSTANCES / "orlib-assign" / f"{name}.txt", "--problem", "assignment",
                               "--baseline", "ortools-lsa", "--json").out)
        assert other["objective"] == optimum


def brute_force(cost, n: int = 4) -> float:
    return min(cost(p) for p in itertools.permutations(range(n)))


@pytest.mark.parametrize("seed", range(3))
def test_assignment_conformance_and_exact_ground_state(seed):
    rng = np.random.default_rng(seed)
    costs = rng.integers(1, 20, (4, 4)).astype(float)
    problem = AssignmentProblem()
    optimum = brute_force(lambda p: costs[np.arange(4), list(p)].sum())
    instance = problem.from_costs(costs, reference=optimum)
    check_problem(problem, instance, [np.arange(4), np.array([3, 1, 0, 2])], optimum_by_exact=True)


@pytest.mark.parametrize("seed", range(3))
def test_qap_conformance_and_exact_ground_state(seed):
    rng = np.random.default_rng(seed)
    flow = rng.integers(0, 6, (4, 4)).astype(float)
    distance = rng.integers(0, 6, (4, 4)).astype(float)
    problem = QapProblem()
    optimum = brute_force(lambda p: (flow * distance[np.ix_(list(p), list(p))]).sum())
    instance = Instance("qap", "random", (flow, distance), reference=optimum)
    check_problem(problem, instance, [np.arange(4), np.array([1, 0, 3, 2])], optimum_by_exact=True)


def test_qap_anneal_solves_nug12_and_permutation_is_valid(cli):
    result = json.loads(cli("solve", QAPLIB / "nug12.dat", "--seed", "1", "--json").out)
    assert result["problem"] == "qap" and sorted(result["solution"]) == list(range(1, 13))
    flow, distance = read_qaplib(QAPLIB / "nug12.dat")
    p = np.array(result["solution"]) - 1
    assert (flow * distance[np.ix_(p, p)]).sum() == result["objective"]
    assert result["gap"] <= 0.01


def test_qap_cpsat_baseline_runs_with_a_time_limit(cli):
    result = json.loads(cli("solve", QAPLIB / "chr12a.dat", "--baseline", "ortools-cpsat", "--time-limit", "3",
                            "--json").out)
    assert result["status"] in ("optimal", "feasible") and result["objective"] >= 9552


def test_assignment_anneal_result_is_a_valid_optimal_permutation(cli, tmp_path):
    from scipy.optimize import linear_sum_assignment

    costs = np.random.default_rng(1).integers(1, 50, (30, 30))
    np.save(tmp_path / "c.npy", costs)
    result = json.loads(cli("solve", tmp_path / "c.npy", "--seed", "1", "--json").out)
    p = np.array(result["solution"]) - 1
    assert sorted(p) == list(range(30)) and costs[np.arange(30), p].sum() == result["objective"]
    rows, cols = linear_sum_assignment(costs)
    assert result["objective"] == costs[rows, cols].sum()  # ejection chains reach the optimum
    (tmp_path / "c.csv").write_text("\n".join(",".join(map(str, row)) for row in costs))
    np.testing.assert_array_equal(read_cost_matrix(tmp_path / "c.csv"), costs)


@pytest.mark.parametrize("path", sorted((DATA / "malformed" / "assignment").iterdir()), ids=lambda p: p.name)
def test_malformed_assignment_files(cli, path):
    run = cli("solve", path, "--problem", "assignment")
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1 and str(path) in run.err
    with pytest.raises(ParseError):
        read_cost_matrix(path)


@pytest.mark.parametrize("path", sorted((DATA / "malformed" / "qap").iterdir()), ids=lambda p: p.name)
def test_malformed_qap_files(cli, path):
    run = cli("solve", path)
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1 and str(path) in run.err


def test_a_toy_permutation_instance_is_not_annealed_for_seconds(cli, tmp_path):
    """The default sweeps stop at ``SMALL_SWEEPS_PER_ITEM`` an item (3 facilities took 1.1 million sweeps, 3 s),
    still reach the brute-force optimum, and leave every shipped instance's default as it was."""
    from hopsolve_assignment.plugin import SMALL_SWEEPS_PER_ITEM

    flow = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], float)
    distance = np.array([[0, 5, 2], [5, 0, 3], [2, 3, 0]], float)
    toy = Instance("qap", "three", (flow, distance))
    assert QapProblem().default_params("anneal", toy)["sweeps"] == 3 * SMALL_SWEEPS_PER_ITEM
    path = tmp_path / "three.dat"
    path.write_text("3\n\n0 1 2\n1 0 3\n2 3 0\n\n0 5 2\n5 0 3\n2 3 0\n")
    result = json.loads(cli("solve", path, "--seed", "2", "--json").out)
    optimum = brute_force(lambda p: (flow * distance[np.ix_(list(p), list(p))]).sum(), 3)
    assert result["objective"] == optimum == 34 and result["info"]["replay"]["sweeps"] == 3 * SMALL_SWEEPS_PER_ITEM
    for problem, folder in ((QapProblem(), QAPLIB), (AssignmentProblem(), INSTANCES / "orlib-assign")):
        for path in sorted(folder.glob("*.txt" if folder.name == "orlib-assign" else "*.dat")):
            n = problem._size(problem.read(path))
            assert problem.default_params("anneal", problem.read(path))["sweeps"] == max(
                100, int(problem.anneal_attempts(n) / (n * n)))


def test_solve_out_writes_a_qaplib_solution_that_reads_back(cli, tmp_path):
    """--out wrote a bare permutation, one number a line, which QAPLIB's .sln reader refuses; it is now ``n cost``
    and the permutation, and reads back to the same permutation and cost."""
    out = tmp_path / "nug12.sln"
    run = cli("solve", INSTANCES / "qaplib" / "nug12.dat", "--seed", "1", "--out", out, "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    n, cost, permutation = read_qaplib_solution(out)
    assert n == 12 and cost == result["objective"] and (permutation + 1).tolist() == result["solution"]
    assert cli("solve", INSTANCES / "qaplib" / "nug12.dat", "--out", tmp_path / "x.txt").code == 2


def test_cpsat_searches_for_what_the_limit_leaves_after_building_its_model():
    """CP-SAT was given the whole limit after the model was built (G1: a 1 s limit ended at 1.64 s); with the
    baseline's start it gets what is left (less an allowance for loading the model), and a minimum when building
    spent it all."""
    import time

    from ortools.sat.python import cp_model

    from hopsolve import CpsatParams, solve_cpsat

    model = cp_model.CpModel()
    x = model.NewBoolVar("x")
    model.Maximize(x)
    solver, status = solve_cpsat(model, CpsatParams(workers=1), 1, 5.0, started=time.perf_counter() - 2.0)
    # what is left, less the model's load allowance (LOAD_SHARE of the 2 s spent building it)
    assert status == "optimal" and 2.4 <= solver.parameters.max_time_in_seconds <= 2.5
    solver, _ = solve_cpsat(model, CpsatParams(workers=1), 1, 1.0, started=time.perf_counter() - 0.795)
    assert solver.parameters.max_time_in_seconds == 0.01
    # building spent the limit: CP-SAT would end past it before searching, so it is not started
    solver, status = solve_cpsat(model, CpsatParams(workers=1), 1, 1.0, started=time.perf_counter() - 3.0)
    assert status == "timeout" and solver.parameters.max_time_in_seconds == float("inf")
    solver, _ = solve_cpsat(model, CpsatParams(workers=1), 1, 2.0)
    assert solver.parameters.max_time_in_seconds == 2.0


def _qap_file(path, flow, distance):
    n = len(flow)
    path.write_text(f"{n}\n\n" + "\n".join(" ".join(map(str, row)) for row in flow) + "\n\n"
                    + "\n".join(" ".join(map(str, row)) for row in distance) + "\n")
    return path


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_cpsat_qap_proves_the_true_optimum_when_flows_are_negative(cli, tmp_path, seed):
    """A negative flow × distance made the product variable free (only bounded below): CP-SAT set it for the
    discount and proved "optimal" a permutation 40% worse than the brute-force optimum."""
    rng = np.random.default_rng(seed)
    flow, distance = rng.integers(-9, 10, (6, 6)), rng.integers(0, 10, (6, 6))
    path = _qap_file(tmp_path / "mixed.dat", flow, distance)
    best = min((flow * distance[np.ix_(p, p)]).sum() for p in map(list, itertools.permutations(range(6))))
    result = json.loads(cli("solve", path, "--baseline", "ortools-cpsat", "--time-limit", "20", "--json").out)
    assert result["status"] == "optimal" and result["objective"] == best


def test_integer_solvers_refuse_fractions_close_to_integers(cli, tmp_path):
    """``np.allclose``'s relative tolerance took 100000.5 for an integer: ortools-lsa proved "optimal" 200001,
    where 200000.8 is the optimum."""
    (tmp_path / "frac.csv").write_text("100000.5,100000.4\n100000.4,100000.5\n")
    run = cli("solve", tmp_path / "frac.csv", "--baseline", "ortools-lsa")
    assert run.code == 2 and "ortools-lsa needs integer costs" in run.err
    exact = json.loads(cli("solve", tmp_path / "frac.csv", "--baseline", "scipy-lsa", "--json").out)
    assert exact["objective"] == pytest.approx(200000.8)
    path = _qap_file(tmp_path / "frac.dat", [[0, 1], [1, 0]], [[0, 100000.5], [100000.5, 0]])
    run = cli("solve", path, "--baseline", "ortools-cpsat", "--time-limit", "5")
    assert run.code == 2 and "ortools-cpsat needs integer flows and distances" in run.err


def test_a_qap_model_that_cannot_be_built_within_the_limit_ends_there(cli):
    """Building nug15's 44,100 product variables took 0.3-0.6 s, and a 0.1 s limit ended at 0.7 s."""
    result = json.loads(cli("solve", INSTANCES / "qaplib" / "nug15.dat", "--baseline", "ortools-cpsat",
                            "--time-limit", "0.05", "--json").out)
    assert result["status"] == "timeout" and "leaves no time to search" in result["info"]["note"]
    assert result["wall_time_s"] < 0.2 and result["info"]["time_limit_given"] == 0.05


@pytest.mark.parametrize("costs, message", [
    ([[1.0, float("nan")], [2.0, 3.0]], "must be finite numbers"),
    ([["x", 1], [2, 3]], "must hold numbers"),
    ([[1e300, 1.0], [1.0, 1.0]], "below 2^53"),
    ([[1.0, 2.0, 3.0]], "must be square"),
])
def test_a_cost_matrix_from_python_is_checked_as_a_file_s_costs_are(costs, message):
    from hopsolve import ParameterError

    with pytest.raises(ParameterError, match=message.replace("^", r"\^")):
        AssignmentProblem.from_costs(costs)
