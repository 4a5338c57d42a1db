"""Rows of permutations turned around in bulk: each row's inverse, in O(n) a row and in parallel.

Tours are held as the city at each position; samples and decoders read the position of each city. At 85,900
cities a row sorted by ``argsort`` took about 5 ms and a numpy scatter of 1,041 rows 1.9 s, both after a time
limit's deadline; this compiled inversion also checks what it writes (a row that is not a permutation wrote past
its end)."""

from __future__ import annotations

import numba
import numpy as np

from hopsolve.errors import ParameterError

SERIAL_BELOW = 200_000
"""Entries (rows × n, or pairs of points) under which a batch of rows is worked on one thread, here and in
:mod:`hopsolve.metric`: waking numba's threads for a tiny call cost about 20 ms on a busy 2-core machine."""


@numba.njit(cache=True)
def invert_into(row, out):
    """``out[row[i]] = i`` for one row; False (``out`` left unfinished) where the row is not a permutation of
    0..n-1. The one inversion every compiled caller uses (these rows, and a metric's tour lengths)."""
    n = len(row)
    out[:] = -1
    for i in range(n):
        a = row[i]
        if a < 0 or a >= n or out[a] != -1:
            return False
        out[a] = i
    return True


@numba.njit(cache=True, parallel=True)
def _invert_parallel(rows, out, good):
    for r in numba.prange(rows.shape[0]):
        good[r] = invert_into(rows[r], out[r])


@numba.njit(cache=True)
def _invert_serial(rows, out, good):
    for r in range(rows.shape[0]):
        good[r] = invert_into(rows[r], out[r])


def inverse_permutations(rows: np.ndarray) -> np.ndarray:
    """Each row's inverse permutation (``out[r, rows[r, i]] = i``): what ``np.argsort(rows, axis=1)`` gives, in
    O(n) a row, in parallel from :data:`SERIAL_BELOW` entries. A row that is not a permutation is refused
    (``ParameterError``)."""
    rows = np.ascontiguousarray(np.atleast_2d(rows), dtype=np.int64)
    out = np.empty(rows.shape, dtype=np.int64)  # C order, as the kernels want, whatever the input's
    good = np.ones(len(rows), dtype=np.bool_)
    (_invert_serial if rows.size < SERIAL_BELOW else _invert_parallel)(rows, out, good)
    if not good.all():
        raise ParameterError(f"row {int(np.argmin(good))} is not a permutation of 0..{rows.shape[1] - 1}")
    return out


def warm_up() -> None:
    """Compile (or load) both inversions, so that neither is compiled inside a timed run."""
    rows = np.array([[1, 0, 2]], dtype=np.int64)
    _invert_serial(rows, np.empty_like(rows), np.ones(1, dtype=np.bool_))
    _invert_parallel(rows, np.empty_like(rows), np.ones(1, dtype=np.bool_))
