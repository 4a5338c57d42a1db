"""The Hopfield-family backends: conformance, exact ground states, local minima, seeds, traces, parameters."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import Energy, ParameterError, Vartype
from hopsolve.backends import _perm_kernels as PK
from hopsolve.backends.anneal import AnnealBackend, AnnealParams, _permutation_arrays
from hopsolve.backends.exact import ExactBackend
from hopsolve.backends.hopfield import HopfieldBackend, HopfieldParams
from hopsolve.backends.schedules import default_beta_range
from hopsolve.backends.tank import TankBackend, TankParams, lyapunov
from hopsolve.permutation import permutation_energy
from hopsolve.testing import check_backend, is_local_minimum, random_energy

from .conftest import small_maxcut


def test_anneal_conformance():
    check_backend(AnnealBackend(), {"sweeps": 300})


def test_anneal_glauber_conformance():
    check_backend(AnnealBackend(), {"sweeps": 300, "rule": "glauber", "schedule": "linear"})


def test_hopfield_async_conformance_and_local_minima():
    check_backend(HopfieldBackend(), finds_ground_state=False, local_minima=True)
    check_backend(HopfieldBackend(), {"order": "fixed"}, finds_ground_state=False, local_minima=True)


def test_hopfield_sync_conformance():
    check_backend(HopfieldBackend(), {"mode": "sync"}, finds_ground_state=False)


def test_tank_conformance():
    check_backend(TankBackend(), finds_ground_state=False)


@pytest.mark.parametrize("seed", range(12))
def test_anneal_finds_exact_ground_state_in_most_reads(seed):
    energy = random_energy(16, seed, Vartype.SPIN)
    ground = ExactBackend().solve(energy).best_energy
    samples = AnnealBackend().solve(energy, AnnealParams(reads=20, sweeps=2000), seed=seed)
    hits = np.isclose(samples.energies, ground, atol=1e-9).mean()
    assert hits >= 0.9, hits


def test_anneal_on_structured_group_terms_matches_exact():
    energy = permutation_energy(np.array([[0, 3, 1], [3, 0, 2], [1, 2, 0]]), np.array([[0, 1, 0], [1, 0, 1],
                                                                                          [0, 1, 0]]))
    ground = ExactBackend().solve(energy).best_energy
    flips = AnnealBackend().solve(energy, AnnealParams(reads=10, sweeps=400, moves="flip"), seed=3)
    assert np.isclose(flips.energies.min(), ground)
    assert np.allclose(flips.energies, energy.energies(flips.states))


def test_same_seed_same_reads_and_different_seeds_differ():
    energy = random_energy(40, 1)
    backend = AnnealBackend()
    params = AnnealParams(reads=8, sweeps=20)
    a = backend.solve(energy, params, seed=11)
    b = backend.solve(energy, params, seed=11)
    c = backend.solve(energy, params, seed=12)
    assert np.array_equal(a.states, b.states)
    assert not np.array_equal(a.states, c.states)
    assert len({tuple(s) for s in a.states}) > 1  # reads are independent
    one = backend.solve(energy, AnnealParams(reads=8, sweeps=20, threads=1), seed=11)
    assert np.array_equal(one.states, a.states)  # thread count does not change results


def test_hopfield_reads_are_local_minima_with_traces_monotone():
    energy = random_energy(60, 2, Vartype.BINARY, density=0.3)
    samples = HopfieldBackend().solve(energy, HopfieldParams(reads=5, trace=True), seed=0)
    for state, trace in zip(samples.states, samples.per_read["trace"]):
        assert is_local_minimum(energy, state)
        assert np.all(np.diff(trace) <= 1e-9)
        assert np.isclose(trace[-1], energy.energy(state))
    assert samples.info["fixed_points"] == 5


def test_hopfield_sync_detects_two_cycles():
    # two mutually inhibiting units from (+1, +1) flip together forever: the classic synchronous 2-cycle
    energy = Energy.from_hopfield(np.array([[0, -1.0], [-1.0, 0]]), [0.0, 0.0])
    samples = HopfieldBackend().solve(energy, HopfieldParams(mode="sync"), initial_states=np.array([[1, 1]]))
    assert samples.per_read["outcome"] == ["two_cycle"]
    same = HopfieldBackend().solve(energy, HopfieldParams(mode="async"), initial_states=np.array([[1, 1]]))
    assert same.per_read["outcome"] == ["fixed_point"] and same.best_energy == -1.0


def test_zero_field_rule():
    energy = Energy.from_hopfield(np.zeros((3, 3)), np.zeros(3))
    start = np.array([[1, -1, 1]])
    keep = HopfieldBackend().solve(energy, HopfieldParams(), initial_states=start)
    up = HopfieldBackend().solve(energy, HopfieldParams(zero_field="up"), initial_states=start)
    assert keep.states.tolist() == [[1, -1, 1]] and up.states.tolist() == [[1, 1, 1]]


def test_constant_beta_glauber_trace_is_not_monotone():
    energy = random_energy(50, 4)
    samples = AnnealBackend().solve(energy, AnnealParams(reads=2, sweeps=200, schedule="constant", beta=0.1,
                                                         rule="glauber", trace=True), seed=1)
    trace = samples.per_read["trace"]
    assert trace.shape == (2, 200)
    assert (np.diff(trace[0]) > 0).any() and (np.diff(trace[0]) < 0).any()
    assert samples.derived["beta_min"] == samples.derived["beta_max"] == 0.1


def test_default_beta_range_survives_real_valued_weights():
    """The textbook rule β_max = ln100 / (2 min|J|) explodes when one coupling is tiny; ours does not."""
    rng = np.random.default_rng(5)
    w = np.triu(rng.uniform(-1, 1, (14, 14)), 1)
    w[0, 1] = 1e-9
    energy = Energy.from_hopfield(w + w.T, rng.uniform(-1, 1, 14))
    samples = AnnealBackend().solve(energy, AnnealParams(reads=10, sweeps=300), seed=0)
    derived = samples.derived
    largest = 2 * (np.abs(w + w.T).sum(axis=1) + 1).max()
    assert derived["beta_max"] <= np.log(100) / (1e-3 * largest / 2)
    assert derived["beta_max"] < 1e3
    assert np.isclose(samples.best_energy, ExactBackend().solve(energy).best_energy)
    assert default_beta_range(0.0, 0.0) == (0.1, 1.0)


def test_time_limit_stops_cleanly_with_best_so_far():
    energy = random_energy(400, 0, density=0.2)
    params = AnnealParams(reads=2, sweeps=500_000, time_limit=0.3, fit_schedule=False)  # 0.05 s to build
    backend = AnnealBackend()
    backend.prepare(energy, params)  # as the CLI does: loading the kernels is not the limit's to govern
    samples = backend.solve(energy, params, seed=0)
    assert samples.timed_out and samples.info["sweeps_done"] < 500_000
    assert samples.info["wall_time_s"] < 3.0  # ten times the limit: a stop, not a speed check
    assert np.allclose(samples.energies, energy.energies(samples.states))


def test_time_limit_squeezes_the_schedule_so_the_run_ends_cold():
    """A schedule that cannot finish in time is resampled so the run still reaches beta_max (no wall-clock
    assertion: the sweeps are made slow on purpose)."""
    import time as clock

    from hopsolve.backends.anneal import _run_chunked

    reached = []

    def step(start, stop, chunk):
        clock.sleep(0.002 * (stop - start))
        reached.append(chunk[-1])

    betas = np.geomspace(0.1, 10.0, 10**5)
    progress = _run_chunked(betas, step, AnnealParams(sweeps=10**5, time_limit=0.6), None, lambda: {})
    assert progress.compressed and not progress.timed_out and progress.done < 10**5
    assert np.isclose(reached[-1], 10.0)  # it ended cold
    energy, params = random_energy(200, 0), AnnealParams(reads=2, sweeps=900_000, time_limit=0.5)
    AnnealBackend().prepare(energy, params)  # compiled before the clock, as hopsolve.solve_instance does
    samples = AnnealBackend().solve(energy, params, seed=0)
    assert samples.info["sweeps_done"] < 900_000 and samples.info["schedule_compressed"]


def test_progress_callback_is_called():
    seen = []
    AnnealBackend().solve(random_energy(30, 0), AnnealParams(reads=2, sweeps=50), seed=0, callback=seen.append)
    assert seen[-1]["done"] == 50 and seen[-1]["total"] == 50
    assert all(np.isfinite(s["best_energy"]) for s in seen)


@pytest.mark.parametrize("values, message", [
    ({"sweeps": -1}, "sweeps must be at least 1"),
    ({"beta_min": 2.0, "beta_max": 1.0}, "must not exceed beta_max"),
    ({"schedule": "cosine"}, "not one of geometric, linear, constant"),
    ({"rule": "metropolis", "reads": 0}, "reads must be at least 1"),
    ({"beta_min": -1}, "beta_min must be positive"),
    ({"sweeps": "many"}, "not a valid int"),
])
def test_bad_anneal_parameters_are_named(values, message):
    with pytest.raises(ParameterError, match=message):
        AnnealBackend().params(values)


def test_cli_anneal_echoes_every_parameter(cli, tmp_path):
    path = tmp_path / "m.qubo"
    path.write_text("p qubo 0 3 3 2\n0 0 -1\n1 1 -1\n2 2 -1\n0 1 2\n1 2 2\n")
    run = cli("solve", path, "--backend", "anneal", "--reads", "10", "--param", "sweeps=1000", "--param",
              "schedule=geometric", "--param", "rule=metropolis", "--seed", "1", "--json")
    result = json.loads(run.out)
    assert result["objective"] == -2 and result["solution"] == [1, 0, 1]
    params = result["params"]
    assert params["sweeps"] == 1000 and params["reads"] == 10 and params["rule"] == "metropolis"
    assert params["beta_min"] > 0 and params["beta_max"] >= params["beta_min"]
    for args, message in [(["--param", "sweeps=-5"], "sweeps"), (["--param", "beta_min=3", "--param",
                          "beta_max=1"], "beta_max"), (["--param", "schedule=cosine"], "schedule")]:
        bad = cli("solve", path, "--backend", "anneal", *args)
        assert bad.code == 2 and message in bad.err and len(bad.err.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", ["hopfield", "tank"])
def test_cli_runs_other_backends(cli, tmp_path, backend):
    path = tmp_path / "m.qubo"
    path.write_text("p qubo 0 2 2 1\n0 0 -1\n1 1 -1\n0 1 3\n")
    result = json.loads(cli("solve", path, "--backend", backend, "--seed", "2", "--json").out)
    assert result["solver"] == backend and result["objective"] == -1


def test_tank_two_neurons_descends_lyapunov_and_settles():
    energy = Energy.from_hopfield(np.array([[0, 1.0], [1.0, 0]]), [0.2, -0.1], vartype="binary")
    params = TankParams(reads=3, u0=0.1, dt=0.01, max_steps=20000, trajectory=True, record_every=1)
    samples = TankBackend().solve(energy, params, seed=0)
    assert all(samples.info["settled"] for _ in [0])
    energies = np.array([step["energy"] for step in samples.per_read["trajectory"]])
    assert np.all(np.diff(energies, axis=0) <= 1e-9)
    assert samples.states.tolist() == [[1, 1]] * 3  # the ground state of this ferromagnetic pair


def test_tank_on_a_small_model_settles_to_a_low_state():
    energy = random_energy(8, 3, Vartype.SPIN)
    samples = TankBackend().solve(energy, TankParams(reads=10, trace=True, u0=0.05), seed=1)
    trace = samples.per_read["trace"]
    assert np.all(np.diff(trace, axis=1) <= 1e-7)
    assert samples.info["settled"]
    states = np.array(list(itertools.product((-1, 1), repeat=8)))
    rank = (energy.energies(states) < samples.best_energy - 1e-9).mean()
    assert rank < 0.05  # the best read beats 95% of all states
    assert np.allclose(lyapunov(energy, samples.per_read["graded_outputs"], 0.05, 1.0).shape, (10,))


def test_tank_rk45_integrator():
    energy = Energy.from_hopfield(np.array([[0, 1.0], [1.0, 0]]), [0.2, -0.1], vartype="binary")
    samples = TankBackend().solve(energy, TankParams(reads=2, u0=0.1, integrator="rk45", dt=0.01), seed=0)
    assert samples.states.tolist() == [[1, 1]] * 2


def test_permutation_moves_stay_feasible_and_find_the_optimum():
    rng = np.random.default_rng(7)
    n = 6
    a = rng.integers(0, 10, (n, n))
    b = rng.integers(0, 10, (n, n))
    a, b = a + a.T, b + b.T
    np.fill_diagonal(a, 0)
    energy = permutation_energy(a, b)
    best = min(sum(a[i, j] * b[p[i], p[j]] for i in range(n) for j in range(n))
               for p in itertools.permutations(range(n)))
    samples = AnnealBackend().solve(energy, AnnealParams(reads=6, sweeps=200), seed=0)
    assert samples.derived["moves"] == "permutation"
    for state in samples.states:
        assert energy.layout.positions(state) is not None
        assert all(v == 0 for v in energy.violations(state).values())
    assert samples.best_energy == best
    with pytest.raises(ParameterError, match="permutation view"):
        AnnealBackend().solve(random_energy(4, 0), AnnealParams(moves="permutation"))


def test_typical_hot_end_starts_at_one_over_the_field_spread():
    energy = random_energy(12, 4, Vartype.BINARY, density=0.5)
    w, b, _ = energy.to_spin().to_hopfield()
    sigma = np.sqrt(np.mean(np.asarray(w.multiply(w).sum(axis=1)).ravel() + b**2))
    worst = AnnealBackend().solve(energy, AnnealParams(sweeps=20), seed=0).derived
    typical = AnnealBackend().solve(energy, AnnealParams(sweeps=20, hot_end="typical"), seed=0).derived
    assert np.isclose(typical["beta_min"], 1.0 / sigma) and typical["beta_max"] == worst["beta_max"]
    assert worst["beta_min"] < typical["beta_min"]
    assert AnnealBackend().solve(energy, AnnealParams(sweeps=20, hot_end="typical", beta_min=0.01),
                                 seed=0).derived["beta_min"] == 0.01
    with pytest.raises(ParameterError, match="hot_end"):
        AnnealBackend().params({"hot_end": "lukewarm"})


def _qap_with_costs(n: int, seed: int, quadratic: bool):
    """A permutation energy with a linear part and, if ``quadratic``, a sparse asymmetric QAP part."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) if quadratic else np.zeros((n, n))
    b = rng.normal(size=(n, n)) * (rng.random((n, n)) < 0.5) if quadratic else np.zeros((n, n))
    return permutation_energy(a, b, rng.normal(size=(n, n)))


