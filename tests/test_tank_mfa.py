"""tank: the Hopfield–Tank 1985 preset term by term, and Potts mean-field annealing by integration (``mfa``):
Lyapunov descent, normalised rows, the critical gain, valid short tours. The serial default on permutation energies
is tested in ``test_tank_serial.py``."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hopsolve_tsp.plugin import TspOptions, TspProblem

from hopsolve.backends.tank import TankBackend, TankParams, lyapunov, potts_groups
from hopsolve.backends.tank_potts import critical_gain, softmax_energy

HT = {"row": 500.0, "column": 500.0, "total": 200.0, "objective": 500.0}


def unit_square(n: int, seed: int, scale: float = 1.0):
    xy = np.random.default_rng(seed).random((n, 2))
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * scale
    return TspProblem.from_distances(np.rint(d).astype(int) if scale > 1 else d), d


def equation_19(v: np.ndarray, d: np.ndarray, nt: float) -> dict[str, np.ndarray]:
    """The four input terms of the article's equation (19), written out with loops."""
    n = len(d)
    terms = {k: np.zeros((n, n)) for k in ("row", "column", "total", "objective")}
    for x in range(n):
        for i in range(n):
            terms["row"][x, i] = -500 * sum(v[x, j] for j in range(n) if j != i)
            terms["column"][x, i] = -500 * sum(v[y, i] for y in range(n) if y != x)
            terms["total"][x, i] = -200 * (v.sum() - nt)
            terms["objective"][x, i] = -500 * sum(d[x, y] * (v[y, (i + 1) % n] + v[y, (i - 1) % n])
                                                  for y in range(n))
    return terms


def test_preset_reproduces_equation_19_term_by_term_on_four_cities():
    instance, d = unit_square(4, 3)
    energy = TspProblem().encode(instance, HT, TspOptions(active=15, normalise=False))
    v = np.random.default_rng(0).random((4, 4))
    hand = equation_19(v, d, 15.0)
    for name in hand:  # one term at a time: every other weight zero
        alone = energy.reweighted(**{k: (HT[k] if k == name else 0.0) for k in HT})
        assert np.allclose(alone.fields(v.reshape(1, -1)).reshape(4, 4), hand[name], atol=1e-9), name
    # one Euler step of the preset from its noiseless start u₀₀ (Σ V = n): u₁ = u₀₀ + dt·(-u₀₀ + Σ terms)
    u00 = 0.02 * math.atanh(2 * 0.25 - 1)
    v0 = np.full((4, 4), 0.25)
    du = -u00 + sum(equation_19(v0, d, 15.0).values())
    samples = TankBackend().solve(energy, TankParams(preset="hopfield-tank-1985", reads=1, max_steps=1, noise=0.0,
                                                     dt=1e-6), seed=0)
    out = samples.per_read["graded_outputs"][0].reshape(4, 4)
    assert samples.derived["units"] == "graded" and samples.derived["dt"] == 1e-6
    assert np.allclose(0.02 * np.arctanh(2 * out - 1), u00 + 1e-6 * du, rtol=1e-7, atol=1e-10)


def test_preset_start_has_sum_n_and_noise_of_a_tenth_of_u00():
    instance, _ = unit_square(5, 1)
    energy = TspProblem().encode(instance, HT, TspOptions(active=15, normalise=False))
    samples = TankBackend().solve(energy, TankParams(preset="hopfield-tank-1985", reads=50, max_steps=1,
                                                     dt=1e-12), seed=4)
    u = 0.02 * np.arctanh(2 * samples.per_read["graded_outputs"] - 1)
    u00 = 0.02 * math.atanh(2 / 5 - 1)
    assert abs(u.mean() - u00) < 0.01 * abs(u00)
    assert np.all(np.abs(u - u00) <= abs(u00) / 10 + 1e-9) and np.abs(u - u00).max() > 0.9 * abs(u00) / 10


def _tsp(n: int, seed: int):
    instance, _ = unit_square(n, seed, 1000.0)
    return instance, TspProblem().encode(instance)


