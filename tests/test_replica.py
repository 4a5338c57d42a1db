"""The replica backend: conformance, Boltzmann sampling against exact enumeration, detailed balance of exchanges,
cluster moves that keep the energy bookkeeping, determinism (seed, chunks, threads, replays), Ctrl-C."""

from __future__ import annotations

import itertools
import time
import types
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from hopsolve import Energy, ParameterError, Vartype
from hopsolve.backend import schedule_steps_buildable
from hopsolve.backends import _descent as descent
from hopsolve.backends import _replica_kernels as RK
from hopsolve.backends import replica as R
from hopsolve.backends._model import compile_spin_model
from hopsolve.backends.replica import ReplicaBackend, ReplicaParams, plan_anytime
from hopsolve.energy import GroupSquareTerm
from hopsolve.pattern_term import PatternTerm
from hopsolve.seeding import kernel_states, make_rng
from hopsolve.testing import check_backend, random_energy

from .conftest import small_maxcut
from .conftest import torus_energy as _torus


def test_parallel_tempering_conformance_with_an_attached_maxcut(tmp_path):
    problem, instance = small_maxcut(tmp_path)
    check_backend(ReplicaBackend(), {"sweeps": 300}, problem=problem, instance=instance)


def test_annealed_ladders_conformance_with_an_attached_maxcut(tmp_path):
    problem, instance = small_maxcut(tmp_path)
    check_backend(ReplicaBackend(), {"sweeps": 300, "schedule": "anneal", "reads": 8}, problem=problem,
                  instance=instance)


def _run(energy, params, seed, ladders):
    """A run's arrays, advanced by hand one chunk of rounds at a time (what ``solve`` does between callbacks)."""
    model = compile_spin_model(energy)
    shape = R.ladder(model, params)
    temps = len(shape.ratios)
    clusters = ReplicaBackend._clusters(model, params, ladders)
    spins = make_rng(seed).choice(np.array([-1, 1], dtype=np.int8), size=(ladders * temps, model.n))
    run = R._build(model, R._couplings(model, params.rule), energy, spins, shape.ratios, ladders, clusters,
                   kernel_states(seed, ladders * (temps + 1)), max(1, int(params.cluster_limit * model.n)),
                   params.cluster_every)
    return run, shape


def _boltzmann(energy, beta):
    states = np.array(list(itertools.product((-1, 1), repeat=energy.num_variables)), dtype=np.int8)
    weights = np.exp(-beta * (energy.energies(states) - energy.energies(states).min()))
    return weights / weights.sum()