def test_open_gain_counts_the_replaced_position_without_the_hole():
    n = 6
    view = _qap_with_costs(n, 11, quadratic=True).permutation
    a, b, c = view.flow, view.adjacency.toarray(), view.linear
    assert np.any(np.diagonal(b))  # the self-term of a position is covered too

    def terms_of(item_at, pos, hole):
        x = item_at[pos]
        total = c[x, pos] + b[pos, pos] * a[x, x]
        for k in set(range(n)) - {pos, hole}:
            total += b[pos, k] * a[x, item_at[k]] + b[k, pos] * a[item_at[k], x]
        return total

    item_at = np.random.default_rng(0).permutation(n)
    for hole, pos in itertools.permutations(range(n), 2):
        replaced = item_at.copy()
        replaced[pos] = item_at[hole]
        expected = terms_of(replaced, pos, hole) - terms_of(item_at, pos, hole)
        assert np.isclose(PK.open_gain(hole, pos, item_at, _permutation_arrays(view)), expected)


@pytest.mark.parametrize("quadratic", [False, True], ids=["linear", "quadratic"])
def test_ejection_chains_stay_feasible_and_keep_exact_energies(quadratic):
    n, reads = 9, 4
    view = _qap_with_costs(n, 12, quadratic).permutation
    rng = np.random.default_rng(1)
    item_at = np.array([rng.permutation(n) for _ in range(reads)])
    current = np.array([view.value(np.argsort(row)) for row in item_at])
    start = current.copy()
    best, best_item_at = current.copy(), item_at.copy()
    generators = np.arange(1, 2 * reads, 2, dtype=np.uint64)
    run = PK.PermutationRun(1.0, np.geomspace(0.1, 20, 40), n * n, 1.0, 0.7, 4, 0)
    reads_state = PK.PermutationReads(item_at, current, best_item_at, best, generators, np.zeros((reads, 0)), 0)
    PK.permutation_anneal(_permutation_arrays(view), run, reads_state)
    for r in range(reads):
        assert sorted(item_at[r]) == list(range(n)) and sorted(best_item_at[r]) == list(range(n))
        assert np.isclose(current[r], view.value(np.argsort(item_at[r])))
        assert np.isclose(best[r], view.value(np.argsort(best_item_at[r])))
    assert np.all(best < start)


