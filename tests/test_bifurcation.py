"""The ``bifurcation`` backend: conformance, what the integrator conserves, exact ground states, seeds, limits."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import scipy.sparse as sp

from hopsolve import Energy, OneHotGroups, ParameterError, TooLargeError, Vartype
from hopsolve.backends import _sb_kernels as SB
from hopsolve.backends._model import compile_spin_model
from hopsolve.backends.anneal import AnnealBackend, AnnealParams
from hopsolve.backends.bifurcation import (
    LANCZOS_STEPS,
    BifurcationBackend,
    BifurcationParams,
    _kernel_model,
    coupling_scale,
    no_sign_bits,
    resolved_mode,
    spectral_radius,
    stable_step,
)
from hopsolve.pattern_term import PatternTerm
from hopsolve.permutation import permutation_energy
from hopsolve.testing import brute_force_minimum, check_backend, random_energy

from .conftest import complete_pm1_energy


@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
def test_conformance_and_exact_ground_states(mode):
    check_backend(BifurcationBackend(), {"reads": 20, "steps": 400, "mode": mode})


def _free_reads(energy: Energy, reads: int, seed: int) -> tuple[SB.SBModel, SB.SBReads]:
    model = _kernel_model(compile_spin_model(energy))
    rng = np.random.default_rng(seed)
    n = energy.num_variables
    x = rng.uniform(-0.1, 0.1, (reads, n))
    y = rng.uniform(-0.1, 0.1, (reads, n))
    return model, SB.new_reads(model, x, y, 0)


def test_symplectic_euler_conserves_its_modified_hamiltonian_at_zero_pump():
    """At a(t) = 0 and away from the walls bSB is linear: ``H = a0/2·|y|² + a0/2·|x|² - c0/2·xᵀWx - c0·bᵀx``.
    Symplectic Euler (momenta first) conserves ``H + (dt/2)·a0·y·F(x)`` exactly, F the force; plain Euler (or the
    updates in the wrong order) would make it grow or drift, and 20,000 steps would show it."""
    energy = random_energy(12, 3)
    model, reads = _free_reads(energy, 3, 0)
    weights = compile_spin_model(energy).coupling.toarray()
    np.fill_diagonal(weights, 0.0)
    c0, dt, a0 = 0.05, 0.2, 1.0

    def modified(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        force = -a0 * x + c0 * (x @ weights + model.bias)
        potential = 0.5 * a0 * (x * x).sum(1) - 0.5 * c0 * np.einsum("ri,ij,rj->r", x, weights, x) - c0 * x @ model.bias
        return 0.5 * a0 * (y * y).sum(1) + potential + 0.5 * dt * a0 * (y * force).sum(1)

    start = modified(reads.x, reads.y)
    for _ in range(200):
        SB.sb_steps(model, SB.SBRun(np.zeros(100), a0, c0, dt, False, 0), reads, 2)
        assert np.allclose(modified(reads.x, reads.y), start, rtol=1e-9, atol=0)
    assert np.abs(reads.x).max() < 1.0  # no wall was touched: the dynamics stayed Hamiltonian


def test_zero_coupling_oscillators_keep_their_amplitude():
    """Uncoupled oscillators at zero pump go round their ellipses: each one's ``x² + y² - dt·x·y`` is constant."""
    energy = Energy.from_hopfield(np.zeros((5, 5)), np.zeros(5), 0.0, Vartype.SPIN)
    model, reads = _free_reads(energy, 4, 1)
    dt = 0.5

    def invariant(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x * x + y * y - dt * x * y

    start = invariant(reads.x, reads.y)
    SB.sb_steps(model, SB.SBRun(np.zeros(10_000), 1.0, 1.0, dt, False, 0), reads, 3)
    assert np.allclose(invariant(reads.x, reads.y), start, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
@pytest.mark.parametrize("seed", range(6))
def test_brute_force_ground_states(mode, seed):
    energy = random_energy(12, 100 + seed, Vartype.BINARY if seed % 2 else Vartype.SPIN, integer=seed >= 3)
    ground, _ = brute_force_minimum(energy)
    samples = BifurcationBackend().solve(energy, BifurcationParams(reads=30, steps=500, mode=mode), seed=seed)
    assert np.isclose(samples.best_energy, ground, atol=1e-9)
    assert np.allclose(samples.energies, energy.energies(samples.states))


def test_group_penalties_take_part_in_the_dynamics():
    energy = permutation_energy(np.array([[0, 3, 1], [3, 0, 2], [1, 2, 0]]),
                                np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    ground, _ = brute_force_minimum(energy)
    for mode in ("ballistic", "discrete"):
        samples = BifurcationBackend().solve(energy, BifurcationParams(reads=20, steps=500, mode=mode, finish="none"),
                                             seed=3)  # the dynamics alone, no clean-up
        assert np.isclose(samples.best_energy, ground)


@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
def test_permutation_energies_end_on_permutations_by_assignment(mode):
    """``finish=assignment`` replaces exactly the reads that are not permutations; the others are untouched."""
    rng = np.random.default_rng(4)
    points = rng.random((7, 2))
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    energy = permutation_energy(distances, np.roll(np.eye(7), 1, 1))
    assert energy.layout is not None
    params = BifurcationParams(reads=12, steps=60, mode=mode)
    raw = BifurcationBackend().solve(energy, dataclasses.replace(params, finish="none"), seed=5)
    cleaned = BifurcationBackend().solve(energy, params, seed=5)
    valid_raw = np.array([energy.layout.positions(s) is not None for s in raw.states])
    assert cleaned.info["projected"] == np.count_nonzero(~valid_raw) > 0 and raw.info["projected"] == 0
    assert all(energy.layout.positions(s) is not None for s in cleaned.states)
    assert np.array_equal(cleaned.states[valid_raw], raw.states[valid_raw])


def test_auto_mode_is_discrete_on_ising_energies_and_ballistic_where_there_is_one_hot_structure():
    """The default ``mode=auto`` (RESULTS §9.3): dSB on plain Ising/QUBO energies, bSB on permutation energies and
    energies with one-hot groups, recorded in ``info['derived']['mode']`` and giving exactly that mode's run."""
    rng = np.random.default_rng(4)
    points = rng.random((6, 2))
    permutation = permutation_energy(np.linalg.norm(points[:, None] - points[None], axis=2), np.roll(np.eye(6), 1, 1))
    groups = OneHotGroups.from_lists([[0, 1, 2, 3], [4, 5, 6, 7]])
    grouped = Energy(Vartype.BINARY, (random_energy(8, 5, Vartype.BINARY).terms[0], groups.penalty("onehot", 8)),
                     weights={"onehot": 3.0}, groups=groups)
    cases = [(random_energy(12, 3), "discrete"), (permutation, "ballistic"), (grouped, "ballistic")]
    assert grouped.groups is not None and permutation.layout is not None
    for energy, expected in cases:
        assert resolved_mode("auto", energy) == expected and resolved_mode("ballistic", energy) == "ballistic"
        auto = BifurcationBackend().solve(energy, BifurcationParams(reads=3, steps=50), seed=2)
        given = BifurcationBackend().solve(energy, BifurcationParams(reads=3, steps=50, mode=expected), seed=2)
        assert auto.derived["mode"] == expected
        assert np.array_equal(auto.states, given.states) and np.array_equal(auto.energies, given.energies)
    with pytest.raises(ParameterError, match="mode must be auto, ballistic or discrete"):
        BifurcationParams(mode="fast").validate()


@pytest.mark.parametrize("density", [0.05, 1.0])
@pytest.mark.parametrize("grouped", [False, True])
def test_discrete_steps_that_flip_most_spins_keep_the_fields_and_energies_exact(density, grouped):
    """A discrete step where more than half of a replica's spins flip takes the field as ``-W s`` plus the rows of
    the spins that keep their signs (:func:`_flip_most`); after every step of such a run each replica's spin field
    is ``W s`` and its energy the energy of ``s``, recomputed here from the matrix."""
    energy = random_energy(90, 7, density=density)
    if grouped:
        groups = OneHotGroups.from_lists([list(range(0, 10)), list(range(10, 25))])
        energy = Energy(Vartype.SPIN, (*energy.terms, groups.penalty("onehot", 90)), weights={"onehot": 0.7},
                        groups=groups)
    model = compile_spin_model(energy)
    kernel_model = _kernel_model(model, rows=False)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-0.1, 0.1, (4, 90)), rng.uniform(-0.1, 0.1, (4, 90))
    state = SB.new_reads(kernel_model, x, y, 0)
    SB.refresh(kernel_model, state, False)
    assert kernel_model.bit_threshold == SB.NO_BITS and state.counts.shape[1] == 0  # so such steps take _flip_most
    w = model.coupling.toarray()
    np.fill_diagonal(w, 0.0)
    most = 0
    for k in range(40):
        before = state.spins.copy()
        SB.sb_steps(kernel_model, SB.SBRun(np.zeros(1), 1.0, 0.9, 1.9, True, k, refresh_first=False), state, 2)
        most += int(np.sum(2 * np.sum(state.spins != before, axis=1) > 90))
        np.testing.assert_allclose(state.field_s, state.spins @ w, atol=1e-9)
        shifted = np.array([energy.energy(s) for s in state.spins]) - state.energy
        np.testing.assert_allclose(shifted, shifted[0], atol=1e-9)  # the energies up to the model's constant
    assert most > 10


@pytest.mark.parametrize("density", [0.1, 1.0])
def test_discrete_steps_are_goto_s_update_computed_plainly(density):
    """A discrete run without groups moves and counts in one fused pass (:func:`_move_counting`): after 60 steps
    of a pump ramp its positions, momenta and spins are bit for bit those of the update written out in numpy
    (integer couplings: every field is exact either way)."""
    energy = random_energy(70, 11, density=density, integer=True)
    model = compile_spin_model(energy)
    kernel_model = _kernel_model(model, rows=False)
    rng = np.random.default_rng(8)
    x, y = rng.uniform(-0.1, 0.1, (3, 70)), rng.uniform(-0.1, 0.1, (3, 70))
    state = SB.new_reads(kernel_model, x.copy(), y.copy(), 0)
    SB.refresh(kernel_model, state, False)
    pump, a0, c0, dt = np.linspace(0.0, 1.0, 60), 1.0, 0.05, 0.7
    SB.sb_steps(kernel_model, SB.SBRun(pump, a0, c0, dt, True, 0), state, 2)
    w = model.coupling.toarray()
    np.fill_diagonal(w, 0.0)
    s = np.where(x >= 0, 1.0, -1.0)
    for p in pump:
        y = y + dt * (-(a0 - p) * x + c0 * (s @ w + model.bias))
        new = x + dt * a0 * y
        y = np.where((new > 1.0) | (new < -1.0), 0.0, y)
        x = np.clip(new, -1.0, 1.0)
        s = np.where(x > 0, 1.0, np.where(x < 0, -1.0, s))
    assert np.array_equal(state.x, x) and np.array_equal(state.y, y) and np.array_equal(state.spins, s)


def test_goto_coupling_scale_on_a_pm1_complete_graph():
    rng = np.random.default_rng(0)
    n = 50
    upper = np.triu(rng.choice([-1.0, 1.0], (n, n)), 1)
    c0, sigma = coupling_scale(compile_spin_model(Energy.from_hopfield(upper + upper.T, np.zeros(n), 0.0, "spin")))
    assert np.isclose(sigma, 1.0) and np.isclose(c0, 0.5 / np.sqrt(n))
    samples = BifurcationBackend().solve(Energy.from_hopfield(upper + upper.T, np.zeros(n), 0.0, "spin"),
                                         BifurcationParams(reads=2, steps=5), seed=0)
    assert samples.derived["c0"] == pytest.approx(c0) and samples.derived["dt"] > 0 and samples.derived["a0"] == 1.0


def test_derived_step_keeps_symplectic_euler_stable():
    """On a sparse graph whose spectral radius is its degree (far above 2σ√N) the step shrinks below Goto's 1.25 so
    that the fastest zero-pump oscillation, ω² = a0·(a0 + c0·ρ), keeps dt·ω < 2."""
    n = 400
    ring = np.zeros((n, n))
    for k in range(1, 21):  # a circulant graph of degree 40: ρ = 40 exactly
        ring[np.arange(n), (np.arange(n) + k) % n] = ring[(np.arange(n) + k) % n, np.arange(n)] = 1.0
    model = compile_spin_model(Energy.from_hopfield(ring, np.zeros(n), 0.0, "spin"))
    radius = spectral_radius(_kernel_model(model), n)
    assert radius == pytest.approx(40.0, rel=1e-6)
    c0, _ = coupling_scale(model)
    dt = stable_step(1.0, c0, radius)
    assert dt < 1.25 and dt * np.sqrt(1.0 + c0 * radius) == pytest.approx(1.8)
    assert stable_step(1.0, c0, 0.0) == 1.25


def test_a_discrete_step_keeps_one_kick_of_the_leading_mode_inside_the_walls():
    """dSB's step is also bounded by dt²·a0·c0·ρ ≤ 1.6; it leaves Goto's 1.25 where c0·ρ ≤ 1 (SK models) and the
    ballistic step as it was."""
    from hopsolve.backends.bifurcation import DISCRETE_KICK

    assert stable_step(1.0, 0.05, 20.0, discrete=True) == 1.25  # c0·ρ = 1
    dt = stable_step(1.0, 0.1, 60.0, discrete=True)
    assert dt**2 * 0.1 * 60.0 == pytest.approx(DISCRETE_KICK)
    assert stable_step(1.0, 0.1, 60.0) == pytest.approx(1.8 / np.sqrt(7.0))
    assert stable_step(1.0, 0.1, 0.0, discrete=True) == 1.25


def test_discrete_sb_settles_on_dense_couplings_of_nonzero_mean():
    """A complete graph of couplings uniform in [0, 1) (dimod's gnp_random_bqm's; c0·ρ ≈ 4.4): with the
    oscillator step alone dSB's leading mode jumped from wall to wall and the best energy was a quarter of
    anneal's (-56 against -228 on dimod's instance); bounding each step's kick brings it within 15%."""
    rng = np.random.default_rng(3)
    n = 100
    j = np.triu(rng.random((n, n)), 1)
    energy = Energy.from_ising(rng.uniform(-1, 1, n), j)
    discrete = BifurcationBackend().solve(energy, BifurcationParams(mode="discrete"), seed=1)
    annealed = AnnealBackend().solve(energy, AnnealParams(reads=4), seed=1)
    assert discrete.best_energy <= 0.85 * annealed.best_energy < 0, (discrete.best_energy, annealed.best_energy)


def test_same_seed_same_states_threads_do_not_matter_seeds_differ():
    energy = random_energy(40, 1)
    backend = BifurcationBackend()
    params = BifurcationParams(reads=8, steps=100)
    a = backend.solve(energy, params, seed=11)
    b = backend.solve(energy, params, seed=11)
    c = backend.solve(energy, params, seed=12)
    one = backend.solve(energy, BifurcationParams(reads=8, steps=100, threads=1), seed=11)
    assert np.array_equal(a.states, b.states) and np.array_equal(a.states, one.states)
    assert not np.array_equal(a.states, c.states)
    fewer = backend.solve(energy, BifurcationParams(reads=3, steps=100), seed=11)
    assert np.array_equal(fewer.states, a.states[:3])  # a read's start depends on the seed and its index only


@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
def test_trace_is_the_energy_of_sign_x_and_best_is_kept(mode):
    energy = random_energy(30, 4, Vartype.BINARY, density=0.5)
    backend = BifurcationBackend()
    last = backend.solve(energy, BifurcationParams(reads=5, steps=300, mode=mode, trace=True, keep_best=False,
                                                   final_descent=False), seed=2)
    trace = last.per_read["trace"]
    assert trace.shape == (5, 300) and last.work == 300 and last.work_unit == "steps"
    assert np.allclose(trace[:, -1], last.energies)
    best = backend.solve(energy, BifurcationParams(reads=5, steps=300, mode=mode, trace=True), seed=2)
    assert np.all(best.energies <= trace.min(axis=1) + 1e-9)


def _lowered_by_one_flip(energy: Energy, states: np.ndarray) -> int:
    """How many of ``states`` one flip lowers, energies recomputed from scratch."""
    count = 0
    for state in states:
        spins = 2 * np.asarray(state, dtype=np.int64) - 1 if energy.vartype is Vartype.BINARY else state
        base = energy.energy(state)
        for i in range(len(state)):
            flipped = spins.copy()
            flipped[i] = -flipped[i]
            other = (flipped + 1) // 2 if energy.vartype is Vartype.BINARY else flipped
            if energy.energy(other) < base - 1e-9:
                count += 1
                break
    return count


@pytest.mark.parametrize("vartype", [Vartype.SPIN, Vartype.BINARY])
@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
def test_returned_states_are_single_flip_local_minima_unless_the_descent_is_turned_off(mode, vartype):
    """A short ramp leaves the oscillators' spins where single flips lower them; the final descent removes
    those (and never raises an energy), counting what it flipped; ``final_descent=False`` returns them as they
    are."""
    energy = random_energy(40, 3, vartype, density=0.3)
    backend = BifurcationBackend()
    raw = backend.solve(energy, BifurcationParams(reads=8, steps=3, mode=mode, final_descent=False), seed=5)
    assert raw.info["descent_flips"] is None
    assert _lowered_by_one_flip(energy, raw.states) > 0  # the case the descent is for
    finished = backend.solve(energy, BifurcationParams(reads=8, steps=3, mode=mode), seed=5)
    assert _lowered_by_one_flip(energy, finished.states) == 0
    assert finished.info["descent_flips"] > 0
    assert np.all(finished.energies <= raw.energies + 1e-9)
    assert np.allclose(finished.energies, [energy.energy(s) for s in finished.states])


def test_the_final_descent_keeps_permutations_and_one_hot_groups():
    """Permutation energies are finished by the assignment, not descended; an energy with one-hot groups is
    descended with its group penalties counted (the returned states are local minima of the whole energy)."""
    rng = np.random.default_rng(3)
    permutation = permutation_energy(rng.uniform(1, 10, (5, 5)), np.roll(np.eye(5), 1, 1))
    samples = BifurcationBackend().solve(permutation, BifurcationParams(reads=4, steps=50), seed=1)
    assert samples.info["descent_flips"] is None
    assert all(permutation.layout.positions(s) is not None for s in samples.states)
    groups = OneHotGroups.from_lists([[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10]])
    objective = random_energy(13, 4, Vartype.BINARY).terms[0]
    grouped = Energy(Vartype.BINARY, (objective, groups.penalty("onehot", 13)), weights={"onehot": 5.0},
                     groups=groups)
    done = BifurcationBackend().solve(grouped, BifurcationParams(reads=6, steps=3), seed=2)
    assert _lowered_by_one_flip(grouped, done.states) == 0
    assert np.allclose(done.energies, [grouped.energy(s) for s in done.states])


def test_time_limit_is_honoured_loosely_and_the_ramp_still_finishes():
    energy = random_energy(300, 5, density=0.2)
    params = BifurcationParams(reads=4, steps=900_000, time_limit=0.5)
    BifurcationBackend().prepare(energy, params)  # compiled first, as solve_instance does: with an empty cache the
    began = time.perf_counter()  # compile spent the limit when this test ran first in its process (set-up refused)
    samples = BifurcationBackend().solve(energy, params, seed=1)
    took = time.perf_counter() - began
    assert took < 10.0
    assert samples.timed_out or samples.info["schedule_compressed"]
    assert samples.work < 900_000


def test_ctrl_c_between_chunks_returns_the_best_so_far():
    energy = random_energy(200, 6, density=0.2)
    updates = []

    def callback(update):
        updates.append(update)
        if len(updates) == 3:
            raise KeyboardInterrupt

    samples = BifurcationBackend().solve(energy, BifurcationParams(reads=4, steps=2_000_000), seed=1,
                                         callback=callback)
    assert samples.interrupted and samples.work < 2_000_000
    assert all(u["unit"] == "steps" for u in updates)
    assert np.isclose(samples.best_energy, min(u["best_energy"] for u in updates)) or \
        samples.best_energy <= updates[-1]["best_energy"]


def test_refusals_are_clear():
    with pytest.raises(ParameterError, match="mode"):
        BifurcationBackend().params({"mode": "adiabatic"})
    with pytest.raises(ParameterError, match="dt"):
        BifurcationBackend().params({"dt": 0})
    patterns = np.array([[1, -1, 1, -1], [1, 1, -1, -1]])
    memory = Energy(Vartype.SPIN, (PatternTerm.build("memory", patterns),))
    with pytest.raises(ParameterError, match="pattern"):
        BifurcationBackend().solve(memory, seed=0)


@pytest.mark.parametrize("seed", range(3))
def test_bias_as_a_constant_field_also_reaches_ground_states(seed):
    energy = random_energy(12, 200 + seed)
    ground, _ = brute_force_minimum(energy)
    samples = BifurcationBackend().solve(energy, BifurcationParams(reads=30, steps=500, mode="discrete",
                                                                   bias="field"), seed=seed)
    assert samples.derived["bias"] == "field"
    assert np.isclose(samples.best_energy, ground, atol=1e-9)


@pytest.mark.parametrize("case", ["crowded", "negative", "zero", "closed"])
def test_spectral_radius_by_lanczos(case, monkeypatch):
    """The radius within 0.5% where the top of the spectrum is crowded (K300's ±1 couplings: 0.9999 of it, where 40
    steps of power iteration gave 0.991), from the negative end where that is the larger (a complete graph of -1
    couplings: eigenvalues -(n-1) and +1), 0 without couplings, and exact in a few products where the Krylov space
    closes (a matrix with two distinct eigenvalues); never above the true radius, never past LANCZOS_STEPS
    products."""
    n = 300
    if case == "crowded":
        energy = complete_pm1_energy(n, 4)
    else:
        matrix = {"negative": -(np.ones((n, n)) - np.eye(n)), "zero": np.zeros((n, n)),
                  "closed": np.ones((n, n)) - np.eye(n)}[case]
        energy = Energy.from_hopfield(matrix, np.zeros(n), 0.0, "spin")
    spin_model = compile_spin_model(energy)
    model = _kernel_model(spin_model)
    weights = spin_model.coupling.toarray()
    np.fill_diagonal(weights, 0.0)
    true = np.abs(np.linalg.eigvalsh(weights)).max()
    products = []
    counted = SB.coupling_product
    monkeypatch.setattr(SB, "coupling_product", lambda *a: (products.append(1), counted(*a)))
    radius = spectral_radius(model, n)
    assert radius <= true * (1 + 1e-9) and radius == pytest.approx(true, rel=5e-3 if case == "crowded" else 1e-9)
    assert len(products) <= (LANCZOS_STEPS if case == "crowded" else 3)


def test_coupling_product_equals_the_matrix_with_group_penalties():
    """The radius's coupling product: the couplings (their dense rows here) plus each group family's -2·scale between
    its members."""
    energy = permutation_energy(np.random.default_rng(2).random((5, 5)) * (1 - np.eye(5)), np.roll(np.eye(5), 1, 1))
    spin_model = compile_spin_model(energy)
    model = _kernel_model(spin_model)
    n = model.bias.shape[0]
    matrix = spin_model.coupling.toarray()
    np.fill_diagonal(matrix, 0.0)
    for f in range(len(model.group_scale)):
        same = model.group_of[f][:, None] == model.group_of[f][None, :]
        matrix -= 2.0 * model.group_scale[f] * (same & ~np.eye(n, dtype=bool))
    v = np.random.default_rng(3).standard_normal(n)
    out = np.empty(n)
    SB.coupling_product(model, v, out)
    np.testing.assert_allclose(out, matrix @ v, atol=1e-12)
    assert spectral_radius(model, n) == pytest.approx(np.abs(np.linalg.eigvalsh(matrix)).max(), rel=1e-3)


@pytest.mark.parametrize("weight", [0.5, 0.1])
def test_coupling_product_on_dense_rows_equals_the_matrix(weight):
    """The product on dense rows (float32 where exact, else float64; four partial sums, 101 columns so the last
    ones fall outside them) against numpy's and against the CSR rows of the same model."""
    energy = _pm1_dense(101, 4, 0.7, weight)
    model = _kernel_model(compile_spin_model(energy))
    assert (model.dense32.shape, model.dense.shape) == (((101, 101), (0, 0)) if weight == 0.5 else ((0, 0), (101, 101)))
    weights = compile_spin_model(energy).coupling.toarray()
    np.fill_diagonal(weights, 0.0)
    assert model.data.size == 0 and np.array_equal(model.indptr, np.zeros(102))  # dense: no CSR kept
    v = np.random.default_rng(5).standard_normal(101)
    out, by_rows = np.empty(101), np.empty(101)
    SB.coupling_product(model, v, out)
    csr = sp.csr_matrix(weights)
    SB.coupling_product(model._replace(dense=np.zeros((0, 0)), dense32=np.zeros((0, 0), np.float32),
                                       indptr=csr.indptr.astype(np.int64), indices=csr.indices.astype(np.int64),
                                       data=csr.data, sign_rows=np.zeros((0, 0), np.int8)), v, by_rows)
    np.testing.assert_allclose(out, weights @ v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, by_rows, rtol=1e-12, atol=1e-12)
    # one magnitude: read from the int8 sign rows, the same sums as from the float32 rows, bit for bit
    assert model.sign_rows.shape == ((101, 101) if weight == 0.5 else (0, 0))
    by_float_rows = np.empty(101)
    SB.coupling_product(model._replace(sign_rows=np.zeros((0, 0), np.int8)), v, by_float_rows)
    assert np.array_equal(out, by_float_rows)


def test_set_up_that_cannot_fit_the_time_limit_is_refused(monkeypatch):
    from hopsolve.backends import bifurcation
    from hopsolve.errors import TooLargeError

    monkeypatch.setattr(bifurcation, "LANCZOS_STEPS", 10**9)  # a set-up that would take forever
    with pytest.raises(TooLargeError, match=r"past the time limit \((4\.\d+|5) s of it left\)"):
        BifurcationBackend().solve(random_energy(30, 2), BifurcationParams(time_limit=5.0), seed=1)


def test_a_refusal_after_reading_used_up_the_limit_says_so(monkeypatch):
    """When reading and encoding took the time limit (a large file), the backend's refusal says where it went,
    not only that its own set-up would not fit in what was left."""
    from hopsolve import build_registry, solve_instance
    from hopsolve.backends import bifurcation
    from hopsolve.errors import TooLargeError

    monkeypatch.setattr(bifurcation, "LANCZOS_STEPS", 10**9)  # a set-up that would take forever
    registry = build_registry()
    instance = registry.problem("qubo").from_qubo(np.triu(np.random.default_rng(1).normal(size=(30, 30))))
    with pytest.raises(TooLargeError, match=r"of the 5 s limit, reading and encoding the instance took 4\.\d s"):
        solve_instance(registry, "qubo", instance, backend="bifurcation", time_limit=5.0, seed=1,
                       clock_started=time.perf_counter() - 4.85)  # as if reading had taken 4.85 s
    # reading took it all: refused before the backend is asked (an LP file read in 0.14 s of a 0.1 s limit ran on)
    with pytest.raises(TooLargeError, match=r"reading and encoding the instance took 10 s, all of the 5 s limit"):
        solve_instance(registry, "qubo", instance, backend="anneal", time_limit=5.0, seed=1,
                       clock_started=time.perf_counter() - 10.0)
    with pytest.raises(TooLargeError) as caught:  # with the limit intact, the backend's own words only
        solve_instance(registry, "qubo", instance, backend="bifurcation", time_limit=5.0, seed=1)
    assert "past the time limit" in str(caught.value) and "reading" not in str(caught.value)


def test_dense_couplings_exact_in_float32_are_held_in_float32_and_others_are_not():
    for weight in (1.0, 0.5, 0.375, 3.0):  # integers and dyadic fractions (max-cut's couplings are ±w/2)
        model = _kernel_model(compile_spin_model(complete_pm1_energy(50, 1, bias=True, weight=weight)))
        assert model.dense32.shape == (50, 50) and model.dense.size == 0
        unbiased = _kernel_model(compile_spin_model(complete_pm1_energy(50, 1, weight=weight)))
        assert np.array_equal(model.dense32, unbiased.dense32)
    for weight in (0.1, 2.0**25):  # not a dyadic fraction; an integer past float32's 24 bits
        model = _kernel_model(compile_spin_model(complete_pm1_energy(50, 1, weight=weight)))
        assert model.dense.shape == (50, 50) and model.dense32.size == 0
    sparse = _kernel_model(compile_spin_model(random_energy(60, 3, density=0.05)))
    assert sparse.dense.size == 0 and sparse.dense32.size == 0


@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
def test_float32_couplings_change_no_result(mode, monkeypatch):
    """Reading exactly representable couplings in float32 gives the states, energies and traces of the float64
    rows, read for read, whatever the threads."""
    energy = complete_pm1_energy(120, 7, bias=True, weight=0.5)
    params = BifurcationParams(reads=6, steps=200, mode=mode, trace=True)
    backend = BifurcationBackend()
    fast = backend.solve(energy, params, seed=3)
    alone = backend.solve(energy, BifurcationParams(reads=6, steps=200, mode=mode, trace=True, threads=1), seed=3)
    import hopsolve.backends.bifurcation as bifurcation

    asked = []
    monkeypatch.setattr(bifurcation, "coupling_kinds", lambda values: asked.append(len(values)) or (False, False))
    plain = backend.solve(energy, params, seed=3)
    assert asked  # the float64 rows were built
    for other in (alone, plain):
        assert np.array_equal(fast.states, other.states) and np.array_equal(fast.energies, other.energies)
        assert np.array_equal(fast.per_read["trace"], other.per_read["trace"])


def _pm1_dense(n: int, seed: int, density: float, weight: float) -> Energy:
    """Couplings ±weight on a share ``density`` of the pairs, integer biases: one magnitude, not complete."""
    rng = np.random.default_rng(seed)
    w = weight * np.triu(rng.choice([-1.0, 1.0], (n, n)) * (rng.random((n, n)) < density), 1)
    return Energy.from_hopfield(w + w.T, rng.integers(-2, 3, n).astype(float), 0.0, "spin")


def _without_bits(model: SB.SBModel) -> SB.SBModel:
    n = len(model.bias)
    plus, minus, offset, weight, threshold, signs = no_sign_bits(n)
    return model._replace(plus_bits=plus, minus_bits=minus, bit_offset=offset, bit_weight=weight,
                          bit_threshold=threshold, sign_rows=signs)


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 130])
@pytest.mark.parametrize("complete", [True, False])
def test_spin_fields_from_the_bit_matrices_are_the_coupling_products(n, complete):
    """``W s`` from the bits (one popcount a word where every coupling is ±w, two otherwise), and the refresh's
    fields and energies by bits and by rows, against numpy, on sizes around the 64-bit words' edges; some
    positions are exactly 0 (their spins keep the sign they were given)."""
    energy = complete_pm1_energy(n, 5, weight=0.5) if complete else _pm1_dense(n, 5, 0.7, 0.5)
    model = _kernel_model(compile_spin_model(energy))
    if n > 2:
        assert model.plus_bits.shape == (-(-n // 64), n)  # word-major
        assert model.minus_bits.shape[0] == (0 if complete else model.plus_bits.shape[0])
    rows = _without_bits(model)
    weights = compile_spin_model(energy).coupling.toarray()
    np.fill_diagonal(weights, 0.0)
    rng = np.random.default_rng(n)
    for _ in range(5):
        x = rng.uniform(-1.0, 1.0, (1, n))
        x[0, rng.random(n) < 0.2] = 0.0
        by_bits = SB.new_reads(model, x, np.zeros_like(x), 0)
        by_rows = SB.new_reads(rows, x.copy(), np.zeros_like(x), 0)
        SB.refresh(model, by_bits, False)
        SB.refresh(rows, by_rows, False)
        s = by_bits.spins[0]
        expected = -0.5 * s @ weights @ s - s @ model.bias
        for reads in (by_bits, by_rows):
            assert np.array_equal(reads.field_s[0], weights @ s) and reads.energy[0] == expected
        assert by_rows.counts.shape == (1, 0)
        if model.plus_bits.shape[0]:  # the field over w, as int16 counts, and the sign rows the flips add
            assert np.array_equal(by_bits.counts[0] * model.bit_weight, weights @ s)
            assert np.array_equal(model.sign_rows * model.bit_weight, weights)
        if model.plus_bits.shape[0]:
            field = np.full(n, np.nan)
            scratch = np.full(n, -7, np.int64)  # whatever it holds
            assert SB._fields_from_bits(model, by_bits.spin_bits[0], s, field, by_bits.counts[0], scratch) \
                == s @ weights @ s
            assert np.array_equal(field, weights @ s)


def test_bit_matrices_only_for_dense_couplings_of_one_magnitude():
    assert _kernel_model(compile_spin_model(complete_pm1_energy(50, 1, weight=3.0))).bit_weight == 3.0
    for energy in (complete_pm1_energy(50, 1, bias=True), _pm1_dense(50, 2, 0.8, 1.0)):
        assert _kernel_model(compile_spin_model(energy)).plus_bits.shape == (1, 50)
    w = np.triu(np.random.default_rng(0).choice([-1.0, 2.0], (50, 50)), 1)
    for energy in (Energy.from_hopfield(w + w.T, np.zeros(50), 0.0, "spin"), random_energy(60, 3, density=0.05)):
        model = _kernel_model(compile_spin_model(energy))
        assert model.plus_bits.shape[0] == 0 and model.bit_threshold == SB.NO_BITS


@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
@pytest.mark.parametrize("energy", ["complete", "complete-biased", "dense-biased"])
def test_spin_fields_recomputed_from_bits_change_no_result(mode, energy, monkeypatch):
    """Recomputing a replica's spin field from the bits at the default threshold, whenever any spin flips, or
    never (rows only, bits still set at refreshes), and a model without bits at all, give the same states,
    energies and traces, read for read. Biases enter as fields (``bias="field"``): the default extra spin couples
    by the biases and would leave the couplings of several magnitudes, without bits."""
    import hopsolve.backends.bifurcation as bifurcation

    energy = {"complete": complete_pm1_energy(150, 7, weight=0.5),
              "complete-biased": complete_pm1_energy(150, 7, bias=True, weight=0.5),
              "dense-biased": _pm1_dense(150, 7, 0.6, 0.5)}[energy]
    params = BifurcationParams(reads=6, steps=300, mode=mode, trace=True, bias="field")
    backend = BifurcationBackend()
    used, counted = [], []
    stepping = SB.sb_steps
    monkeypatch.setattr(SB, "sb_steps", lambda model, run, reads, block: (
        used.append(model.plus_bits.shape[0]), counted.append(reads.counts.shape), stepping(model, run, reads, block)))
    results = []
    for per_word in (bifurcation.BIT_FLIPS_PER_WORD, 1e-9, 1e9):  # the default, always, never
        monkeypatch.setattr(bifurcation, "BIT_FLIPS_PER_WORD", per_word)
        results.append(backend.solve(energy, params, seed=3))
    assert set(used) == {3}  # every run stepped a model with bits (150 spins: 3 words) and int16 counts
    assert set(counted) == {(6, 150)}
    monkeypatch.setattr(bifurcation, "sign_bits", lambda n, indptr, indices, values: no_sign_bits(n))
    results.append(backend.solve(energy, params, seed=3))
    assert used[-1] == 0 and counted[-1] == (6, 0)  # float rows only
    for other in results[1:]:
        assert np.array_equal(results[0].states, other.states)
        assert np.array_equal(results[0].energies, other.energies)
        assert np.array_equal(results[0].per_read["trace"], other.per_read["trace"])


def test_power_iteration_counts_the_sign_rows_a_product_reads(monkeypatch):
    """dSB's model without dense rows still reads n² sign-row entries a product: the radius's Lanczos steps count them,
    so a large one runs on every thread (counting the empty CSR instead, K2000's ran on one: 1.9 ms a product
    against 1.0 ms) and a refusal names them."""
    import time

    import numba

    from hopsolve.errors import TooLargeError

    signed = _kernel_model(compile_spin_model(complete_pm1_energy(1100, 3)), rows=False)
    assert signed.dense32.size + signed.dense.size + signed.data.size == 0 and signed.sign_rows.size == 1100**2
    threads = []
    setting = numba.set_num_threads
    monkeypatch.setattr(numba, "set_num_threads", lambda count: (threads.append(count), setting(count)))
    spectral_radius(signed, 1100)
    assert threads and all(count == numba.get_num_threads() for count in threads)  # never narrowed to one
    with pytest.raises(TooLargeError, match="1,210,000 coupling entries"):
        spectral_radius(signed, 1100, deadline=time.perf_counter(), reads=4)


@pytest.mark.parametrize("weight", [1.0, 0.25])
def test_discrete_runs_read_the_sign_rows_without_dense_rows_and_match_runs_with_them(weight, monkeypatch):
    """dSB on a model of one coupling magnitude builds no dense rows (``rows=False``: the bits and the sign rows are
    all its steps read) and gives the states, energies and traces of a run on the dense rows, bit for bit."""
    import hopsolve.backends.bifurcation as bifurcation

    energy = complete_pm1_energy(150, 4, weight=weight)
    params = BifurcationParams(reads=6, steps=300, mode="discrete", trace=True)
    original = bifurcation._kernel_model
    built = []

    def recording(model, rows=True, force_rows=False):
        built.append(original(model, rows or force_rows))
        return built[-1]

    monkeypatch.setattr(bifurcation, "_kernel_model", recording)
    plain = BifurcationBackend().solve(energy, params, seed=2)
    assert built[-1].dense32.size + built[-1].dense.size == 0 and built[-1].sign_rows.size
    monkeypatch.setattr(bifurcation, "_kernel_model", lambda model, rows=True: recording(model, rows, True))
    with_rows = BifurcationBackend().solve(energy, params, seed=2)
    assert built[-1].dense32.size and built[-1].sign_rows.size
    assert np.array_equal(plain.states, with_rows.states)
    assert np.array_equal(plain.energies, with_rows.energies)
    assert np.array_equal(plain.per_read["trace"], with_rows.per_read["trace"])


def test_coupling_kinds_needs_every_value_exact_in_float32_at_one_common_power_of_two():
    import hopsolve.backends.bifurcation as bifurcation

    def exact(values):
        return bifurcation.coupling_kinds(values)[0]

    assert exact(np.array([0.25, 1.0, 1.0, 0.5, -3.0])) and exact(np.array([2.0**23, -1.0])) and exact(np.zeros(0))
    assert not exact(np.array([1.0, 1e-3]))  # not a dyadic fraction
    assert not exact(np.array([2.0**24, 1.0]))  # past float32's 24 bits
    assert not exact(np.array([2.0**22, 1.0, 1.0, 0.125]))  # 0.125 needs 2**3, and 2**22 · 2**3 is past them
    assert not exact(np.array([1.0, np.inf]))


@pytest.mark.parametrize("weight", [0.5, 0.1])  # dense rows in float32, and in float64
@pytest.mark.parametrize("complete", [True, False])
@pytest.mark.parametrize("block", [1, 3])
def test_dense_rows_move_the_position_fields_as_csr_rows_do(weight, complete, block, monkeypatch):
    """bSB on dense rows (float32 where exact, with sign bits where of one magnitude), on the sign rows alone (the
    model dSB gets: ``rows=False``, where there are sign rows) and on CSR rows: each field entry gets the same
    additions in the same order (the dense rows' zeros add nothing), so after 200 steps every position, momentum and
    field is the same float, bit for bit, whatever the block of replicas."""
    from hopsolve.backends._model import SpinModel

    energy = complete_pm1_energy(130, 9, bias=True, weight=weight) if complete else _pm1_dense(130, 9, 0.6, weight)
    spin_model = compile_spin_model(energy)
    dense = _kernel_model(spin_model)
    signed = _kernel_model(spin_model, rows=False)
    if weight == 0.5:  # one magnitude, exact in float32: sign rows, and no dense rows where none are asked for
        assert signed.sign_rows.shape == (130, 130) and signed.dense.size + signed.dense32.size == 0
        assert signed.indices.size == 0 and np.array_equal(signed.plus_bits, dense.plus_bits)
    else:  # no sign rows to read instead: the dense rows stay
        assert signed.dense.size == 130 * 130 and signed.sign_rows.size == 0
    monkeypatch.setattr(SpinModel, "is_dense", property(lambda self: False))
    by_csr = _kernel_model(spin_model)
    assert max(dense.dense.size, dense.dense32.size) == 130 * 130 and by_csr.dense.size + by_csr.dense32.size == 0
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-0.1, 0.1, (5, 130)), rng.uniform(-0.1, 0.1, (5, 130))
    run = SB.SBRun(np.linspace(0.0, 1.0, 200), 1.0, 0.05, 0.5, False, 0)
    ends = []
    for model in (dense, by_csr, signed):
        reads = SB.new_reads(model, x.copy(), y.copy(), 0)
        SB.sb_steps(model, run, reads, block)
        ends.append(reads)
    moving = np.abs(ends[0].x) < 1.0
    assert 0 < moving.sum() < moving.size  # some positions at the walls, some still moving
    for name in ("x", "y", "field_x", "spins", "energy", "best"):
        assert np.array_equal(getattr(ends[0], name), getattr(ends[1], name)), name
        assert np.array_equal(getattr(ends[0], name), getattr(ends[2], name)), name


def _solve_in_one_call_and_step_by_step(energy: Energy, params: BifurcationParams, monkeypatch) -> list:
    """The same seeded solve, once in one call of the kernels (no callback) and once a step a call (a callback,
    chunks of one step); each with the positions the permutation clean-up was given, if any."""
    import hopsolve.backends.anneal as anneal
    import hopsolve.backends.bifurcation as bifurcation

    finish = bifurcation.nearest_permutations
    runs = []
    for chunked in (False, True):
        positions = []
        def finishing(v, states, energy, seen=positions):
            seen.append(v.copy())
            return finish(v, states, energy)

        monkeypatch.setattr(bifurcation, "nearest_permutations", finishing)
        monkeypatch.setattr(anneal, "CHUNK_SECONDS", 1e-12 if chunked else anneal.CHUNK_SECONDS)
        updates = []
        samples = BifurcationBackend().solve(energy, params, seed=7, callback=updates.append if chunked else None)
        assert not chunked or len(updates) == params.steps  # a step a call
        runs.append((samples, positions))
    return runs


@pytest.mark.parametrize("mode", ["ballistic", "discrete"])
@pytest.mark.parametrize("kind", ["dense with products", "groups, no couplings"])
def test_a_run_split_into_calls_computes_what_one_call_does(kind, mode, monkeypatch):
    """Every call of the kernels used to start by recomputing the fields, so a run chunked by a callback (the CLI's
    progress, the anytime trace) rounded differently from one call, and a seeded assignment run gave another
    answer each time (its clean-up reads the final positions). Refreshes now fall on the run's own steps, and the
    products' phase is carried across calls: the same states, traces and final positions, bit for bit, on a run
    long enough to cross a periodic refresh (step ``REFRESH_STEPS``)."""
    if kind == "dense with products":
        energy = complete_pm1_energy(360, 3, bias=True)  # 360 units: large enough for the products (ballistic)
    else:
        energy = permutation_energy(np.zeros((9, 9)), np.zeros((9, 9)), np.random.default_rng(2).random((9, 9)))
    params = BifurcationParams(reads=4, steps=SB.REFRESH_STEPS + 100, mode=mode, trace=True)
    (whole, at_end), (stepped, at_end_stepped) = _solve_in_one_call_and_step_by_step(energy, params, monkeypatch)
    assert np.array_equal(whole.states, stepped.states) and np.array_equal(whole.energies, stepped.energies)
    assert np.array_equal(whole.per_read["trace"], stepped.per_read["trace"])
    assert len(at_end) == len(at_end_stepped) == (kind != "dense with products")
    assert all(np.array_equal(a, b) for a, b in zip(at_end, at_end_stepped, strict=True))


def test_a_timed_run_whose_random_starts_alone_would_pass_half_its_limit_is_refused_before_drawing_them(
        monkeypatch):
    """20,000 reads under a 0.2 s limit were refused after 2.9 s of drawing their starts (a stream a read); the
    first 16 are now timed and the rest projected."""
    drawn = []
    real = BifurcationBackend._starts

    def slow(seed, reads, n, energy, initial_states):
        drawn.append(reads)
        time.sleep(0.01)
        return real(seed, reads, n, energy, initial_states)

    monkeypatch.setattr(BifurcationBackend, "_starts", staticmethod(slow))
    energy = random_energy(30, 2)
    with pytest.raises(TooLargeError, match="drawing the random starts of 20,000 reads of 30 units alone"):
        BifurcationBackend().solve(energy, BifurcationParams(reads=20_000, time_limit=0.2), seed=1)
    assert drawn == [16]
    fits = BifurcationBackend().solve(energy, BifurcationParams(reads=4, steps=50, time_limit=5.0), seed=1)
    assert len(fits) == 4


def test_a_timed_final_descent_runs_for_every_read_or_none_and_the_replay_says_which(monkeypatch):
    """A timed dSB run on a dense ±1 model reached its limit inside the descent's reserve: the descent found its
    deadline passed and did nothing, while the replay (untimed) descended, so it did not reproduce the run. The
    descent now runs for every read or none, by a projection from the first read, and a skipped one is recorded as
    ``final_descent=False`` in the replay."""
    from hopsolve.backends import _descent as D
    from hopsolve.backends import bifurcation as B

    energy = random_energy(40, 3, density=0.3)
    model = compile_spin_model(energy)
    spins = np.random.default_rng(1).choice(np.array([-1, 1], dtype=np.int8), size=(6, 40))
    kept, change, flips = D.descend_all_or_none(model, spins, time.perf_counter() - 1.0)  # the deadline has passed
    assert flips is None and kept is spins and not change.any()
    done, change, flips = D.descend_all_or_none(model, spins, time.perf_counter() + 60.0)
    assert flips > 0 and _lowered_by_one_flip(energy, done) == 0
    untimed, untimed_change, _ = D.descend_all_or_none(model, spins, None)
    assert np.array_equal(done, untimed) and np.array_equal(change, untimed_change)  # read for read
    assert np.allclose(change, energy.energies(done) - energy.energies(spins))
    real = D.descend_states

    def slow(*args):
        time.sleep(0.05)
        return real(*args)

    monkeypatch.setattr(D, "descend_states", slow)  # the first read takes 50 ms: five more cannot fit in 60 ms
    kept, change, flips = D.descend_all_or_none(model, spins, time.perf_counter() + 0.06)
    assert flips is None and kept is spins and not change.any()
    monkeypatch.setattr(B, "descend_all_or_none", lambda model, spins, deadline: (spins, np.zeros(len(spins)), None))
    timed = BifurcationBackend().solve(energy, BifurcationParams(reads=4, steps=200, time_limit=5.0), seed=2)
    assert timed.info["descent_flips"] is None and timed.info["replay"]["final_descent"] is False
    monkeypatch.undo()
    replay = timed.info["replay"]
    replayed = BifurcationParams(reads=4, steps=replay["steps"], replan=replay["replan"],
                                 final_descent=replay["final_descent"])
    again = BifurcationBackend().solve(energy, replayed, seed=2)
    assert np.array_equal(again.states, timed.states)
