"""The ``cqm`` problem: LP files and dimod CQMs, one-hot groups, penalties, and automatic weights that keep every
optimum a ground state (checked by brute force on random small models)."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

dimod = pytest.importorskip("dimod")

from hopsolve_cqm.encoding import _slack_coefficients, compile_cqm  # noqa: E402
from hopsolve_cqm.plugin import CqmProblem, from_cqm  # noqa: E402

from hopsolve.backends.exact import ExactBackend  # noqa: E402
from hopsolve.errors import ParameterError, ParseError  # noqa: E402
from hopsolve.solving import solve_instance  # noqa: E402

from .conftest import INSTANCES  # noqa: E402


def random_cqm(seed: int) -> dimod.ConstrainedQuadraticModel:
    """3–6 binary variables (one possibly spin), a random integer objective and 1–3 random linear constraints of
    every kind (equality, ≤, ≥, discrete)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 7))
    names = [f"v{i}" for i in range(n)]
    spin = rng.random() < 0.3
    variables = [dimod.Spin(v) if spin and i == 0 else dimod.Binary(v) for i, v in enumerate(names)]
    cqm = dimod.ConstrainedQuadraticModel()
    objective = sum(int(rng.integers(-4, 5)) * x for x in variables)
    for i, j in itertools.combinations(range(n), 2):
        if rng.random() < 0.4:
            objective += int(rng.integers(-3, 4)) * variables[i] * variables[j]
    cqm.set_objective(objective)
    binaries = [x for i, x in enumerate(variables) if not (spin and i == 0)]
    for k in range(int(rng.integers(1, 4))):
        kind = rng.choice(["eq", "le", "ge", "discrete"])
        members = list(rng.choice(len(binaries), size=int(rng.integers(2, min(4, len(binaries)) + 1)),
                                  replace=False))
        if kind == "discrete":
            labels = [binaries[m].variables[0] for m in members]
            if any(any(v in cqm.constraints[c].lhs.variables for c in cqm.discrete) for v in labels):
                continue
            cqm.add_discrete(labels, label=f"d{k}")
            continue
        coefficients = rng.integers(1, 4, size=len(members))
        lhs = sum(int(c) * binaries[m] for c, m in zip(coefficients, members))
        rhs = int(rng.integers(0, coefficients.sum() + 1))
        constraint = lhs == rhs if kind == "eq" else lhs <= rhs if kind == "le" else lhs >= rhs
        cqm.add_constraint(constraint, label=f"c{k}")
    return cqm


def brute_force(cqm: dimod.ConstrainedQuadraticModel) -> tuple[float | None, list[dict]]:
    variables = list(cqm.variables)
    # each variable's values within its bounds (dimod's check_feasible does not look at bounds)
    values = [(-1, 1) if cqm.vartype(v) is dimod.SPIN else
              tuple(b for b in (0, 1) if cqm.lower_bound(v) <= b <= cqm.upper_bound(v)) for v in variables]
    best, optima = None, []
    for assignment in itertools.product(*values):
        sample = dict(zip(variables, assignment))
        if not cqm.check_feasible(sample):
            continue
        value = cqm.objective.energy(sample)
        if best is None or value < best - 1e-9:
            best, optima = value, [sample]
        elif abs(value - best) <= 1e-9:
            optima.append(sample)
    return best, optima


@pytest.mark.parametrize("seed", range(40))
def test_automatic_weights_make_every_optimum_a_ground_state(seed):
    cqm = random_cqm(seed)
    problem = CqmProblem()
    instance = from_cqm(cqm)
    energy = problem.encode(instance)
    assert energy.num_variables <= 20  # random_cqm's sizes keep every model small enough to enumerate
    best, optima = brute_force(cqm)
    ground = ExactBackend().solve(energy, ExactBackend().params({"max_states": 4096}))
    if best is None:  # an infeasible model: no ground state may be reported feasible
        assert not any(problem.decode(instance, energy, s).feasible for s in ground.states)
        return
    for state in ground.states:
        solution = problem.decode(instance, energy, state)
        assert solution.feasible and solution.objective == pytest.approx(best)
    for sample in optima:
        state = problem.state_of(instance, energy, sample)
        assert energy.energy(state) == pytest.approx(ground.best_energy)
        assert problem.decode(instance, energy, state).value == {str(v): x for v, x in sample.items()}


def test_discrete_constraints_become_one_hot_groups_and_anneal_stays_inside_them():
    cqm = dimod.ConstrainedQuadraticModel()
    for node in range(6):
        cqm.add_discrete([f"x{node}_{c}" for c in range(3)], label=f"node{node}")
    for u, v in [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (0, 5)]:
        for c in range(3):
            cqm.add_constraint(dimod.Binary(f"x{u}_{c}") + dimod.Binary(f"x{v}_{c}") <= 1, label=f"e{u}{v}{c}")
    instance = from_cqm(cqm, "triangles")
    energy = CqmProblem().encode(instance)
    assert energy.groups is not None and energy.groups.count == 6 and energy.groups.names[0] == "node0"
    assert set(energy.term_names) == {"objective", "onehot", "inequality"} and energy.num_variables == 18
    result, solution = solve_instance(_registry(), "cqm", instance, seed=3, params={"sweeps": 300})
    assert result.feasible and result.params["moves"] == "onehot" and result.violations == {}


