"""Compiled single-spin kernels over a :class:`SpinModel`: fields, annealing sweeps, asynchronous Hopfield.

All kernels keep the quadratic local fields ``hq = W s + b`` up to date (O(degree) per accepted flip) and add the
structured group penalties on the fly from the group sums. Reads run in parallel (``prange``); each read owns a
xorshift64* generator seeded from the run's seed, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

_MULTIPLIER = np.uint64(2685821657736338717)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2⁻⁵³
METROPOLIS, GLAUBER = 0, 1


@numba.njit(cache=True, inline="always")
def xorshift_uniform(x):
    """(next state, uniform in [0, 1)) for a xorshift64* state held in a local variable (kept in a register)."""
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    return x, float((x * _MULTIPLIER) >> np.uint64(11)) * _TO_UNIT


@numba.njit(cache=True, inline="always")
def shuffle(order, x_rng):
    """Fisher–Yates shuffle of ``order`` in place; returns the generator state."""
    for a in range(len(order) - 1, 0, -1):
        x_rng, u = xorshift_uniform(x_rng)
        b = int(u * (a + 1))
        order[a], order[b] = order[b], order[a]
    return x_rng


@numba.njit(cache=True, inline="always")
def accept(delta, beta, rule, x_rng):
    """(accepted?, generator state): Metropolis ``min(1, e^{-βΔ})`` or Glauber ``1/(1 + e^{βΔ})``; a random number
    is drawn only when the outcome is not already certain."""
    x = beta * delta
    if rule == METROPOLIS:
        if delta <= 0.0:
            return True, x_rng
        if x > 40.0:
            return False, x_rng
        x_rng, u = xorshift_uniform(x_rng)
        return u < np.exp(-x), x_rng
    if x > 40.0:
        return False, x_rng
    if x < -40.0:
        return True, x_rng
    x_rng, u = xorshift_uniform(x_rng)
    return u * (1.0 + np.exp(x)) < 1.0, x_rng


@numba.njit(cache=True, inline="always")
def end_of_sweep(energy, best, state, best_state, record, trace_row, index):
    """Keep the best state seen at the end of a sweep, record the energy trace; returns the best energy."""
    if energy < best:
        best = energy
        best_state[:] = state
    if record:
        trace_row[index] = energy
    return best


@numba.njit(cache=True)
def init_group_sums(group_of, states, gsum):
    """Each read's sum of spins over every group of every structured penalty."""
    reads, n = states.shape
    for r in range(reads):
        for f in range(group_of.shape[0]):
            for g in range(gsum.shape[2]):
                gsum[r, f, g] = 0.0
            for i in range(n):
                g = group_of[f, i]
                if g >= 0:
                    gsum[r, f, g] += states[r, i]


@numba.njit(cache=True, inline="always")
def total_field(r, i, s_i, hq, gsum, group_of, group_target, group_scale):
    """Quadratic field plus the group penalties' field ``-2·scale·(S_g - s_i - t_g)``."""
    h = hq[r, i]
    for f in range(group_of.shape[0]):
        g = group_of[f, i]
        if g >= 0:
            h -= 2.0 * group_scale[f] * (gsum[r, f, g] - s_i - group_target[f, g])
    return h


@numba.njit(cache=True, inline="always")
def apply_flip(r, i, states, hq, gsum, indptr, indices, data, group_of):
    """Flip spin i of read r and update the fields of its neighbours and its group sums."""
    new = -states[r, i]
    states[r, i] = new
    twice = 2.0 * new
    for k in range(indptr[i], indptr[i + 1]):
        hq[r, indices[k]] += twice * data[k]
    for f in range(group_of.shape[0]):
        g = group_of[f, i]
        if g >= 0:
            gsum[r, f, g] += twice


@numba.njit(cache=True, fastmath=True)
def _anneal_read(indptr, indices, data, dense, group_of, group_target, group_scale, betas, rule, table_size, s, h,
                 gs, energy, best_state, best, rng, r, trace_row, trace_offset, record):
    """One read's sweeps; returns (running energy, best energy).

    ``dense`` (n×n, or empty) replaces the CSR rows for nearly full models. With ``table_size > 0`` every energy
    change is an integer in ``[-table_size+1, table_size-1]`` and acceptance probabilities come from a table
    built once per sweep instead of an ``exp`` per move (exact, not an approximation).
    """
    n = len(s)
    families = group_of.shape[0]
    use_dense = dense.shape[0] > 0
    use_table = table_size > 0
    table = np.empty(2 * table_size + 1)
    x_rng = rng[r]
    if use_table and rule == METROPOLIS and families == 0 and not use_dense:
        return _metropolis_table_read(indptr, indices, data, betas, table_size, s, h, energy, best_state, best,
                                      rng, r, trace_row, trace_offset, record)
    for k in range(len(betas)):
        beta = betas[k]
        if use_table:
            for d in range(-table_size, table_size + 1):
                x = beta * d
                if rule == METROPOLIS:
                    table[d + table_size] = 1.0 if d <= 0 else np.exp(-x)
                else:
                    table[d + table_size] = 0.0 if x > 40.0 else 1.0 / (1.0 + np.exp(x))
        for i in range(n):
            s_i = s[i]
            field = h[i]
            for f in range(families):
                g = group_of[f, i]
                if g >= 0:
                    field -= 2.0 * group_scale[f] * (gs[f, g] - s_i - group_target[f, g])
            delta = 2.0 * s_i * field
            if use_table:
                if rule == METROPOLIS:
                    if delta > 0.0:
                        x_rng, u = xorshift_uniform(x_rng)
                        if u >= table[int(delta + 0.5) + table_size]:
                            continue
                else:
                    x_rng, u = xorshift_uniform(x_rng)
                    if u >= table[int(np.floor(delta + 0.5)) + table_size]:
                        continue
            else:
                accepted, x_rng = accept(delta, beta, rule, x_rng)
                if not accepted:
                    continue
            twice = -2.0 * s_i
            s[i] = -s_i
            if use_dense:
                row = dense[i]
                for j in range(n):
                    h[j] += twice * row[j]
            else:
                for q in range(indptr[i], indptr[i + 1]):
                    h[indices[q]] += twice * data[q]
            for f in range(families):
                g = group_of[f, i]
                if g >= 0:
                    gs[f, g] += twice
            energy += delta
        best = end_of_sweep(energy, best, s, best_state, record, trace_row, trace_offset + k)
    rng[r] = x_rng
    return energy, best