def test_mfa_on_a_tour_integrates_potts_units_from_the_critical_gain():
    instance, energy = _tsp(8, 2)
    samples = TankBackend().solve(energy, TankParams(reads=2, schedule="mfa"), seed=1)
    assert samples.derived["units"] == "potts" and samples.derived["schedule"] == "mfa"
    assert samples.derived["dropped_terms"] == ["row"]
    # the critical gain against a dense eigen-decomposition of the reduced couplings
    reduced = softmax_energy(energy, potts_groups(energy))
    w, _, _ = reduced.to_hopfield()
    m = 8
    # the matrix form drops v_i² terms; the dynamics keep HT's -C self-coupling of the literal square ``total``
    w = w.toarray() - reduced.weights["total"] * np.eye(m * m)
    centre = np.kron(np.eye(m), np.eye(m) - np.full((m, m), 1 / m)) / m  # S: within-row centring over K = m
    evals = np.linalg.eigvals(w @ centre)
    assert math.isclose(samples.derived["u0_critical"], float(np.max(evals.real)), rel_tol=1e-6)
    assert math.isclose(critical_gain(reduced, potts_groups(energy), 2.0, np.random.default_rng(0)),
                        2.0 * float(np.max(evals.real)), rel_tol=1e-6)


def test_mfa_descends_its_lyapunov_function_at_each_gain_and_keeps_rows_normalised():
    instance, energy = _tsp(6, 5)
    params = TankParams(reads=3, dt=0.02, trajectory=True, record_every=1, schedule="mfa")
    samples = TankBackend().solve(energy, params, seed=3)
    records = samples.per_read["trajectory"]
    reduced = softmax_energy(energy, potts_groups(energy))
    plateaus = 0
    for before, after in itertools.pairwise(records):
        rows = after["V"].reshape(3, 6, 6).sum(axis=2)
        assert np.allclose(rows, 1.0)  # Potts rows stay normalised
        if before["gain"] == after["gain"]:
            plateaus += 1
            assert np.all(after["energy"] <= before["energy"] + 1e-9)
            assert np.allclose(after["energy"], lyapunov(reduced, after["V"], after["gain"], 1.0, "potts"))
    assert plateaus > 0.8 * len(records) and records[-1]["gain"] < records[0]["gain"]


def test_potts_at_a_fixed_gain_descends_its_lyapunov_function():
    instance, energy = _tsp(6, 6)
    samples = TankBackend().solve(energy, TankParams(reads=2, schedule="fixed", u0=0.3, dt=0.02, trace=True,
                                                     record_every=1, max_steps=500), seed=0)
    assert samples.derived["schedule"] == "fixed"
    assert np.all(np.diff(samples.per_read["trace"], axis=1) <= 1e-9)


def test_default_gives_valid_short_tours_on_small_instances():
    gaps = []
    for seed in range(5):
        instance, energy = _tsp(7, 100 + seed)
        d = instance.data.distances
        best = min(sum(d[t[k], t[(k + 1) % 7]] for k in range(7))
                   for t in ([0, *p] for p in itertools.permutations(range(1, 7))))
        solution = TspProblem().decode(instance, energy, TankBackend().solve(energy, seed=seed).best)
        assert solution.feasible
        gaps.append(solution.objective / best - 1)
    assert np.mean(gaps) < 0.05, gaps


def test_nearest_permutation_is_the_assignment_of_largest_total_output():
    from hopsolve.backends._permutation_finish import nearest_permutations

    instance, energy = _tsp(4, 7)
    rng = np.random.default_rng(3)
    v = rng.random((3, 16))
    v[0] = np.eye(4)[[1, 0, 3, 2]].ravel()  # already a permutation: left as it is
    states = (v == v.reshape(3, 4, 4).max(axis=2).repeat(4, axis=1)).astype(np.int8)  # each row's argmax
    states[1] = np.eye(4)[[0, 0, 1, 2]].ravel()  # two rows on one column
    fixed, changed = nearest_permutations(v, states, energy)
    np.testing.assert_array_equal(fixed[0], states[0])
    for r in range(3):
        grid = fixed[r].reshape(4, 4)
        assert (grid.sum(axis=0) == 1).all() and (grid.sum(axis=1) == 1).all()
    best = max(itertools.permutations(range(4)), key=lambda p: sum(v[1].reshape(4, 4)[i, p[i]] for i in range(4)))
    np.testing.assert_array_equal(fixed[1].reshape(4, 4), np.eye(4, dtype=np.int8)[list(best)])
    assert changed == 1 + int(not (states[2].reshape(4, 4).sum(axis=0) == 1).all())


