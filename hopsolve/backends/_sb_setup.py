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
def scan_values(values: np.ndarray, most: int) -> tuple[int, float, bool]:
    """One pass over the couplings: the smallest ``k ≤ most`` for which every ``2**k·v`` is an integer, the largest
    ``|v|``, and whether every ``|v|`` is the same. ``(-1, 0.0, False)`` as soon as a value is not finite or needs
    more than ``most`` bits (a value that is an integer at ``k`` is one at every larger ``k``, so ``k`` only grows);
    ``(0, 0.0, False)`` for no values."""
    if values.shape[0] == 0:
        return 0, 0.0, False
    bits = 0
    scale = 1.0
    largest = 0.0
    first = abs(values[0])
    equal = True
    for v in values:
        if not np.isfinite(v):
            return -1, 0.0, False
        scaled = scale * v
        while scaled != np.rint(scaled):
            bits += 1
            if bits > most:
                return -1, 0.0, False
            scale = 2.0**bits
            scaled = scale * v
        magnitude = abs(v)
        largest = max(largest, magnitude)
        equal &= magnitude == first
    return bits, largest, equal


@numba.njit(cache=True, parallel=True)
def fill_dense(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dense: np.ndarray) -> None:
    """``dense`` (n × n, any float type) = the CSR matrix, zeros elsewhere; rows in parallel."""
    n = indptr.shape[0] - 1
    for i in numba.prange(n):
        for j in range(n):
            dense[i, j] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            dense[i, np.uint64(indices[k])] = data[k]  # unsigned: no wraparound test per entry


@numba.njit(cache=True, parallel=True)
def pack_signs(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, plus: np.ndarray, minus: np.ndarray,
               offset: np.ndarray, signs: np.ndarray) -> None:
    """From the CSR couplings (no diagonal): row ``i``'s bit ``j`` of ``plus`` set where ``W_ij > 0``, of ``minus``
    where ``< 0`` (``minus`` may have no words: then only ``plus`` is filled), and ``offset[i] = |minus_i| -
    |plus_i|``; bit ``j % 64`` of word ``j // 64``, at ``plus[word, i]`` (word-major, words × n). ``plus`` and
    ``minus`` come zeroed (words without a coupling are not written). Where ``signs`` has rows (n × n int8, else
    0 × 0) it gets the sign of each entry (+1, -1, 0). Rows in parallel. Read from the CSR, so a model that needs
    no dense rows (dSB's, which reads the bits and the sign rows) is never made dense."""
    n = indptr.shape[0] - 1
    with_minus = minus.shape[0] > 0
    with_signs = signs.shape[0] > 0
    for i in numba.prange(n):
        if with_signs:
            for j in range(n):
                signs[i, j] = 0
        ups = 0
        downs = 0
        word = -1  # the word being filled, in registers: the indices are sorted, so each word's bits come together
        up_bits = np.uint64(0)
        down_bits = np.uint64(0)
        for k in range(indptr[i], indptr[i + 1]):
            j = np.int64(indices[k])  # >= 0: shifts and masks, not Python's floor division
            if j >> 6 != word:
                if word >= 0:
                    plus[word, i] = up_bits
                    if with_minus:
                        minus[word, i] = down_bits
                word = j >> 6
                up_bits = np.uint64(0)
                down_bits = np.uint64(0)
            up = data[k] > 0.0
            down = data[k] < 0.0
            bit = np.uint64(j & 63)
            up_bits |= np.uint64(up) << bit
            down_bits |= np.uint64(down) << bit
            ups += up
            downs += down
            if with_signs:
                signs[i, np.uint64(j)] = np.int8(up) - np.int8(down)
        if word >= 0:
            plus[word, i] = up_bits
            if with_minus:
                minus[word, i] = down_bits
        offset[i] = downs - ups


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
    scan_values(data, 8)
    fill_dense(indptr, indices, data, np.empty((2, 2)))
    rows = np.empty((2, 2), np.float32)
    fill_dense(indptr, indices, data, rows)
    pack_signs(indptr, indices, data, np.zeros((2, 1), np.uint64), np.zeros((2, 1), np.uint64), np.zeros(2, np.int64),
               np.zeros((2, 2), np.int8))
