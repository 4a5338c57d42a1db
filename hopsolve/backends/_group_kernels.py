"""Compiled moves inside one-hot groups (Potts variables): annealing and winner-take-all Hopfield updates.

A group's move turns its one ``on`` unit off and another unit of the group on, so a state with exactly one unit
on per group stays that way. The energy change of moving from unit ``i`` to unit ``j`` is computed exactly from
the local fields: turning ``i`` off changes the energy by ``Δ_off = 2·h_i`` (spin +1 → -1) and then turning ``j``
on by ``Δ_on(j) = -2·h'_j`` with the fields ``h'`` after ``i`` went off; ``Δ_off + Δ_on(i) = 0``, so staying put is
one of the candidates. Units outside every group get ordinary single flips.

- ``anneal``, rule Metropolis: propose one other unit of the group uniformly, accept by ``min(1, e^{-βΔ})``.
- ``anneal``, rule Glauber: heat bath over the whole group, ``P(j) ∝ e^{-βΔ(j)}`` — exact Gibbs sampling of the
  Potts variable given the rest (Glauber's rule is its two-state case).
- ``hopfield``: the group's unit with the lowest energy wins (the current one on ties); the energy never rises.

States are spins (±1, a BINARY unit that is on is +1), with the quadratic fields ``h = W s + b`` kept up to date
and the structured group penalties of :mod:`hopsolve.backends._kernels` added on the fly.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from hopsolve.backends._kernels import METROPOLIS, accept, end_of_sweep, shuffle, xorshift_uniform


@numba.njit(cache=True, inline="always")
def _field(i, s_i, h, gs, group_of, group_target, group_scale):
    field = h[i]
    for f in range(group_of.shape[0]):
        g = group_of[f, i]
        if g >= 0:
            field -= 2.0 * group_scale[f] * (gs[f, g] - s_i - group_target[f, g])
    return field


@numba.njit(cache=True, inline="always")
def _flip(i, s, h, gs, indptr, indices, data, group_of):
    new = -s[i]
    s[i] = new
    twice = 2.0 * new
    for q in range(indptr[i], indptr[i + 1]):
        h[indices[q]] += twice * data[q]
    for f in range(group_of.shape[0]):
        g = group_of[f, i]
        if g >= 0:
            gs[f, g] += twice


@numba.njit(cache=True, inline="always")
def _on_position(s, members, start, stop):
    for q in range(start, stop):
        if s[members[q]] > 0.0:
            return q
    return -1


@numba.njit(cache=True, inline="always")
def _move_x(i, s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef, residual):
    """Flip ordinary unit i and update the residuals ``rhs − a·x`` of the slack blocks it is in."""
    _flip(i, s, h, gs, indptr, indices, data, group_of)
    dx = 1.0 if s[i] > 0.0 else -1.0
    for q in range(unit_ptr[i], unit_ptr[i + 1]):
        residual[unit_block[q]] -= unit_coef[q] * dx


@numba.njit(cache=True)
def _flip_tracked(i, s, h, gs, indptr, indices, data, group_of, group_target, group_scale, unit_ptr, unit_block,
                  unit_coef, residual, slack_ptr, slack_units, slack_coef, undo, top):
    """Flip unit i, then set the slack of every block it is in to its best value (see ``SlackBlocks``); every
    flip is pushed on ``undo``. Returns (energy change, new top of ``undo``)."""
    delta = 2.0 * s[i] * _field(i, s[i], h, gs, group_of, group_target, group_scale)
    _move_x(i, s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef, residual)
    undo[top] = i
    top += 1
    for q in range(unit_ptr[i], unit_ptr[i + 1]):
        b = unit_block[q]
        start, stop = slack_ptr[b], slack_ptr[b + 1]
        if stop == start:
            continue
        total = 0.0
        for k in range(start, stop):
            total += slack_coef[k]
        remaining = int(np.rint(min(max(residual[b], 0.0), total)))
        last = stop - 1
        take_last = remaining >= slack_coef[last]
        if take_last:
            remaining -= int(np.rint(slack_coef[last]))
        for k in range(start, stop):
            want = take_last if k == last else ((remaining >> (k - start)) & 1) == 1
            unit = slack_units[k]
            if want != (s[unit] > 0.0):
                delta += 2.0 * s[unit] * _field(unit, s[unit], h, gs, group_of, group_target, group_scale)
                _flip(unit, s, h, gs, indptr, indices, data, group_of)
                undo[top] = unit
                top += 1
    return delta, top


@numba.njit(cache=True)
def _revert(undo, top, s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef, residual):
    """Undo the flips on ``undo[:top]``, last first."""
    for t in range(top - 1, -1, -1):
        _move_x(undo[t], s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef, residual)


@numba.njit(cache=True, fastmath=True)
def _group_anneal_read(indptr, indices, data, group_of, group_target, group_scale, members, offsets, free, unit_ptr,
                       unit_block, unit_coef, slack_ptr, slack_units, slack_coef, betas, rule, s, h, gs, residual,
                       energy, best_state, best, rng, r, trace_row, trace_offset, record):
    """One read's sweeps (every group once, then every free unit once); returns (running, best energy)."""
    x_rng = rng[r]
    groups = len(offsets) - 1
    largest = 1
    for g in range(groups):
        largest = max(largest, offsets[g + 1] - offsets[g])
    deltas = np.empty(largest)
    undo = np.empty(2 + 2 * len(slack_units), dtype=np.int64)
    for k in range(len(betas)):
        beta = betas[k]
        for g in range(groups):
            start, stop = offsets[g], offsets[g + 1]
            size = stop - start
            if size < 2:
                continue
            cur = _on_position(s, members, start, stop)
            i = members[cur]
            off, top = _flip_tracked(i, s, h, gs, indptr, indices, data, group_of, group_target, group_scale,
                                     unit_ptr, unit_block, unit_coef, residual, slack_ptr, slack_units, slack_coef,
                                     undo, np.int64(0))
            if rule == METROPOLIS:
                x_rng, u = xorshift_uniform(x_rng)
                q = start + min(int(u * (size - 1)), size - 2)
                if q >= cur:
                    q += 1
                on, top = _flip_tracked(members[q], s, h, gs, indptr, indices, data, group_of, group_target,
                                        group_scale, unit_ptr, unit_block, unit_coef, residual, slack_ptr,
                                        slack_units, slack_coef, undo, top)
                accepted, x_rng = accept(off + on, beta, rule, x_rng)
                if accepted:
                    energy += off + on
                else:
                    _revert(undo, top, s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef,
                            residual)
                continue
            lowest = np.inf
            for q in range(start, stop):
                if q == cur:
                    deltas[q - start] = 0.0
                else:
                    on, after = _flip_tracked(members[q], s, h, gs, indptr, indices, data, group_of, group_target,
                                              group_scale, unit_ptr, unit_block, unit_coef, residual, slack_ptr,
                                              slack_units, slack_coef, undo, top)
                    deltas[q - start] = off + on
                    _revert(undo[top:after], after - top, s, h, gs, indptr, indices, data, group_of, unit_ptr,
                            unit_block, unit_coef, residual)
                lowest = min(lowest, deltas[q - start])
            total = 0.0
            for q in range(size):
                total += np.exp(-beta * (deltas[q] - lowest))
            x_rng, u = xorshift_uniform(x_rng)
            target = u * total
            chosen = size - 1
            running = 0.0
            for q in range(size):
                running += np.exp(-beta * (deltas[q] - lowest))
                if target < running:
                    chosen = q
                    break
            if start + chosen == cur:
                _revert(undo, top, s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef,
                        residual)
            else:
                _flip_tracked(members[start + chosen], s, h, gs, indptr, indices, data, group_of, group_target,
                              group_scale, unit_ptr, unit_block, unit_coef, residual, slack_ptr, slack_units,
                              slack_coef, undo, top)
                energy += deltas[chosen]
        for idx in range(len(free)):
            delta, top = _flip_tracked(free[idx], s, h, gs, indptr, indices, data, group_of, group_target,
                                       group_scale, unit_ptr, unit_block, unit_coef, residual, slack_ptr, slack_units,
                                       slack_coef, undo, np.int64(0))
            accepted, x_rng = accept(delta, beta, rule, x_rng)
            if accepted:
                energy += delta
            else:
                _revert(undo, top, s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef,
                        residual)
        best = end_of_sweep(energy, best, s, best_state, record, trace_row, trace_offset + k)
    rng[r] = x_rng
    return energy, best