def test_ejection_chains_solve_linear_assignment_exactly():
    from scipy.optimize import linear_sum_assignment

    n = 7
    costs = np.random.default_rng(5).integers(1, 100, (n, n)).astype(float)
    energy = permutation_energy(np.zeros((n, n)), np.zeros((n, n)), costs)
    brute = min(costs[np.arange(n), list(p)].sum() for p in itertools.permutations(range(n)))
    params = AnnealParams(reads=2, sweeps=100, swap_probability=1.0, chain_probability=1.0)
    assert AnnealBackend().solve(energy, params, seed=3).best_energy == brute
    costs = np.random.default_rng(6).integers(1, 100, (60, 60)).astype(float)
    rows, cols = linear_sum_assignment(costs)
    energy = permutation_energy(np.zeros((60, 60)), np.zeros((60, 60)), costs)
    params = AnnealParams(reads=2, sweeps=2000, swap_probability=1.0, chain_probability=1.0)
    assert AnnealBackend().solve(energy, params, seed=3).best_energy == costs[rows, cols].sum()
    with pytest.raises(ParameterError, match="chain_length"):
        AnnealBackend().params({"chain_length": 0})
    with pytest.raises(ParameterError, match="chain_probability"):
        AnnealBackend().params({"chain_probability": 1.5})


