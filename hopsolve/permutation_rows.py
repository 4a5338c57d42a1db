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
"""Entries (rows × n) under which rows are inverted on one thread: waking numba's threads for a tiny call cost
about 20 ms on a busy 2-core machine (see :data:`hopsolve.metric.SERIAL_BELOW`)."""


@numba.njit(cache=True)
def _invert_row(rows, r, out):
    """``out[r, rows[r, i]] = i``; False (the row left unfinished) where the row is not a permutation."""
    n = rows.shape[1]
    out[r, :] = -1
    for i in range(n):
        a = rows[r, i]
        if a < 0 or a >= n or out[r, a] != -1:
            return False
        out[r, a] = i
    return True


@numba.njit(cache=True, parallel=True)
def _invert_parallel(rows, out, good):
    for r in numba.prange(rows.shape[0]):
        good[r] = _invert_row(rows, r, out)


@numba.njit(cache=True)
def _invert_serial(rows, out, good):
    for r in range(rows.shape[0]):
        good[r] = _invert_row(rows, r, out)


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