@numba.njit(cache=True, parallel=True)
def group_anneal_sweeps(indptr, indices, data, group_of, group_target, group_scale, members, offsets, free, unit_ptr,
                        unit_block, unit_coef, slack_ptr, slack_units, slack_coef, betas, rule, states, hq, gsum,
                        residuals, current, best_states, best, rng, trace, trace_offset):
    """``len(betas)`` sweeps of group moves and free-unit flips on every read, reads in parallel (see the module);
    slack units are never flipped on their own but set after every move (``residuals``: reads × blocks)."""
    reads = states.shape[0]
    record = trace.shape[1] > 0
    for r in prange(reads):
        current[r], best[r] = _group_anneal_read(indptr, indices, data, group_of, group_target, group_scale,
                                                 members, offsets, free, unit_ptr, unit_block, unit_coef, slack_ptr,
                                                 slack_units, slack_coef, betas, rule, states[r], hq[r], gsum[r],
                                                 residuals[r], current[r], best_states[r], best[r], rng,
                                                 np.int64(r), trace[r], trace_offset, record)


@numba.njit(cache=True, parallel=True)
def group_hopfield(indptr, indices, data, group_of, group_target, group_scale, members, offsets, free, states, hq,
                   gsum, rng, random_order, zero_rule, zero_tol, max_sweeps, sweeps_done, trace):
    """Asynchronous winner-take-all updates to a fixed point: each sweep visits every group (its lowest-energy unit
    wins; the current one on ties) and every free unit (a sign update; ``zero_rule`` and ``zero_tol`` as in
    ``hopfield_async``)."""
    reads = states.shape[0]
    groups = len(offsets) - 1
    blocks = groups + len(free)
    record = trace.shape[1] > 0
    for r in prange(reads):
        s, h, gs = states[r], hq[r], gsum[r]
        order = np.arange(blocks)
        x_rng = rng[r]
        energy = 0.0
        for sweep in range(max_sweeps):
            if random_order:
                x_rng = shuffle(order, x_rng)
            changed = 0
            for b in range(blocks):
                block = order[b]
                if block >= groups:
                    i = free[block - groups]
                    s_i = s[i]
                    field = _field(i, s_i, h, gs, group_of, group_target, group_scale)
                    target = s_i if zero_rule == 0 else float(zero_rule)
                    if abs(field) > zero_tol[i]:
                        target = 1.0 if field > 0.0 else -1.0
                    if target != s_i:
                        energy += 2.0 * s_i * field
                        _flip(i, s, h, gs, indptr, indices, data, group_of)
                        changed += 1
                    continue
                start, stop = offsets[block], offsets[block + 1]
                if stop - start < 2:
                    continue
                cur = _on_position(s, members, start, stop)
                i = members[cur]
                off = 2.0 * s[i] * _field(i, s[i], h, gs, group_of, group_target, group_scale)
                _flip(i, s, h, gs, indptr, indices, data, group_of)
                winner, lowest = cur, 0.0
                for q in range(start, stop):
                    if q == cur:
                        continue
                    j = members[q]
                    delta = off + 2.0 * s[j] * _field(j, s[j], h, gs, group_of, group_target, group_scale)
                    if delta < lowest - 1e-12 * (1.0 + abs(off)):
                        winner, lowest = q, delta
                _flip(members[winner], s, h, gs, indptr, indices, data, group_of)
                if winner != cur:
                    energy += lowest
                    changed += 1
            sweeps_done[r] = sweep + 1
            if record:
                trace[r, sweep] = energy
            if changed == 0:
                break
        rng[r] = x_rng