@numba.njit(cache=True, fastmath=True)
def _metropolis_table_read(indptr, indices, data, betas, table_size, s, h, energy, best_state, best, rng, r,
                           trace_row, trace_offset, record):
    """The common case on its own (sparse couplings, integer changes, Metropolis, no groups): the tightest loop."""
    n = len(s)
    table = np.empty(table_size + 1)
    x_rng = rng[r]
    for k in range(len(betas)):
        beta = betas[k]
        for d in range(table_size + 1):
            table[d] = np.exp(-beta * d)
        for i in range(n):
            s_i = s[i]
            delta = 2.0 * s_i * h[i]
            if delta > 0.0:
                x_rng, u = xorshift_uniform(x_rng)
                if u >= table[int(delta + 0.5)]:
                    continue
            twice = -2.0 * s_i
            s[i] = -s_i
            for q in range(indptr[i], indptr[i + 1]):
                h[indices[q]] += twice * data[q]
            energy += delta
        best = end_of_sweep(energy, best, s, best_state, record, trace_row, trace_offset + k)
    rng[r] = x_rng
    return energy, best


@numba.njit(cache=True, parallel=True)
def anneal_sweeps(indptr, indices, data, dense, group_of, group_target, group_scale, betas, rule, table_size, states,
                  hq, gsum, current, best_states, best, rng, trace, trace_offset):
    """Run ``len(betas)`` sweeps (each visits every spin once, in index order) on every read, reads in parallel.

    ``current``/``best`` hold each read's running and best energies; ``best_states`` the best state seen at the
    end of a sweep. ``trace[r, trace_offset + k]`` receives the energy after sweep k when ``trace`` is wide enough.
    """
    reads = states.shape[0]
    record = trace.shape[1] > 0
    for r in prange(reads):
        current[r], best[r] = _anneal_read(indptr, indices, data, dense, group_of, group_target, group_scale,
                                           betas, rule, table_size, states[r], hq[r], gsum[r], current[r],
                                           best_states[r], best[r], rng, np.int64(r), trace[r], trace_offset, record)


@numba.njit(cache=True, parallel=True)
def hopfield_async(indptr, indices, data, group_of, group_target, group_scale, states, hq, gsum, rng,
                   random_order, zero_rule, zero_tol, first_sweep, stop_sweep, sweeps_done, settled, energy_acc,
                   trace):
    """Asynchronous sign updates towards a fixed point, sweeps ``first_sweep`` to ``stop_sweep`` of each read
    that has not ``settled``: called again with the next range it goes on where it stopped (the generator in
    ``rng``, the energy change so far in ``energy_acc``), so a descent can be cut into chunks of sweeps with the
    same result. Each sweep visits every unit (a fresh random permutation, or index order).

    ``zero_rule``: 0 keeps the unit on a zero field, 1 sets it to +1, -1 to -1; a field within ``zero_tol[i]`` of 0
    is a zero one (:attr:`~hopsolve.backends._model.SpinModel.zero_field_tolerance`: fields summed in floating
    point, 1e-17 where 0 is exact, flipped units of stored patterns). ``sweeps_done[r]`` is the number
    of sweeps read r ran; ``settled[r]`` that its last sweep changed nothing (a fixed point).
    """
    reads, n = states.shape
    record = trace.shape[1] > 0
    for r in prange(reads):
        if settled[r]:
            continue
        order = np.arange(n)
        energy = energy_acc[r]
        x_rng = rng[r]
        for sweep in range(first_sweep, stop_sweep):
            if random_order:
                for k in range(n):
                    order[k] = k
                x_rng = shuffle(order, x_rng)
            changed = 0
            for idx in range(n):
                i = order[idx]
                s_i = states[r, i]
                h = total_field(r, i, s_i, hq, gsum, group_of, group_target, group_scale)
                if h > zero_tol[i]:
                    target = 1
                elif h < -zero_tol[i]:
                    target = -1
                else:
                    target = s_i if zero_rule == 0 else zero_rule
                if target != s_i:
                    energy += 2.0 * s_i * h
                    apply_flip(r, i, states, hq, gsum, indptr, indices, data, group_of)
                    changed += 1
            if record and sweep < trace.shape[1]:
                trace[r, sweep] = energy
            sweeps_done[r] = sweep + 1
            if changed == 0:
                settled[r] = True
                break
        energy_acc[r] = energy
        rng[r] = x_rng