def test_a_run_stopped_before_the_rows_saturate_still_gives_tours_and_counts_them():
    instance, energy = _tsp(12, 5)
    cut = {"reads": 6, "max_steps": 3, "schedule": "mfa"}  # three steps: the rows are nowhere near one-hot
    argmax = TankBackend().solve(energy, TankParams(finish="argmax", **cut), seed=2)
    assigned = TankBackend().solve(energy, TankParams(**cut), seed=2)
    valid = [TspProblem().decode(instance, energy, s).feasible for s in argmax.states]
    assert not all(valid)
    assert all(TspProblem().decode(instance, energy, s).feasible for s in assigned.states)
    assert assigned.info["projected"] == valid.count(False)
    for r in np.flatnonzero(valid):  # where the argmax was a tour, the assignment is that tour
        np.testing.assert_array_equal(assigned.states[r], argmax.states[r])


def test_a_step_too_long_is_a_clear_error_and_mfa_stops_once_cooled_to_nothing():
    import pytest

    from hopsolve.errors import ParameterError
    from hopsolve.testing import random_energy

    with pytest.raises(ParameterError, match="diverged at step .* give a smaller dt"):
        TankBackend().solve(random_energy(12, 1), TankParams(units="graded", dt=1e3, max_steps=5000), seed=1)
    instance, energy = _tsp(12, 3)
    # a synchronous mean-field step (dt = τ) oscillates and never saturates: the gain floor ends it, no NaN
    samples = TankBackend().solve(energy, TankParams(dt=1.0, reads=2, schedule="mfa"), seed=1)
    assert samples.info["steps"] < TankParams().max_steps
    assert all(TspProblem().decode(instance, energy, s).feasible for s in samples.states)


def test_a_tour_of_the_articles_network_with_n_tilde_above_n_decodes_as_a_valid_tour():
    # ñ = 15 > n = 10 biases the dynamics (the C term ½(ΣV − ñ)² is never zero): a tour must still count as one
    instance, d = unit_square(10, 4)
    energy = TspProblem().encode(instance, HT, TspOptions(active=15, normalise=False))
    tour = np.random.default_rng(1).permutation(10)
    state = np.zeros((10, 10), dtype=np.int8)
    state[tour, np.arange(10)] = 1
    solution = TspProblem().decode(instance, energy, state.ravel())
    assert solution.feasible and solution.violations == {"row": 0.0, "column": 0.0, "total": 0.0}
    assert solution.objective == pytest.approx(sum(d[tour[k], tour[(k + 1) % 10]] for k in range(10)))
    state[0, 0] = 1 - state[0, 0]  # one unit more or less: not a tour, and ΣV ≠ n
    broken = TspProblem().decode(instance, energy, state.ravel())
    assert not broken.feasible and broken.violations["total"] == 0.5


def test_the_preset_on_other_weights_than_the_article_s_says_so():
    """The preset on the encoder's default weights (objective 1, row and column 3, total 6) ran in silence: the
    article's equations, not its network, each read infeasible after two steps."""
    instance, _ = unit_square(5, 1)
    params = TankParams(preset="hopfield-tank-1985", reads=2, max_steps=5)
    article = TankBackend().solve(TspProblem().encode(instance, HT, TspOptions(active=15, normalise=False)),
                                  params, seed=1)
    assert "note" not in article.info
    default = TankBackend().solve(TspProblem().encode(instance, None, TspOptions()), params, seed=1)
    assert default.info["note"].startswith("preset=hopfield-tank-1985 ran the article's equations on this "
                                           "energy's weights (objective=1, row=3, column=3, total=6)")
