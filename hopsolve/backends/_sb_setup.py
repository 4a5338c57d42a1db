"""Compiled set-up passes of the ``bifurcation`` backend over its couplings (CSR without explicit zeros, sorted).

A dense model has up to n² couplings (K2000: 4 million), so each pass here reads them once and makes no temporary
of their size: the numpy versions they replace (a coordinate copy to drop the diagonal, a float64 dense matrix
converted to float32, chunked exactness tests, ``packbits`` per block of rows) took 0.22 s of K2000's set-up and
several copies of its couplings in memory (RESULTS §9.0).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def count_diagonal(indptr: np.ndarray, indices: np.ndarray) -> int:
    """How many stored couplings lie on the diagonal (``W_ii``); each row's indices are sorted, so a binary search
    a row finds it (O(n log n), not a pass over every coupling)."""
    count = 0
    for i in range(indptr.shape[0] - 1):
        low, high = indptr[i], indptr[i + 1]
        while low < high:
            middle = (low + high) // 2
            if indices[middle] < i:
                low = middle + 1
            else:
                high = middle
        count += low < indptr[i + 1] and indices[low] == i
    return count


@numba.njit(cache=True)
def without_diagonal(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR arrays with the diagonal entries left out (order kept: still sorted, still without zeros)."""
    n = indptr.shape[0] - 1
    kept = indices.shape[0] - count_diagonal(indptr, indices)
    new_indptr = np.zeros(n + 1, np.int64)
    new_indices = np.empty(kept, indices.dtype)
    new_data = np.empty(kept, data.dtype)
    at = 0
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            if indices[k] != i:
                new_indices[at] = indices[k]
                new_data[at] = data[k]
                at += 1
        new_indptr[i + 1] = at
    return new_indptr, new_indices, new_data


@numba.njit(cache=True)
def dyadic_bits(values: np.ndarray, most: int) -> int:
    """The smallest ``k ≤ most`` for which every ``2**k·v`` is an integer; -1 if there is none or a value is not
    finite. (A value that is an integer at ``k`` is one at every larger ``k``, so ``k`` only grows in one pass.)"""
    bits = 0
    scale = 1.0
    for v in values:
        if not np.isfinite(v):
            return -1
        scaled = scale * v
        while scaled != np.rint(scaled):
            bits += 1
            if bits > most:
                return -1
            scale = 2.0**bits
            scaled = scale * v
    return bits


@numba.njit(cache=True)
def largest_magnitude(values: np.ndarray) -> float:
    """``max |v|`` (0 for no values)."""
    largest = 0.0
    for v in values:
        largest = max(largest, abs(v))
    return largest


@numba.njit(cache=True)
def magnitudes_all_equal(values: np.ndarray) -> bool:
    """Whether every value has the same magnitude (false for no values)."""
    if values.shape[0] == 0:
        return False
    first = abs(values[0])
    for v in values:  # noqa: SIM110 (a loop numba compiles; it has no generator expressions in all())
        if abs(v) != first:
            return False
    return True


@numba.njit(cache=True, parallel=True)
def fill_dense(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dense: np.ndarray) -> None:
    """``dense`` (n × n, any float type) = the CSR matrix, zeros elsewhere; rows in parallel."""
    n = indptr.shape[0] - 1
    for i in numba.prange(n):
        for j in range(n):
            dense[i, j] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            dense[i, indices[k]] = data[k]


@numba.njit(cache=True, parallel=True)
def pack_signs(dense: np.ndarray, plus: np.ndarray, minus: np.ndarray, offset: np.ndarray,
               signs: np.ndarray) -> None:
    """Row ``i``'s bit ``j`` of ``plus`` set where ``dense[i, j] > 0``, of ``minus`` where ``< 0`` (``minus`` may
    have no words: then only ``plus`` is filled), and ``offset[i] = |minus_i| - |plus_i|``; bit ``j % 64`` of word
    ``j // 64``. Where ``signs`` has rows (n × n int8, else 0 × 0) it gets the sign of each entry (+1, -1, 0).
    Rows in parallel."""
    n = dense.shape[0]
    words = plus.shape[1]
    with_minus = minus.shape[1] > 0
    with_signs = signs.shape[0] > 0
    for i in numba.prange(n):
        ups = 0
        downs = 0
        for k in range(words):
            up = np.uint64(0)
            down = np.uint64(0)
            for b in range(min(64, n - k * 64)):
                value = dense[i, k * 64 + b]
                up |= np.uint64(value > 0.0) << np.uint64(b)
                down |= np.uint64(value < 0.0) << np.uint64(b)
                ups += value > 0.0
                downs += value < 0.0
            plus[i, k] = up
            if with_minus:
                minus[i, k] = down
        offset[i] = downs - ups
        if with_signs:
            for j in range(n):
                signs[i, j] = np.int8(dense[i, j] > 0.0) - np.int8(dense[i, j] < 0.0)


def compile_setup_kernels() -> None:
    """Compile (or load) every pass above in each type a solve calls it with, on a two-unit model. The warm-up's
    miniature energy is dense in float32 with couplings of several magnitudes, so it reaches neither the float64
    rows nor the sign bits; a first solve of such a model would otherwise compile them inside its time limit
    (``pack_signs`` took 1.7 s, ``fill_dense`` in float64 0.9 s, with an empty cache)."""
    indptr = np.array([0, 2, 3], np.int64)
    indices = np.array([0, 1, 0], np.int32)  # as compile_spin_model stores them
    data = np.array([1.0, 0.5, 0.5])
    count_diagonal(indptr, indices)
    without_diagonal(indptr, indices, data)
    dyadic_bits(data, 8)
    largest_magnitude(data)
    magnitudes_all_equal(data)
    fill_dense(indptr, indices, data, np.empty((2, 2)))
    rows = np.empty((2, 2), np.float32)
    fill_dense(indptr, indices, data, rows)
    pack_signs(rows, np.zeros((2, 1), np.uint64), np.zeros((2, 1), np.uint64), np.zeros(2, np.int64),
               np.zeros((2, 2), np.int8))
