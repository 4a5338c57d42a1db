"""The bifurcation backend's compiled set-up passes against the numpy and scipy forms they replace."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve import Energy
from hopsolve.backends import _sb_setup as setup
from hopsolve.backends._model import SpinModel
from hopsolve.backends.bifurcation import DYADIC_BITS, _kernel_model


def _csr(n: int, seed: int, density: float, diagonal: bool, values: list[float]) -> sp.csr_matrix:
    """A random symmetric CSR matrix (sorted, no explicit zeros) with entries drawn from ``values``."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.choice(values, (n, n)) * (rng.random((n, n)) < density), 1)
    matrix = upper + upper.T
    if diagonal:
        matrix[np.diag_indices(n)] = rng.choice(values, n)
    csr = sp.csr_matrix(matrix)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 70), seed=st.integers(0, 10**6), density=st.floats(0.0, 1.0), diagonal=st.booleans())
def test_diagonal_dropped_as_scipy_would(n, seed, density, diagonal):
    csr = _csr(n, seed, density, diagonal, [-1.5, 0.25, 2.0])
    expected = csr.copy().tolil()
    expected.setdiag(0.0)
    expected = expected.tocsr()
    expected.eliminate_zeros()
    expected.sort_indices()
    assert setup.count_diagonal(csr.indptr.astype(np.int64), csr.indices) == np.count_nonzero(csr.diagonal())
    indptr, indices, data = setup.without_diagonal(csr.indptr.astype(np.int64), csr.indices, csr.data)
    assert np.array_equal(indptr, expected.indptr) and np.array_equal(indices, expected.indices)
    assert np.array_equal(data, expected.data) and indices.dtype == csr.indices.dtype


def _dyadic_reference(values: np.ndarray, most: int) -> int:
    if not np.all(np.isfinite(values)):
        return -1
    for k in range(most + 1):
        scaled = 2.0**k * values
        if np.all(scaled == np.rint(scaled)):
            return k
    return -1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(-2**30, 2**30).map(float),
                          st.sampled_from([0.5, -0.25, 0.375, 1 / 3, 0.1, 2.0**-9, np.inf, np.nan]),
                          st.floats(-1e6, 1e6, allow_nan=False)), max_size=30))
