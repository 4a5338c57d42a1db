"""One-hot groups (Potts variables): the structure, anneal's moves inside the groups, hopfield's winner-take-all
units and tank's softmax over them — checked against enumeration of every feasible state."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hopsolve.backends.anneal import AnnealBackend
from hopsolve.backends.hopfield import HopfieldBackend
from hopsolve.backends.tank import TankBackend
from hopsolve.energy import Energy, OneHotGroups, Vartype
from hopsolve.errors import ParameterError
from hopsolve.testing import random_energy


def potts_energy(sizes: list[int], free: int, seed: int, weight: float = 5.0, vartype: Vartype = Vartype.BINARY
                 ) -> Energy:
    """A random quadratic objective on groups of the given sizes plus ``free`` ungrouped units, with the one-hot
    penalty as a named term."""
    n = sum(sizes) + free
    groups = OneHotGroups.from_lists(np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1]))
    objective = random_energy(n, seed, Vartype.BINARY).terms[0]
    energy = Energy(Vartype.BINARY, (objective, groups.penalty("onehot", n)), weights={"onehot": weight},
                    groups=groups)
    return energy if vartype is Vartype.BINARY else energy.to_spin()


def feasible_states(energy: Energy) -> np.ndarray:
    n = energy.num_variables
    low = energy.vartype.low
    states = np.array(list(itertools.product((low, 1), repeat=n)), dtype=np.int8)
    return states[[energy.groups.satisfied(s) for s in states]]


@given(st.lists(st.integers(1, 5), min_size=1, max_size=6), st.integers(0, 4), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_groups_random_states_choices_and_penalty_agree(sizes, free, seed):
    n = sum(sizes) + free
    groups = OneHotGroups.from_lists(np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1]))
    states = groups.random_states(np.random.default_rng(seed), 5, Vartype.BINARY, n)
    penalty = groups.penalty("onehot", n)
    assert all(groups.satisfied(s) for s in states)
    assert np.allclose(penalty.energies(states.astype(float), Vartype.BINARY), 0.0)
    choices = groups.choices(states[0])
    assert all(states[0][groups.group(g)[c]] == 1 for g, c in enumerate(choices))
    broken = states[0].copy()
    broken[groups.group(0)] = 0
    assert not groups.satisfied(broken) and groups.choices(broken)[0] == -1
    assert penalty.energies(broken[None].astype(float), Vartype.BINARY)[0] == pytest.approx(1.0)
    assert len(groups.free_units(n)) == free


def test_groups_are_validated():
    with pytest.raises(ParameterError, match="at most one group"):
        OneHotGroups.from_lists([[0, 1], [1, 2]])
    with pytest.raises(ParameterError, match="at least one unit"):
        OneHotGroups(np.array([0]), np.array([0, 0, 1]))
    with pytest.raises(ParameterError, match="name unit 5 of 3"):
        Energy(Vartype.BINARY, Energy.from_qubo(np.eye(3)).terms, groups=OneHotGroups.from_lists([[0, 5]]))


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
@pytest.mark.parametrize("seed", range(4))
def test_anneal_group_moves_stay_feasible_and_find_the_feasible_ground_state(rule, seed):
    energy = potts_energy([3, 2, 4], 2, seed)
    feasible = feasible_states(energy)
    ground = energy.energies(feasible).min()
    samples = AnnealBackend().solve(energy, AnnealBackend().params({"rule": rule, "sweeps": 400, "reads": 6}),
                                    seed=seed)
    assert all(energy.groups.satisfied(s) for s in samples.states)
    assert samples.derived["moves"] == "onehot"
    assert samples.best_energy == pytest.approx(ground)


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_anneal_group_moves_track_the_energy_exactly(rule):
    energy = potts_energy([3, 3, 2], 3, 11, vartype=Vartype.SPIN)
    params = AnnealBackend().params({"rule": rule, "sweeps": 50, "reads": 3, "trace": True, "keep_best": False})
    samples = AnnealBackend().solve(energy, params, seed=5)
    # the kernel's running energy after the last sweep equals the final state's energy, recomputed
    assert np.allclose(samples.per_read["trace"][:, -1], energy.energies(samples.states))


@pytest.mark.parametrize("rule", ["metropolis", "glauber"])
def test_anneal_group_moves_sample_the_boltzmann_distribution(rule):
    """At a constant β the reads' final states follow e^{-βE} over the feasible set (a χ² test; p < 0.001 fails)."""
    energy = potts_energy([3, 3], 1, 2)
    feasible = feasible_states(energy)
    beta = 1.0
    weights = np.exp(-beta * (energy.energies(feasible) - energy.energies(feasible).min()))
    expected = weights / weights.sum()
    params = AnnealBackend().params({"rule": rule, "schedule": "constant", "beta": beta, "sweeps": 30,
                                     "reads": 6000, "keep_best": False})
    samples = AnnealBackend().solve(energy, params, seed=3)
    index = {tuple(s): k for k, s in enumerate(feasible)}
    counts = np.bincount([index[tuple(s)] for s in samples.states], minlength=len(feasible))
    _, p = stats.chisquare(counts, expected * counts.sum())
    assert p > 1e-3, (counts, np.round(expected * counts.sum()))