def test_permutation_view_equals_penalty_energy_on_every_permutation():
    rng = np.random.default_rng(8)
    n = 5
    a = rng.normal(size=(n, n))
    b = rng.normal(size=(n, n))
    c = rng.normal(size=(n, n))
    energy = permutation_energy(a, b, c)
    for p in itertools.permutations(range(n)):
        state = energy.layout.state(p, energy.vartype, n * n)
        assert np.isclose(energy.energy(state), energy.permutation.value(p))


def test_a_schedule_squeezed_on_slow_chunks_grows_back_to_its_length():
    import time as clock

    from hopsolve.backends.anneal import _run_chunked

    def step(start, stop, chunk):  # the first sweeps are slow (a busy machine), the rest fast
        clock.sleep((0.05 if start < 3 else 0.0001) * (stop - start))

    progress = _run_chunked(np.linspace(0.1, 1.0, 200), step, AnnealParams(sweeps=200, time_limit=3.0), None,
                            lambda: {})
    assert progress.compressed and progress.done == 200 and not progress.timed_out and not progress.stretched


def test_tank_reports_its_best_state_and_keeps_it_on_ctrl_c():
    energy = random_energy(12, 1)
    updates = []

    def interrupt(update):
        updates.append(update)
        if len(updates) == 2:
            raise KeyboardInterrupt

    samples = TankBackend().solve(energy, TankParams(reads=3, max_steps=10**6, u0_final=0.01), seed=1,
                                  callback=interrupt)
    assert samples.interrupted and not samples.timed_out and samples.work == 2000
    assert np.isclose(updates[0]["best_energy"], energy.energy(updates[0]["best_state"]))
    timed = TankBackend().solve(energy, TankParams(reads=3, max_steps=10**7, u0_final=0.01,
                                                   time_limit=0.3), seed=1)
    assert timed.timed_out and not timed.interrupted and timed.work < 10**7


@pytest.mark.parametrize("backend, params", [
    (AnnealBackend(), {"sweeps": 2000, "reads": 4}),
    (HopfieldBackend(), {"reads": 40}),
    (TankBackend(), {"reads": 4, "max_steps": 5000}),
    (TankBackend(), {"reads": 4, "max_steps": 5000, "integrator": "rk45"}),
], ids=["anneal", "hopfield", "tank", "tank-rk45"])
def test_progress_reports_the_best_objective_of_an_attached_problem(backend, params, tmp_path):
    from hopsolve.testing import check_anytime

    problem, instance = small_maxcut(tmp_path)
    check_anytime(backend, problem, instance, params)


