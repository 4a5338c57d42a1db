"""Tabu search with breakouts (``replica``'s time-filled max-cut phase): gain and energy bookkeeping against
recomputation, ground states of small models, determinism for a seed and a move budget (any chunks, threads)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import Energy, Vartype
from hopsolve.backends import _tabu_kernels as TK
from hopsolve.backends._model import compile_spin_model
from hopsolve.backends.replica import ReplicaBackend, tabu_settings
from hopsolve.testing import brute_force_minimum, check_backend, random_energy

from .conftest import ROOT


def _random_graph(n, density, seed, integer):
    rng = np.random.default_rng(seed)
    w = np.triu(rng.uniform(-2, 2, (n, n)) if not integer else rng.choice([-1.0, 1.0], (n, n)), 1)
    w *= np.triu(rng.random((n, n)) < density, 1)
    bias = rng.uniform(-1, 1, n) if not integer else np.zeros(n)
    return Energy.from_hopfield(w + w.T, bias, 0.0, Vartype.SPIN)


def _walks(energy, seed, count=1, jump_min=2):
    model = compile_spin_model(energy)
    rng = np.random.default_rng(seed)
    s = rng.choice([-1.0, 1.0], size=(count, model.n))
    walks = TK.new_walks(s, model.initial_fields(s), energy.energies(s.astype(np.int8)),
                         np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1),
                         jump_min)
    return model, walks


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 24), density=st.floats(0.1, 1.0), seed=st.integers(0, 10**6), integer=st.booleans(),
       tenure=st.integers(1, 6), stall=st.integers(1, 40), moves=st.integers(1, 300))
def test_fields_and_energies_after_every_chunk_equal_recomputed_ones(n, density, seed, integer, tenure, stall,
                                                                    moves):
    energy = _random_graph(n, density, seed, integer)
    model, walks = _walks(energy, seed, count=2)
    for _ in range(3):
        TK.run_walks(model.indptr, model.indices, model.data, walks, moves, tenure, 3, stall, 1, max(2, n // 2))
        states = walks.states.astype(np.int8)
        assert np.allclose(walks.fields, model.initial_fields(walks.states))  # gains are 2 s_i h_i
        assert np.allclose(walks.energies, energy.energies(states))
        assert np.allclose(walks.best, energy.energies(walks.best_states.astype(np.int8)))
        assert (walks.best <= walks.energies + 1e-9).all()
        gains = 2.0 * walks.states * walks.fields
        for w in range(2):
            assert np.allclose(gains[w], energy.flip_deltas(states[w]))


@pytest.mark.parametrize("seed", range(6))
def test_walks_find_brute_force_ground_states(seed):
    energy = _random_graph(14, 0.5, seed, integer=seed % 2 == 0)
    model, walks = _walks(energy, seed)
    TK.run_walks(model.indptr, model.indices, model.data, walks, 3000, 2, 3, 30, 2, 5)
    assert np.isclose(walks.best[0], brute_force_minimum(energy)[0])


def test_a_seed_and_a_move_budget_give_the_same_states_in_any_chunks_and_threads():
    energy = random_energy(60, 3, density=0.2, integer=True)
    backend = ReplicaBackend()
    values = {"schedule": "anneal", "reads": 4, "sweeps": 20, "tabu_moves": 700, "tabu_walks": 2}
    whole = backend.solve(energy, backend.params(values), seed=5)
    again = backend.solve(energy, backend.params({**values, "threads": 1}), seed=5)
    chunked = backend.solve(energy, backend.params(values), seed=5, callback=lambda update: None)
    assert np.array_equal(whole.states, again.states) and np.array_equal(whole.states, chunked.states)
    assert whole.info["tabu_moves_done"] == 700 and whole.derived["tabu_moves"] == 700
    anneal_only = backend.solve(energy, backend.params({**values, "tabu_moves": 0}), seed=5)
    assert whole.energies.min() <= anneal_only.energies.min()
    assert "tabu_moves_done" not in anneal_only.info


def test_chunks_of_a_walk_replay_one_call():
    energy = _random_graph(30, 0.3, 9, integer=True)
    model, one = _walks(energy, 1)
    _, split = _walks(energy, 1)
    TK.run_walks(model.indptr, model.indices, model.data, one, 900, 3, 5, 50, 2, 6)
    for _ in range(9):
        TK.run_walks(model.indptr, model.indices, model.data, split, 100, 3, 5, 50, 2, 6)
    assert np.array_equal(one.best_states, split.best_states) and np.array_equal(one.states, split.states)


def test_conformance_with_a_tabu_phase():
    check_backend(ReplicaBackend(), {"sweeps": 50, "schedule": "anneal", "reads": 4, "tabu_moves": 200})


def test_a_time_filled_run_splits_its_limit_and_records_the_moves():
    energy = random_energy(80, 2, density=0.1, integer=True)
    backend = ReplicaBackend()
    # 1.2 s: half of it for the anneal, less its pilot, set-up and descent's reserve (a loaded CI machine's set-up
    # of 7.8 ms a replica did not fit what 0.6 s left)
    result = backend.solve(energy, backend.params({"schedule": "anneal", "time_limit": 1.2, "fill_time": True,
                                                   "tabu_share": 0.5}),
                           seed=3)
    assert result.info["tabu_moves_done"] > 0 and result.info["wall_time_s"] <= 1.2 + 0.25  # see test_replica
    assert tabu_settings(80, backend.params({}))[0] == 3
    default = backend.solve(energy, backend.params({"schedule": "anneal", "time_limit": 0.3, "fill_time": True}),
                            seed=3)
    assert "tabu_moves_done" not in default.info  # off by default


def test_a_tabu_phase_that_could_not_run_is_refused_not_recorded_as_applied():
    """``tabu_moves=100`` with ``schedule=fixed`` (or ``keep_best=false``, or with ``fill_time``) ran no tabu
    phase and was recorded in the result and its replay as if it had; on an energy with one-hot groups (which the
    conformance kit gives every configuration) it is said in a note."""
    from hopsolve import ParameterError
    from hopsolve.backends.replica import ReplicaBackend
    from hopsolve.energy import GroupSquareTerm

    backend = ReplicaBackend()
    for values in ({"schedule": "fixed", "tabu_moves": 100}, {"keep_best": False, "schedule": "anneal",
                                                               "tabu_moves": 100},
                   {"schedule": "fixed", "tabu_share": 0.2}):
        with pytest.raises(ParameterError, match="need schedule=anneal and keep_best=true"):
            backend.solve(random_energy(20, 1), backend.params({**values, "sweeps": 10}), seed=1)
    filling = backend.params({"schedule": "anneal", "tabu_moves": 100, "fill_time": True, "time_limit": 1.0})
    with pytest.raises(ParameterError, match="tabu_moves is a budget for runs without fill_time"):
        backend.solve(random_energy(20, 1), filling, seed=1)  # (a timed max-cut run recorded it, and ran none)
    grouped = Energy(Vartype.BINARY, (GroupSquareTerm.build("one_hot", np.repeat(np.arange(3), 3), np.ones(3)),))
    said = backend.solve(grouped, backend.params({"schedule": "anneal", "tabu_moves": 10, "sweeps": 10}), seed=1)
    assert "no tabu phase ran" in said.info["tabu_note"] and "tabu_moves_done" not in said.info
    # max-cut's default schedule (anneal) comes with the problem's defaults, after the parameters are read: a
    # suite's tabu_share on max-cut is not refused by them (gset_10s_planar_ab.toml was)
    from hopsolve.bench.grid import grid_from_toml
    from hopsolve.plugins import build_registry

    assert grid_from_toml(build_registry(), ROOT / "benchmarks" / "suites" / "gset_10s_planar_ab.toml").tasks()


def _torus(rows, cols, weights):
    """Max-cut's energy on a rows × cols torus (``weights`` "one" or "pm1", the Gset families)."""
    from hopsolve.plugins import build_registry

    index = np.arange(rows * cols).reshape(rows, cols)
    heads = np.concatenate([index.ravel(), index.ravel()])
    tails = np.concatenate([np.roll(index, -1, axis=1).ravel(), np.roll(index, -1, axis=0).ravel()])
    w = np.ones(len(heads)) if weights == "one" else np.random.default_rng(1).choice([-1.0, 1.0], len(heads))
    problem = build_registry().problem("maxcut")
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(rows * cols))
    graph.add_weighted_edges_from(zip(heads.tolist(), tails.tolist(), w.tolist()))
    return problem.encode(problem.from_graph(graph))


