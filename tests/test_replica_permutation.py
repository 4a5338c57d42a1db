"""The replica backend on permutation energies: tempering inside the feasible set (TSP, QAP, assignment).

It annealed their penalty form by single flips instead: a280 ended 1002% above the optimum untimed, and every read
infeasible at 10 s (row violations 10,308), the ladder collapsed to one β."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from hopsolve import ParameterError, build_registry, solve_instance
from hopsolve.backends.replica import ReplicaBackend, ReplicaParams
from hopsolve.permutation import permutation_energy

from .conftest import INSTANCES


def _small_qap(n: int, seed: int):
    rng = np.random.default_rng(seed)
    flow = rng.integers(0, 6, (n, n)).astype(float)
    distance = rng.integers(1, 6, (n, n)).astype(float)
    return permutation_energy(flow, (distance + distance.T) / 2)


def test_the_coldest_rung_samples_the_boltzmann_distribution_over_permutations():
    """All 24 permutations of 4 items: the coldest replica's state after a fixed ladder's rounds, over 4,000
    ladders, against exp(-βE) normalised, by χ² at the 0.1% level. Exchanges, exchange moves and reversals are
    each symmetric proposals accepted by the Metropolis rule, so a wrong exchange rule biases this rung; the same
    counts against a hotter rung's distribution are rejected (the test can fail)."""
    energy = _small_qap(4, 5)
    view = energy.permutation
    perms = [np.array(p) for p in itertools.permutations(range(4))]
    levels = np.array([view.energy(p, 1.0) for p in perms])
    beta = 1.0 / float(levels.std())
    params = ReplicaParams(reads=4000, replicas=3, beta_min=beta / 4, beta_max=beta, sweeps=12, keep_best=False)
    samples = ReplicaBackend().solve(energy, params, seed=7)
    index = {tuple(p): k for k, p in enumerate(perms)}
    counts = np.zeros(len(perms))
    for row in samples.permutations:
        counts[index[tuple(row)]] += 1

    def p_value(at_beta: float) -> float:
        weights = np.exp(-at_beta * (levels - levels.min()))
        expected = weights / weights.sum() * counts.sum()
        return float(stats.chisquare(counts, expected).pvalue)

    assert samples.info["exchange_rates"][0] > 0.05
    assert p_value(beta) > 1e-3
    assert p_value(beta / 2) < 1e-6


@pytest.mark.parametrize("path, problem, optimum, moves", [
    (INSTANCES / "tsplib" / "burma14.tsp", "tsp", 3323, "tour"),
    (INSTANCES / "qaplib" / "nug12.dat", "qap", 578, "permutation"),
])
def test_every_read_is_a_permutation_and_the_optimum_is_found(path, problem, optimum, moves):
    """Each ladder's state is a permutation (every penalty zero, whatever its weight), its energy that of its bit
    state, and small instances reach their published optima (a TSP's replicas by the tour moves)."""
    registry = build_registry()
    instance = registry.problem(problem).read(path)
    result, _ = solve_instance(registry, problem, instance, backend="replica", seed=1, weights={"row": 0.0})
    assert result.feasible and result.objective == optimum and result.params["moves"] == moves
    energy = registry.problem(problem).encode(instance)
    samples = ReplicaBackend().solve(energy, ReplicaParams(reads=3, sweeps=50), seed=2)
    for positions, value in zip(samples.permutations, samples.energies):
        assert sorted(positions) == list(range(energy.permutation.size))
        state = energy.permutation.layout.state(positions, energy.vartype, energy.num_variables)
        assert all(v == 0 for v in energy.violations(state).values())
        assert value == pytest.approx(energy.energy(state))


def test_a_linear_assignment_is_tempered_with_ejection_chains():
    """The assignment problem asks replica for its moves (exchanges and ejection chains), as it asks anneal."""
    registry = build_registry()
    instance = registry.problem("assignment").read(INSTANCES / "orlib-assign" / "assign100.txt")
    result, _ = solve_instance(registry, "assignment", instance, backend="replica", seed=1,
                               params={"sweeps": 200})
    assert result.params["chain_probability"] == 1.0 and result.feasible
    assert result.objective <= 1.01 * 305


