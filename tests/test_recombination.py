"""Recombination of reads by their clusters of disagreement (``hopsolve.backends._recombination``) and its use by
the ``replica`` backend."""

from __future__ import annotations

import itertools
from dataclasses import replace

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import Energy, ParameterError, Vartype
from hopsolve.backends._model import compile_spin_model
from hopsolve.backends._recombination import recombine_into, recombine_reads
from hopsolve.backends.replica import ReplicaBackend, ReplicaParams
from hopsolve.energy import GroupSquareTerm
from hopsolve.testing import random_energy

from .conftest import torus_energy


def _sparse_energy(n: int, seed: int, density: float, bias: bool) -> Energy:
    """A random spin model with couplings on about ``density`` of the pairs, and biases when asked."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.choice([-1.0, 1.0, 0.5], (n, n)) * (rng.random((n, n)) < density), 1)
    b = rng.uniform(-1, 1, n) if bias else np.zeros(n)
    return Energy.from_hopfield(upper + upper.T, b, 0.0, Vartype.SPIN)


def _clusters(model, a, x):
    """The connected components of the disagreeing sites in the coupling graph (networkx, independent of the
    kernel)."""
    graph = nx.Graph()
    differ = np.flatnonzero(a != x)
    graph.add_nodes_from(differ.tolist())
    for i in differ:
        for q in range(model.indptr[i], model.indptr[i + 1]):
            j = model.indices[q]
            if a[j] != x[j] and model.data[q] != 0:
                graph.add_edge(int(i), int(j))
    return [sorted(c) for c in nx.connected_components(graph)]


def _into(model, child, donor):
    n = len(child)
    return recombine_into(model.indptr.astype(np.int64), model.indices.astype(np.int64), model.data, model.bias,
                          child, donor, np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int64), 1e-9)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 11), seed=st.integers(0, 10_000), density=st.floats(0.05, 0.6), bias=st.booleans())
def test_the_child_is_the_best_choice_of_each_cluster_from_either_parent(n, seed, density, bias):
    """Against brute force over every way of taking each cluster from one parent or the other: the child's energy
    is the least of them, its reported change is exact, and it is never above either parent."""
    energy = _sparse_energy(n, seed, density, bias)
    model = compile_spin_model(energy)
    rng = np.random.default_rng(seed + 1)
    a, x = rng.choice([-1.0, 1.0], n), rng.choice([-1.0, 1.0], n)
    clusters = _clusters(model, a, x)
    best = np.inf
    for choice in itertools.product((False, True), repeat=len(clusters)):
        trial = a.copy()
        for take, cluster in zip(choice, clusters):
            if take:
                trial[cluster] = x[cluster]
        best = min(best, float(energy.energies(trial[None])[0]))
    child = a.copy()
    change, taken = _into(model, child, x)
    e_child, e_a, e_x = (float(energy.energies(s[None])[0]) for s in (child, a, x))
    assert e_child == pytest.approx(best, abs=1e-9)
    assert e_child == pytest.approx(e_a + change, abs=1e-9)
    assert change <= 0 and e_child <= min(e_a, e_x) + 1e-9
    assert 0 <= taken <= len(clusters) and np.all((child == a) | (child == x))


def test_the_scratch_is_left_clear_and_equal_parents_give_nothing():
    energy = _sparse_energy(30, 3, 0.2, True)
    model = compile_spin_model(energy)
    a = np.random.default_rng(0).choice([-1.0, 1.0], 30)
    mark, queue = np.zeros(30, dtype=np.int8), np.zeros(30, dtype=np.int64)
    args = (model.indptr.astype(np.int64), model.indices.astype(np.int64), model.data, model.bias)
    assert recombine_into(*args, a.copy(), a.copy(), mark, queue, 1e-9) == (0.0, 0)
    recombine_into(*args, a.copy(), -a, mark, queue, 1e-9)
    assert not mark.any()


def test_recombining_reads_never_rises_above_the_best_read_and_keeps_its_energy_exact():
    energy = random_energy(40, 5, density=0.1)
    model = compile_spin_model(energy)
    rng = np.random.default_rng(2)
    for _ in range(20):
        states = rng.choice([-1.0, 1.0], (5, 40))
        energies = energy.energies(states)
        child, child_energy, taken = recombine_reads(model.indptr, model.indices, model.data, model.bias, states,
                                                     energies)
        assert child_energy == pytest.approx(float(energy.energies(child[None])[0]), abs=1e-9)
        assert child_energy <= energies.min() + 1e-9 and taken >= 0


def test_a_global_flip_donates_like_any_other_state():
    """Max-cut is symmetric under flipping every spin: a read that is the best one's mirror image with a better
    region elsewhere donates that region only through ``-x``."""
    side = 8
    graph = nx.grid_2d_graph(side, side, periodic=True)
    rng = np.random.default_rng(1)
    n = side * side
    w = np.zeros((n, n))
    for (r1, c1), (r2, c2) in graph.edges:
        a, b = r1 * side + c1, r2 * side + c2
        w[a, b] = w[b, a] = rng.choice([-1.0, 1.0])
    energy = Energy.from_hopfield(w, np.zeros(n), 0.0, Vartype.SPIN)
    model = compile_spin_model(energy)
    good = np.ones(n)
    for _ in range(2000):  # a greedy descent from all-up: a local minimum
        fields = w @ good
        i = int(np.argmin(good * fields))
        if good[i] * fields[i] >= 0:
            break
        good[i] = -good[i]
    mirror = -good.copy()
    mirror[:3] = -mirror[:3]  # three sites of the mirror image changed: a different state, near -good
    states = np.stack([good, mirror])
    energies = energy.energies(states)
    child, child_energy, _ = recombine_reads(model.indptr, model.indices, model.data, model.bias, states, energies)
    assert child_energy == pytest.approx(float(energy.energies(child[None])[0]))
    assert child_energy <= energies.min() + 1e-9


def test_the_backend_recombines_into_the_best_read_and_changes_nothing_else():
    """The same seed and budget with and without recombination: every read but the best is the same state, and the
    best read is no higher (here strictly lower: short warm reads leave regions to trade)."""
    energy = torus_energy(30, 3, bias=0.0)
    base = ReplicaParams(reads=8, sweeps=40, schedule="anneal", recombine="off")
    plain = ReplicaBackend().solve(energy, base, seed=2)
    mixed = ReplicaBackend().solve(energy, replace(base, recombine="on"), seed=2)
    best = int(np.argmin(plain.energies))
    others = np.arange(8) != best
    assert np.array_equal(plain.states[others], mixed.states[others])
    assert mixed.energies[best] < plain.energies[best]
    assert np.allclose(mixed.energies, energy.energies(mixed.states))
    report = mixed.info["recombination"]
    assert report["reads"] == 8 and report["clusters_taken"] > 0
    assert report["energy_change"] == pytest.approx(mixed.energies[best] - plain.energies[best])
    assert plain.info["recombination"] is None


def test_recombination_is_on_by_default_only_for_a_sparse_anytime_anneal():
    backend = ReplicaBackend()
    sparse = compile_spin_model(torus_energy(6, 1, bias=0.0))
    dense = compile_spin_model(random_energy(30, 1))
    anytime = ReplicaParams(schedule="anneal", fill_time=True, time_limit=1.0)
    assert backend._recombines(sparse, anytime)
    assert not backend._recombines(dense, anytime)
    assert not backend._recombines(sparse, ReplicaParams(schedule="anneal"))  # untimed: anneal's default
    assert not backend._recombines(sparse, replace(anytime, keep_best=False))
    assert backend._recombines(dense, ReplicaParams(recombine="on"))


def test_recombination_refuses_group_penalties_and_bad_values():
    groups = np.repeat(np.arange(2), 3)
    energy = Energy(Vartype.BINARY, (GroupSquareTerm.build("one_hot", groups, np.ones(2), scale=2.0),
                                     *random_energy(6, 1, Vartype.BINARY, density=0.5).terms))
    with pytest.raises(ParameterError, match="recombine"):
        ReplicaBackend().solve(energy, ReplicaParams(reads=2, sweeps=5, recombine="on"), seed=1)
    with pytest.raises(ParameterError, match="recombine"):
        ReplicaBackend().params({"recombine": "always"})