def test_tour_progress_reports_the_best_tour_length():
    from hopsolve.plugins import build_registry
    from hopsolve.testing import check_anytime

    from .conftest import INSTANCES

    problem = build_registry().problem("tsp")
    instance = problem.read(INSTANCES / "tsplib" / "kroA100.tsp")
    lengths = check_anytime(AnnealBackend(), problem, instance, {"sweeps": 3000, "reads": 2})
    assert lengths[-1] < lengths[0]


def test_check_anytime_catches_a_backend_that_returns_worse_than_it_reported(tmp_path):
    from hopsolve.sampleset import SampleSet
    from hopsolve.testing import check_anytime

    class Forgetful(HopfieldBackend):
        """Reports its best read as progress, then returns a random state instead."""

        def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
            found = super().solve(energy, params, seed=seed)
            callback({"done": 1, "total": 1, "unit": "runs", "best_energy": found.best_energy,
                      "best_state": found.best})
            random = np.random.default_rng(0).choice([-1, 1], size=(1, energy.num_variables)).astype(np.int8)
            return SampleSet.from_states(energy, random, work=1, work_unit="runs")

    problem, instance = small_maxcut(tmp_path)
    with pytest.raises(AssertionError, match="worse than its last progress update"):
        check_anytime(Forgetful(), problem, instance, {"reads": 10})


def test_a_chunked_run_whose_set_up_spent_the_limit_does_not_sweep():
    import time

    from hopsolve.backends.anneal import AnnealParams, _run_chunked

    calls = []
    progress = _run_chunked(np.linspace(0.1, 1.0, 50), lambda *args: calls.append(args), AnnealParams(time_limit=1.0),
                            None, dict, started=time.perf_counter() - 5.0)
    assert progress.timed_out and progress.done == 0 and calls == []
    assert progress.replan.text() == "0:0"
    # a call whose own overhead (bifurcation's refresh) would end past the limit is not started either
    progress = _run_chunked(np.linspace(0.1, 1.0, 50), lambda *args: calls.append(args), AnnealParams(time_limit=1.0),
                            None, dict, started=time.perf_counter() - 0.5, call_overhead=0.6)
    assert progress.timed_out and progress.done == 0 and calls == []


@pytest.mark.parametrize("name, values", [("anneal", {"sweeps": 50}), ("replica", {"sweeps": 50}),
                                          ("hopfield", {}), ("bifurcation", {"steps": 50})])
def test_compiled_backends_hold_blas_at_one_thread_while_they_solve(name, values):
    """Called directly (not through ``solve_instance``), a compiled backend holds BLAS at one thread while it
    solves: OpenBLAS's threads, left spinning after a threaded product, took the cores its kernels need."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from hopsolve.backends.bifurcation import BifurcationBackend
    from hopsolve.backends.replica import ReplicaBackend

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    seen: list[set[int]] = []
    backend = {"anneal": AnnealBackend, "replica": ReplicaBackend, "hopfield": HopfieldBackend,
               "bifurcation": BifurcationBackend}[name]()
    with threadpool_limits(limits=2, user_api="blas"):  # two outside, on any machine: the solve must bring it to one
        backend.solve(random_energy(12, seed=3), backend.params(values), seed=1,
                      callback=lambda update: seen.append(blas_threads()))
    assert seen and all(threads == {1} for threads in seen)


@pytest.mark.parametrize("name", ["anneal", "hopfield", "replica", "bifurcation", "tank"])
def test_initial_states_outside_the_vartype_are_refused_not_run(name, registry):
    """A 0 among spins or a 7 among bits was run as a start and scored as a state no energy has (anneal returned
    all-zero spins; 7s on bits scored -2279 against a true minimum of -15.7)."""
    backend = registry.backend(name)
    spins = random_energy(10, 1)
    bits = spins.to_binary()
    for energy, states, found in ((spins, np.zeros((2, 10), np.int8), "row 0, unit 0 is 0"),
                                  (bits, np.full((2, 10), 7), "row 0, unit 0 is 7"),
                                  (bits, np.array([[0, 1] * 5, [0.5] * 10]), "row 1, unit 0 is 0.5"),
                                  (spins, np.ones((2, 9), np.int8), r"must be \(reads, 10\)"),
                                  (spins, np.array([["a"] * 10]), "must be numbers")):
        with pytest.raises(ParameterError, match=found):
            backend.solve(energy, backend.params({}), seed=1, initial_states=states)
    ok = backend.solve(bits, backend.params({}), seed=1, initial_states=np.array([[0, 1] * 5, [1, 0] * 5]))
    assert set(np.unique(ok.states)) <= {0, 1}


@pytest.mark.parametrize("name", ["anneal", "hopfield", "replica", "bifurcation", "tank", "exact"])
def test_solve_takes_a_dict_of_parameters_and_refuses_what_is_not_an_energy(name, registry):
    """``backend.solve(energy, {"reads": 2})`` was an ``AttributeError: 'dict' object has no attribute 'reads'``,
    and ``backend.solve(np.eye(3))`` another from deep inside; a dict now builds the Params, and the rest is one
    ``ParameterError``."""
    backend = registry.backend(name)
    energy = random_energy(8, 2)
    samples = backend.solve(energy, {"reads": 2} if name != "exact" else {}, seed=1)
    assert len(samples) >= 1 and np.allclose(samples.energies, energy.energies(samples.states))
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        backend.solve(energy, {"bogus": 1}, seed=1)
    with pytest.raises(ParameterError, match="solve takes a hopsolve.Energy"):
        backend.solve(np.eye(3), None, seed=1)
    with pytest.raises(ParameterError, match="params must be its Params or a dict"):
        backend.solve(energy, ["reads", 2], seed=1)


@settings(max_examples=30, deadline=None)
@given(pieces=st.lists(st.integers(0, 40), min_size=1, max_size=6), n=st.integers(0, 9), seed=st.integers(0, 2**32))
def test_hopfield_starts_drawn_piece_by_piece_are_one_draw_of_them_all(pieces, n, seed):
    """Each batch draws its reads' starts as it starts; the rows are those one draw of every read gives, so a
    read's start still depends only on the seed and its index."""
    from hopsolve.backends.hopfield import _lazy_starts
    from hopsolve.seeding import make_rng

    reads = sum(pieces)
    spins, fill = _lazy_starts(make_rng(seed), reads, n)
    upto = 0
    for piece in pieces:
        upto += piece
        fill(upto)
    assert np.array_equal(spins, make_rng(seed).choice(np.array([-1, 1], dtype=np.int8), size=(reads, n)))