def test_a_read_depends_on_the_seed_and_its_index_not_on_how_many_reads():
    energy = _small_qap(7, 2)
    few = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=30), seed=4)
    more = ReplicaBackend().solve(energy, ReplicaParams(reads=5, sweeps=30), seed=4)
    assert np.array_equal(few.permutations, more.permutations[:2])


@pytest.mark.parametrize("asked", [{"cluster_moves": "houdayer"}, {"recombine": "on"}, {"cold_end": "model"}])
def test_spin_options_asked_for_on_a_permutation_energy_are_refused(asked):
    """They act on single spins, which a permutation energy's replicas never flip: they were ignored. (A tabu phase
    is skipped with a note, as on the spin path's grouped energies.)"""
    with pytest.raises(ParameterError, match="act on single spins|acts on single spins"):
        ReplicaBackend().solve(_small_qap(4, 1), ReplicaParams(**asked), seed=1)
    skipped = ReplicaBackend().solve(_small_qap(4, 1), ReplicaParams(schedule="anneal", tabu_moves=10), seed=1)
    assert skipped.info["tabu_note"].startswith("no tabu phase ran")


def test_a_time_limit_is_kept_and_the_run_replays():
    """A timed run whose rounds would not fit is squeezed into the rounds that do; the reads, sweeps and replan it
    records replay it."""
    energy = _small_qap(9, 3)
    timed = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=10**5, time_limit=0.5), seed=3)
    assert timed.info["wall_time_s"] < 0.6 and timed.info["schedule_compressed"] and timed.work < 10**5
    replay = timed.info["replay"]
    again = ReplicaBackend().solve(energy, ReplicaParams(reads=replay["reads"], sweeps=replay["sweeps"],
                                                         replan=replay["replan"]), seed=3)
    assert np.array_equal(again.permutations, timed.permutations)


def test_a_round_that_would_not_fit_the_limit_is_refused_before_it_starts():
    """pr1002's four ladders ran one round of 7.3 s under a 5 s limit (recorded a timeout, 46% over): a round is
    now timed on a probe first and refused in one line when it would end past the limit."""
    from hopsolve import TooLargeError

    rng = np.random.default_rng(0)
    energy = permutation_energy(rng.random((300, 300)), rng.random((300, 300)))  # dense: O(n) an exchange
    with pytest.raises(TooLargeError, match=r"one round of 4 ladders of 32 replicas over 300 items .* takes about"):
        ReplicaBackend().solve(energy, ReplicaParams(reads=4, replicas=32, time_limit=0.3), seed=1)


def test_a_three_item_permutation_energy_is_proven_and_does_not_fill_its_limit(tmp_path):
    """A 3-city tour spent all of a 3 s limit and was never called optimal (anneal's rule, now replica's too)."""
    path = tmp_path / "tri.tsp"
    path.write_text("NAME: tri\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
                    "1 0 0\n2 3 0\n3 0 4\nEOF\n")
    registry = build_registry()
    result, _ = solve_instance(registry, "tsp", registry.problem("tsp").read(path), backend="replica", seed=1,
                               time_limit=3)
    assert result.status == "optimal" and result.objective == 12 and result.wall_time_s < 1.5


def test_the_final_quench_lowers_no_ladder_and_is_said():
    """Each ladder's best permutation is quenched (sweeps that take no uphill move) unless final_descent is off;
    a quenched state is never above the state it started from."""
    energy = _small_qap(12, 4)
    hot = ReplicaParams(reads=3, sweeps=3, beta_min=0.001, beta_max=0.002, replicas=2)
    plain = ReplicaBackend().solve(energy, replace(hot, final_descent=False), seed=1)
    quenched = ReplicaBackend().solve(energy, hot, seed=1)
    assert quenched.info["final_descent"] and not plain.info["final_descent"]
    assert np.all(quenched.energies <= plain.energies + 1e-9) and np.any(quenched.energies < plain.energies)


def test_progress_counts_rounds_under_their_own_name():
    """Untimed, the progress updates said "sweeps" of a total that counted rounds (a280 with sweeps=3: 840 of 840
    sweeps)."""
    energy = _small_qap(6, 2)
    updates = []
    samples = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=3), seed=1, callback=updates.append)
    assert updates and all(u["unit"] == "rounds" and u["done"] <= u["total"] == 3 * 6 for u in updates)
    assert samples.work_unit == "rounds" and samples.work == 18
