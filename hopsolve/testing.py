"""A conformance kit that any backend or problem plugin (ours or a third party's) runs in its own tests.

>>> from hopsolve.testing import check_backend
>>> check_backend(MyBackend(), params={"sweeps": 200})       # doctest: +SKIP

Each check raises ``AssertionError`` with a message saying what broke.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from hopsolve.backend import Backend
from hopsolve.backends.exact import ExactBackend
from hopsolve.energy import Energy, Vartype
from hopsolve.errors import ParameterError
from hopsolve.problem import Instance, Problem

__all__ = [
    "brute_force_minimum",
    "check_anytime",
    "random_energy",
    "check_backend",
    "check_backend_contract",
    "check_problem",
    "is_local_minimum",
]


def random_energy(n: int, seed: int, vartype: Vartype = Vartype.SPIN, density: float = 1.0,
                  integer: bool = False) -> Energy:
    """A random symmetric model with ``n`` units (U(-1, 1) or small-integer couplings and biases)."""
    rng = np.random.default_rng(seed)
    draw = (lambda size: rng.integers(-3, 4, size).astype(float)) if integer else (
        lambda size: rng.uniform(-1, 1, size))
    upper = np.triu(draw((n, n)) * (rng.random((n, n)) < density), 1)
    return Energy.from_hopfield(upper + upper.T, draw(n), float(draw(1)[0]), vartype)


def brute_force_minimum(energy: Energy) -> tuple[float, np.ndarray]:
    """The minimum energy and every minimising state, by listing all states (independent of the backends)."""
    n = energy.num_variables
    if n > 20:
        raise ValueError("brute force is for n ≤ 20")
    values = (energy.vartype.low, energy.vartype.high)
    states = np.array(list(itertools.product(values, repeat=n)), dtype=np.int8).reshape(-1, n)
    e = energy.energies(states)
    best = e.min()
    # float rounding relative to the energies' spread, and to their size only as far as it rounds them (an absolute
    # floor of 1e-9 counted every state of a model in units of 1e-12 a minimiser; relative to the size alone, an
    # offset of 1e3 beside coefficients of 1e-7 did)
    tolerance = 1e-9 * max(float(e.max() - e.min()), 1e-6 * float(np.abs(e).max()))
    return float(best), states[np.isclose(e, best, rtol=0, atol=tolerance)]


def is_local_minimum(energy: Energy, state: np.ndarray, tolerance: float = 1e-9) -> bool:
    """True when no single flip lowers the energy."""
    return bool((energy.flip_deltas(state) >= -tolerance).all())


def _solve(backend: Backend, energy: Energy, params: Mapping[str, Any] | None, seed: int) -> Any:
    return backend.solve(energy, backend.params(params), seed=seed)


def _check_scored(energy: Energy, samples: Any, label: str) -> None:
    assert samples.states.shape[1] == energy.num_variables, f"{label}: states have the wrong width"
    domain = (energy.vartype.low, energy.vartype.high)
    assert np.isin(samples.states, domain).all(), f"{label}: states outside {domain}"
    recomputed = energy.energies(samples.states)
    assert np.allclose(recomputed, samples.energies, atol=1e-7), f"{label}: reported energies are not the states'"


def check_backend(backend: Backend, params: Mapping[str, Any] | None = None, *, finds_ground_state: bool = True,
                  local_minima: bool = False, sizes: Iterable[int] = (1, 5, 10, 16), seeds: Iterable[int] = (0, 1, 2),
                  problem: Problem | None = None, instance: Instance | None = None) -> None:
    """Run every backend check: edge cases, scoring, vartypes, seeding, parameters, and quality against exact.

    ``finds_ground_state``: the best read must reach the exact minimum on random models of up to 16 units.
    ``local_minima``: every read must be a local minimum (no single flip lowers its energy).
    ``problem`` and ``instance``: also check the anytime curve on that problem (:func:`check_anytime`).
    """
    name = getattr(backend, "name", type(backend).__name__)
    try:
        backend.params({"no_such_parameter_xyz": 1})
    except ParameterError as exc:
        assert "no_such_parameter_xyz" in str(exc), f"{name}: the error must name the unknown parameter"
    else:
        raise AssertionError(f"{name}: an unknown parameter must be rejected")

    one = Energy.from_hopfield(np.zeros((1, 1)), [0.5], 0.0, Vartype.SPIN)
    samples = _solve(backend, one, params, 0)
    _check_scored(one, samples, f"{name} (one unit)")
    assert samples.best_energy == -0.5, f"{name}: one unit with bias 0.5 must settle at +1"

    exact = ExactBackend()
    for n, seed in itertools.product(sizes, seeds):
        for vartype in (Vartype.SPIN, Vartype.BINARY):
            energy = random_energy(n, seed, vartype)
            samples = _solve(backend, energy, params, seed)
            label = f"{name} (n={n}, seed={seed}, {vartype.value})"
            _check_scored(energy, samples, label)
            ground = exact.solve(energy).best_energy
            assert samples.energies.min() >= ground - 1e-9, f"{label}: energy below the exact minimum"
            if finds_ground_state:
                assert np.isclose(samples.energies.min(), ground, atol=1e-7), f"{label}: missed the ground state"
            if local_minima:
                for state in samples.states:
                    assert is_local_minimum(energy, state), f"{label}: a read is not a local minimum"
        again = _solve(backend, random_energy(n, seed), params, seed)
        first = _solve(backend, random_energy(n, seed), params, seed)
        assert np.array_equal(first.states, again.states), f"{name}: same seed must give the same states"
    check_backend_contract(backend, params, problem=problem, instance=instance)


def check_backend_contract(backend: Backend, params: Mapping[str, Any] | None = None, *,
                           problem: Problem | None = None, instance: Instance | None = None) -> None:
    """The parts of the backend contract every caller relies on (see :class:`hopsolve.SampleSet`):

    the empty model; typed fields (``timed_out``, ``proven_optimal``, ``derived``, ``work`` in a named
    ``work_unit``) and no per-read arrays in ``info``; initial states (one read per given state, scored);
    callbacks whose ``done`` never decreases and never passes ``total``, whose ``best_energy`` never rises and
    whose ``best_state`` has that energy; a time limit, where the backend declares one, honoured on a run that
    would otherwise take long; permutation and one-hot energies scored exactly; and, where a ``problem`` and
    ``instance`` are attached, the anytime curve in the problem's objective (:func:`check_anytime`).
    """
    import time

    from hopsolve.energy import GroupSquareTerm
    from hopsolve.permutation import permutation_energy

    name = getattr(backend, "name", type(backend).__name__)
    empty = Energy.from_hopfield(np.zeros((0, 0)), np.zeros(0), 1.5, Vartype.SPIN)
    samples = _solve(backend, empty, params, 0)
    assert samples.states.shape[1] == 0 and np.allclose(samples.energies, 1.5), f"{name}: the empty model"

    energy = random_energy(12, 3, integer=True)
    updates: list[dict[str, Any]] = []
    samples = backend.solve(energy, backend.params(params), seed=5, callback=updates.append)
    _check_scored(energy, samples, f"{name} (contract)")
    assert isinstance(samples.timed_out, bool) and isinstance(samples.proven_optimal, bool), \
        f"{name}: timed_out and proven_optimal must be booleans"
    assert isinstance(samples.derived, dict), f"{name}: derived parameters must be a dict"
    assert samples.work is not None and samples.work >= 0 and samples.work_unit, \
        f"{name}: the work done must be reported in a named unit"
    for key, value in samples.info.items():
        assert not (isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == len(samples)
                    and len(samples) > 1), f"{name}: per-read array {key!r} belongs in per_read, not info"
    done = [u["done"] for u in updates if "done" in u]
    assert all(a <= b for a, b in zip(done, done[1:])), f"{name}: callback progress must never go back"
    assert all(u["done"] <= u["total"] for u in updates if "done" in u and "total" in u), \
        f"{name}: callback progress passed its total"
    assert len({(u.get("total"), u.get("unit")) for u in updates if "done" in u}) <= 1, \
        f"{name}: callback progress must keep one total in one unit"
    best = [u["best_energy"] for u in updates if "best_energy" in u]
    assert all(b <= a + 1e-9 * max(1.0, abs(a)) for a, b in zip(best, best[1:])), \
        f"{name}: the best energy in progress updates must never rise"
    for update in updates:
        if "best_state" in update and "best_energy" in update:
            assert np.isclose(energy.energy(update["best_state"]), update["best_energy"]), \
                f"{name}: a progress update's best_state does not have its best_energy"

    rng = np.random.default_rng(9)
    starts = rng.choice(np.array([energy.vartype.low, energy.vartype.high]), size=(3, energy.num_variables))
    try:
        started = backend.solve(energy, backend.params(params), seed=1, initial_states=starts)
    except ParameterError:
        started = None  # a backend may refuse initial states with a clear error
    if started is not None:
        if backend.starts_from_initial_states:  # else it may take them and search every state (exact)
            assert len(started) == 3, f"{name}: one read per initial state"
        _check_scored(energy, started, f"{name} (initial states)")

    if backend.supports_time_limit():
        big = random_energy(400, 4, density=0.05)
        values = {**(params or {}), "time_limit": 0.5}
        backend.prepare(big, backend.params(values))  # compiling is not the run's (as solve_instance does it)
        began = time.perf_counter()
        timed = backend.solve(big, backend.params(values), seed=2)
        took = time.perf_counter() - began
        # 5% and, on a machine busy with other tests, half a second more (it was 15 s: a backend that slept 10 s
        # on this limit passed)
        assert took < 0.5 * 1.05 + 0.5, f"{name}: a 0.5 s time limit took {took:.2f} s"
        _check_scored(big, timed, f"{name} (time limit)")

    flow = np.array([[0.0, 3.0, 1.0], [3.0, 0.0, 2.0], [1.0, 2.0, 0.0]])
    distance = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 2.0], [4.0, 2.0, 0.0]])
    for label, model in [("permutation", permutation_energy(flow, distance)),
                         ("one-hot", Energy(Vartype.BINARY, (GroupSquareTerm.build(
                             "objective", np.repeat(np.arange(3), 3), np.ones(3)),))),
                         ("one-hot groups", _grouped_energy())]:
        result = _solve(backend, model, params, 0)
        _check_scored(model, result, f"{name} ({label} energy)")
        assert result.energies.min() >= ExactBackend().solve(model).best_energy - 1e-9, \
            f"{name}: {label} energy below the exact minimum"
    if problem is not None and instance is not None:
        check_anytime(backend, problem, instance, params)


def _grouped_energy() -> Energy:
    """Three one-hot groups (sizes 2, 3, 4) and two free units under a random objective plus the one-hot penalty."""
    from hopsolve.energy import OneHotGroups

    groups = OneHotGroups.from_lists([[0, 1], [2, 3, 4], [5, 6, 7, 8]])
    objective = random_energy(11, 8, Vartype.BINARY, integer=True).terms[0]
    return Energy(Vartype.BINARY, (objective, groups.penalty("onehot", 11)), weights={"onehot": 4.0}, groups=groups)


def check_anytime(backend: Backend, problem: Problem, instance: Instance,
                  params: Mapping[str, Any] | None = None, seed: int = 3) -> list[float]:
    """The best objective a backend reports as it runs, decoded by ``problem`` as ``solve_instance`` does for the
    anytime curve: every update's best state (``best_state`` or ``best_positions``) decodes, the feasible
    objectives never get worse, and none beats the best read the run returns. For problems whose feasible states'
    energy falls as the objective improves (unconstrained ones, permutation views). Returns the objectives seen.
    """
    from hopsolve.solving import _decode_update

    name = getattr(backend, "name", type(backend).__name__)
    energy = problem.encode(instance)
    objectives: list[float] = []

    def record(update: dict[str, Any]) -> None:
        solution = _decode_update(problem, instance, energy, update)
        if solution is not None and solution.feasible:
            objectives.append(float(solution.objective))

    samples = backend.solve(energy, backend.params(params), seed=seed, callback=record)
    assert objectives, f"{name}: no progress update carried a best state that decodes to a feasible solution"
    better = (lambda a, b: a <= b + 1e-9) if problem.sense == "min" else (lambda a, b: a >= b - 1e-9)
    assert all(better(b, a) for a, b in zip(objectives, objectives[1:])), \
        f"{name}: the best objective in progress updates got worse: {objectives}"
    if samples.permutations is not None:
        final = problem.decode_permutation(instance, energy, samples.permutations[int(np.argmin(samples.energies))])
    else:
        final = problem.decode(instance, energy, samples.best)
    assert final.feasible and better(final.objective, objectives[-1]), \
        f"{name}: the run's best read ({final.objective}) is worse than its last progress update ({objectives[-1]})"
    return objectives


def check_problem(problem: Problem, instance: Instance, candidates: Iterable[Any], *,
                  weights: Mapping[str, float] | None = None, optimum_by_exact: bool = False) -> None:
    """Check a problem plugin on one instance and some feasible candidates.

    The energy must carry the ``weights`` given. For each candidate: the state that encodes it decodes back to it
    (round trip), has zero penalty in every term, the same energy in SPIN and BINARY form, and scores the same
    through ``decode`` and ``score``. With
    ``optimum_by_exact`` (small instances), the exact ground state must decode to a feasible candidate whose
    objective is no worse than any other feasible state's, and every penalty term must be ≥ 0 (every term not named
    ``objective`` is a penalty: zero exactly where its constraint holds; a misnamed objective, negative somewhere, is
    caught here); both over every state of at most :data:`LISTED_UNITS` units, else over :data:`CHECKED_STATES`
    drawn at random (seed 0), decoding at most that many.
    """
    energy = problem.encode(instance, weights)
    for name, value in (weights or {}).items():  # (hopsolve applies them where an encode does not; say so here)
        assert energy.weights.get(name) == float(value), (
            f"{problem.name}: encode was given the weight {name}={value} but its energy weighs {name!r} "
            f"{energy.weights.get(name)} (an encode must apply the weights it is given, energy.reweighted)")
    other = energy.to_spin() if energy.vartype is Vartype.BINARY else energy.to_binary()
    for candidate in candidates:
        state = problem.state_of(instance, energy, candidate)
        solution = problem.decode(instance, energy, state)
        direct = problem.score(instance, candidate)
        assert solution.feasible, f"{problem.name}: a feasible candidate decoded as infeasible: {solution}"
        assert solution.value == direct.value, f"{problem.name}: decode(state_of(x)) != x"
        assert np.isclose(solution.objective, direct.objective), f"{problem.name}: decode and score disagree"
        for term, value in energy.violations(state).items():
            assert abs(value) < 1e-9, f"{problem.name}: feasible state has penalty {term}={value}"
        converted = 2 * state - 1 if energy.vartype is Vartype.BINARY else (state + 1) // 2
        assert np.isclose(energy.energy(state), other.energy(converted)), \
            f"{problem.name}: SPIN and BINARY energies differ"
    if optimum_by_exact:
        best = _best_feasible_objective(problem, instance, energy)  # first: it names a misnamed objective
        samples = ExactBackend().solve(energy)
        solution = problem.decode(instance, energy, samples.best)
        assert solution.feasible, f"{problem.name}: the ground state is infeasible (penalty weights too small?)"
        beaten = best is not None and not np.isclose(solution.objective, best) and (
            best > solution.objective if problem.sense == "max" else best < solution.objective)
        assert not beaten, (f"{problem.name}: ground state objective {solution.objective} is beaten by another "
                            f"feasible state's, {best}: the best over all states")
        if problem.reference(instance) is not None:
            assert np.isclose(solution.objective, problem.reference(instance)), \
                f"{problem.name}: ground state objective {solution.objective} != reference"


LISTED_UNITS = 12
"""``check_problem(optimum_by_exact=True)`` lists every state of energies of at most this many units."""
CHECKED_STATES = 4096
"""... and otherwise checks this many random states (and decodes at most this many of the feasible ones)."""


def _best_feasible_objective(problem: Problem, instance: Instance, energy: Energy) -> float | None:
    """The best objective (by ``problem.sense``) over the states checked (see :func:`check_problem`) that decode
    feasible; asserts on the way that every penalty term is ≥ 0 on each of them."""
    n = energy.num_variables
    values = np.array([energy.vartype.low, energy.vartype.high], dtype=np.int8)
    if n <= LISTED_UNITS:
        states = np.array(list(itertools.product(values, repeat=n)), dtype=np.int8).reshape(-1, n)
    else:
        states = np.random.default_rng(0).choice(values, size=(CHECKED_STATES, n))
    held = np.ones(len(states), dtype=bool)
    for name in energy.penalty_names:
        penalty = energy.term(name).energies(states, energy.vartype)
        lowest = int(np.argmin(penalty))
        assert penalty[lowest] >= -1e-9 * max(1.0, float(np.abs(penalty).max())), (
            f"{problem.name}: penalty term {name!r} is {penalty[lowest]:g} on state {states[lowest].tolist()}; "
            "every term not named 'objective' is a penalty, zero where its constraint holds and positive elsewhere")
        held &= np.abs(penalty) < 1e-9
    objectives = [solution.objective for solution in (problem.decode(instance, energy, state)
                                                      for state in states[held][:CHECKED_STATES])
                  if solution.feasible]
    if not objectives:
        return None
    return float(max(objectives) if problem.sense == "max" else min(objectives))