def test_violations_are_reported_by_constraint_label():
    cqm = dimod.ConstrainedQuadraticModel()
    a, b = dimod.Binary("a"), dimod.Binary("b")
    cqm.set_objective(-a - b)
    cqm.add_constraint(a + b <= 1, label="at most one")
    cqm.add_constraint(a - b == 0, label="same")
    solution = CqmProblem().score(from_cqm(cqm), {"a": 1, "b": 0})
    assert not solution.feasible and set(solution.violations) == {"same"}
    assert solution.objective == -1


def test_spin_variables_are_reported_as_spins():
    cqm = dimod.ConstrainedQuadraticModel()
    s, t = dimod.Spin("s"), dimod.Spin("t")
    cqm.set_objective(s * t + 0.5 * s)
    cqm.add_constraint(s + t >= 0, label="not both down")
    result, _ = solve_instance(_registry(), "cqm", from_cqm(cqm), seed=1, backend="exact")
    assert result.feasible and result.solution == {"s": -1, "t": 1} and result.objective == pytest.approx(-1.5)


def test_slack_digits_reach_every_value_and_nothing_above():
    for upper in range(0, 40):
        digits = _slack_coefficients(upper)
        sums = {sum(d for d, bit in zip(digits, bits) if bit) for bits in itertools.product((0, 1), repeat=len(digits))}
        assert sums == set(range(upper + 1))


def test_lp_files_round_trip_and_solve_from_the_cli(cli, tmp_path):
    path = INSTANCES / "cqm" / "knapsack12.lp"
    instance = CqmProblem().read(path)
    again = from_cqm(dimod.lp.loads(dimod.lp.dumps(instance.data.original)))
    assert compile_cqm(again.data).num_variables == compile_cqm(instance.data).num_variables
    run = cli("solve", path, "--backend", "exact", "--json")
    best, _ = brute_force(instance.data.original)
    import json

    record = json.loads(run.out)
    assert run.code == 0 and record["feasible"] and record["objective"] == pytest.approx(best)
    cpsat = json.loads(cli("solve", path, "--baseline", "ortools-cpsat", "--json").out)
    assert cpsat["status"] == "optimal" and cpsat["objective"] == pytest.approx(best)


@pytest.mark.parametrize("text, fragment", [
    ("Minimize\n obj: x\nSubject To\n c1: x <= <= 1\nBinary\n x\nEnd\n", "not a readable LP file"),
    # HiGHS's word for a syntax error was "File not existent or illegal file format", of a file that exists
    ("Minimize\n obj: a + b\nSubjct To\n c1: a + b >= 1\nBinary\n a b\nEnd\n", "syntax error and names no line"),
    ("garbage here", "defines no variables"),
    ("\\ only a comment\n", "defines no variables"),
    ("Minimize\n obj: x +\nSubject To\n", "REAL"),
    ("Minimize\n obj: 2 x\nSubject To\n c1: x + y <= 1\nGeneral\n x\nBounds\n 0 <= x <= 5\nEnd\n", "INTEGER"),
    ("\xff\xfe garbage", "LP file"),
])
def test_malformed_or_unsupported_lp_files_are_one_line_errors(cli, tmp_path, text, fragment):
    path = tmp_path / "bad.lp"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ParseError, match=fragment):
        CqmProblem().read(path)
    run = cli("solve", path)
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1 and "bad.lp" in run.err


