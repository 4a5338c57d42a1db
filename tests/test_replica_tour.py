"""The replica backend on tour energies: ladders of tours moved by anneal's tour moves (2-opt, Or-opt from the
candidate lists), exchanged by the Metropolis rule.

It tempered TSPs by exchanges and reversals at random positions over an n × n distance matrix: a280 3.8% above its
optimum at 10 s, about 400 s untimed, and TSPs past the matrix's memory limit refused."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from hopsolve import ParameterError, build_registry
from hopsolve.backends import _replica_tour
from hopsolve.backends.replica import ReplicaBackend, ReplicaParams

from .conftest import INSTANCES


def _tsp_energy(path):
    problem = build_registry().problem("tsp")
    return problem.encode(problem.read(path))


def _random_tsp(tmp_path, n: int, seed: int):
    points = np.random.default_rng(seed).integers(0, 100, (n, 2))
    path = tmp_path / f"r{n}.tsp"
    path.write_text(f"NAME: r{n}\nTYPE: TSP\nDIMENSION: {n}\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
                    + "".join(f"{i + 1} {x} {y}\n" for i, (x, y) in enumerate(points)) + "EOF\n")
    return _tsp_energy(path)


def _all_tours(samples, n: int) -> bool:
    return all(sorted(row) == list(range(n)) for row in samples.permutations)


def test_the_coldest_rung_samples_the_boltzmann_distribution_over_tours(tmp_path):
    """Every ordering of 6 cities (720 permutations, 60 tours): the coldest replica's state after a fixed ladder's
    rounds, over 3,000 ladders, against exp(-βE) summed over the permutations of each energy level, by χ² at the
    0.1% level; the same counts against the distribution at half or 1.5 times that β are rejected (the test can
    fail: a wrong exchange rule, or a move that is not its own reverse's mirror, biases this rung)."""
    energy = _random_tsp(tmp_path, 6, 3)
    view = energy.permutation
    perms = [np.array(p) for p in itertools.permutations(range(6))]
    levels = np.round([view.energy(p, energy.weights[view.term]) for p in perms], 9)
    beta = 1.0 / float(levels.std())
    params = ReplicaParams(reads=3000, replicas=3, beta_min=beta / 4, beta_max=beta, sweeps=20, keep_best=False)
    samples = ReplicaBackend().solve(energy, params, seed=7)
    assert samples.derived["moves"] == "tour" and min(samples.info["exchange_rates"]) > 0.3
    index = {tuple(p): k for k, p in enumerate(perms)}
    counts = np.zeros(len(perms))
    for row in samples.permutations:
        counts[index[tuple(row)]] += 1
    distinct = np.unique(levels)
    observed = np.array([counts[levels == level].sum() for level in distinct])

    def p_value(at_beta: float) -> float:
        weights = np.array([(levels == level).sum() * np.exp(-at_beta * (level - distinct[0])) for level in distinct])
        return float(stats.chisquare(observed, weights / weights.sum() * observed.sum()).pvalue)

    assert p_value(beta) > 1e-3
    assert p_value(beta / 2) < 1e-6 and p_value(1.5 * beta) < 1e-6


def test_every_ladder_returns_a_tour_with_its_energy_and_kroa100_comes_close():
    """Each read is a permutation whose energy is its bit state's (every penalty zero), and kroA100 untimed
    reaches within 1% of its optimum 21282 (anneal's neighbour moves, not random exchanges)."""
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    samples = ReplicaBackend().solve(energy, ReplicaParams(sweeps=300), seed=2)
    view = energy.permutation
    for positions, value in zip(samples.permutations, samples.energies):
        assert sorted(positions) == list(range(view.size))
        state = view.layout.state(positions, energy.vartype, energy.num_variables)
        assert all(v == 0 for v in energy.violations(state).values())
        assert value == pytest.approx(energy.energy(state))
    best = samples.permutations[int(np.argmin(samples.energies))]
    assert view.metric.tour_length(np.argsort(best)) <= 1.01 * 21282
    assert samples.info["start"] == "greedy" and samples.info["final_descent"]


def test_a_tour_past_the_distance_matrix_limit_is_tempered_from_the_metric(monkeypatch):
    """The matrix path refused a TSP whose n × n distances pass the memory limit; tours need none."""
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(16 * 52 * 52 - 1))
    energy = _tsp_energy(INSTANCES / "tsplib" / "berlin52.tsp")
    backend = ReplicaBackend()
    backend.prepare(energy, ReplicaParams())
    samples = backend.solve(energy, ReplicaParams(sweeps=200), seed=1)
    assert samples.derived["moves"] == "tour" and _all_tours(samples, 52)


def test_a_read_depends_on_the_seed_and_its_index_not_on_how_many_reads():
    energy = _tsp_energy(INSTANCES / "tsplib" / "berlin52.tsp")
    few = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=40), seed=4)
    more = ReplicaBackend().solve(energy, ReplicaParams(reads=5, sweeps=40), seed=4)
    assert np.array_equal(few.permutations, more.permutations[:2])