def test_a_timed_hopfield_run_draws_only_the_starts_of_the_reads_it_starts(monkeypatch):
    """100,000 reads of 800 units under a 0.2 s limit took 2.35 s: every start was drawn (2.1 s) before the
    first batch ran. The reads drawn are now those whose batches started."""
    from hopsolve.backends import hopfield as hopfield_module

    drawn = []
    lazy = hopfield_module._lazy_starts

    def counting(rng, reads, n):
        spins, fill = lazy(rng, reads, n)

        def recorded(upto):
            drawn.append(upto)
            fill(upto)

        return spins, recorded

    monkeypatch.setattr(hopfield_module, "_lazy_starts", counting)
    energy = random_energy(20, 4, density=0.3)
    backend = HopfieldBackend()
    samples = backend.solve(energy, HopfieldParams(reads=1_000_000, time_limit=0.3), seed=2)
    assert samples.timed_out and len(samples) <= max(drawn) < 1_000_000
    assert np.allclose(samples.energies, energy.energies(samples.states))


def test_a_timed_anneal_of_too_many_reads_is_refused_before_they_are_set_up(monkeypatch):
    """20,000 reads of 800 units under a 0.2 s limit were set up (1.2 s) before the refusal that their first sweep
    would not fit; the first few reads are now set up and swept to project it, and the refusal comes first."""
    from hopsolve import TooLargeError
    from hopsolve.backends import anneal as anneal_module

    set_up = []
    monkeypatch.setattr(AnnealBackend, "_probe_sweep", staticmethod(lambda *args: 0.01))  # 10 ms for the probe
    energy = random_energy(50, 3, density=0.2)
    with monkeypatch.context() as patched:
        patched.setattr(anneal_module, "make_rng", lambda seed: _Recording(seed, set_up))
        with pytest.raises(TooLargeError, match="setting up 20,000 reads of 50 units and sweeping them once"):
            AnnealBackend().solve(energy, AnnealParams(reads=20_000, time_limit=0.2), seed=1)
    assert max(set_up) == anneal_module.PROBE_READS  # only the probe's starts were drawn


def test_waking_the_threads_for_the_probe_does_not_refuse_a_run_that_fits(monkeypatch):
    """Waking numba's threads cost about 20 ms a call on a busy machine: the probe of 8 reads of a 20-unit QUBO
    projected to 20,000 reads as a 16 s sweep and refused a run of 0.85 s about every other time. The probe is
    timed on one thread, the least of three timings; modelled here by a kernel that pays 20 ms whenever it runs on
    more than one thread."""
    import time

    import numba

    from hopsolve.backends import _kernels as K
    from hopsolve.backends import anneal as anneal_module

    real = K.anneal_sweeps

    def waking(*args):
        if numba.get_num_threads() > 1:
            time.sleep(0.02)
        return real(*args)

    monkeypatch.setattr(anneal_module.K, "anneal_sweeps", waking)
    energy = random_energy(20, 5, density=0.5)
    samples = AnnealBackend().solve(energy, AnnealParams(reads=20_000, sweeps=10, time_limit=3.0), seed=1)
    assert len(samples) == 20_000 and samples.info["sweeps_done"] > 0


class _Recording:
    """A generator that records how many starts each ``choice`` draws."""

    def __init__(self, seed, sizes):
        from hopsolve.seeding import make_rng

        self.rng, self.sizes = make_rng(seed), sizes

    def choice(self, values, size):
        self.sizes.append(size[0])
        return self.rng.choice(values, size=size)