def test_integers_bounded_within_0_and_1_are_solved_as_bits(cli, tmp_path):
    """Modelling tools write 0/1 variables as ``General`` with ``0 <= x <= 1``: they were refused as integers.
    Now they are bits (a square x² is x; bounds of one value fix them) and the optimum is the model's."""
    cqm = dimod.ConstrainedQuadraticModel()
    x, y, z, w = (dimod.Integer(v, lower_bound=0, upper_bound=1) for v in "xyzw")
    fixed = dimod.Integer("f", lower_bound=1, upper_bound=1)
    cqm.set_objective(3 * x * x - 2 * x * y - 4 * y + z - 2 * w + fixed * w)
    cqm.add_constraint(x + y + z <= 1, label="c1")
    cqm.add_constraint(y + z + fixed >= 1, label="c2")
    cqm.add_constraint(w - y <= 0, label="c3")
    best, optima = brute_force(cqm)
    problem = CqmProblem()
    instance = from_cqm(cqm)
    energy = problem.encode(instance)
    ground = ExactBackend().solve(energy, ExactBackend().params({"max_states": 4096}))
    answer = problem.decode(instance, energy, ground.best)
    assert answer.feasible and answer.objective == pytest.approx(best) and answer.value in [
        {str(v): value for v, value in sample.items()} for sample in optima]
    assert answer.value["f"] == 1 and list(answer.value) == ["x", "y", "z", "w", "f"]
    path = tmp_path / "general.lp"
    path.write_text("Minimize\n obj: - x - 2 y + z\nSubject To\n c1: x + y <= 1\nBounds\n 0 <= x <= 1\n"
                    " 0 <= y <= 1\n z = 1\nGeneral\n x y z\nEnd\n")
    run = cli("solve", path, "--seed", "1")
    assert run.code == 0 and "objective -1 " in run.out and "{'x': 0, 'y': 1, 'z': 1}" in run.out, run.out + run.err
    path.write_text("Minimize\n obj: - x\nSubject To\n c1: x <= 3\nBounds\n 0.2 <= x <= 0.8\nGeneral\n x\nEnd\n")
    run = cli("solve", path)
    assert run.code == 2 and "integer variable 'x' has bounds [0.2, 0.8], which allow neither 0 nor 1" in run.err


def test_quadratic_constraints_and_unscalable_coefficients_are_refused():
    cqm = dimod.ConstrainedQuadraticModel()
    a, b = dimod.Binary("a"), dimod.Binary("b")
    cqm.add_constraint(a * b <= 0, label="q")
    with pytest.raises(ParameterError, match="quadratic"):
        CqmProblem().encode(from_cqm(cqm))
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.add_constraint(np.pi * a + b <= 2.5, label="irrational")
    with pytest.raises(ParameterError, match="not multiples"):
        CqmProblem().encode(from_cqm(cqm))


def test_soft_constraints_are_refused_not_held_hard():
    """A soft constraint (weight 0.5) was solved as a hard one, its weight ignored: the answer then missed the
    model's optimum under dimod's meaning, without a word."""
    import hopsolve

    b0, b1 = dimod.Binaries(["b0", "b1"])
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-b0 - b1)
    cqm.add_constraint(b0 + b1 <= 1, label="hard")
    cqm.add_constraint(b0 - b1 <= 0, label="soft", weight=0.5)
    with pytest.raises(ParameterError, match="constraint 'soft' is soft"):
        hopsolve.solve(cqm, seed=1)
    with pytest.raises(ParameterError, match="soft"):
        hopsolve.solve(cqm, baseline="ortools-cpsat", seed=1)


@pytest.mark.parametrize(("constraint", "said"), [
    ("b0 + b1 >= 3", "its left side is at most 2 < 3"),  # was "its smallest left side is -2 > -3": negated
    ("b0 + b1 + 2 <= 1", "its left side is at least 2 > 1"),
    ("2 * b0 + 2 * b1 - 1 >= 5", "its left side is at most 3 < 5"),
    ("0.5 * b0 <= -1", "its left side is at least 0 > -1"),  # was scaled to 5 and -10
    # equalities were solved and reported infeasible (exit 0) where an inequality that can never hold is refused
    ("b0 + b1 + 1 == 4", "its left side is between 1 and 3, never 4"),
    ("2 * b0 + 2 * b1 == 1", "its left side less its constant is always a multiple of 2, and 1 is not"),
    ("0.5 * b0 + 0.5 * b1 - 1 == -0.25",
     "its left side less its constant is always a multiple of 0.5, and 0.75 is not"),
])
def test_a_constraint_that_can_never_hold_is_named_in_the_model_s_own_terms(constraint, said):
    b0, b1 = dimod.Binaries(["b0", "b1"])
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-b0 - b1)
    cqm.add_constraint(eval(constraint), label="c")  # noqa: S307 - the test's own literal expressions
    with pytest.raises(ParameterError, match=re.escape(f"constraint 'c' can never hold ({said})")):
        CqmProblem().encode(from_cqm(cqm))


def test_a_model_without_variables_reports_its_offset_as_its_objective():
    """dimod gives an empty sample the energy 0 whatever the offset: the result said objective 0, energy 3."""
    import hopsolve

    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(dimod.QuadraticModel() + 3.0)
    result = hopsolve.solve(cqm, seed=1)
    assert result.objective == 3.0 == result.energy


def _registry():
    from hopsolve.plugins import build_registry

    return build_registry()


