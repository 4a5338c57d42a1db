"""The spin model's one-pass statistics and batched fields against scipy's products on the same couplings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import Energy, Vartype
from hopsolve.backends._model import compile_spin_model
from hopsolve.backends.schedules import sweep_beta_max
from hopsolve.testing import random_energy


def _sparse_model(n: int, seed: int, integer: bool):
    """A sparse (below the dense fill) spin model, so ``initial_fields`` takes the compiled sparse product."""
    model = compile_spin_model(random_energy(n, seed, Vartype.SPIN, density=0.15, integer=integer))
    assert not model.is_dense
    return model


@given(n=st.integers(16, 40), seed=st.integers(0, 2**31 - 1), integer=st.booleans(), half=st.booleans())
@settings(max_examples=60, deadline=None)
def test_statistics_equal_scipys_row_sums(n, seed, integer, half):
    model = _sparse_model(n, seed, integer)
    if half:  # max-cut's couplings are halves of integers: 2W is still integral
        model = type(model)(**{**model.__dict__, "data": model.data / 2})
    w = model.coupling
    largest, smallest = model.coefficient_scales()
    row_abs = np.asarray(abs(w).sum(axis=1)).ravel() + np.abs(model.bias)
    assert largest == pytest.approx(2.0 * row_abs.max())
    nonzero = [np.abs(w.data[w.data != 0]).min(initial=np.inf), np.abs(model.bias[model.bias != 0]).min(initial=np.inf)]
    assert smallest == pytest.approx(2.0 * min(nonzero))
    squares = np.asarray(w.multiply(w).sum(axis=1)).ravel() + model.bias**2
    assert model.typical_field() == pytest.approx(np.sqrt(squares.mean()))
    integral = np.array_equal(2 * w.data, np.round(2 * w.data)) and np.array_equal(2 * model.bias,
                                                                                    np.round(2 * model.bias))
    assert (model.integer_delta_bound() > 0) == integral


@pytest.mark.parametrize("reads", [1, 2, 7])
def test_batched_fields_equal_scipys_product_bit_for_bit(reads):
    model = _sparse_model(60, reads, integer=False)
    spins = np.random.default_rng(reads).choice(np.array([-1, 1], dtype=np.int8), size=(reads, model.n))
    expected = (model.coupling @ spins.astype(np.float64).T).T + model.bias
    fields = model.initial_fields(spins)
    assert fields.flags.c_contiguous
    assert np.array_equal(fields, expected)  # the same order of sums: replays do not drift with the product


def test_fields_of_a_model_without_couplings_are_its_biases():
    model = compile_spin_model(random_energy(5, 3, Vartype.SPIN, density=0.0))
    assert model.nnz == 0
    spins = np.ones((3, 5), dtype=np.int8)
    assert np.array_equal(model.initial_fields(spins), np.tile(model.bias, (3, 1)))
    assert model.coefficient_scales()[0] == pytest.approx(2.0 * np.abs(model.bias).max())
    assert sp.issparse(model.coupling)


def _brute_unit_gaps(model):
    """Each unit's smallest nonzero ``2|h_i|`` over every sign pattern of its neighbours (small degrees only)."""
    w = model.coupling.toarray()
    gaps = np.full(model.n, np.inf)
    for i in range(model.n):
        neighbours = np.flatnonzero(w[i])
        for signs in itertools.product((-1.0, 1.0), repeat=len(neighbours)):
            change = 2.0 * abs(w[i, neighbours] @ np.array(signs) + model.bias[i])
            if change > 1e-12:
                gaps[i] = min(gaps[i], change)
    return gaps


@given(n=st.integers(4, 12), seed=st.integers(0, 2**31 - 1), pm=st.booleans(), biased=st.booleans())
@settings(max_examples=40, deadline=None)
def test_unit_gaps_are_exact_for_one_magnitude_and_a_lower_bound_otherwise(n, seed, pm, biased):
    """Unit or ±1 weights (one magnitude, no bias): the smallest nonzero flip change of every unit, exactly (odd
    degree 2a, even 4a); with mixed magnitudes or a bias, exactly for the units whose couplings have one magnitude
    and no bias, ``2·min(|coupling|, |bias|)`` for the others."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n, n)) < 0.4, 1) * (rng.choice([-0.5, 0.5], (n, n)) if pm else 0.5)
    model = compile_spin_model(Energy.from_hopfield(upper + upper.T, np.zeros(n), 0.0, Vartype.SPIN))
    exact = _brute_unit_gaps(model)
    assert np.array_equal(model.unit_gaps(), exact)
    mixed = upper * rng.integers(1, 4, (n, n))
    bias = rng.integers(-2, 3, n) * 0.25 if biased else np.zeros(n)
    other = compile_spin_model(Energy.from_hopfield(mixed + mixed.T, bias, 0.0, Vartype.SPIN))
    w = np.abs(other.coupling.toarray())
    for i, gap in enumerate(other.unit_gaps()):
        magnitudes = np.unique(w[i][w[i] > 0])
        if len(magnitudes) == 1 and other.bias[i] == 0:
            assert gap == _brute_unit_gaps(other)[i]
        else:
            assert gap == 2.0 * min([*magnitudes, *([abs(other.bias[i])] if other.bias[i] else [])], default=np.inf)


def test_sweep_beta_max_sets_a_sweeps_expected_excitations_to_the_rate():
    gaps = np.array([1.0, 1.0, 2.0, 4.0, np.inf, 0.0])
    beta = sweep_beta_max(gaps)
    assert np.exp(-beta * gaps[:4]).sum() == pytest.approx(0.01, rel=1e-9)
    assert sweep_beta_max(np.full(10_000, 2.0)) == pytest.approx(np.log(100 * 10_000) / 2.0, rel=1e-9)
    assert sweep_beta_max(np.array([np.inf, 0.0])) is None


def test_a_canonical_term_of_weight_one_is_shared_not_copied_and_no_backend_writes_it(registry):
    """One quadratic term of weight 1, sorted and without stored zeros: the spin model reads the energy's own arrays
    (no copy of a dense model's n² couplings), and a solve by every backend leaves them as they were. A term of
    another weight is copied, as before."""
    energy = random_energy(60, 5, Vartype.SPIN, density=0.9, integer=True)
    own = energy.terms[0].coupling
    assert own.has_sorted_indices and not np.any(own.data == 0.0) and energy.weights[energy.terms[0].name] == 1.0
    model = compile_spin_model(energy)
    assert np.shares_memory(model.data, own.data) and np.shares_memory(model.indices, own.indices)
    before = (own.indptr.copy(), own.indices.copy(), own.data.copy())
    for name in registry.backends:
        if name == "exact":
            continue  # 2⁶⁰ states
        params = {"mode": "discrete"} if name == "bifurcation" else {}
        registry.backend(name).solve(energy, registry.backend(name).Params(**params), seed=1)
        if name == "bifurcation":
            registry.backend(name).solve(energy, registry.backend(name).Params(), seed=1)
        for array, was in zip((own.indptr, own.indices, own.data), before, strict=True):
            assert np.array_equal(array, was), name
    reweighted = energy.reweighted(**{energy.terms[0].name: 2.0})
    assert not np.shares_memory(compile_spin_model(reweighted).data, own.data)
