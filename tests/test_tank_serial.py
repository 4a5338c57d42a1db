"""tank's serial Potts mean-field annealing (the default on permutation energies): each row's update is the
softmax of its mean field computed from the energy's own objective, rows stay normalised, the critical
temperature is the top eigenvalue of the linearised map, and it gives valid short tours, assignments and QAP
permutations; a run cut by its time limit replays with the reads it kept."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hopsolve_tsp.plugin import TspProblem

from hopsolve.backends.tank import TankBackend, TankParams
from hopsolve.backends.tank_serial import SerialNetwork, anneal_read, serial_sweep
from hopsolve.errors import ParameterError
from hopsolve.permutation import permutation_energy


def _tsp(n: int, seed: int):
    xy = np.random.default_rng(seed).random((n, 2))
    d = np.rint(1000 * np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(int)
    instance = TspProblem.from_distances(d)
    return instance, TspProblem().encode(instance), d


def _qap(n: int, seed: int):
    rng = np.random.default_rng(seed)
    flow = rng.integers(0, 6, (n, n)).astype(float)
    flow = np.triu(flow, 1) + np.triu(flow, 1).T
    distance = rng.integers(1, 9, (n, n)).astype(float)
    distance = np.triu(distance, 1) + np.triu(distance, 1).T
    return permutation_energy(flow, distance), flow, distance


def _objective_gradient(energy, v_items: np.ndarray) -> np.ndarray:
    """∂E_objective/∂V from the energy's own objective term (its fields are −∇), unweighted, at outputs V."""
    view = energy.permutation
    objective = dataclasses.replace(energy, terms=(energy.term(view.term),), weights={view.term: 1.0})
    flat = np.zeros((1, energy.num_variables))
    index = energy.layout.indices()
    flat[0, index] = v_items
    zero = objective.fields(np.zeros_like(flat))[0]
    return -(objective.fields(flat)[0] - zero)[index]  # the linear part (C) is in both: only the quadratic one