def knapsack(n: int, seed: int) -> dimod.ConstrainedQuadraticModel:
    rng = np.random.default_rng(seed)
    weights, values = rng.integers(3, 20, n), rng.integers(3, 25, n)
    cqm = dimod.ConstrainedQuadraticModel()
    x = [dimod.Binary(f"x{i}") for i in range(n)]
    cqm.set_objective(sum(-int(values[i]) * x[i] for i in range(n)))
    cqm.add_constraint(sum(int(weights[i]) * x[i] for i in range(n)) <= int(weights.sum() * 0.45), label="capacity")
    return cqm


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_anneal_sets_every_slack_after_each_move_and_tracks_the_energy(rule):
    from hopsolve.backends.anneal import AnnealBackend

    instance = from_cqm(knapsack(14, 3))
    energy = CqmProblem().encode(instance)
    assert energy.slacks is not None and energy.slacks.count == 1
    params = AnnealBackend().params({"rule": rule, "sweeps": 300, "reads": 4, "trace": True, "keep_best": False})
    samples = AnnealBackend().solve(energy, params, seed=2)
    assert samples.derived["slack"] == "set after every move"
    assert np.array_equal(samples.states, energy.slacks.slack_bits(samples.states))  # best slack, always
    assert np.allclose(samples.per_read["trace"][:, -1], energy.energies(samples.states))
    best, _ = brute_force(instance.data.original)
    result, _ = solve_instance(_registry(), "cqm", instance, seed=2, params={"sweeps": 2000})
    assert result.feasible and result.objective == pytest.approx(best)


def test_the_readme_constrained_models_example_runs_and_prints_the_optimum(capsys):
    from .conftest import ROOT

    section = (ROOT / "README.md").read_text().split("\n## Constrained models\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    exec(compile(block, "README.md", "exec"), {})
    printed = float(capsys.readouterr().out.strip())
    best, _ = brute_force(_readme_model())
    assert printed == best == -9.0


def _readme_model() -> dimod.ConstrainedQuadraticModel:
    x = list(dimod.Binaries([f"x{i}" for i in range(4)]))
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-5 * x[0] - 4 * x[1] - 3 * x[2] - 2 * x[3])
    cqm.add_constraint(4 * x[0] + 3 * x[1] + 2 * x[2] + x[3] <= 6, label="capacity")
    return cqm


@pytest.mark.parametrize("seed", range(15))
def test_fast_feasibility_and_violations_agree_with_dimod(seed):
    cqm = random_cqm(seed)
    instance = from_cqm(cqm)
    problem = CqmProblem()
    rng = np.random.default_rng(seed)
    for _ in range(20):
        sample = {v: int(rng.choice([-1, 1]) if cqm.vartype(v) is dimod.SPIN else rng.integers(0, 2))
                  for v in cqm.variables}
        solution = problem.score(instance, sample)
        assert solution.feasible == cqm.check_feasible(sample, atol=1e-6)
        expected = {str(k): float(v) for k, v in cqm.violations(sample, skip_satisfied=True).items() if v > 0}
        assert solution.violations == pytest.approx(expected)


@pytest.mark.parametrize("objective, constraint, message", [
    ("obj: 0x1f x + y", "c1: x + y >= 1", r"hex.lp:2: '0x1f' is not a plain decimal number"),
    ("obj: x + y", "c1: x + y >= 3", r"hex.lp: cqm: constraint 'c1' can never hold"),
    ("obj: x + y", "c1: x + >= 1", r"hex.lp: not a readable LP file"),
])
def test_an_lp_file_s_faults_are_one_line_naming_the_file(tmp_path, objective, constraint, message):
    """HiGHS read ``0x1f`` as 31 (every other reader refuses it), a constraint that can never hold was refused
    without the file's name, and a malformed constraint printed HiGHS's own line (from C, in a process of its own
    here) before hopsolve's."""
    import subprocess
    import sys

    path = tmp_path / "hex.lp"
    path.write_text(f"Minimize\n {objective}\nSubject To\n {constraint}\nBinary\n x\n y\nEnd\n")
    run = subprocess.run([sys.executable, "-m", "hopsolve.cli", "solve", str(path)], capture_output=True, text=True)
    lines = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
    assert run.returncode == 2 and len(lines) == 1 and re.search(message, lines[0]), lines


@pytest.mark.parametrize("where", ["before Maximize", "after obj:"])
@pytest.mark.parametrize("space", ["\xa0", "\u2003", "\x0b", "\x0c", "\x85"])
def test_whitespace_the_lp_reader_does_not_know_is_refused_naming_its_line(tmp_path, where, space):
    """A non-breaking space pasted before ``Maximize`` gave an empty objective (every solver then called x = y = 0
    optimal where 3 is the best), and one after ``obj:`` made ``3`` part of a variable's name: the reader takes only
    spaces, tabs and line ends as whitespace, Python's ``split`` (which the other checks use) all of these."""
    import dimod

    head, objective = ("Maximize", f" obj:{space}3 x + 2 y") if where == "after obj:" else \
        (f"{space}Maximize", " obj: 3 x + 2 y")
    path = tmp_path / "nbsp.lp"
    body = f"{head}\n{objective}\nSubject To\n c1: x + y <= 1\nBinary\n x y\nEnd\n"
    path.write_text("\\ a comment may hold\xa0one\n" + body, encoding="utf-8")
    line = 2 if where == "before Maximize" else 3
    with pytest.raises(ParseError, match=rf"nbsp.lp:{line}: a character U\+{ord(space):04X} that looks like a space"):
        CqmProblem().read(path)
    path.write_text(path.read_text(encoding="utf-8").replace(space, " "), encoding="utf-8")
    instance = CqmProblem().read(path)  # the same file with plain spaces, and the comment's, is read as meant
    original = instance.data.original
    assert set(original.variables) == {"x", "y"} and dict(original.objective.linear) == {"x": -3.0, "y": -2.0}
    assert isinstance(original, dimod.ConstrainedQuadraticModel)