def test_a_timed_run_keeps_its_limit_and_replays():
    """A timed run's sweeps far beyond its limit are squeezed into the sweeps that fit; the reads, sweeps and replan
    it records replay its tours exactly without the limit."""
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    timed = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=10**6, time_limit=0.5), seed=3)
    assert timed.info["wall_time_s"] < 0.65 and timed.info["schedule_compressed"] and 0 < timed.work < 10**6
    replay = timed.info["replay"]
    again = ReplicaBackend().solve(energy, ReplicaParams(reads=replay["reads"], sweeps=replay["sweeps"],
                                                         replan=replay["replan"]), seed=3)
    assert np.array_equal(again.permutations, timed.permutations)


@pytest.mark.parametrize("asked", [{"swap_probability": 0.2}, {"chain_probability": 0.5}, {"chain_length": 3},
                                   {"cluster_moves": "houdayer"}, {"cold_tail": 0.3}, {"cluster_every": 4},
                                   {"anytime_sweeps": 5000}, {"anytime_reads": 8}, {"cluster_limit": 0.1}])
def test_options_that_do_not_move_tours_are_refused(asked):
    """The other permutation moves' settings, and the spin-flip ones, do not act on a tour's moves: refused, not
    ignored (cold_tail, cluster_every, anytime_sweeps and cluster_limit were accepted and ignored)."""
    energy = _tsp_energy(INSTANCES / "tsplib" / "burma14.tsp")
    with pytest.raises(ParameterError, match="QAP and assignment|single spins"):
        ReplicaBackend().solve(energy, ReplicaParams(**asked), seed=1)


def test_the_final_quench_shortens_no_ladder_and_is_said():
    """Each ladder's best tour is quenched (sweeps that take no uphill move) unless final_descent is off; a
    quenched tour is never longer than the one it started from."""
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    hot = ReplicaParams(reads=3, sweeps=2, beta_min=1e-3, beta_max=2e-3, replicas=2)
    plain = ReplicaBackend().solve(energy, replace(hot, final_descent=False), seed=1)
    quenched = ReplicaBackend().solve(energy, hot, seed=1)
    assert quenched.info["final_descent"] and not plain.info["final_descent"]
    assert np.all(quenched.energies <= plain.energies + 1e-9) and np.any(quenched.energies < plain.energies)


def test_ctrl_c_keeps_the_best_tours_so_far():
    """A Ctrl-C between chunks ends the run with every ladder's best tour (feasible), said interrupted, no quench."""
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    updates = []

    def callback(update: dict) -> None:
        updates.append(update)
        if len(updates) == 2:
            raise KeyboardInterrupt

    samples = ReplicaBackend().solve(energy, ReplicaParams(sweeps=10**5), seed=1, callback=callback)
    assert samples.interrupted and not samples.info["final_descent"] and 0 < samples.work < 10**5
    assert _all_tours(samples, 100)
    assert samples.best_energy <= updates[-1]["best_energy"] + 1e-9


def _replayed(energy, samples, seed: int):
    """The run ``samples`` records in ``info['replay']``, without its time limit."""
    replay = dict(samples.info["replay"])
    return ReplicaBackend().solve(energy, ReplicaParams(**replay), seed=seed)


def test_a_limit_too_short_for_the_candidate_lists_returns_the_space_filling_tour(monkeypatch):
    """As anneal's: the greedy start and candidate lists are built only where they are projected to fit. Its
    replay gives the same tours (it named a parameter replica did not have)."""
    monkeypatch.setattr(_replica_tour, "projected_setup_seconds", lambda metric, k: 1e6)
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    samples = ReplicaBackend().solve(energy, ReplicaParams(time_limit=1.0), seed=1)
    assert samples.info["start"] == "space-filling" and samples.timed_out and samples.work == 0
    assert samples.info["replay"]["start"] == "space-filling" and _all_tours(samples, 100)
    assert len(samples.energies) == 4
    assert np.array_equal(_replayed(energy, samples, 1).permutations, samples.permutations)


def test_a_limit_too_short_for_one_round_returns_the_start_tours_not_a_refusal(monkeypatch):
    """pla85900 at a 1 s limit built its greedy tour, then refused in one line after the limit ("one round …
    takes about 1.5 s"). The ladders' start tours are the answer now, timed out, and the replay gives them back."""
    monkeypatch.setattr(_replica_tour, "SAMPLE_PACE_FACTOR", 1e9)
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    samples = ReplicaBackend().solve(energy, ReplicaParams(time_limit=0.5), seed=1)
    assert samples.timed_out and samples.work == 0 and samples.info["start"] == "greedy"
    assert "one round of 4 ladders" in samples.info["no_round_note"]  # (the CLI said: "fewer reads")
    assert samples.info["wall_time_s"] < 0.5 and _all_tours(samples, 100)
    assert samples.info["start_length"] == pytest.approx(energy.permutation.metric.tour_length(
        np.argsort(samples.permutations[0])))
    monkeypatch.undo()
    assert np.array_equal(_replayed(energy, samples, 1).permutations, samples.permutations)