def _chi_square_p(counts, expected_probabilities):
    """p-value of Pearson's χ² test, bins with an expected count under 5 pooled."""
    expected = expected_probabilities * counts.sum()
    small = expected < 5
    observed = np.append(counts[~small], counts[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    if expected[-1] == 0:
        observed, expected = observed[:-1], expected[:-1]
    statistic = ((observed - expected) ** 2 / expected).sum()
    return float(stats.chi2.sf(statistic, len(observed) - 1))


@pytest.mark.parametrize("cluster_moves", ["none", "houdayer"])
def test_every_temperature_samples_its_boltzmann_distribution(cluster_moves):
    """Five spins with real couplings (every state has its own energy); the states each temperature of a fixed
    ladder visits (every 4th round, four ladders) against exact enumeration, by χ² at the 0.1% level. The same
    samples against the distribution of a neighbouring temperature must be rejected: the test can fail."""
    energy = random_energy(5, 11)
    params = ReplicaParams(replicas=4, beta_min=0.3, beta_max=1.5, cluster_moves=cluster_moves)
    run, shape = _run(energy, params, seed=3, ladders=4)
    betas = shape.betas()
    counts = np.zeros((len(betas), 32))
    powers = 1 << np.arange(4, -1, -1)  # the state's index in itertools.product order
    for chunk in range(5000):
        run.advance(4 * chunk, np.full(4, shape.beta_max))
        if chunk < 50:
            continue
        for lad in range(4):
            for k in range(len(betas)):
                spins = run.ladders.states[run.ladders.replica_at[lad, k]]
                counts[k, int(((spins > 0) * powers).sum())] += 1
    if cluster_moves == "houdayer":
        assert run.ladders.cluster_moves.sum() > 1000
    for k, beta in enumerate(betas):
        assert _chi_square_p(counts[k], _boltzmann(energy, beta)) > 1e-3, f"temperature {k} (β={beta:.3f})"
    assert _chi_square_p(counts[-1], _boltzmann(energy, betas[-2])) < 1e-6
    assert _chi_square_p(counts[0], _boltzmann(energy, 1.6 * betas[0])) < 1e-6


def test_exchanges_satisfy_detailed_balance():
    """For every pair of energies of a small model at two temperatures, the compiled rule accepts a swap with
    probability min(1, e^{(β_lo-β_hi)(E_a-E_b)}) (estimated over 4000 draws), so that
    π_lo(a) π_hi(b) P(a, b) = π_lo(b) π_hi(a) P(b, a)."""
    levels = np.unique(random_energy(3, 4).energies(
        np.array(list(itertools.product((-1, 1), repeat=3)), dtype=np.int8)))
    beta_low, beta_high = 0.4, 1.1
    generator = np.uint64(0x9E3779B97F4A7C15)
    draws = 4000

    def acceptance(e_low, e_high):
        nonlocal generator
        accepted = 0
        for _ in range(draws):
            ok, state = RK.exchange_accepted(beta_low, beta_high, e_low, e_high, generator)
            generator = np.uint64(state)  # numba hands the state back as a Python int
            accepted += ok
        return accepted / draws

    for a, b in itertools.product(levels, repeat=2):
        forward, backward = acceptance(a, b), acceptance(b, a)
        for observed, low, high in ((forward, a, b), (backward, b, a)):
            exact = min(1.0, np.exp((beta_low - beta_high) * (low - high)))
            assert abs(observed - exact) <= 4 * np.sqrt(exact * (1 - exact) / draws) + 1e-12
        flow = np.exp(-beta_low * a - beta_high * b) * min(1.0, np.exp((beta_low - beta_high) * (a - b)))
        back = np.exp(-beta_low * b - beta_high * a) * min(1.0, np.exp((beta_low - beta_high) * (b - a)))
        assert np.isclose(flow, back)


def test_houdayer_moves_keep_the_pair_energy_and_the_bookkeeping():
    energy = _torus(10, 2)
    model = compile_spin_model(energy)
    rng = np.random.default_rng(0)
    states = rng.choice([-1.0, 1.0], size=(2, model.n))
    fields = model.initial_fields(states)
    energies = energy.energies(states.astype(np.int8)).astype(float)
    total = energies.sum()
    generators = np.array([12345, 678], dtype=np.uint64)
    queue, mark = np.zeros(model.n, np.int64), np.zeros(model.n, np.int8)
    sizes = []
    for _ in range(200):
        sizes.append(RK.houdayer_move(model.indptr, model.indices, model.data, 0, 1, states, fields, energies,
                                      generators, model.n // 2, queue, mark))
        assert np.isclose(energies.sum(), total)
    assert max(sizes) > 1 and not mark.any()
    assert np.allclose(energies, energy.energies(states.astype(np.int8)))
    assert np.allclose(fields, model.initial_fields(states))


def test_a_run_with_cluster_moves_tracks_energies_and_fields_exactly():
    energy = _torus(12, 5)
    params = ReplicaParams(cluster_moves="houdayer")
    run, _ = _run(energy, params, seed=1, ladders=4)
    model = compile_spin_model(energy)
    for chunk in range(20):
        run.advance(10 * chunk, np.full(10, R.ladder(model, params).beta_max))
    ladders = run.ladders
    assert ladders.cluster_moves.sum() > 0 and ladders.exchange_accepted.sum() > 0
    assert np.allclose(ladders.energies, energy.energies(ladders.states.astype(np.int8)))
    assert np.allclose(ladders.fields, model.initial_fields(ladders.states))
    assert np.allclose(ladders.best, energy.energies(ladders.best_states.astype(np.int8)))
    assert sorted(ladders.temperature_of[ladders.replica_at].ravel().tolist()) == sorted(
        list(range(len(ladders.ratios))) * 4)


@pytest.mark.parametrize("values", [{"sweeps": 400}, {"sweeps": 400, "schedule": "anneal", "reads": 6}])
def test_same_seed_same_states_in_any_chunks_and_threads(values):
    energy = _torus(8, 1)
    backend = ReplicaBackend()
    whole = backend.solve(energy, backend.params(values), seed=7)
    again = backend.solve(energy, backend.params({**values, "threads": 1}), seed=7)
    chunked = backend.solve(energy, backend.params(values), seed=7, callback=lambda update: None)
    other = backend.solve(energy, backend.params(values), seed=8)
    assert np.array_equal(whole.states, again.states) and np.array_equal(whole.states, chunked.states)
    assert not np.array_equal(whole.states, other.states)
    assert whole.work == 400 and whole.work_unit == "sweeps" and whole.derived["sweeps"] == 400


def test_a_fixed_ladder_spends_its_time_limit_and_its_sweeps_replay_it():
    energy = _torus(8, 3)
    backend = ReplicaBackend()
    # 1 s: under a loaded test run a 0.6 s limit once went entirely to the set-up (no sweep at all)
    timed = backend.solve(energy, backend.params({"time_limit": 1.0, "fill_time": True}), seed=4)
    sweeps = timed.derived["sweeps"]
    assert sweeps == timed.work == timed.info["sweeps_done"] > 0 and not timed.timed_out
    # the limit is checked between chunks of about CHUNK_SECONDS: at most about one chunk over, two on a machine
    # busy with other tests (how close it stays on an idle one is measured in benchmarks, RESULTS §10 and §12)
    assert 0.9 <= timed.info["wall_time_s"] <= 1.0 + 2 * R.CHUNK_SECONDS + 0.05
    replay = backend.solve(energy, backend.params({"sweeps": sweeps}), seed=4)
    assert np.array_equal(timed.states, replay.states)


def _solve_on_a_fake_clock(monkeypatch, backend, energy, values, reserve):
    """``backend.solve(energy, values, seed=9)`` on a clock that moves only in the anneal's rounds, 0.1 ms a
    replica-sweep (so the pilot's pace is the same every time), with ``reserve`` in place of the final descent's
    reserve (timed on the real clock otherwise)."""
    clock = types.SimpleNamespace(now=0.0)
    advance = R._Run.advance

    def timed_advance(self, first_round, cold):
        advance(self, first_round, cold)
        clock.now += 1e-4 * len(cold) * self.ladders.states.shape[0]

    fake_time = types.SimpleNamespace(perf_counter=lambda: clock.now)
    with monkeypatch.context() as patches:
        patches.setattr(R, "time", fake_time)
        patches.setattr(descent, "time", fake_time)  # the final descent reads the same clock
        patches.setattr(R, "first_chunk_reserve", reserve)
        patches.setattr(R._Run, "advance", timed_advance)
        return backend.solve(energy, backend.params(values), seed=9)


def test_the_anytime_rule_is_deterministic_and_its_reads_and_sweeps_replay_it(monkeypatch):
    """On a clock that moves 0.1 ms per replica-sweep (so the pace is the same every time) the anytime rule's
    pilot, plan and run are the same twice; the reads and sweeps it records replay the run exactly."""
    energy = _torus(8, 6)
    backend = ReplicaBackend()
    # the anneal alone (tabu_share=0): the fake clock moves only in the anneal's rounds, and the tabu phase that
    # would follow runs until the clock reaches the limit
    values = {"schedule": "anneal", "anytime_reads": 40, "anytime_sweeps": 200, "time_limit": 1.0,
              "fill_time": True, "tabu_share": 0}
    first, second = (_solve_on_a_fake_clock(monkeypatch, backend, energy, values, lambda *args: 0.0)
                     for _ in range(2))
    assert np.array_equal(first.states, second.states) and first.derived == second.derived
    reads, sweeps = first.derived["reads"], first.derived["sweeps"]
    assert (reads, sweeps) == plan_anytime(1e-4, 1.0 - first.info["pilot_s"], 1, backend.params(values),
                                           units=energy.num_variables)
    assert sweeps == first.info["sweeps_planned"]
    assert reads % 2 == 0 and 4 <= reads <= 40 and len(first) == reads and first.work == sweeps
    assert not (first.info["schedule_stretched"] or first.info["schedule_compressed"] or first.timed_out)
    assert first.info["replay"] == {"reads": reads, "sweeps": sweeps, "replan": "", "cold_end": "tail",
                                    "recombine": "on"}
    assert first.derived["beta_max"] == R.ladder(compile_spin_model(energy), backend.params(
        {"schedule": "anneal", "cold_end": "model"})).beta_max  # tail: model's end, reached after the knee
    replay = backend.solve(energy, backend.params({"schedule": "anneal", **first.info["replay"]}), seed=9)
    assert np.array_equal(first.states, replay.states)


def test_the_pilot_lasts_about_its_budget_and_the_descent_reserve_counts_the_ladders_planned(monkeypatch):
    """On a clock that moves 0.1 ms per replica-sweep the pilot sizes its second anneal from its first and stops at
    about its budget (2% of a 1 s limit: doubling from 4 rounds took 0.05 s), and the final descent's reserve is
    timed for the ladders the rule planned, not for ``anytime_reads`` (1,000 timed on G22 kept 0.35 s of 10 s)."""
    energy = _torus(8, 6)
    backend = ReplicaBackend()
    values = {"schedule": "anneal", "anytime_reads": 1000, "anytime_sweeps": 200, "time_limit": 1.0,
              "fill_time": True, "tabu_share": 0}
    reserved_for = []

    def reserve(model, reads, limit):
        reserved_for.append(reads)
        return 0.1

    samples = _solve_on_a_fake_clock(monkeypatch, backend, energy, values, reserve)
    budget = 0.02 * 1.0
    assert budget <= samples.info["pilot_s"] <= 1.5 * budget
    planned = samples.derived["reads"]
    first_plan = plan_anytime(1e-4, 1.0 - samples.info["pilot_s"], 1, backend.params(values),
                              units=energy.num_variables)[0]
    assert reserved_for == [first_plan] and planned <= first_plan < 1000  # then planned again for what it leaves
    # the plan is for what the reserve leaves (one replica a ladder, 0.1 ms a replica-sweep)
    searched = samples.info["sweeps_planned"] * planned * 1e-4
    assert 0.9 * (0.9 - samples.info["pilot_s"]) <= searched <= 0.9 - samples.info["pilot_s"]


def _chunked_on_a_fake_clock(monkeypatch, sweeps, seconds):
    """``_run_chunked`` over an annealed plan of ``sweeps`` sweeps with a 2 s limit and ``fill_time``, on a clock
    that moves ``seconds(now, sweeps_in_the_chunk)`` a chunk; returns the progress and the clock at the end."""
    clock = types.SimpleNamespace(now=0.0)

    def advance(first_round, cold):
        clock.now += seconds(clock.now, len(cold))

    monkeypatch.setattr(R, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    params = ReplicaParams(schedule="anneal", sweeps=sweeps, time_limit=2.0, fill_time=True)
    progress = R._run_chunked(np.geomspace(0.1, 3.0, sweeps), 3.0, advance, params, None, dict, 0.0)
    return progress, clock.now


@pytest.mark.parametrize("stalled_chunk", [1, 2, 3])
def test_one_stalled_chunk_does_not_end_an_anytime_run_early(monkeypatch, stalled_chunk):
    """On a clock that moves 20 µs per sweep, one chunk that stalls 0.2 s (a busy machine descheduling the run)
    squeezes the plan at most for a while: the run still spends the 2 s limit (before, a stall in the first chunk
    squeezed the plan into a few sweeps that ended the run at 0.2 s) and ends with its plan, cold."""
    calls = itertools.count(1)
    progress, ended = _chunked_on_a_fake_clock(
        monkeypatch, 80_000, lambda now, sweeps: 2e-5 * sweeps + (0.2 if next(calls) == stalled_chunk else 0.0))
    assert 0.95 * 2.0 <= ended <= 2.0 and progress.done > 60_000
    assert not (progress.timed_out or progress.interrupted)  # the plan's end reached: cold


def test_a_plan_too_short_for_its_limit_is_stretched_to_nearly_all_of_it(monkeypatch):
    """On a clock that moves 20 µs per sweep a plan of half the 2 s limit's sweeps is stretched once its pace is
    measured, to FILL_SHARE of what is left: the run ends within FILL_SLACK of the limit, cold (stretched to 95%
    when 7% would go unused, 10 s runs of Gset ended 0.3–0.7 s early)."""
    progress, ended = _chunked_on_a_fake_clock(monkeypatch, 50_000, lambda now, sweeps: 2e-5 * sweeps)
    assert progress.stretched and not (progress.timed_out or progress.interrupted)
    assert (1.0 - R.FILL_SLACK) * 2.0 <= ended <= 2.0


def test_a_filled_plan_that_slows_a_little_still_ends_cold_in_time(monkeypatch):
    """A plan stretched to FILL_SHARE of its 2 s limit whose pace then slows by 3% is compressed (it would overrun
    by about 1%): it ends its schedule, cold, within the limit, instead of being cut at the limit short of its end
    (the compression waited for a 2% overrun, more than a filled plan's margin)."""
    progress, ended = _chunked_on_a_fake_clock(monkeypatch, 50_000,
                                               lambda now, sweeps: (2e-5 if now < 0.5 else 2.06e-5) * sweeps)
    assert progress.stretched and progress.compressed
    assert not (progress.timed_out or progress.interrupted) and ended <= 2.0


def test_plan_anytime_fills_the_time_with_even_reads_between_four_and_the_cap():
    params = ReplicaParams(anytime_reads=40, anytime_sweeps=1000)
    for pace, remaining in [(1e-6, 0.01), (1e-6, 1.0), (1e-7, 100.0), (1e-3, 0.001)]:
        ladders, sweeps = plan_anytime(pace, remaining, 1, params, units=100)
        assert ladders % 2 == 0 and 4 <= ladders <= 40 and sweeps >= 1
        assert plan_anytime(pace, remaining, 1, params, units=100) == (ladders, sweeps)
        if sweeps > 1:
            assert ladders * sweeps * pace <= remaining
    assert plan_anytime(1e-6, 0.003, 1, params, units=100)[0] == 4  # short: few long reads
    assert plan_anytime(1e-7, 100.0, 1, params, units=100)[0] == 40  # long: every read allowed
    assert plan_anytime(1e-6, 1.0, 1, ReplicaParams(anytime_reads=2), units=100)[0] == 2
    # the cap is anytime_reads, not reads (max-cut's untimed default, 40 reads, is not a timed run's cap)
    assert plan_anytime(1e-7, 100.0, 1, ReplicaParams(reads=40), units=100)[0] == ReplicaParams().anytime_reads


def test_the_anytime_rule_aims_for_reads_of_sweeps_in_proportion_to_the_units():
    """Without ``anytime_sweeps`` a read aims for ANYTIME_SWEEPS_PER_UNIT sweeps a unit, between the floor and the
    ceiling: a small model gets many short reads, a large one few long ones, in the same time."""
    params = ReplicaParams()
    assert R.aimed_sweeps(params, 800) == R.ANYTIME_SWEEPS_PER_UNIT * 800
    assert R.aimed_sweeps(params, 3) == R.ANYTIME_SWEEPS_FLOOR
    assert R.aimed_sweeps(params, 10**6) == R.ANYTIME_SWEEPS_CEILING
    assert R.aimed_sweeps(ReplicaParams(anytime_sweeps=77), 800) == 77
    assert R.aimed_sweeps(ReplicaParams(anytime_sweeps_per_unit=30), 800) == 24_000
    assert R.aimed_sweeps(ReplicaParams(anytime_sweeps_per_unit=30, anytime_sweeps=77), 800) == 77
    assert R.aimed_sweeps(params, 2000, dense=True) == R.ANYTIME_SWEEPS_PER_UNIT_DENSE * 2000 == 5000
    assert R.aimed_sweeps(ReplicaParams(anytime_sweeps_per_unit=30), 800, dense=True) == 24_000
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ParameterError, match="anytime_sweeps_per_unit must be a positive number"):
            ReplicaParams(anytime_sweeps_per_unit=bad).validate()
    work = 1e-6, 4.0  # 4·10^6 replica-sweeps
    small, large = (plan_anytime(*work, 1, params, units=u) for u in (800, 20_000))
    assert small[0] == 2 * int(R.ANYTIME_SHARE * 4e6 / (R.ANYTIME_SWEEPS_PER_UNIT * 800) / 2) < params.anytime_reads
    assert large[0] == 2 * int(R.ANYTIME_SHARE * 4e6 / R.ANYTIME_SWEEPS_CEILING / 2) and large[1] > small[1]


def test_plan_anytime_plans_the_reads_that_fit_in_memory(monkeypatch):
    """A rule that chooses the reads itself plans within the memory limit (a run of 1,000 reads of a large model
    would be refused by the run's own check, naming reads the user never gave)."""
    from hopsolve.backend import check_run_size

    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(8 * R.RUN_ARRAYS * 100 * 2 * 10))  # 10 ladders of 2 × 100
    ladders, _ = plan_anytime(1e-9, 100.0, 2, ReplicaParams(anytime_sweeps=1000), units=100)
    assert ladders == 10
    check_run_size(reads=ladders, replicas=2, units=100, arrays=R.RUN_ARRAYS)  # passes the run's check


def test_plan_anytime_keeps_reads_the_user_gave_and_a_schedule_that_builds_in_time():
    kept = ReplicaParams(reads=10, anytime_sweeps=1000, plan_reads=False)
    for pace, remaining in [(1e-6, 0.003), (1e-7, 100.0)]:
        ladders, sweeps = plan_anytime(pace, remaining, 1, kept, units=100)
        assert ladders == 10 and 10 * sweeps * pace <= remaining
    # a tiny model's pace would fill 1 s with 50 million sweeps a read: the plan stays what builds in 0.2 s
    ladders, sweeps = plan_anytime(1e-9, 1.0, 1, ReplicaParams(anytime_reads=4), units=100)
    assert sweeps == schedule_steps_buildable(1.0) < R.ANYTIME_SHARE * 1.0 / (1e-9 * ladders)


def test_ctrl_c_keeps_the_best_states():
    energy = _torus(10, 4)
    updates = []

    def interrupt(update):
        updates.append(update)
        if len(updates) == 3:
            raise KeyboardInterrupt

    backend = ReplicaBackend()
    samples = backend.solve(energy, backend.params({"sweeps": 10**7}), seed=2, callback=interrupt)
    assert samples.interrupted and not samples.timed_out and 0 < samples.work < 10**7
    assert samples.best_energy <= updates[-1]["best_energy"] + 1e-9
    assert np.allclose(energy.energies(samples.states), samples.energies)
    assert [u["done"] for u in updates] == sorted(u["done"] for u in updates) and updates[0]["unit"] == "sweeps"


def test_the_derived_ladder_is_geometric_from_the_energy_scale():
    energy = _torus(20, 1, bias=0.0)
    samples = ReplicaBackend().solve(energy, ReplicaParams(sweeps=5), seed=1)
    ladder = np.array(samples.derived["ladder"])
    model = compile_spin_model(energy)
    assert np.isclose(ladder[0], 1.0 / model.typical_field()) and np.isclose(ladder[-1], np.log(100.0) / 2.0)
    assert len(ladder) == min(32, max(4, round(20 * np.log(ladder[-1] / ladder[0]) / 4)))
    assert np.allclose(ladder[1:] / ladder[:-1], ladder[1] / ladder[0])
    assert samples.derived["cluster_moves"] == "houdayer" and len(samples.info["exchange_rates"]) == len(ladder) - 1


def test_the_model_cold_end_bounds_a_whole_sweeps_excitations():
    """``cold_end="model"``: β_max where the n units together take an uphill flip out of a local minimum with
    probability 1% per sweep (``unit``: each with ≤ 1%), never warmer than ``unit``; the hot end is unchanged. On a
    ±1 torus every unit has four couplings of magnitude 1, so its smallest change is exactly 4, not 2·min|J| = 2."""
    energy = _torus(20, 1, bias=0.0)
    model = compile_spin_model(energy)
    assert np.array_equal(model.unit_gaps(), np.full(model.n, 4.0))
    unit = R.ladder(model, ReplicaParams(schedule="anneal"))
    whole = R.ladder(model, ReplicaParams(schedule="anneal", cold_end="model"))
    assert np.isclose(unit.beta_max, np.log(100.0) / 2.0)
    assert np.isclose(whole.beta_max, np.log(100.0 * model.n) / 4.0)
    assert np.isclose(model.n * np.exp(-whole.beta_max * 4.0), 0.01)
    assert whole.beta_min == unit.beta_min
    given = R.ladder(model, ReplicaParams(schedule="anneal", cold_end="model", beta_max=3.0))
    assert given.beta_max == 3.0
    small = compile_spin_model(_torus(3, 1, bias=0.0))  # ln(100·9)/4 < ln(100)/2: the unit rule's end stands
    assert R.ladder(small, ReplicaParams(schedule="anneal", cold_end="model")).beta_max == np.log(100.0) / 2.0


def test_the_tail_cold_end_reaches_the_unit_end_then_the_model_end():
    """``cold_end="tail"``: the schedule is geometric to ``unit``'s cold end over the first 90% of the rounds and
    geometric on to ``model``'s over the rest; a given ``beta_max`` has no tail, and two runs with one seed give the
    same states with exact energies."""
    model = compile_spin_model(_torus(20, 1, bias=0.0))
    unit = R.ladder(model, ReplicaParams(schedule="anneal", cold_end="unit"))
    whole = R.ladder(model, ReplicaParams(schedule="anneal", cold_end="model"))
    tail = R.ladder(model, ReplicaParams(schedule="anneal", cold_end="tail", cold_tail=0.1))
    assert (tail.beta_min, tail.beta_max, tail.knee) == (unit.beta_min, whole.beta_max, unit.beta_max)
    plan = tail.schedule("anneal", 1000)
    assert len(plan) == 1000 and np.all(np.diff(plan) > 0)
    assert np.isclose(plan[0], unit.beta_min) and np.isclose(plan[899], unit.beta_max)
    assert np.isclose(plan[-1], whole.beta_max)
    assert np.allclose(plan[:900], unit.schedule("anneal", 900))
    assert np.allclose(plan[1:900] / plan[:899], plan[1] / plan[0])
    assert np.allclose(plan[901:] / plan[900:-1], plan[-1] / plan[-2])
    assert np.array_equal(tail.schedule("anneal", 3), np.geomspace(unit.beta_min, whole.beta_max, 3))
    assert R.ladder(model, ReplicaParams(schedule="anneal", cold_end="tail", beta_max=3.0)).knee is None
    energy = _torus(20, 1, bias=0.0)
    backend = ReplicaBackend()
    values = {"schedule": "anneal", "cold_end": "tail", "reads": 4, "sweeps": 200}
    first, again = (backend.solve(energy, backend.params(values), seed=3) for _ in range(2))
    assert np.array_equal(first.states, again.states) and np.allclose(energy.energies(first.states), first.energies)


def test_refusals_are_one_line_parameter_errors():
    backend = ReplicaBackend()
    memory = Energy(Vartype.SPIN, (PatternTerm.build("memory", np.ones((1, 4))),))
    with pytest.raises(ParameterError, match="pattern"):
        backend.solve(memory, backend.params({}), seed=1)
    one_hot = Energy(Vartype.BINARY, (GroupSquareTerm.build("objective", np.repeat(np.arange(3), 3), np.ones(3)),))
    with pytest.raises(ParameterError, match="group penalties"):
        backend.solve(one_hot, backend.params({"cluster_moves": "houdayer"}), seed=1)
    assert backend.solve(one_hot, backend.params({}), seed=1).derived["cluster_moves"] == "none"
    for bad, field in [({"replicas": 0}, "replicas"), ({"cluster_limit": 0}, "cluster_limit"),
                       ({"beta_min": 2, "beta_max": 1}, "beta_min"), ({"schedule": "hot"}, "schedule"),
                       ({"cold_end": "system"}, "cold_end"), ({"cold_tail": 1.0}, "cold_tail")]:
        with pytest.raises(ParameterError, match=field):
            backend.params(bad)


def test_one_replica_per_ladder_without_cluster_moves_is_anneal_to_the_bit():
    """An annealed ladder of one replica draws the same initial states and streams as ``anneal``'s reads and runs
    the same kernel under the same schedule, so maxcut's default without a time limit gives what ``anneal``'s
    max-cut defaults gave, state for state, before its final descent (tested below)."""
    from hopsolve.backends.anneal import AnnealBackend

    energy = _torus(9, 2)
    ours = ReplicaBackend().solve(energy, ReplicaParams(reads=6, sweeps=300, schedule="anneal", final_descent=False),
                                  seed=3)
    theirs = AnnealBackend().solve(energy, AnnealBackend().params({"reads": 6, "sweeps": 300, "hot_end": "typical"}),
                                   seed=3)
    assert np.array_equal(ours.states, theirs.states)
    assert ours.derived["beta_min"] == theirs.derived["beta_min"] and ours.derived["cluster_moves"] == "none"


def _single_flip_energies(energy, states):
    """Energy of every state with each one of its units flipped (reads × n)."""
    low = -1 if energy.vartype is Vartype.SPIN else 0
    out = np.empty(states.shape)
    for i in range(states.shape[1]):
        flipped = states.copy()
        flipped[:, i] = (low + 1) - flipped[:, i] if low == 0 else -flipped[:, i]
        out[:, i] = energy.energies(flipped)
    return out


def test_the_final_descent_leaves_local_minima_and_never_raises_an_energy():
    """With ``final_descent`` (the default) every returned state is a single-flip local minimum, read for read no
    higher than the same run's state without it; a warm run's best states are not minima, so it flips units."""
    energy = _torus(9, 2)
    warm = ReplicaParams(reads=6, sweeps=20, schedule="anneal", beta_min=0.5, beta_max=0.5)
    plain = ReplicaBackend().solve(energy, replace(warm, final_descent=False), seed=3)
    done = ReplicaBackend().solve(energy, warm, seed=3)
    assert np.all(done.energies <= plain.energies + 1e-9) and np.any(done.energies < plain.energies - 1e-9)
    assert done.info["descent_flips"] > 0 and plain.info["descent_flips"] is None
    assert np.all(_single_flip_energies(energy, done.states) >= done.energies[:, None] - 1e-9)


def test_descend_best_states_keeps_the_bookkeeping_with_group_penalties_and_stops_at_the_deadline():
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(3), 4)
    energy = Energy(Vartype.BINARY, (
        GroupSquareTerm.build("one_hot", groups, np.ones(3), scale=2.0),
        *random_energy(12, 5, Vartype.BINARY, density=0.5).terms))
    model = compile_spin_model(energy)
    spins = rng.choice([-1.0, 1.0], size=(5, 12))
    spin_energy = energy.to_spin()
    ladders = types.SimpleNamespace(best_states=spins.copy(), best=spin_energy.energies(spins))
    assert R.descend_best_states(model, ladders, 5, 1, deadline=0.0) is None  # past: nothing run
    assert np.array_equal(ladders.best_states, spins)
    flipped = R.descend_best_states(model, ladders, 5, 1, deadline=None)
    assert flipped == int((ladders.best_states != spins).sum()) > 0
    assert np.allclose(ladders.best, spin_energy.energies(ladders.best_states))
    assert np.all(ladders.best <= spin_energy.energies(spins) + 1e-9)
    assert np.all(_single_flip_energies(spin_energy, ladders.best_states) >= ladders.best[:, None] - 1e-9)


def test_only_each_ladder_s_returned_state_is_descended():
    """A TSP's ladder of 12 temperatures descended 48 best states where 4 are returned (and a timed run could
    not fit them): the descent now takes each ladder's best replica only."""
    energy = random_energy(12, 7, density=0.5)
    model = compile_spin_model(energy)
    spins = np.random.default_rng(2).choice([-1.0, 1.0], size=(6, 12))  # 2 ladders of 3 temperatures
    best = energy.energies(spins)
    ladders = types.SimpleNamespace(best_states=spins.copy(), best=best.copy())
    returned = np.argmin(best.reshape(2, 3), axis=1) + np.array([0, 3])
    flipped = R.descend_best_states(model, ladders, 2, 3, deadline=None)
    others = np.setdiff1d(np.arange(6), returned)
    assert np.array_equal(ladders.best_states[others], spins[others]) and np.array_equal(ladders.best[others],
                                                                                           best[others])
    assert flipped == int((ladders.best_states[returned] != spins[returned]).sum()) > 0
    assert np.allclose(ladders.best, energy.energies(ladders.best_states))


def test_a_timed_descent_that_would_not_fit_is_skipped_for_every_state_and_the_replay_says_so(monkeypatch):
    """A timed TSP run filled its limit, its descent found the deadline passed part-way, and the printed replay
    (untimed) descended: 0 of 4 reads feasible in the run, 4 of 4 in its replay. The descent is now all or none
    (projected from the first state's), and a skipped one is recorded as ``final_descent=False``."""
    energy = _torus(8, 3)
    backend = ReplicaBackend()
    real = descent.descend_states

    def slow(*args, **kwargs):
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(descent, "descend_states", slow)  # 0.2 s a call: three more states cannot follow
    monkeypatch.setattr(R, "first_chunk_reserve", lambda *args: 0.0)  # (its timing would call the slow one)
    timed = backend.solve(energy, backend.params({"schedule": "anneal", "time_limit": 0.6, "fill_time": True,
                                                     "reads": 4, "plan_reads": False}), seed=5)
    monkeypatch.undo()
    assert timed.info["descent_flips"] is None and timed.info["replay"]["final_descent"] is False
    replay = backend.solve(energy, backend.params({"schedule": "anneal", **timed.info["replay"]}), seed=5)
    assert np.array_equal(timed.states, replay.states)


@pytest.mark.parametrize("schedule", ["fixed", "anneal"])
def test_a_timed_run_that_cannot_make_one_sweep_is_refused_not_answered_with_its_random_starts(monkeypatch,
                                                                                              schedule):
    """G22 at a borderline 0.25 s on a busy machine: a fixed ladder made 0 sweeps and returned its random starts
    (a cut 23% short) as a normal answer, ``timed_out`` false, with a replay (``sweeps=0``) that is refused."""
    from hopsolve.errors import TooLargeError

    energy = _torus(8, 3)
    real = R._build
    builds = []

    def slow_build(*args, **kwargs):  # the run's build passes the limit (an annealed run's pilot builds first)
        built = real(*args, **kwargs)
        builds.append(1)
        if schedule == "fixed" or len(builds) == 2:
            time.sleep(0.6)
        return built

    monkeypatch.setattr(R, "_build", slow_build)
    backend = ReplicaBackend()
    with pytest.raises(TooLargeError, match="left no time for one sweep"):
        backend.solve(energy, backend.params({"schedule": schedule, "time_limit": 0.5, "fill_time": True}), seed=1)


def test_replicas_whose_set_up_cannot_fit_the_time_limit_are_refused_before_they_are_built(monkeypatch):
    from hopsolve.backends import replica
    from hopsolve.errors import TooLargeError

    monkeypatch.setattr(replica, "_setup_seconds", lambda model, energy: 10.0)  # ten seconds a replica
    monkeypatch.setattr(replica, "_batch_setup_seconds", lambda model, energy, count: 10.0)  # in any batch
    with pytest.raises(TooLargeError, match="setting up .* replicas .* more than the"):
        ReplicaBackend().solve(random_energy(20, 1), ReplicaParams(time_limit=1.0), seed=1)


def test_the_anytime_plan_leaves_the_set_up_of_its_replicas_out_of_the_sweeps():
    params = ReplicaParams()
    ladders, sweeps = plan_anytime(1e-5, 1.0, 10, params, units=100)
    ladders_setup, sweeps_setup = plan_anytime(1e-5, 1.0, 10, params, setup=0.001, units=100)
    assert ladders_setup <= ladders and sweeps_setup * ladders_setup < sweeps * ladders


def test_a_set_up_refusal_is_confirmed_on_a_batch_of_the_run_s_size():
    """A projection from a small batch counts a call's fixed cost once per replica (6 ms a call on a 400-unit model:
    1.5 ms a replica in a batch of four, 0.07 ms in one of 112), so before refusing, a batch of the run's size is
    timed; the refusal stands only if that projection is over the limit too."""
    import time

    from hopsolve.backends.replica import ReplicaParams, _check_setup
    from hopsolve.errors import TooLargeError

    params = ReplicaParams(time_limit=0.5)
    asked = []
    _check_setup(0.01, 112, params, time.perf_counter(), lambda count: asked.append(count) or 1e-4)
    assert asked == [112]  # 2 × 10 ms × 112 is over 0.5 s; 2 × 0.1 ms × 112 is not
    with pytest.raises(TooLargeError, match="112 replicas"):
        _check_setup(0.01, 112, params, time.perf_counter(), lambda count: 0.01)
    _check_setup(1e-4, 112, params, time.perf_counter(), lambda count: pytest.fail("timed a run that fits"))


def test_a_slow_timing_of_one_replica_s_set_up_does_not_stop_a_short_run_before_its_first_sweep(monkeypatch):
    """One replica's set-up, timed alone, can be mostly a call's fixed cost (23 ms of waking a busy machine's
    threads); counted once per replica it put the first sweep of 128 replicas at 0.4 s against a real 0.6 ms,
    and a 0.3 s run made no sweep at all. The first sweep is now bounded by the set-up of all replicas as built."""
    energy = random_energy(200, 3, density=0.05)
    monkeypatch.setattr(R, "_setup_seconds", lambda model, energy: 0.05)  # 50 ms "a replica": 6.4 s for 128
    backend = ReplicaBackend()
    samples = backend.solve(energy, backend.params({"time_limit": 1.0}), seed=1)
    assert samples.work > 0 and samples.info["sweeps_done"] > 0


def test_a_plan_squeezed_on_a_slow_start_grows_back_when_the_pace_recovers(monkeypatch):
    """The sweeps a user gives run as given, the limit only capping them; a plan squeezed on the first chunks'
    slow pace (kernels loading, a busy machine) never grew back: G1 with sweeps=100000 under 1 s ran 628 sweeps and
    ended at 0.37 s. On a clock where the first three chunks sweep 50 times slower, the plan squeezed then grows
    back, and all 80,000 sweeps run (1.8 s of the 2 s limit)."""
    clock = types.SimpleNamespace(now=0.0, calls=0)

    def advance(first_round, cold):
        clock.calls += 1
        clock.now += (1e-3 if clock.calls <= 3 else 2e-5) * len(cold)

    monkeypatch.setattr(R, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    params = ReplicaParams(schedule="anneal", sweeps=80_000, time_limit=2.0)
    plan = np.geomspace(0.1, 3.0, params.sweeps)
    progress = R._run_chunked(plan, 3.0, advance, params, None, dict, 0.0)
    assert progress.compressed and progress.done == 80_000 and not progress.timed_out and clock.now <= 2.0


def test_the_recombination_folds_only_the_lowest_reads():
    """A timed run may return hundreds of reads; the recombination folds the RECOMBINED_READS lowest (each donor
    is a pass over the model: 2,000 reads of G42 overran a 10 s limit by 0.7 s). The child is the one the lowest
    reads alone give."""
    energy = _torus(10, 6)
    model = compile_spin_model(energy)
    count = R.RECOMBINED_READS + 20
    states = make_rng(3).choice(np.array([-1, 1], dtype=np.int8), size=(count, model.n))
    energies = np.array([energy.energy(s) for s in states])
    every = types.SimpleNamespace(best=energies.copy(), best_states=states.copy())
    lowest = np.argsort(energies, kind="stable")[:R.RECOMBINED_READS]
    alone = types.SimpleNamespace(best=energies[lowest].copy(), best_states=states[lowest].copy())
    done = R.recombine_best_states(model, every, count, 1, None)
    assert done["reads"] == R.RECOMBINED_READS
    assert R.recombine_best_states(model, alone, R.RECOMBINED_READS, 1, None) == done
    assert every.best.min() == alone.best.min() < energies.min()
    assert np.isclose(every.best.min(), energy.energy(every.best_states[int(np.argmin(every.best))]))