@numba.njit(cache=True)
def sample_group_deltas(indptr, indices, data, group_of, group_target, group_scale, members, offsets, free, unit_ptr,
                        unit_block, unit_coef, slack_ptr, slack_units, slack_coef, s, h, gs, residual, count, x_rng):
    """Exact energy changes of ``count`` random moves at state ``s`` (left unchanged): a group move to another unit
    of a random group of size ≥ 2, or a free unit's flip (slack set after it), in proportion to their numbers."""
    groups = len(offsets) - 1
    movable = np.empty(groups, dtype=np.int64)
    m = 0
    for g in range(groups):
        if offsets[g + 1] - offsets[g] >= 2:
            movable[m] = g
            m += 1
    out = np.empty(count)
    total = m + len(free)
    undo = np.empty(2 + 2 * len(slack_units), dtype=np.int64)
    if total == 0:
        return out[:0]
    for t in range(count):
        x_rng, u = xorshift_uniform(x_rng)
        pick = min(int(u * total), total - 1)
        if pick >= m:
            delta, top = _flip_tracked(free[pick - m], s, h, gs, indptr, indices, data, group_of, group_target,
                                       group_scale, unit_ptr, unit_block, unit_coef, residual, slack_ptr, slack_units,
                                       slack_coef, undo, np.int64(0))
        else:
            g = movable[pick]
            start, stop = offsets[g], offsets[g + 1]
            cur = _on_position(s, members, start, stop)
            off, top = _flip_tracked(members[cur], s, h, gs, indptr, indices, data, group_of, group_target,
                                     group_scale, unit_ptr, unit_block, unit_coef, residual, slack_ptr, slack_units,
                                     slack_coef, undo, np.int64(0))
            x_rng, u = xorshift_uniform(x_rng)
            q = start + min(int(u * (stop - start - 1)), stop - start - 2)
            if q >= cur:
                q += 1
            on, top = _flip_tracked(members[q], s, h, gs, indptr, indices, data, group_of, group_target,
                                    group_scale, unit_ptr, unit_block, unit_coef, residual, slack_ptr, slack_units,
                                    slack_coef, undo, top)
            delta = off + on
        out[t] = delta
        _revert(undo, top, s, h, gs, indptr, indices, data, group_of, unit_ptr, unit_block, unit_coef, residual)
    return out
