"""Compiled annealing inside the feasible set of a permutation energy (see :class:`PermutationView`).

The state of a read is ``item_at[a]``, the item at position a. The energy is
``scale · (Σ_ab B_ab A[item_at[a], item_at[b]] + Σ_a C[item_at[a], a])``. Moves: exchange the items at two
positions (delta in O(deg_B(a) + deg_B(b)): O(1) for a cycle, O(n) for dense QAP) and reverse a block of
positions (O(1) when B is a weighted cycle and A symmetric, i.e. 2-opt; otherwise a chain of exchanges).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from hopsolve.backends._kernels import accept, end_of_sweep, xorshift_uniform


@numba.njit(cache=True)
def _touching(a, b, item_at, flow, bp, bi, bd, tp, ti, td):
    """Σ of B·A over every entry in rows and columns a and b of B (each entry once)."""
    total = 0.0
    for pos in (a, b):
        x = item_at[pos]
        for k in range(bp[pos], bp[pos + 1]):
            total += bd[k] * flow[x, item_at[bi[k]]]
        for k in range(tp[pos], tp[pos + 1]):
            c = ti[k]
            if c != a and c != b:
                total += td[k] * flow[item_at[c], x]
    return total


@numba.njit(cache=True)
def swap_delta(a, b, item_at, flow, bp, bi, bd, tp, ti, td, linear, has_linear):
    """Energy change (unscaled) of exchanging the items at positions a and b."""
    before = _touching(a, b, item_at, flow, bp, bi, bd, tp, ti, td)
    xa = item_at[a]
    xb = item_at[b]
    item_at[a] = xb
    item_at[b] = xa
    after = _touching(a, b, item_at, flow, bp, bi, bd, tp, ti, td)
    item_at[a] = xa
    item_at[b] = xb
    delta = after - before
    if has_linear:
        delta += linear[xb, a] + linear[xa, b] - linear[xa, a] - linear[xb, b]
    return delta


@numba.njit(cache=True)
def _reverse(item_at, a, b):
    """Reverse the items at positions a..b in place."""
    while a < b:
        x = item_at[a]
        item_at[a] = item_at[b]
        item_at[b] = x
        a += 1
        b -= 1


@numba.njit(cache=True)
def reverse_delta(a, b, item_at, flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight):
    """Energy change (unscaled) of reversing the block of positions a..b (a < b)."""
    n = len(item_at)
    delta = 0.0
    if cycle_weight != 0.0:
        if b - a + 1 < n - 1:
            p = item_at[(a - 1) % n]
            q = item_at[(b + 1) % n]
            xa = item_at[a]
            xb = item_at[b]
            delta = 2.0 * cycle_weight * (flow[p, xb] + flow[xa, q] - flow[p, xa] - flow[xb, q])
        if has_linear:
            for k in range(b - a + 1):
                x = item_at[a + k]
                delta += linear[x, b - k] - linear[x, a + k]
        return delta
    lo = a
    hi = b
    while lo < hi:
        delta += swap_delta(lo, hi, item_at, flow, bp, bi, bd, tp, ti, td, linear, has_linear)
        x = item_at[lo]
        item_at[lo] = item_at[hi]
        item_at[hi] = x
        lo += 1
        hi -= 1
    _reverse(item_at, a, b)  # undo the tentative exchanges
    return delta


@numba.njit(cache=True, inline="always")
def _pick_move(x_rng, n, swap_probability):
    """(kind, a, b, generator state): kind 0 exchanges positions a and b, kind 1 reverses a..b; a < b."""
    x_rng, u = xorshift_uniform(x_rng)
    a = int(u * n)
    x_rng, u = xorshift_uniform(x_rng)
    b = int(u * (n - 1))
    if b >= a:
        b += 1
    else:
        a, b = b, a
    x_rng, u = xorshift_uniform(x_rng)
    kind = 0 if u < swap_probability else 1
    return kind, a, b, x_rng


@numba.njit(cache=True, parallel=True)
def permutation_anneal(flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight, scale, betas, attempts,
                       swap_probability, rule, item_at, current, best_item_at, best, rng, trace, trace_offset):
    """Anneal every read for ``len(betas)`` sweeps of ``attempts`` moves each; energies are scaled."""
    reads, n = item_at.shape
    record = trace.shape[1] > 0
    for r in prange(reads):
        energy = current[r]
        row = item_at[r]
        x_rng = rng[r]
        for k in range(len(betas)):
            beta = betas[k]
            for _ in range(attempts):
                kind, a, b, x_rng = _pick_move(x_rng, n, swap_probability)
                if kind == 0:
                    delta = scale * swap_delta(a, b, row, flow, bp, bi, bd, tp, ti, td, linear, has_linear)
                else:
                    delta = scale * reverse_delta(a, b, row, flow, bp, bi, bd, tp, ti, td, linear, has_linear,
                                                  cycle_weight)
                accepted, x_rng = accept(delta, beta, rule, x_rng)
                if not accepted:
                    continue
                if kind == 0:
                    t = row[a]
                    row[a] = row[b]
                    row[b] = t
                else:
                    _reverse(row, a, b)
                energy += delta
            best[r] = end_of_sweep(energy, best[r], row, best_item_at[r], record, trace[r], trace_offset + k)
        current[r] = energy
        rng[r] = x_rng


@numba.njit(cache=True)
def sample_move_deltas(flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight, item_at, count,
                       swap_probability, rng):
    """|Δ| of ``count`` random moves from ``item_at`` (for the default β range); the state is not changed."""
    n = len(item_at)
    out = np.empty(count)
    x_rng = rng[0]
    for c in range(count):
        kind, a, b, x_rng = _pick_move(x_rng, n, swap_probability)
        if kind == 0:
            d = swap_delta(a, b, item_at, flow, bp, bi, bd, tp, ti, td, linear, has_linear)
        else:
            d = reverse_delta(a, b, item_at, flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight)
        out[c] = abs(d)
    return out
