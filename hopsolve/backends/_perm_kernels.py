"""Compiled annealing inside the feasible set of a permutation energy (see :class:`PermutationView`).

The state of a read is ``item_at[a]``, the item at position a. The energy is
``scale · (Σ_ab B_ab A[item_at[a], item_at[b]] + Σ_a C[item_at[a], a])``. Moves: exchange the items at two
positions (delta in O(deg_B(a) + deg_B(b)): O(1) for a cycle, O(n) for dense QAP) and reverse a block of
positions (O(1) when B is a weighted cycle and A symmetric, i.e. 2-opt; otherwise a chain of exchanges), and
ejection chains (:func:`ejection_chain`): the item at a random position moves to another position, the item it
displaces moves on, and so on; the best closed prefix of the chain is accepted or rejected as one move. Exchanges
alone cannot reach the long alternating cycles by which a linear assignment improves; ejection chains can.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from numba import prange

from hopsolve.backends._kernels import accept, end_of_sweep, xorshift_uniform
from hopsolve.backends._replica_kernels import exchange_rungs

PermutationArrays = namedtuple("PermutationArrays", ["flow", "bp", "bi", "bd", "tp", "ti", "td", "linear",
                                                     "has_linear", "cycle_weight"])
"""The permutation view in kernel form: A (dense), B and Bᵀ as CSR triples (indptr, indices, data), C (or a 1 × 1
placeholder when ``has_linear`` is False), and the 2-opt cycle weight (0 when B is not a weighted cycle)."""

PermutationRun = namedtuple("PermutationRun", ["scale", "betas", "attempts", "swap_probability", "chain_probability",
                                               "chain_length", "rule"])
"""One chunk of a run: the weight of the objective, β per sweep, attempts per sweep, the move probabilities, the
longest ejection chain and the acceptance rule."""

PermutationReads = namedtuple("PermutationReads", ["item_at", "current", "best_item_at", "best", "rng", "trace",
                                                   "trace_offset"])
"""Every read's state: the item at each position, current and best energies, best states, xorshift states and the
energy trace written from column ``trace_offset``."""


@numba.njit(cache=True, inline="always")
def _exchange(item_at, a, b):
    """Exchange the items at positions a and b in place."""
    x = item_at[a]
    item_at[a] = item_at[b]
    item_at[b] = x


@numba.njit(cache=True, inline="always")
def _touching(a, b, item_at, arrays):
    """Σ of B·A over every entry in rows and columns a and b of B (each entry once)."""
    flow, bp, bi, bd, tp, ti, td = arrays.flow, arrays.bp, arrays.bi, arrays.bd, arrays.tp, arrays.ti, arrays.td
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
def swap_delta(a, b, item_at, arrays):
    """Energy change (unscaled) of exchanging the items at positions a and b."""
    before = _touching(a, b, item_at, arrays)
    _exchange(item_at, a, b)
    after = _touching(a, b, item_at, arrays)
    _exchange(item_at, a, b)
    xa = item_at[a]
    xb = item_at[b]
    delta = after - before
    if arrays.has_linear:
        linear = arrays.linear
        delta += linear[xb, a] + linear[xa, b] - linear[xa, a] - linear[xb, b]
    return delta


@numba.njit(cache=True)
def _reverse(item_at, a, b):
    """Reverse the items at positions a..b in place."""
    while a < b:
        _exchange(item_at, a, b)
        a += 1
        b -= 1


@numba.njit(cache=True)
def reverse_delta(a, b, item_at, arrays):
    """Energy change (unscaled) of reversing the block of positions a..b (a < b)."""
    n = len(item_at)
    delta = 0.0
    flow, linear, cycle_weight = arrays.flow, arrays.linear, arrays.cycle_weight
    if cycle_weight != 0.0:
        if b - a + 1 < n - 1:
            p = item_at[(a - 1) % n]
            q = item_at[(b + 1) % n]
            xa = item_at[a]
            xb = item_at[b]
            delta = 2.0 * cycle_weight * (flow[p, xb] + flow[xa, q] - flow[p, xa] - flow[xb, q])
        if arrays.has_linear:
            for k in range(b - a + 1):
                x = item_at[a + k]
                delta += linear[x, b - k] - linear[x, a + k]
        return delta
    lo = a
    hi = b
    while lo < hi:
        delta += swap_delta(lo, hi, item_at, arrays)
        _exchange(item_at, lo, hi)
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


@numba.njit(cache=True, inline="always")
def open_gain(hole, b, item_at, arrays):
    """Energy change (unscaled) of the item at ``hole`` replacing the item at ``b``, counting only b's terms with
    positions other than ``hole``: the part of an exchange that does not depend on what ``hole`` receives."""
    flow, bp, bi, bd, tp, ti, td = arrays.flow, arrays.bp, arrays.bi, arrays.bd, arrays.tp, arrays.ti, arrays.td
    y = item_at[hole]
    z = item_at[b]
    total = 0.0
    for k in range(bp[b], bp[b + 1]):
        c = bi[k]
        if c == b:
            total += bd[k] * (flow[y, y] - flow[z, z])
        elif c != hole:
            total += bd[k] * (flow[y, item_at[c]] - flow[z, item_at[c]])
    for k in range(tp[b], tp[b + 1]):
        c = ti[k]
        if c != b and c != hole:
            total += td[k] * (flow[item_at[c], y] - flow[item_at[c], z])
    if arrays.has_linear:
        total += arrays.linear[y, b] - arrays.linear[z, b]
    return total


@numba.njit(cache=True)
def _open_gains(hole, item_at, arrays, scale, visited, stamp, weights):
    """Scaled open gains of every position not yet in the chain, into ``weights``; returns the lowest.

    A purely linear energy takes a tight loop that the compiler vectorises (5× faster than the general one)."""
    n = len(item_at)
    lowest = np.inf
    if len(arrays.bi) == 0 and arrays.has_linear:
        linear = arrays.linear
        y = item_at[hole]
        for b in range(n):
            if visited[b] != stamp:
                weights[b] = scale * (linear[y, b] - linear[item_at[b], b])
                lowest = min(lowest, weights[b])
        return lowest
    for b in range(n):
        if visited[b] != stamp:
            weights[b] = scale * open_gain(hole, b, item_at, arrays)
            lowest = min(lowest, weights[b])
    return lowest


@numba.njit(cache=True)
def ejection_chain(item_at, arrays, scale, beta, rule, length, x_rng, visited, stamp, chain, weights):
    """One ejection-chain move; returns (accepted, scaled energy change, generator state).

    Position ``hole`` is drawn at random. At each step the item held at ``hole`` is placed at a position b not yet
    in the chain, drawn by heat-bath over the open gain (``e^{-β·gain}``), and b's item comes back to ``hole``;
    every prefix is a cyclic shift of its positions, so each is a permutation whose energy change is summed
    exactly by exchanges. The prefix with the lowest change is accepted by ``rule``; the rest is undone.
    """
    n = len(item_at)
    x_rng, u = xorshift_uniform(x_rng)
    hole = int(u * n)
    visited[hole] = stamp
    steps = min(length, n - 1)
    total = 0.0
    best_total = np.inf
    best_steps = 0
    for step in range(steps):
        lowest = _open_gains(hole, item_at, arrays, scale, visited, stamp, weights)
        mass = 0.0
        for b in range(n):
            if visited[b] != stamp:
                weights[b] = np.exp(-beta * (weights[b] - lowest))
                mass += weights[b]
        x_rng, u = xorshift_uniform(x_rng)
        left = u * mass
        pick = -1
        for b in range(n):
            if visited[b] != stamp:
                pick = b
                left -= weights[b]
                if left <= 0.0:
                    break
        total += scale * swap_delta(hole, pick, item_at, arrays)
        _exchange(item_at, hole, pick)
        visited[pick] = stamp
        chain[step] = pick
        if total < best_total:
            best_total = total
            best_steps = step + 1
    accepted = False
    if best_steps > 0:
        accepted, x_rng = accept(best_total, beta, rule, x_rng)
    keep = best_steps if accepted else 0
    for step in range(steps - 1, keep - 1, -1):
        _exchange(item_at, hole, chain[step])
    return accepted, best_total if accepted else 0.0, x_rng


@numba.njit(cache=True)
def _anneal_read(arrays, run, row, energy, best, best_row, x_rng, trace_row, trace_offset):
    """One read for ``len(run.betas)`` sweeps; returns (energy, best energy, generator state)."""
    n = len(row)
    record = len(trace_row) > 0
    chain_cost = max(1, min(run.chain_length, n - 1) * n)
    visited = np.zeros(n, dtype=np.int64)
    chain = np.empty(max(1, min(run.chain_length, n - 1)), dtype=np.int64)
    weights = np.empty(n)
    stamp = 0
    for k in range(len(run.betas)):
        beta = run.betas[k]
        budget = run.attempts
        while budget > 0:
            if run.chain_probability > 0.0:
                x_rng, u = xorshift_uniform(x_rng)
                if u < run.chain_probability:
                    budget -= chain_cost
                    stamp += 1
                    accepted, delta, x_rng = ejection_chain(row, arrays, run.scale, beta, run.rule, run.chain_length,
                                                            x_rng, visited, stamp, chain, weights)
                    energy += delta
                    continue
            budget -= 1
            kind, a, b, x_rng = _pick_move(x_rng, n, run.swap_probability)
            if kind == 0:
                delta = run.scale * swap_delta(a, b, row, arrays)
            else:
                delta = run.scale * reverse_delta(a, b, row, arrays)
            accepted, x_rng = accept(delta, beta, run.rule, x_rng)
            if not accepted:
                continue
            if kind == 0:
                _exchange(row, a, b)
            else:
                _reverse(row, a, b)
            energy += delta
        best = end_of_sweep(energy, best, row, best_row, record, trace_row, trace_offset + k)
    return energy, best, x_rng


@numba.njit(cache=True, parallel=True)
def _anneal_parallel(flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight, scale, betas, attempts,
                     swap_probability, chain_probability, chain_length, rule, item_at, current, best_item_at, best,
                     rng, trace, trace_offset):
    # parallel loops take arrays and scalars only: the structures are rebuilt inside
    for r in prange(item_at.shape[0]):
        arrays = PermutationArrays(flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight)
        run = PermutationRun(scale, betas, attempts, swap_probability, chain_probability, chain_length, rule)
        current[r], best[r], rng[r] = _anneal_read(arrays, run, item_at[r], current[r], best[r], best_item_at[r],
                                                   rng[r], trace[r], trace_offset)


def permutation_anneal(arrays: PermutationArrays, run: PermutationRun, reads: PermutationReads) -> None:
    """Anneal every read (in parallel) for ``len(run.betas)`` sweeps of ``run.attempts`` move attempts each (an
    ejection chain uses ``chain_length·n`` of them, one per exchange it weighs); energies are scaled."""
    _anneal_parallel(*arrays, *run, *reads)


@numba.njit(cache=True)
def sample_move_deltas(arrays, item_at, count, swap_probability, rng):
    """|Δ| of ``count`` random moves from ``item_at`` (for the default β range); the state is not changed."""
    n = len(item_at)
    out = np.empty(count)
    x_rng = rng[0]
    for c in range(count):
        kind, a, b, x_rng = _pick_move(x_rng, n, swap_probability)
        d = swap_delta(a, b, item_at, arrays) if kind == 0 else reverse_delta(a, b, item_at, arrays)
        out[c] = abs(d)
    return out


@numba.njit(cache=True)
def _tempering_ladder(arrays, scale, cold_betas, ratios, attempts, swap_probability, chain_probability, chain_length,
                      rule, item_at, current, best_item_at, best, rng, replica_at, exchange_rng, tried, accepted,
                      first_round):
    """One ladder (the rows ``replica_at``, coldest last) for ``len(cold_betas)`` rounds: each replica makes
    ``attempts`` move attempts at its β (the round's cold end times its ratio), then neighbours at rungs of one
    parity (alternating by round, counted from the run's first: ``first_round`` is this chunk's, so chunks change
    nothing) exchange temperatures by the spin ladders' rule
    (:func:`~hopsolve.backends._replica_kernels.exchange_rungs`), which keeps the product of the rungs' Boltzmann
    distributions invariant. Returns the exchange stream's state."""
    temps = len(ratios)
    no_trace = cold_betas[:0]  # (np.zeros(0) and np.empty(1) here cost every parallel call 8 ms: 0.06 ms now)
    one = cold_betas[:1].copy()
    for k in range(len(cold_betas)):
        for t in range(temps):
            row = replica_at[t]
            one[0] = cold_betas[k] * ratios[t]
            run = PermutationRun(scale, one, attempts, swap_probability, chain_probability, chain_length, rule)
            current[row], best[row], rng[row] = _anneal_read(arrays, run, item_at[row], current[row], best[row],
                                                             best_item_at[row], rng[row], no_trace, 0)
        exchange_rng = exchange_rungs(cold_betas[k], ratios, 1.0, current, replica_at, (first_round + k) % 2,
                                      exchange_rng, tried, accepted)
    return exchange_rng


@numba.njit(cache=True, parallel=True)
def _tempering_parallel(flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight, scale, cold_betas, ratios,
                        attempts, swap_probability, chain_probability, chain_length, rule, item_at, current,
                        best_item_at, best, rng, replica_at, exchange_rng, tried, accepted, first_round):
    for ladder in prange(replica_at.shape[0]):
        arrays = PermutationArrays(flow, bp, bi, bd, tp, ti, td, linear, has_linear, cycle_weight)
        exchange_rng[ladder] = _tempering_ladder(arrays, scale, cold_betas, ratios, attempts, swap_probability,
                                                 chain_probability, chain_length, rule, item_at, current,
                                                 best_item_at, best, rng, replica_at[ladder], exchange_rng[ladder],
                                                 tried[ladder], accepted[ladder], first_round)


def permutation_tempering(arrays: PermutationArrays, run: PermutationRun, ratios: np.ndarray,
                          reads: PermutationReads, replica_at: np.ndarray, exchange_rng: np.ndarray,
                          tried: np.ndarray, accepted: np.ndarray, first_round: int) -> None:
    """Replica exchange inside the feasible set: every ladder (a row of ``replica_at``, in parallel) for
    ``len(run.betas)`` rounds from round ``first_round``, ``run.betas`` the cold end of each round (see
    :func:`_tempering_ladder`)."""
    _tempering_parallel(*arrays, run.scale, run.betas, ratios, run.attempts, run.swap_probability,
                        run.chain_probability, run.chain_length, run.rule, reads.item_at, reads.current,
                        reads.best_item_at, reads.best, reads.rng, replica_at, exchange_rng, tried, accepted,
                        first_round)