def test_reads_past_the_memory_limit_are_refused_before_any_tour_is_built(monkeypatch):
    """The space-filling answer tiled its tour for every read before the size check: 4,000 reads of pla85900 took
    2.9 GB and 27 s under a 0.3 s limit."""
    from hopsolve import TooLargeError

    monkeypatch.setattr(_replica_tour, "projected_setup_seconds", lambda metric, k: 1e6)
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(10**6))
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    with pytest.raises(TooLargeError, match="reads"):
        ReplicaBackend().solve(energy, ReplicaParams(reads=10**4, time_limit=1.0), seed=1)


def test_a_random_or_space_filling_start_is_taken_on_tours_and_refused_elsewhere():
    energy = _tsp_energy(INSTANCES / "tsplib" / "berlin52.tsp")
    for start in ("random", "space-filling"):
        samples = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=20, start=start), seed=1)
        assert samples.info["start"] == start and _all_tours(samples, 52)
    problem = build_registry().problem("qap")
    qap = problem.encode(problem.read(INSTANCES / "qaplib" / "nug12.dat"))
    with pytest.raises(ParameterError, match="start=random chooses where a tour's ladders start"):
        ReplicaBackend().solve(qap, ReplicaParams(start="random"), seed=1)


def test_a_large_tour_s_sweep_is_several_rounds_each_followed_by_exchanges(monkeypatch):
    """A round of pla85900's 128 replicas was a whole sweep, 1.5–3.8 s: a 10 s limit ended at 10.55 s and Ctrl-C
    waited as long. A round is now at most ROUND_MOVES moves a replica (here 30 of kroA100's 100 cities: four
    rounds a sweep), the work counted in rounds."""
    monkeypatch.setattr(_replica_tour, "ROUND_MOVES", 30)
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    updates = []
    samples = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=5), seed=1, callback=updates.append)
    assert samples.work == 20 and samples.work_unit == "rounds" and samples.info["sweeps_done"] == 5
    assert samples.info["updates"] == 30 * 20 * 2 * samples.derived["replicas"]
    assert updates and all(u["unit"] == "rounds" and u["total"] == 20 for u in updates)


def test_a_quench_the_rounds_pace_says_would_not_fit_is_skipped_and_the_replay_says_so(monkeypatch):
    """pla85900's quench took 2.5 times what the move sample projected: its 10 s run ended at 10.55 s. After the
    rounds their own pace decides; here a quench of 100,000 sweeps that the sample (scaled to nothing) let
    through."""
    monkeypatch.setattr(_replica_tour, "QUENCH_SWEEPS", 100_000)
    monkeypatch.setattr(_replica_tour, "SAMPLE_PACE_FACTOR", 1e-9)
    energy = _tsp_energy(INSTANCES / "tsplib" / "kroA100.tsp")
    samples = ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=10**6, time_limit=0.5), seed=1)
    assert samples.info["wall_time_s"] < 0.65 and not samples.info["final_descent"]
    assert samples.info["replay"]["final_descent"] is False


def test_a_schedule_of_rounds_is_sized_in_rounds_and_advised_in_sweeps(monkeypatch):
    """pla85900's sweeps are 9 rounds each: a refused schedule advised "at most 5,287,107 rounds", and that many
    sweeps were refused again. The advice is in sweeps now, and taken."""
    from hopsolve import TooLargeError
    from hopsolve.backend import check_run_size

    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "80000")
    with pytest.raises(TooLargeError, match=r"give at most 1,111 sweeps"):
        check_run_size(reads=1, units=1, arrays=1, steps=2000, entries_per_step=9)
    check_run_size(reads=1, units=1, arrays=1, steps=1111, entries_per_step=9)


def test_a_weight_on_a_penalty_the_tours_hold_at_zero_is_said_to_change_nothing():
    """anneal said so; replica's tour and permutation paths did not (README: such weights are noted)."""
    for problem_name, path in (("tsp", INSTANCES / "tsplib" / "burma14.tsp"),
                               ("qap", INSTANCES / "qaplib" / "nug12.dat")):
        problem = build_registry().problem(problem_name)
        samples = ReplicaBackend().solve(problem.encode(problem.read(path)), ReplicaParams(sweeps=5), seed=1)
        assert samples.info["penalties_held"]


def test_a_space_filling_start_on_an_explicit_matrix_is_refused_in_replica_s_name():
    energy = _tsp_energy(INSTANCES / "tsplib" / "bays29.tsp")
    with pytest.raises(ParameterError, match=r"^backend 'replica': start=space-filling needs city coordinates"):
        ReplicaBackend().solve(energy, ReplicaParams(start="space-filling"), seed=1)