def test_a_cqm_solution_is_written_as_json_and_reads_back(cli, tmp_path):
    """``--out`` wrote the assignment as a Python dict's repr (single quotes), neither JSON nor an LP format."""
    import json

    out = tmp_path / "knapsack.json"
    run = cli("solve", INSTANCES / "cqm" / "knapsack12.lp", "--seed", "1", "--out", out, "--json")
    assert run.code == 0
    assert json.loads(out.read_text()) == json.loads(run.out)["solution"]
    assert cli("solve", INSTANCES / "cqm" / "knapsack12.lp", "--out", tmp_path / "k.txt").code == 2


def test_coefficients_near_an_integer_are_scaled_exactly_not_rounded(cli, tmp_path):
    """A relative tolerance of 1e-9 took 4000000004.4 for the integer 4000000004: CP-SAT proved 'optimal' 0.2 where
    the optimum is 0 (the all-zero state), as exact enumeration finds."""
    path = tmp_path / "frac.lp"
    path.write_text("Minimize\n obj: 4000000004.4 x1 + 4000000004.4 x2 - 8000000008.6 y\nSubject To\n"
                    " c1: y - x1 <= 0\n c2: y - x2 <= 0\nBinary\n x1 x2 y\nEnd\n")
    cpsat = json.loads(cli("solve", path, "--baseline", "ortools-cpsat", "--time-limit", "5", "--json").out)
    exact = json.loads(cli("solve", path, "--backend", "exact", "--json").out)
    assert exact["objective"] == 0 and cpsat["status"] == "optimal" and cpsat["objective"] == exact["objective"]


def test_a_spin_model_s_decimals_summed_by_the_conversion_to_bits_still_scale():
    """The conversion to bits sums an offset over every spin (105 became 104.9999999999998 at 100 spins): a
    tolerance of one product's rounding refused the model as 'not multiples of 10^-6'."""
    import hopsolve

    cqm = dimod.ConstrainedQuadraticModel()
    spins = [dimod.Spin(f"s{i}") for i in range(100)]
    cqm.set_objective(sum(-s for s in spins))
    cqm.add_constraint(sum(0.1 * s for s in spins) <= 0.5, label="budget")
    assert hopsolve.solve(cqm, baseline="ortools-cpsat", time_limit=10).objective == -4.0


@pytest.mark.parametrize("head, maximises", [
    ("Maximize", True), ("\\ a comment\n\nMAXIMUM", True), ("max", True), ("Minimize", False),
    ("MINIMISE", False), ("\\ maximize in a comment\nMinimize", False),
])
def test_a_maximised_lp_objective_is_shown_as_the_file_states_it_beside_its_negation(cli, tmp_path, head,
                                                                                      maximises):
    """dimod minimises a ``Maximize`` objective's negation and keeps no sense: 3x + 2y + 4z at its best (7) was
    printed as "objective -7", with nothing saying the file's objective is 7."""
    path = tmp_path / "values.lp"
    path.write_text(f"{head}\n obj: 3 x + 2 y + 4 z\nSubject To\n c1: x + y + z <= 2\nBinary\n x y z\nEnd\n")
    run = cli("solve", path, "--backend", "exact")
    record = json.loads(cli("solve", path, "--backend", "exact", "--json").out)
    baseline = json.loads(cli("solve", path, "--baseline", "ortools-cpsat", "--json").out)
    objective = -7 if maximises else 0
    assert run.code == 0 and record["objective"] == baseline["objective"] == objective
    for note in (record["info"].get("solution_note"), baseline["info"].get("solution_note")):
        if maximises:
            assert note == ("the LP file maximises its objective, which is 7 here; hopsolve minimises its negation, "
                            "the objective -7 shown")
        else:
            assert note is None
    assert ("note: the LP file maximises its objective, which is 7 here" in run.out) == maximises


