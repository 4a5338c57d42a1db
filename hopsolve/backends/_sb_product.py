"""Ballistic simulated bifurcation's early steps on dense rows: the position fields by one matrix product a step.

Before the bifurcation nearly every position moves every step (bSB on a ±1 K2000, 20 replicas: 93% of them over
the first 50 steps, still a third at step 400 of 1000). :func:`~hopsolve.backends._sb_kernels.sb_steps` adds one
coupling row per moved position to each replica's field ``W x``: then a dense product a step, done as rank-one
updates of fields that do not stay in the cache (about 17 ms a step on two cores). BLAS computes the same product
for every replica at once, ``(W·Xᵀ)ᵀ`` (W is symmetric), register-blocked: about 3 ms, in blocks of rows, one
one-thread BLAS call per block on the kernels' threads. So while at least :data:`PRODUCT_SHARE` of the
positions move, a step is one step of :func:`~hopsolve.backends._sb_kernels.sb_steps` with ``fields_outside``
(momenta, positions, spins, energies, bests; no rows added) and one product; once fewer move, the rows take over
(cheap late steps: most positions rest at a wall). The products run on the kernels' threads: BLAS's own threads,
spinning after a product, slowed the compiled step between products threefold.

Arithmetic: exact float32 rows (``SBModel.dense32``) are multiplied by the positions rounded to float32 and summed
in float32 (sgemm), float64 rows in float64 (dgemm). The fields then differ from the rows' float64 sums by
rounding (about 10⁻⁷ relative), so a run is not bit for bit the run of the rows; the rows' first step after
the products starts from fields refreshed in float64 (``SBRun.refresh_first``). Each block of
:data:`PRODUCT_ROWS` rows is its own one-thread BLAS call, so a seed gives the same states whatever the threads
(tested); but the sums may change with the number of replicas (BLAS rounds a product's edge tiles its own way),
and another CPU's BLAS kernel may round differently. The spin fields and energies are the rows' (the same compiled
updates), every :data:`~hopsolve.backends._sb_kernels.REFRESH_STEPS` steps recomputed as there.
"""

from __future__ import annotations

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from hopsolve.backends import _sb_kernels as SB

PRODUCT_SHARE = 0.2
"""A step takes the product while at least this share of the positions moved in the step before (inside the
walls at the start of a call). Measured over 0.1, 0.2, 0.3 and 0.5 on K800 and K2000 (20 replicas × 1000 steps):
0.1 and 0.2 the fastest, 0.5 about 30% slower (RESULTS §9.0)."""

PRODUCT_ROWS = 256
"""Rows of W per BLAS call (one thread each): fixed, so the sums do not depend on the threads. K2000, 20 replicas,
two threads: about 3 ms a product with 64, 128 or 256 rows a call, the least with 256 (RESULTS §9.0)."""

PRODUCT_MIN_UNITS = 320
"""Models with fewer units keep the rows: on K256 the products gained nothing (the calls around a product of tens
of microseconds cost as much), on K400 they took a quarter off a solve."""


def dense_rows(model: SB.SBModel) -> np.ndarray:
    """The model's dense couplings, float32 where they are exact in it, else float64 (0 × 0 for a sparse model)."""
    return model.dense32 if model.dense32.size else model.dense


def takes_products(model: SB.SBModel, ballistic: bool) -> bool:
    """Whether a run of ``model`` starts its steps with products: ballistic, dense rows, at least
    :data:`PRODUCT_MIN_UNITS` units."""
    return ballistic and dense_rows(model).shape[0] >= PRODUCT_MIN_UNITS


@numba.njit(cache=True, parallel=True)
def _position_fields(rows, x, positions, fields):
    """``fields = (rows·positions)ᵀ`` with ``positions = xᵀ`` in the rows' type: blocks of :data:`PRODUCT_ROWS`
    rows, one one-thread BLAS call each, in parallel. The blocks do not depend on the threads, so neither do the
    sums (BLAS rounds a block's edge tiles its own way)."""
    n, replicas = positions.shape
    for i in numba.prange(n):
        for r in range(replicas):
            positions[i, r] = x[r, i]
    for b in numba.prange((n + PRODUCT_ROWS - 1) // PRODUCT_ROWS):
        lo = b * PRODUCT_ROWS
        hi = min(n, lo + PRODUCT_ROWS)
        block = np.dot(rows[lo:hi], positions)
        for i in range(hi - lo):
            for r in range(replicas):
                fields[r, lo + i] = block[i, r]


def product_steps(model: SB.SBModel, run: SB.SBRun, reads: SB.SBReads, block: int,
                  starting: bool = True) -> tuple[int, bool]:
    """Step every replica through ``run.pump`` with one BLAS product a step while at least :data:`PRODUCT_SHARE`
    of the positions move; returns the steps done and whether the products are over (a step moved fewer: the rest
    of the run is the rows', which must start from refreshed fields). A run split into calls takes the products on
    the same steps as one call: only its first call (``starting``) checks the share of positions inside the walls
    before a first product; later calls go on from where the last one stopped. The position fields
    ``reads.field_x`` are ``W x`` after every step, as the rows keep them. The steps are ``sb_steps``' own (``block``
    replicas at a time per thread, refreshed on the run's own multiples of ``REFRESH_STEPS``), the product in
    blocks of :data:`PRODUCT_ROWS` rows.

    The loop over steps is Python's: two compiled calls a step (tens of microseconds against a product of
    milliseconds). A compiled loop, with a step kernel of its own, had taken the backend's first compile (empty
    numba cache, K500) from 42 s to 76 s; this loop around ``sb_steps``' own step, to 51–54 s."""
    rows = dense_rows(model)
    replicas, n = reads.x.shape
    size = replicas * n
    if not size or (starting and np.count_nonzero(np.abs(reads.x) < 1.0) < PRODUCT_SHARE * size):
        return 0, True
    positions = np.empty((n, replicas), rows.dtype)
    done = 0
    with threadpool_limits(limits=1, user_api="blas"):
        while done < len(run.pump):
            moved = SB.sb_steps(model, run._replace(pump=run.pump[done:done + 1], trace_offset=run.trace_offset + done,
                                                    fields_outside=True), reads, block)
            _position_fields(rows, reads.x, positions, reads.field_x)
            done += 1
            if moved < PRODUCT_SHARE * size:
                return done, True
    return done, False