def test_scan_values_finds_the_smallest_common_power_of_two_the_largest_and_one_magnitude(values):
    values = np.array(values, dtype=np.float64)
    bits, largest, equal = setup.scan_values(values, DYADIC_BITS)
    assert bits == _dyadic_reference(values, DYADIC_BITS)
    if bits >= 0:  # the pass stops at the first value past DYADIC_BITS or not finite
        magnitudes = np.abs(values)
        assert largest == float(magnitudes.max(initial=0.0))
        assert equal == (bool(magnitudes.size) and magnitudes.min() == magnitudes.max())


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 150), seed=st.integers(0, 10**6), density=st.floats(0.0, 1.0))
def test_dense_rows_and_sign_bits_as_numpy_would(n, seed, density):
    csr = _csr(n, seed, density, False, [-1.0, 1.0, 0.5])
    for dtype in (np.float32, np.float64):
        rows = np.full((n, n), np.nan, dtype)
        setup.fill_dense(csr.indptr.astype(np.int64), csr.indices, csr.data, rows)
        assert np.array_equal(rows, csr.toarray().astype(dtype))
    words = -(-n // 64)
    padded = np.zeros((n, words * 64), bool)
    padded[:, :n] = rows > 0
    plus_expected = np.packbits(padded, axis=1, bitorder="little").view(np.uint64).T  # word-major
    padded[:, :n] = rows < 0
    minus_expected = np.packbits(padded, axis=1, bitorder="little").view(np.uint64).T
    for with_minus, with_signs in ((True, True), (False, False), (False, True)):
        plus = np.zeros((words, n), np.uint64)
        minus = np.zeros((words if with_minus else 0, n), np.uint64)
        offset = np.zeros(n, np.int64)
        signs = np.full((n, n) if with_signs else (0, 0), 7, np.int8)
        setup.pack_signs(csr.indptr.astype(np.int64), csr.indices, csr.data, plus, minus, offset, signs)
        assert np.array_equal(plus, plus_expected)
        assert not with_minus or np.array_equal(minus, minus_expected)
        assert np.array_equal(offset, (rows < 0).sum(axis=1) - (rows > 0).sum(axis=1))
        assert not with_signs or np.array_equal(signs, np.sign(rows).astype(np.int8))


def test_kernel_model_of_a_dense_energy_with_a_diagonal():
    """The diagonal (a constant on spins) is left out of the dense rows and the bits; no CSR is kept."""
    rng = np.random.default_rng(3)
    n = 90
    upper = np.triu(rng.choice([-1.0, 1.0], (n, n)), 1)
    matrix = upper + upper.T + np.diag(rng.choice([-1.0, 1.0], n))
    csr = sp.csr_matrix(matrix)  # energies refuse diagonals, but a term's own couplings may carry one
    model = _kernel_model(SpinModel(n, csr.indptr.astype(np.int64), csr.indices, csr.data, np.zeros(n),
                                    np.zeros((0, n), np.int64), np.zeros((0, 1)), np.zeros(0)))
    off = matrix - np.diag(np.diag(matrix))
    assert model.dense32.dtype == np.float32 and np.array_equal(model.dense32, off.astype(np.float32))
    assert model.data.size == 0 and model.indices.size == 0 and model.indptr.shape == (n + 1,)
    assert model.minus_bits.shape == (0, n)  # every coupling off the diagonal is ±1: complete
    rows = np.ascontiguousarray(model.plus_bits.T)  # word-major: row i's words are column i
    bits = np.unpackbits(rows.view(np.uint8), axis=1, bitorder="little")[:, :n].astype(bool)
    assert np.array_equal(bits, off > 0) and model.bit_weight == 1.0


SET_UP_CALLS = """
import json
import numpy as np
from hopsolve import Energy
from hopsolve.backends import _sb_setup as setup
from hopsolve.backends._model import compile_spin_model
from hopsolve.backends.bifurcation import _kernel_model

names = ("count_diagonal", "without_diagonal", "scan_values", "fill_dense", "pack_signs")
setup.compile_setup_kernels()
before = {name: len(getattr(setup, name).overloads) for name in names}
rng = np.random.default_rng(4)
for weight in (1.0, 0.1):  # one magnitude, exact in float32 (sign bits); not exact in float32 (float64 rows)
    upper = weight * np.triu(rng.choice([-1.0, 1.0], (80, 80)), 1)
    _kernel_model(compile_spin_model(Energy.from_hopfield(upper + upper.T, np.zeros(80), 0.0, "spin")))
print(json.dumps([name for name in names if len(getattr(setup, name).overloads) > before[name]]))
"""


def test_prepare_compiles_every_set_up_pass_a_solve_calls(monkeypatch):
    """``prepare`` runs :func:`compile_setup_kernels`, and that compiles every pass in every type the set-up of a
    dense model calls it with (float32 rows with sign bits; float64 rows): none gains a type signature afterwards,
    so none compiles inside a time limit (``pack_signs`` alone took 1.7 s with an empty cache). The types are
    counted in a fresh interpreter: in this one, other tests have compiled the passes already."""
    import json
    import subprocess
    import sys

    from hopsolve.backends.bifurcation import BifurcationBackend, BifurcationParams

    done = subprocess.run([sys.executable, "-c", SET_UP_CALLS], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    import hopsolve.backends.bifurcation as bifurcation

    calls = []
    monkeypatch.setattr(setup, "compile_setup_kernels", lambda: calls.append(1))
    monkeypatch.setattr(bifurcation, "warm_up", lambda *args: 0.0)  # the kernels' own warm-up: not this test's
    BifurcationBackend().prepare(Energy.from_hopfield(np.zeros((2, 2)), np.ones(2), 0.0, "spin"),
                                 BifurcationParams())
    assert calls == [1]