@pytest.mark.parametrize("name", ["anneal", "bifurcation"])
def test_a_fast_model_fills_the_time_limit_it_is_given_to_fill(name, registry):
    """After the first sweep the next chunk was sized on its pace and could cover the whole schedule of a fast
    model, which then ended before any stretch was decided: Petersen's cut ended after 0.03 s of a 5 s limit, G11
    with bifurcation after 0.03 s of 1 s for some seeds and 0.93 s for others."""
    backend = registry.backend(name)
    energy = random_energy(10, 5, density=0.5)
    samples = backend.solve(energy, backend.params({"time_limit": 1.0, "fill_time": True}), seed=4)
    default = backend.params({}).sweeps if name == "anneal" else backend.params({}).steps
    assert samples.info["schedule_stretched"] and samples.work > default
    assert np.allclose(samples.energies, energy.energies(samples.states))


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_run_whose_final_states_lost_a_reported_answer_answers_with_the_reported_one(tmp_path, interrupted):
    """bifurcation's lowest final energies (their slack units unset) were infeasible where it had reported feasible
    states: the result said "infeasible" beside an anytime curve with a feasible objective. The best feasible answer
    an update carried now answers when the final states hold nothing as good, in an interrupted run too."""
    import dataclasses

    from hopsolve import build_registry
    from hopsolve.sampleset import SampleSet
    from hopsolve.solving import solve_instance

    from .conftest import small_maxcut

    class Forgetful(HopfieldBackend):
        """Reports its best read as progress, then returns the worst state instead."""

        name = "forgetful"

        def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
            found = super().solve(energy, params, seed=seed)
            if callback is not None:  # (prepare's warm-up runs it without one)
                callback({"done": 1, "total": 1, "unit": "runs", "best_energy": found.best_energy,
                          "best_state": found.best})
            worst = np.ones((1, energy.num_variables), dtype=np.int8)  # every node on one side: a cut of 0
            return SampleSet.from_states(energy, worst, work=1, work_unit="runs",
                                         interrupted=interrupted and callback is not None)  # not the warm-up

    problem, instance = small_maxcut(tmp_path)
    registry = build_registry()
    registry.backends["forgetful"] = dataclasses.replace(registry.backends["hopfield"], name="forgetful",
                                                         cls=Forgetful)
    result, solution = solve_instance(registry, "maxcut", instance, backend="forgetful", seed=1,
                                      params={"reads": 10})
    honest, _ = solve_instance(registry, "maxcut", instance, backend="hopfield", seed=1, params={"reads": 10})
    assert result.objective == honest.objective > 0 and result.energy == honest.energy
    assert result.info["answer_from_progress"].startswith("the run's final states held no answer as good")
    assert result.info["anytime"][-1][1] == result.objective
    assert "answer_from_progress" not in honest.info
    # a Ctrl-C keeps the best answer the run reported, not the state it was stopped in (it answered a cut of 0)
    assert result.status == ("interrupted" if interrupted else "feasible")


@pytest.mark.parametrize("big, small", [(10**9, -1), (10**9 + 0.5, -1.5)])
def test_the_zero_field_tolerance_hides_no_improving_flip_beside_large_coefficients(big, small):
    """One tolerance for the whole model (1e-9 of its largest row) took a field of 0.5 beside a coefficient of 10⁹
    for zero: hopfield, replica and bifurcation left units whose flip lowers the energy by 1 (-14 where -20 is the
    optimum). It is per unit now, and 0 where every change is an integer."""
    import hopsolve

    q = {(0, 0): big, **{(i, i): small for i in range(1, 21)}}
    for backend in ("hopfield", "replica", "bifurcation"):
        result = hopsolve.solve(q, backend=backend, seed=1, **({"reads": 8} if backend == "hopfield" else {}))
        assert result.objective == 20 * small, backend


def test_sync_hopfield_takes_a_field_of_one_beside_couplings_of_ten_billion():
    """Sync mode's tolerance (from the field bounds) hid a field of -1 beside couplings of 2e10 and called the
    state a fixed point; the asynchronous kernels' tolerance is 0 on such integral models."""
    from hopsolve import QuadraticTerm, build_registry

    w = np.zeros((3, 3))
    w[0, 1] = w[1, 0] = -5e9
    w[0, 2] = w[2, 0] = 5e9
    w[1, 2] = w[2, 1] = 2e10
    energy = Energy(Vartype.SPIN, (QuadraticTerm.build("objective", w, np.array([-1.0, 0, 0])),))
    backend = build_registry().backend("hopfield")
    for mode in ("async", "sync"):
        params = backend.params({"mode": mode, "reads": 1})
        samples = backend.solve(energy, params, seed=1, initial_states=np.array([[1, 1, 1]], dtype=np.int8))
        assert samples.states[0].tolist() == [-1, 1, 1] and samples.energies[0] == -20000000001.0, mode


@pytest.mark.parametrize("name", ["anneal", "replica", "bifurcation", "hopfield", "tank"])
def test_the_warm_up_runs_every_budget_of_work_at_its_least(name):
    """The untimed warm-up ran bifurcation's ``steps`` as given: ``steps=2000000`` on the miniature took a second
    before a 3 s limit's clock started (reported as compiling). Every budget a backend has (sweeps, steps, their
    maxima) is at its least there, whatever the user gave."""
    import dataclasses

    from hopsolve import build_registry
    from hopsolve.warmup import warm_up

    backend_cls = build_registry().backends[name].cls
    seen = []

    class Recording(backend_cls):
        def solve(self, energy, params=None, **kwargs):
            seen.append(params)
            return super().solve(energy, params, **kwargs)

    fields = {f.name for f in dataclasses.fields(backend_cls.Params)}
    big = {key: 10**7 for key in ("sweeps", "steps", "max_sweeps", "max_steps") if key in fields}
    assert big  # each of these backends has a budget of work
    params = backend_cls.Params(**big)
    warm_up(Recording(), random_energy(6, 1), params)
    assert len(seen) == 1 and all(getattr(seen[0], key) <= 2 for key in big), seen[0]