def test_single_flips_stay_available_and_are_reported():
    energy = potts_energy([3, 3], 1, 4)
    samples = AnnealBackend().solve(energy, AnnealBackend().params({"moves": "flip", "sweeps": 200}), seed=1)
    assert samples.derived["moves"] == "flip"
    with pytest.raises(ParameterError, match="one-hot groups"):
        AnnealBackend().solve(random_energy(4, 1), AnnealBackend().params({"moves": "onehot"}), seed=1)
    with pytest.raises(ParameterError, match="exactly one unit on"):
        AnnealBackend().solve(energy, AnnealBackend().params({"reads": 1}), seed=1,
                              initial_states=np.zeros((1, energy.num_variables)))


def _group_local_minimum(energy: Energy, state: np.ndarray) -> bool:
    """No group can lower the energy by moving its on unit, and no free unit by flipping."""
    e = energy.energy(state)
    groups = energy.groups
    for g in range(groups.count):
        for unit in groups.group(g):
            moved = state.copy()
            moved[groups.group(g)] = energy.vartype.low
            moved[unit] = 1
            if energy.energy(moved) < e - 1e-9:
                return False
    for unit in groups.free_units(energy.num_variables):
        flipped = state.copy()
        flipped[unit] = energy.vartype.low if state[unit] == 1 else 1
        if energy.energy(flipped) < e - 1e-9:
            return False
    return True


@pytest.mark.parametrize("vartype", [Vartype.BINARY, Vartype.SPIN])
def test_hopfield_updates_each_group_as_one_winner_take_all_unit(vartype):
    energy = potts_energy([4, 3, 3, 2], 2, 7, vartype=vartype)
    samples = HopfieldBackend().solve(energy, HopfieldBackend().params({"reads": 20, "trace": True}), seed=2)
    assert samples.derived["units"] == "winner-take-all"
    assert all(energy.groups.satisfied(s) and _group_local_minimum(energy, s) for s in samples.states)
    assert all(np.all(np.diff(trace) <= 1e-9) for trace in samples.per_read["trace"])  # the energy never rises
    single = HopfieldBackend().solve(energy, HopfieldBackend().params({"reads": 5, "units": "single"}), seed=2)
    assert single.derived["units"] == "single"


def test_tank_runs_a_softmax_over_each_group():
    energy = potts_energy([4, 3, 5], 2, 3)
    samples = TankBackend().solve(energy, TankBackend().params({"reads": 6}), seed=1)
    assert samples.derived["units"] == "potts"
    assert all(energy.groups.satisfied(s) for s in samples.states)
    graded = samples.info["graded_outputs"] if "graded_outputs" in samples.info else samples.per_read[
        "graded_outputs"]
    sums = np.add.reduceat(graded[:, energy.groups.members], energy.groups.offsets[:-1], axis=1)
    assert np.allclose(sums, 1.0)  # every group's outputs are a probability distribution
