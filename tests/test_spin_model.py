"""The spin model's one-pass statistics and batched fields against scipy's products on the same couplings."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import Vartype
from hopsolve.backends._model import compile_spin_model
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