def test_bounds_that_fix_a_binary_variable_are_held(cli, tmp_path):
    """``0 <= a <= 0`` and ``b = 1`` were kept by dimod and read by nothing: every solver answered a = 1, b = 0
    (objective -2), exact and CP-SAT calling it optimal, where the bounds leave a = 0, b = 1, c = 1 (objective 0)."""
    path = tmp_path / "fixed.lp"
    path.write_text("Minimize\n obj: - a + b - c\nSubject To\n c1: a + b + c >= 1\nBounds\n 0 <= a <= 0\n b = 1\n"
                    "Binary\n a b c\nEnd\n")
    for solver in (("--backend", "exact"), ("--baseline", "ortools-cpsat"), ("--backend", "anneal")):
        record = json.loads(cli("solve", path, *solver, "--seed", "1", "--time-limit", "2", "--json").out)
        assert record["objective"] == 0 and record["solution"] == {"a": 0, "b": 1, "c": 1}, solver
        assert record["status"] in ("optimal", "feasible")
    instance = CqmProblem().read(path)
    assert not CqmProblem().score(instance, {"a": 1, "b": 0, "c": 1}).feasible
    path.write_text("Minimize\n obj: a + b\nSubject To\n c1: a + b >= 1\nBounds\n 0.2 <= a <= 0.8\nBinary\n a b\n"
                    "End\n")
    run = cli("solve", path)
    assert run.code == 2 and "bounds [0.2, 0.8], which allow neither 0 nor 1" in run.err


def _assignment_lp(costs: np.ndarray, extra: str = "", columns_first: bool = False) -> str:
    """An assignment with these costs written as an LP model (x{i}_{j}: row i takes column j)."""
    n = len(costs)
    terms = " + ".join(f"{costs[i, j]} x{i}_{j}" for i in range(n) for j in range(n))
    rows = [f" r{i}: " + " + ".join(f"x{i}_{j}" for j in range(n)) + " = 1\n" for i in range(n)]
    cols = [f" c{j}: " + " + ".join(f"x{i}_{j}" for i in range(n)) + " = 1\n" for j in range(n)]
    constraints = "".join(cols + rows if columns_first else rows + cols) + extra
    names = " ".join(f"x{i}_{j}" for i in range(n) for j in range(n))
    return f"Minimize\n obj: {terms}\nSubject To\n{constraints}Binary\n {names}\nEnd\n"


@pytest.mark.parametrize("columns_first", [False, True])
def test_an_assignment_written_as_a_cqm_is_annealed_with_the_assignment_s_moves(cli, tmp_path, columns_first):
    """An assignment's rows became one-hot groups and its columns penalties that every move of one row breaks
    twice: anneal sat at its first feasible state (606 for 10 s where 165 is optimal; a note said so). Its grid
    is now found, and the assignment problem's exchange moves keep both families: the optimum (scipy's) at 1 s."""
    from scipy.optimize import linear_sum_assignment

    costs = np.random.default_rng(1).integers(1, 100, (12, 12))
    rows, cols = linear_sum_assignment(costs)
    path = tmp_path / "assign.lp"
    path.write_text(_assignment_lp(costs, columns_first=columns_first))
    record = json.loads(cli("solve", path, "--seed", "1", "--time-limit", "1", "--json").out)
    assert record["objective"] == costs[rows, cols].sum() and record["feasible"]
    assert "solution_note" not in record["info"] and record["params"]["chain_probability"] == 1.0
    chosen = [(i, j) for i in range(12) for j in range(12) if record["solution"][f"x{i}_{j}"]]
    assert sorted(i for i, _ in chosen) == sorted(j for _, j in chosen) == list(range(12))


def test_an_assignment_model_s_permutation_view_scores_each_permutation_as_its_energy(tmp_path):
    """The view the exchange moves read must give every permutation the energy of its bit state (objective plus
    zero penalties, with the offset), and a state that is not a permutation must be infeasible."""
    import dimod

    costs = np.random.default_rng(3).integers(-20, 100, (5, 5))
    path = tmp_path / "a5.lp"
    path.write_text(_assignment_lp(costs, columns_first=True).replace("obj: ", "obj: 7 + "))
    problem = CqmProblem()
    instance = problem.read(path)
    energy = problem.encode(instance)
    view = energy.permutation
    assert view is not None and energy.layout is view.layout
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.permutation(5)
        state = view.layout.state(p, energy.vartype, energy.num_variables)
        assert view.energy(p, energy.weights["objective"]) == pytest.approx(energy.energy(state))
        solution = problem.decode(instance, energy, state)
        sample = {v: int(b) for v, b in zip(instance.data.variables, state)}
        assert solution.feasible and solution.objective == pytest.approx(instance.data.original.objective.energy(
            sample)) and instance.data.original.check_feasible(sample)
    state = view.layout.state(np.arange(5), energy.vartype, energy.num_variables)
    state[view.layout.indices()[0, 1]] = 1  # row 0 takes two columns
    assert not problem.decode(instance, energy, state).feasible
    assert isinstance(instance.data.original, dimod.ConstrainedQuadraticModel)