def test_tank_refuses_coefficients_whose_sums_overflow():
    """Couplings of 1e308 ran through tank with numpy's overflow warnings and an answer; the spin model's refusal
    (coefficients past 1e150, or sums that overflow) applies to tank's dynamics too."""
    huge = Energy.from_hopfield(np.array([[0.0, 1e308], [1e308, 0.0]]), np.array([1e308, 1e308]), 0.0, "spin")
    with pytest.raises(ParameterError, match="non-finite coefficients|coefficients are too large"):
        TankBackend().solve(huge, TankParams(reads=2), seed=1)
    big = Energy.from_hopfield(np.array([[0.0, 1e200], [1e200, 0.0]]), np.zeros(2), 0.0, "spin")
    with pytest.raises(ParameterError, match="coefficients are too large: they reach 1e\\+200"):
        TankBackend().solve(big, TankParams(reads=2), seed=1)


def test_hopfield_s_last_batch_is_cut_to_what_the_limit_leaves(monkeypatch):
    """A batch's time per read is wall time, its threads included: dividing it by the threads again let the last
    batch run past the deadline by up to half its length. Modelled by batches that take 2 ms a read."""
    import time

    import numba

    from hopsolve.backends.hopfield import _Progress

    monkeypatch.setattr(_Progress, "DEADLINE_SHARE", 0.6)  # batches of 0.18 s: 90 reads
    energy = random_energy(5, 1, density=0.5)
    limit = 0.3  # the third batch ended at 0.36 s, not cut to the 0.116 s left
    progress = _Progress(energy, None, deadline=time.perf_counter() + limit)
    began = time.perf_counter()
    finished = progress.run_batches(10**6, lambda a, b: time.sleep(0.002 * (b - a)),
                                    lambda a, b: np.ones((b - a, 5), dtype=np.int8))
    took = time.perf_counter() - began
    assert progress.timed_out and finished % max(1, numba.get_num_threads()) == 0
    assert took <= limit * 1.05 + 0.01, took


def test_hopfield_s_batches_leave_the_finish_its_time_before_the_deadline():
    """After its last batch a timed run scores every finished read again (outcomes, the sample set): about
    FINISH_SCORINGS times the scoring its batches did. Modelled by reads that take 2 µs and a scoring of 20 µs a
    read under a 0.4 s deadline: the batches stop when what is left would not hold another batch and that finish
    (50,000 reads of 100 units ended 65 ms past a 0.9 s deadline when the finish was not counted)."""
    import time
    import types

    from hopsolve.backends import hopfield

    energy = random_energy(5, 1, density=0.5)
    progress = hopfield._Progress(energy, None, deadline=time.perf_counter() + 0.4)

    def slow_scoring(states):
        time.sleep(2e-5 * len(states))
        return np.zeros(len(states))

    progress.spin_energy = types.SimpleNamespace(energies=slow_scoring)
    finished = progress.run_batches(10**7, lambda a, b: time.sleep(2e-6 * (b - a)),
                                    lambda a, b: np.ones((b - a, 5), dtype=np.int8))
    finish = hopfield.FINISH_SCORINGS * 2e-5 * finished  # the finish this run's reads will cost, at least
    assert progress.timed_out and finished > 1000
    assert time.perf_counter() + finish <= progress.deadline + 0.05  # not counted: 0.27 s past it
    assert time.perf_counter() + finish >= progress.deadline - 0.2  # not stopped far too early either


def test_hopfield_s_batches_grow_past_a_fixed_cost_per_call():
    """A kernel call's fixed cost (waking numba's threads: 10-20 ms on a busy machine) was counted as the reads'
    own: with it above a batch's target the batches stayed at one read a thread. Modelled by calls of 30 ms and
    1 µs a read under a 1 s limit (batches aim at 20 ms): the batches at least double while they end early."""
    import time

    from hopsolve.backends.hopfield import _Progress

    energy = random_energy(5, 1, density=0.5)
    progress = _Progress(energy, None, deadline=time.perf_counter() + 1.0)
    sizes = []

    def run(a, b):
        sizes.append(b - a)
        time.sleep(0.03 + 1e-6 * (b - a))

    finished = progress.run_batches(10**7, run, lambda a, b: np.ones((b - a, 5), dtype=np.int8))
    assert progress.timed_out and finished > 10_000 and sizes[3] >= 8 * sizes[0], sizes[:8]


def test_a_timed_anneal_projects_its_reads_streams_before_setting_them_up():
    """Every read's random stream is derived in Python: 200,000 reads of a 20-unit QUBO spent 2 s deriving them
    under a 0.5 s limit, then returned their random starts, not one sweep run. The streams are projected from 64
    reads with the rest of the set-up, and such a run is refused before it starts."""
    from hopsolve import TooLargeError

    energy = random_energy(20, 3, density=0.5)
    with pytest.raises(TooLargeError, match="setting up 400,000 reads of 20 units"):
        AnnealBackend().solve(energy, AnnealParams(reads=400_000, time_limit=0.5), seed=1)