@pytest.mark.parametrize("kind", ["tsp", "qap"])
def test_a_row_update_is_the_softmax_of_its_mean_field_from_the_energys_objective(kind):
    energy = _tsp(7, 4)[1] if kind == "tsp" else _qap(6, 4)[0]
    network = SerialNetwork.from_view(energy.permutation)
    n = network.size
    rng = np.random.default_rng(1)
    v = rng.random((n, n))
    v /= v.sum(axis=1, keepdims=True)
    alpha, beta, temperature, first = 0.8, -0.3, 0.37, 2
    gradient = _objective_gradient(energy, v)
    field = -gradient[first] / network.scale - alpha * (v.sum(axis=0) - v[first]) + beta * v[first]
    expected = np.exp((field - field.max()) / temperature)
    expected /= expected.sum()
    order = np.array([first, *[i for i in range(n) if i != first]], dtype=np.int64)
    work, colsum = v.copy(), v.sum(axis=0)
    b, bt = network.b, network.b_transposed
    level = serial_sweep(network.a, network.a_transposed, b.indptr, b.indices, b.data, bt.indptr, bt.indices,
                         bt.data, network.linear, network.scale, work, colsum, order, temperature, alpha, beta,
                         np.zeros(n), np.zeros(n), np.zeros(n))
    np.testing.assert_allclose(work[first], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(work.sum(axis=1), 1.0)  # every row still normalised
    np.testing.assert_allclose(colsum, work.sum(axis=0))  # the column sums kept current
    assert level == pytest.approx((work**2).sum() / n)


def test_linear_field_is_the_objective_gradient_and_the_critical_temperature_its_top_eigenvalue():
    energy = _tsp(17, 2)[1]  # 289 units: the Lanczos path, against the dense matrix here
    network = SerialNetwork.from_view(energy.permutation)
    n, alpha, beta = network.size, 1.0, -0.5
    x = np.random.default_rng(0).standard_normal((n, n))
    expected = -_objective_gradient(energy, x) / network.scale - alpha * (x.sum(axis=0) - x) + beta * x
    np.testing.assert_allclose(network.linear_field(x, alpha, beta), expected, rtol=1e-9, atol=1e-9)
    centre = np.kron(np.eye(n), np.eye(n) - np.full((n, n), 1 / n))  # P: rows summing to zero
    dense = np.stack([network.linear_field(e.reshape(n, n), alpha, beta).ravel() for e in np.eye(n * n)], axis=1)
    top = np.linalg.eigvalsh(centre @ (0.5 * (dense + dense.T)) @ centre / n)[-1]
    value, exact = network.critical_temperature(alpha, beta, np.random.default_rng(3))
    assert exact and value == pytest.approx(top, rel=1e-3)


def test_rows_stay_normalised_and_saturate_as_the_temperature_falls():
    energy = _tsp(9, 7)[1]
    network = SerialNetwork.from_view(energy.permutation)
    start = np.full((9, 9), 1 / 9) + 1e-3 * np.random.default_rng(2).uniform(-1, 1, (9, 9))
    start /= start.sum(axis=1, keepdims=True)
    t0, _ = network.critical_temperature(1.0, -0.5, np.random.default_rng(0))
    run = anneal_read(network, start, t0, 1.0, -0.5, 0.95, 0.999, 5000, 1e-9, np.random.default_rng(1), None)
    assert run.saturated and not run.timed_out
    np.testing.assert_allclose(run.outputs.sum(axis=1), 1.0)
    assert (run.outputs**2).sum() / 9 >= 0.999


def test_default_gives_optimal_or_near_optimal_tours_on_small_instances_by_brute_force():
    gaps, projected = [], 0
    for seed in range(6):
        instance, energy, d = _tsp(8, 300 + seed)
        best = min(sum(d[t[k], t[(k + 1) % 8]] for k in range(8))
                   for t in ([0, *p] for p in itertools.permutations(range(1, 8))))
        samples = TankBackend().solve(energy, seed=seed)
        assert samples.derived["schedule"] == "serial"
        projected += samples.info["projected"]
        solution = TspProblem().decode(instance, energy, samples.best)
        assert solution.feasible
        gaps.append(solution.objective / best - 1)
    assert np.mean(gaps) < 0.02 and max(gaps) < 0.08, gaps
    # the network's own rows end as a tour in most reads (the rest break a column and are cleaned up)
    assert projected < 0.5 * 6 * TankParams().reads


def test_qap_gives_a_permutation_close_to_the_best_and_assignment_a_valid_one():
    energy, flow, distance = _qap(6, 9)
    samples = TankBackend().solve(energy, seed=2)
    view = energy.permutation
    positions = view.layout.positions(samples.best)
    assert positions is not None
    best = min(view.value(p) for p in itertools.permutations(range(6)))
    assert view.value(positions) <= 1.1 * best
    assert samples.derived["schedule"] == "serial"
    cost = np.random.default_rng(5).integers(1, 50, (8, 8)).astype(float)
    assignment = permutation_energy(np.zeros((8, 8)), np.zeros((8, 8)), cost)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    for schedule, factor in (("auto", 1.5), ("serial", 3.0)):  # a linear assignment's default stays mfa
        samples = TankBackend().solve(assignment, TankParams(schedule=schedule), seed=1)
        assert samples.derived["schedule"] == ("mfa" if schedule == "auto" else "serial")
        found = assignment.permutation.layout.positions(samples.best)
        assert found is not None and cost[np.arange(8), found].sum() <= factor * cost[rows, cols].sum()


def test_a_time_limited_run_keeps_finished_reads_and_replays_with_them():
    instance, energy, _ = _tsp(30, 11)
    timed = TankBackend().solve(energy, TankParams(reads=50, time_limit=0.3), seed=4)
    kept = timed.derived["reads"]
    assert 1 <= kept < 50 and timed.info["replay"] == {"reads": kept}
    again = TankBackend().solve(energy, TankParams(reads=kept), seed=4)
    np.testing.assert_array_equal(again.states, timed.states)


def test_serial_needs_a_permutation_energy():
    from hopsolve.testing import random_energy

    with pytest.raises(ParameterError, match="schedule=serial needs a permutation energy"):
        TankBackend().solve(random_energy(6, 1), TankParams(schedule="serial"), seed=1)
    with pytest.raises(ParameterError, match="column_weight"):
        TankParams(column_weight=float("nan")).validate()


def test_each_sweep_at_a_fixed_temperature_lowers_the_mean_field_free_energy():
    # with β = 0 a row's own terms are linear in it, so its softmax update is the exact minimiser of
    # F = E_net(V) + T Σ V ln V over that row: F can only fall, sweep after sweep (the serial Lyapunov function)
    energy = _tsp(9, 8)[1]
    network = SerialNetwork.from_view(energy.permutation)
    n, alpha, temperature = network.size, 1.0, 0.05
    b = network.b.toarray()

    def free_energy(v: np.ndarray) -> float:
        objective = float((network.a * (v @ b.T @ v.T)).sum() + (network.linear * v).sum()) / network.scale
        net = objective + 0.5 * alpha * float((v.sum(axis=0) ** 2).sum()) - 0.5 * alpha * float((v**2).sum())
        return net + temperature * float((v * np.log(np.maximum(v, 1e-300))).sum())

    values = []
    start = np.random.default_rng(4).random((n, n))
    start /= start.sum(axis=1, keepdims=True)
    values.append(free_energy(start))
    anneal_read(network, start, temperature, alpha, 0.0, 1.0, 2.0, 40, 0.0, np.random.default_rng(5), None,
                lambda sweep, t, v, level: values.append(free_energy(v)))
    assert len(values) == 41
    assert np.all(np.diff(values) <= 1e-9 * np.abs(values[:-1]).max())
    assert values[-1] < values[0]


def test_trajectory_records_saturation_and_energy_per_read():
    instance, energy, _ = _tsp(8, 12)
    samples = TankBackend().solve(energy, TankParams(reads=2, trajectory=True, record_every=5), seed=1)
    records = samples.per_read["trajectory"]
    assert {r["read"] for r in records} == {0, 1}
    for record in records:
        rows = record["V"][energy.layout.indices()].sum(axis=1)
        np.testing.assert_allclose(rows, 1.0)
        assert record["sweep"] % 5 == 0
        assert record["energy"] == pytest.approx(float(energy.energies(record["V"][None, :])[0]))
    first = [r for r in records if r["read"] == 0]
    assert first[-1]["saturation"] > first[0]["saturation"]
    assert first[-1]["temperature"] < first[0]["temperature"]


def test_a_critical_temperature_cut_short_is_an_estimate_from_below():
    energy = _tsp(20, 3)[1]
    network = SerialNetwork.from_view(energy.permutation)
    settled, exact = network.critical_temperature(1.0, -0.5, np.random.default_rng(0))
    early, cut = network.critical_temperature(1.0, -0.5, np.random.default_rng(0), seconds=0.0)
    assert exact and not cut
    assert 0 < early <= settled * (1 + 1e-12)
    assert early > 0.2 * settled  # eight Lanczos steps are already in the right range


def test_self_coupling_is_switched_off_from_the_first_sweep_that_saturates_the_rows_that_far():
    """After the switch a read runs as a β = 0 read would from that state (the descent of the free energy above
    holds again); before it, or never reached, it is the β read."""
    energy = _tsp(9, 3)[1]
    network = SerialNetwork.from_view(energy.permutation)
    start = np.full((9, 9), 1 / 9) + 1e-3 * np.random.default_rng(2).uniform(-1, 1, (9, 9))
    start /= start.sum(axis=1, keepdims=True)
    t0, _ = network.critical_temperature(1.0, -0.5, np.random.default_rng(0))
    seen = []
    switched = anneal_read(network, start, t0, 1.0, -0.5, 0.95, 0.999, 30, 1e-9, np.random.default_rng(1), None,
                           lambda sweep, t, v, level: seen.append(v.copy()), beta_off_at=0.0)
    rng = np.random.default_rng(1)
    rng.permutation(9)  # the first sweep's order
    rest = anneal_read(network, seen[0], t0 * 0.95, 1.0, 0.0, 0.95, 0.999, 29, 1e-9 / 0.95, rng, None)
    np.testing.assert_allclose(switched.outputs, rest.outputs, rtol=1e-9, atol=1e-15)  # colsum re-summed in rest
    kept = anneal_read(network, start, t0, 1.0, -0.5, 0.95, 0.999, 30, 1e-9, np.random.default_rng(1), None)
    never = anneal_read(network, start, t0, 1.0, -0.5, 0.95, 0.999, 30, 1e-9, np.random.default_rng(1), None,
                        beta_off_at=1.0)
    np.testing.assert_array_equal(kept.outputs, never.outputs)
    assert not np.array_equal(kept.outputs, switched.outputs)


def test_a_serial_sweep_too_slow_for_the_limit_is_refused_before_its_arrays_exist(monkeypatch):
    """rl5915 with 3 reads built 2.4 GB of starts and the network before refusing a 200 s sweep; a sweep's lower
    bound (n³ row work) now refuses it first, and deciding ``units=potts`` no longer builds the layout's rows."""
    from hopsolve import TooLargeError
    from hopsolve.backends import tank

    def never(*args, **kwargs):
        raise AssertionError("built before the refusal")

    _, energy, _ = _tsp(300, 3)  # 300³ · 1e-10 s: 2.7 ms a sweep at least, over 1.5% of 0.01 s and the floor
    monkeypatch.setattr(tank.SerialNetwork, "from_view", never)
    monkeypatch.setattr(tank, "_serial_start", never)
    monkeypatch.setattr(tank, "STEP_FLOOR_S", 1e-4)
    with pytest.raises(TooLargeError, match=r"one serial sweep takes at least 0.0027 s on this 300-item"
                                            r" permutation, more than the 0.00015 s a step may take \(1.5% of the"):
        TankBackend().solve(energy, TankParams(reads=3, time_limit=0.01), seed=1)
    monkeypatch.setattr(tank, "STEP_FLOOR_S", 0.001)  # the floor is the bound, and the message says so (it said
    with pytest.raises(TooLargeError, match=r"more than the 0.001 s a step may always take \(the time limit "):
        TankBackend().solve(energy, TankParams(reads=3, time_limit=0.01), seed=1)  # "1.5% of the 0.01 s")
    assert "rows" not in energy.layout.__dict__  # the cached rows (90,000 units here) were never made
    monkeypatch.undo()
    small = TankBackend().solve(_tsp(8, 3)[1], TankParams(reads=3, time_limit=5.0), seed=1)
    assert small.derived["reads"] == 3


def test_serial_starts_are_made_one_read_at_a_time_and_replay_as_before():
    """The starts are drawn when each read begins (one n × n start in memory, not all of them); each read's stream
    is its own, so the states equal a run of the first reads alone and the same run again."""
    _, energy, _ = _tsp(12, 5)
    three = TankBackend().solve(energy, TankParams(reads=3), seed=9)
    two = TankBackend().solve(energy, TankParams(reads=2), seed=9)
    np.testing.assert_array_equal(three.states[:2], two.states)
    np.testing.assert_array_equal(TankBackend().solve(energy, TankParams(reads=3), seed=9).states, three.states)


def test_prepare_refuses_a_serial_sweep_too_slow_for_the_limit_before_compiling(monkeypatch):
    from hopsolve import TooLargeError
    from hopsolve.backends import tank

    monkeypatch.setattr(tank, "warm_up", lambda *a, **k: (_ for _ in ()).throw(AssertionError("compiled first")))
    monkeypatch.setattr(tank, "STEP_FLOOR_S", 1e-4)
    with pytest.raises(TooLargeError, match="one serial sweep takes at least"):
        TankBackend().prepare(_tsp(300, 3)[1], TankParams(time_limit=0.01))