def test_a_uniform_lattice_gets_a_tabu_phase_when_its_run_fills_a_limit_and_nothing_else_does():
    """``tabu_share=None`` (the default) is 0.3 on a torus of one weight in a time-filled annealed run (the walks
    remove the domain walls an anneal leaves: G50), and 0 on a ±1 torus, a denser or biased graph, an untimed run,
    or where given; the warm-up compiles the walks' kernels for it, and the result records the share used."""
    import networkx as nx

    from hopsolve.backends.replica import LATTICE_TABU_SHARE, _tabu_share, is_uniform_lattice
    from hopsolve.plugins import build_registry

    unit, signed = _torus(9, 11, "one"), _torus(9, 11, "pm1")
    problem = build_registry().problem("maxcut")
    denser = problem.encode(problem.from_graph(nx.random_regular_graph(6, 40, seed=1)))  # unit weights, degree 6
    model = compile_spin_model(unit)
    couplings = sp.csr_matrix((model.data, model.indices, model.indptr), shape=(model.n, model.n))
    biased = Energy.from_hopfield(couplings, np.full(model.n, 0.5), 0.0, Vartype.SPIN)
    assert is_uniform_lattice(model) and not is_uniform_lattice(compile_spin_model(signed))
    assert is_uniform_lattice(compile_spin_model(Energy.from_hopfield(couplings, np.zeros(model.n), 0.0,
                                                                      Vartype.SPIN)))
    assert not is_uniform_lattice(compile_spin_model(denser)) and not is_uniform_lattice(compile_spin_model(biased))
    backend = ReplicaBackend()
    timed = {"schedule": "anneal", "time_limit": 2.0, "fill_time": True}
    assert _tabu_share(backend.params(timed), unit) == LATTICE_TABU_SHARE  # what the warm-up asks
    backend.prepare(unit, backend.params(timed))
    lattice = backend.solve(unit, backend.params(timed), seed=2)
    assert lattice.derived["tabu_share"] == LATTICE_TABU_SHARE and "tabu_moves_done" in lattice.info
    assert lattice.info["wall_time_s"] <= 2.0 + 0.25
    for energy, values in ((signed, timed), (unit, {**timed, "tabu_share": 0.0}),
                           (unit, {"schedule": "anneal", "sweeps": 20, "reads": 2})):
        other = backend.solve(energy, backend.params(values), seed=2)
        assert other.derived["tabu_share"] == 0.0 and "tabu_moves_done" not in other.info