def test_crossing_one_hot_constraints_that_are_not_an_assignment_s_grid_say_so(cli, tmp_path):
    """With a side constraint the feasible states are not every permutation: the exchange moves could leave the
    feasible set, so the one-hot moves stay and the note says what they cannot do."""
    costs = np.random.default_rng(1).integers(1, 100, (4, 4))
    path = tmp_path / "side.lp"
    path.write_text(_assignment_lp(costs, extra=" side: x0_0 + x1_1 <= 1\n"))
    record = json.loads(cli("solve", path, "--seed", "1", "--time-limit", "1", "--json").out)
    assert record["info"]["solution_note"].startswith("some variables are in two `= 1` constraints")
    assert record["params"]["chain_probability"] == 0.0
    cpsat = json.loads(cli("solve", path, "--baseline", "ortools-cpsat", "--json").out)
    assert "solution_note" not in cpsat["info"]
    n = 4
    rows_only = "".join(f" r{i}: " + " + ".join(f"x{i}_{j}" for j in range(n)) + " = 1\n" for i in range(n))
    text = _assignment_lp(costs)
    path.write_text(text[:text.index("Subject To\n") + 11] + rows_only + text[text.index("Binary"):])
    rows_only_record = json.loads(cli("solve", path, "--seed", "1", "--time-limit", "1", "--json").out)
    assert "solution_note" not in rows_only_record["info"]


def test_a_long_cqm_solution_is_shown_in_part_on_the_terminal(cli, tmp_path):
    """Every variable of a CQM's answer was printed (400 for a 20 × 20 assignment); lists were cut at 60."""
    names = [f"x{k}" for k in range(70)]
    path = tmp_path / "wide.lp"
    path.write_text("Minimize\n obj: " + " + ".join(names) + "\nSubject To\n c1: " + " + ".join(names)
                    + " >= 1\nBinary\n " + " ".join(names) + "\nEnd\n")
    shown = cli("solve", path, "--seed", "1", "--time-limit", "1").out.splitlines()[-1]
    assert shown.startswith("solution: {'x0': ") and shown.endswith("} … (10 more: --out or --json has them all)")
    assert "'x59'" in shown and "'x60'" not in shown


def test_a_baseline_s_refusal_of_a_model_names_its_file(cli, tmp_path):
    """"ortools-cpsat needs objective coefficients that are multiples of 10^-6" named neither file nor line."""
    path = tmp_path / "fine.lp"
    path.write_text("Minimize\n obj: 0.1234567 a + b\nSubject To\n c1: a + b >= 1\nBinary\n a b\nEnd\n")
    run = cli("solve", path, "--baseline", "ortools-cpsat")
    assert run.code == 2 and run.err.strip() == (f"hopsolve: error: {path}: ortools-cpsat needs objective "
                                                 "coefficients that are multiples of 10^-6")


@pytest.mark.parametrize("head, objective, note", [
    ("\\* a knapsack, the objective after the block on its line is a comment too *\\\nMaximize", -3, True),
    ("Maximise", -3, True), ("MINIMISE\\ British", 0, False),
    ("\\* max profit is\n computed elsewhere *\\\nMinimize", 0, False),
    ("\\* This model\n   is a knapsack *\\\nMaximize", -3, True),
])
def test_objective_keywords_the_reader_does_not_know_are_not_read_as_an_empty_objective(cli, tmp_path, head,
                                                                                       objective, note):
    """dimod's reader took ``Maximise`` for an empty objective: every solver answered 0 (exact: "optimal") where 3
    is the maximum, and the Maximize note vouched for it; block comments were not skipped when the sense was read."""
    path = tmp_path / "m.lp"
    path.write_text(f"{head}\n obj: 3 x + 2 y\nSubject To\n c1: x + y <= 1\nBinary\n x y\nEnd\n")
    record = json.loads(cli("solve", path, "--backend", "exact", "--json").out)
    assert record["objective"] == objective and ("solution_note" in record["info"]) == note


@pytest.mark.parametrize("head, word, line", [
    ("\\ a model\nmaximize.", "maximize.", 2), ("Mimimize", "Mimimize", 1),
    ("\\* a knapsack *\\ Maximize", "obj:", 2),  # a backslash comments out the rest of its line, Maximize too
])
def test_an_objective_keyword_the_reader_does_not_know_is_refused_naming_its_line(cli, tmp_path, head, word, line):
    """The reader skips words before its first section: a typo ("Mimimize") and the objective after it were read as
    an empty objective, 0 "optimal" where -3 is."""
    path = tmp_path / "m.lp"
    path.write_text(f"{head}\n obj: 3 x + 2 y\nSubject To\n c1: x + y <= 1\nBinary\n x y\nEnd\n")
    run = cli("solve", path)
    assert run.code == 2 and run.err.strip() == (f"hopsolve: error: {path}:{line}: {word!r} is not an objective "
                                                 "keyword the LP reader knows, and what follows it up to 'Subject' "
                                                 "would be skipped (an empty objective): write Minimize or Maximize")
    path.write_text("Subject To\n c1: x + y >= 1\nBinary\n x y\nEnd\n")  # no objective section: a feasibility model
    assert cli("solve", path, "--backend", "exact").code == 0


