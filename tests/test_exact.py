"""The exact backend against an independent brute force, and through the CLI on .qubo files."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import scipy.sparse as sp
from hopsolve_qubo.qubo_format import QuboModel, read_qubo, write_qubo
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import Energy, TooLargeError
from hopsolve.backends.exact import ExactBackend
from hopsolve.testing import brute_force_minimum, random_energy


def brute_force_qubo(q: np.ndarray) -> float:
    """min xᵀQx over all bit vectors, in chunks, written without any hopsolve code."""
    n = len(q)
    best = np.inf
    for start in range(0, 1 << n, 1 << 16):
        codes = np.arange(start, min(start + (1 << 16), 1 << n))
        x = ((codes[:, None] >> np.arange(n)) & 1).astype(float)
        best = min(best, float(np.einsum("si,ij,sj->s", x, q, x).min()))
    return best


def random_qubo(n: int, seed: int, density: float = 0.6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.triu(rng.uniform(-1, 1, (n, n)) * (rng.random((n, n)) < density))


@pytest.mark.parametrize("n", [1, 2, 7, 12, 16, 20])
def test_cli_exact_finds_true_minimum(tmp_path, cli, n):
    q = random_qubo(n, seed=n)
    path = tmp_path / f"random{n}.qubo"
    write_qubo(QuboModel(sp.csr_matrix(q)), path)
    run = cli("solve", path, "--backend", "exact", "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["status"] == "optimal"
    assert result["objective"] == pytest.approx(brute_force_qubo(q), abs=1e-9)
    bits = np.array(result["solution"], dtype=float)
    assert bits @ q @ bits == pytest.approx(result["objective"])
    assert result["energy"] == pytest.approx(result["objective"])


@given(st.integers(1, 10), st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_exact_returns_every_ground_state(n, seed):
    energy = random_energy(n, seed, integer=True)
    samples = ExactBackend().solve(energy)
    states = np.array(list(itertools.product((-1, 1), repeat=n)), dtype=float)
    e = energy.energies(states)
    ground = states[np.isclose(e, e.min())]
    assert samples.best_energy == pytest.approx(e.min())
    assert len(samples) == len(ground) == samples.info["ground_states"]
    assert not samples.info["ground_states_truncated"]
    assert {tuple(s) for s in samples.states} == {tuple(s) for s in ground.astype(int)}


@pytest.mark.parametrize("unit", [1e-21, 1e-12, 1e-10, 1.0, 1e8])
def test_the_ground_states_are_judged_relative_to_the_coefficients_at_any_scale(unit):
    """The tolerance had a floor of 1 (an absolute 1e-9): on a model in units of 1e-12 every state was a ground
    state, and the first enumerated (-2.2e-11) was called optimal where -2.5e-11 is."""
    w, b, offset = random_energy(12, 3, integer=True).to_hopfield()
    energy = Energy.from_hopfield(w * unit, b * unit, offset * unit)
    states = np.array(list(itertools.product((-1, 1), repeat=12)), dtype=float)
    e = energy.energies(states)
    samples = ExactBackend().solve(energy)
    assert samples.best_energy == pytest.approx(e.min(), rel=1e-9) and samples.proven_optimal
    assert samples.info["ground_states"] == int(np.isclose(e, e.min(), rtol=0, atol=1e-9 * unit).sum()) < 10
    assert len(brute_force_minimum(energy)[1]) == samples.info["ground_states"]  # the conformance kit's too
    if unit >= 1e-12:  # beside an offset of 1e3, float64 still tells such differences apart (not 1e-21's)
        shifted = Energy.from_hopfield(w * unit, b * unit, 1e3 + offset * unit)  # rounding at its size, not every
        assert len(brute_force_minimum(shifted)[1]) == samples.info["ground_states"]  # state a minimiser


@pytest.mark.parametrize("free", [3, 17, 20])  # 20 units: 16 chunks of 2¹⁶ states, each adding to the count
def test_exact_counts_every_ground_state_and_says_when_it_kept_fewer(free):
    """A spin pinned by a bias and ``free`` units coupled to nothing: 2^free ground states. At most
    ``max_states`` rows are kept; the count says how many there are, and a flag that some were left out (the list
    was cut at 1024 without a word)."""
    from hopsolve import Energy

    n = free + 1
    bias = np.zeros(n)
    bias[0] = 1.0
    samples = ExactBackend().solve(Energy.from_hopfield(np.zeros((n, n)), bias, 0.0, "spin"))
    assert samples.info["ground_states"] == 2**free
    assert len(samples) == min(2**free, 1024) and np.all(samples.states[:, 0] == 1)
    assert samples.info["ground_states_truncated"] == (2**free > 1024)
    assert np.allclose(samples.energies, -1.0)


@pytest.mark.parametrize("vartype", ["spin", "binary"])
def test_every_ground_state_of_a_free_model_is_kept_once_in_lexicographic_order(vartype):
    """2^18 ground states across four chunks: kept as parts, not re-merged and re-scored each chunk (quadratic:
    24 free units ran past 120 s), and ordered by one packed key a state instead of a lexsort of n keys. The same
    list as every state in lexicographic order; ``max_states`` keeps the first ones found, in that order too."""
    n = 18
    energy = Energy.from_hopfield(np.zeros((n, n)), np.zeros(n), 0.0, "spin")
    if vartype == "binary":
        energy = energy.to_binary()
    low = -1 if vartype == "spin" else 0
    everything = np.array(list(itertools.product([low, 1], repeat=n)), dtype=np.int8)
    samples = ExactBackend().solve(energy, ExactBackend().params({"max_states": 1 << n}))
    np.testing.assert_array_equal(samples.states, everything)
    assert samples.info["ground_states"] == 1 << n and not samples.info["ground_states_truncated"]
    few = ExactBackend().solve(energy, ExactBackend().params({"max_states": 1000}))
    assert len(few) == 1000 and few.info["ground_states_truncated"]
    keys = [tuple(row) for row in few.states]
    assert keys == sorted(keys) and len(set(keys)) == 1000


def test_exact_refuses_kept_states_over_the_memory_limit_and_unscalable_coefficients(monkeypatch):
    """``max_states`` × n was allocated unchecked (37.7 MB kept under a 1 MB limit); couplings of 1e308 overflowed
    into a wrong count of ground states ("2, truncated" of 3)."""
    from hopsolve import MemoryLimitError, ParameterError

    energy = Energy.from_hopfield(np.zeros((20, 20)), np.zeros(20), 0.0, "spin")
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(10**6))
    with pytest.raises(MemoryLimitError, match=r"keeping up to 1,048,576 ground states of 20 units \(max_states\)"
                       ) as refused:
        ExactBackend().solve(energy, ExactBackend().params({"max_states": 10**9}))
    advised = int(str(refused.value).rsplit("at most ", 1)[1].replace(",", ""))  # the advice, taken, passes
    assert len(ExactBackend().solve(energy, ExactBackend().params({"max_states": advised}))) == advised
    assert len(ExactBackend().solve(energy, ExactBackend().params({"max_states": 1000}))) == 1000
    from hopsolve.energy import miniature_sizes

    with miniature_sizes():  # no limit (hopsolve's own warm-up): its advice is not computed from infinity
        assert len(ExactBackend().solve(energy, ExactBackend().params({"max_states": 10}))) == 10
    huge = Energy.from_hopfield(np.array([[0.0, 1e308], [1e308, 0.0]]), np.array([1e308, 1e308]), 0.0, "spin")
    with pytest.raises(ParameterError, match="coefficients are too large"):
        ExactBackend().solve(huge)


def test_exact_refuses_too_many_variables():
    with pytest.raises(TooLargeError, match="refuses n = 27"):
        ExactBackend().solve(random_energy(27, 0, density=0.01))


def test_exact_prepare_refuses_the_instance_itself_and_warms_on_three_units(registry):
    """The warm-up must neither enumerate a small model (it would be its own miniature: the solve done twice) nor
    stand in a miniature for a large one (a 6-city tour has 36 units: "n = 36" for every TSP)."""
    from hopsolve.metric import Metric
    from hopsolve.permutation import tour_energy

    seen: list[int] = []

    class Recording(ExactBackend):
        def solve(self, energy, params=None, **kwargs):
            seen.append(energy.num_variables)
            return super().solve(energy, params, **kwargs)

    tour = tour_energy(Metric("EUC_2D", points=np.random.default_rng(0).uniform(0, 100, (52, 2))))
    with pytest.raises(TooLargeError, match="refuses n = 2704"):
        Recording().prepare(tour, ExactBackend.Params())
    assert seen == []
    Recording().prepare(random_energy(20, 1), ExactBackend.Params())
    assert seen == [3]


def test_written_qubo_reads_back(tmp_path):
    q = random_qubo(9, 3)
    write_qubo(QuboModel(sp.csr_matrix(q)), tmp_path / "m.qubo", comment="round trip")
    np.testing.assert_allclose(read_qubo(tmp_path / "m.qubo").q.toarray(), q)


def test_exact_stops_between_chunks_at_its_time_limit_without_claiming_optimality():
    from hopsolve.backends.exact import ExactBackend
    from hopsolve.testing import random_energy

    energy = random_energy(26, 2)  # 1024 chunks of 2^16 states: seconds in all
    samples = ExactBackend().solve(energy, ExactBackend.Params(time_limit=0.2))
    assert samples.timed_out and not samples.proven_optimal and 0 < samples.work < 2**26
    full = ExactBackend().solve(energy)
    assert full.proven_optimal and not full.timed_out and full.best_energy <= samples.best_energy


def test_an_enumeration_cut_short_by_its_time_limit_says_so():
    """Exact reports the states it would enumerate (``work_planned``), and the CLI's summary notes an enumeration
    the limit stopped short, as it notes a cut-short run: "feasible" alone read as a finished search (a 1 s limit
    on the memory instance reached 60% of its 2²⁵ states, objective 0.36 against 1.0)."""
    from types import SimpleNamespace

    from hopsolve.cli import _cut_short

    samples = ExactBackend().solve(random_energy(12, 3), seed=0)
    assert samples.work == samples.info["work_planned"] == 1 << 12 and not samples.timed_out
    stopped = SimpleNamespace(info={"timed_out": True, "work": 1 << 20, "work_planned": 1 << 25, "work_unit": "states"})
    note = _cut_short(stopped)
    assert note is not None and "1,048,576 of its 33,554,432 states" in note and "not proven optimal" in note
    assert _cut_short(SimpleNamespace(info={**stopped.info, "timed_out": False})) is None


def test_a_ground_state_of_an_energy_whose_objective_weighs_nothing_is_not_called_optimal():
    """With ``--weight objective=0`` every feasible state is a ground state: exact called the first one it met
    optimal (a knapsack's -63 where -117 is; a cover of 7 nodes where 1 is), and report took it as a proof."""
    import hopsolve

    registry = hopsolve.build_registry()
    path = "instances/cqm/knapsack12.lp"
    instance = registry.problem("cqm").read(path)
    weighed, _ = hopsolve.solve_instance(registry, "cqm", instance, backend="exact", seed=1)
    assert weighed.status == "optimal" and weighed.objective == -117
    for kept in (1, 1024):  # the first ground state met (-63), or the best of those kept (-117, by chance)
        unweighed, _ = hopsolve.solve_instance(registry, "cqm", instance, backend="exact", seed=1,
                                               weights={"objective": 0.0}, params={"max_states": kept})
        assert unweighed.status == "feasible", kept
    assert unweighed.objective == -117


@pytest.mark.parametrize("seed", range(6))
def test_the_qubo_cpsat_baseline_proves_the_brute_force_minimum(seed):
    """The qubo problem had no baseline: no exact reference for a ``.qubo`` file. CP-SAT on every pair's product
    (Q_ij and Q_ji summed, the diagonal linear) proves the minimum a brute force finds, on decimal coefficients and
    a Q with entries on both sides of the diagonal."""
    import hopsolve

    q = np.round(random_qubo(12, seed), 3) + np.tril(np.round(random_qubo(12, seed + 100, 0.3), 2).T, -1)
    result = hopsolve.solve(q, baseline="ortools-cpsat", seed=1)
    assert result.status == "optimal" and result.objective == pytest.approx(brute_force_qubo(q), abs=1e-9)
    bits = np.array(result.solution, dtype=float)
    assert float(bits @ q @ bits) == pytest.approx(result.objective, abs=1e-9)


def test_the_qubo_cpsat_baseline_refuses_what_it_cannot_solve_exactly(tmp_path, cli, monkeypatch):
    """Coefficients that are not decimals of at most six digits cannot be scaled to CP-SAT's integers exactly, and a
    model of many couplings is past what CP-SAT proves: one line each, exit code 2."""
    from hopsolve_qubo import baselines

    q = np.array([[1.0 / 3.0, 1.0], [0.0, -1.0]])
    path = tmp_path / "third.qubo"
    write_qubo(QuboModel(sp.csr_matrix(q)), path)
    run = cli("solve", path, "--baseline", "ortools-cpsat")
    assert run.code == 2 and run.err.count("\n") == 1 and "multiples of 10^-6" in run.err, run.err
    monkeypatch.setattr(baselines, "CPSAT_MAX_COUPLINGS", 2)
    import hopsolve

    with pytest.raises(TooLargeError, match="QUBO of 3 couplings > 2"):
        hopsolve.solve(np.triu(np.ones((3, 3))), baseline="ortools-cpsat")


def test_cpsat_objectives_past_its_integers_are_refused_not_crashed_or_timed_out(tmp_path, cli):
    """Scaled to integers, -4e15 × 10^6 crashed CP-SAT's Python binding (an internal error), and two coefficients
    of 5e18 made it refuse the model, which was reported as a ``timeout`` without a solution."""
    from ortools.sat.python import cp_model

    import hopsolve
    from hopsolve import ParameterError
    from hopsolve.baselines.cpsat import CpsatParams, solve_cpsat

    path = tmp_path / "big.qubo"
    path.write_text("p qubo 0 2 2 0\n0 0 -4000000000000000\n1 1 0.000001\n")
    run = cli("solve", path, "--baseline", "ortools-cpsat")
    assert run.code == 2 and run.err.count("\n") == 1 and "past the" in run.err and "CP-SAT" in run.err, run.err
    with pytest.raises(ParameterError, match="scaled to integers"):
        hopsolve.solve(np.diag([-5e12, -5e12, 1e-6]), baseline="ortools-cpsat")
    model = cp_model.CpModel()
    x, y = model.NewBoolVar("x"), model.NewBoolVar("y")
    model.Minimize(cp_model.LinearExpr.WeightedSum([x, y], [5 * 10**18, 5 * 10**18]))
    with pytest.raises(ParameterError, match=r"refused the model as invalid \(Possible integer overflow"):
        solve_cpsat(model, CpsatParams(), 1, 1.0)