@pytest.mark.parametrize("head, objective, note", [
    ("Problem\nMinimize", 0, False),  # a title before the first section: skipped by the reader, harmlessly
    ("\\*****************\n\\* Problem: foo *\n\\*****************\nMaximise", -5, True),  # banner lines
    ("\\*****************\n\\* Problem: foo *\n\\*****************\nMaximize", -5, True),
    ("\\* unclosed\nMaximize", -5, True),
])
def test_words_and_banners_before_the_first_section_are_read_as_the_reader_reads_them(cli, tmp_path, head,
                                                                                      objective, note):
    """A title line ("Problem") was refused though the reader skips it; after banner lines of backslashes the
    British keyword was not rewritten and a Maximize file had no note (the check took them for one open block)."""
    path = tmp_path / "m.lp"
    path.write_text(f"{head}\n obj: 2 x + 3 y\nSubject To\n c1: x + y >= 1\nBinary\n x y\nEnd\n")
    record = json.loads(cli("solve", path, "--backend", "exact", "--json").out)
    expected = 2 if objective == 0 else objective  # the minimum of 2x + 3y with x + y >= 1 is 2
    assert record["objective"] == expected and ("solution_note" in record["info"]) == note


def test_a_cqm_answer_keeps_the_model_s_labels_and_refuses_two_with_one_text():
    """Labels were written as text: 0 and "0" merged (one variable lost from the answer, its value shown for the
    other: objective -1 beside {'0': 0}); two constraints 1 and "1" shared one violation; and an integer-labelled
    model's answer was keyed by strings, which ``cqm.check_feasible`` refused (unknown variable 0)."""
    import dimod

    import hopsolve

    a, b = dimod.Binary(0), dimod.Binary("0")
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-a + 2 * b)
    cqm.add_constraint(a + b == 1, label="one")
    with pytest.raises(ParameterError, match="variables 0 and '0' would be written as the same key '0'"):
        hopsolve.solve(cqm, seed=1)
    x = [dimod.Binary(i) for i in range(3)]
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-x[0] + 2 * x[1] - x[2])
    cqm.add_constraint(x[0] + x[1] + x[2] <= 1, label=1)
    cqm.add_constraint(x[0] + x[2] >= 1, label="1")
    with pytest.raises(ParameterError, match="constraints 1 and '1' would be written as the same key '1'"):
        hopsolve.solve(cqm, seed=1)
    cqm.remove_constraint("1")
    result = hopsolve.solve(cqm, seed=1)
    assert result.solution == {0: 1, 1: 0, 2: 0} and cqm.check_feasible(result.solution) and result.feasible


def test_an_equality_that_is_not_one_hot_is_crossed_not_frozen_in(tmp_path):
    """The β range of one-hot moves was measured on the objective alone; an equality no move holds (its penalty
    in the hundreds) then froze the run in its first basin: 0 of 10 reads feasible on seeds 0 and 5, 100,000
    sweeps too, where exact finds 4."""
    path = tmp_path / "eq.lp"
    path.write_text("Minimize\n obj: - 3 a + 3 b + 4 c + 2 d\nSubject To\n e1: 2 b + 1.5 c + 6 d - 2 a = 1.5\n"
                    " e2: a + b + c + d >= 2\nBinary\n a b c d\nEnd\n")
    import hopsolve

    registry = hopsolve.build_registry()
    instance = registry.problem("cqm").read(path)
    exact, _ = hopsolve.solve_instance(registry, "cqm", instance, backend="exact", seed=1)
    assert exact.status == "optimal" and exact.objective == 4
    for seed in range(6):
        result, _ = hopsolve.solve_instance(registry, "cqm", instance, seed=seed)
        assert result.feasible and result.objective == 4, seed


def test_a_variable_named_like_a_slack_unit_is_refused_naming_it():
    """A variable 'slack[cap][0]' beside an inequality 'cap' was refused as "two variables share a label": the
    user's labels were distinct, the clash was with the slack unit's made-up name."""
    import dimod

    import hopsolve

    x = [dimod.Binary(f"x{i}") for i in range(3)]
    s = dimod.Binary("slack[cap][0]")
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-x[0] - 2 * x[1] - 3 * x[2] + s)
    cqm.add_constraint(x[0] + x[1] + x[2] + s <= 2, label="cap")
    with pytest.raises(ParameterError, match=r"variable 'slack\[cap\]\[0\]' has the name hopsolve gives a slack"):
        hopsolve.solve(cqm, backend="anneal", seed=1)
