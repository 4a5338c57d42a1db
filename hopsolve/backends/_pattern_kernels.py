"""Compiled single-flip dynamics for energies with a dense pattern term (plus an optional quadratic part).

Each read caches its overlaps ``m_μ = ξ_μ · s``; a flip's energy change costs O(P) and an accepted flip updates
the overlaps in O(P). For the ``exp`` kind, changes are computed relative to the largest overlap so that they
keep their sign even where ``exp(β(m - N))`` underflows.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from hopsolve.backends._kernels import accept, end_of_sweep, shuffle

POWER, RECTIFIED, EXP = 0, 1, 2


@numba.njit(cache=True, inline="always")
def _f(m, kind, degree, beta, n, shift):
    if kind == POWER:
        return n * (m / n) ** degree  # m^d / n^(d-1) without overflow
    if kind == RECTIFIED:
        return n * (max(m, 0.0) / n) ** degree
    return np.exp(beta * (m - shift))


@numba.njit(cache=True)
def pattern_delta(i, s_i, m, xi, kind, degree, beta, n, scale):
    """(scaled ΔE, log of the factor that turns it into ΔE) for flipping spin i of a state with overlaps m."""
    p = len(m)
    shift = 0.0
    if kind == EXP:
        shift = m[0]
        for mu in range(1, p):
            shift = max(shift, m[mu])
    total = 0.0
    for mu in range(p):
        new = m[mu] - 2.0 * xi[mu, i] * s_i
        total += _f(new, kind, degree, beta, n, shift) - _f(m[mu], kind, degree, beta, n, shift)
    log_factor = beta * (shift - n) if kind == EXP else 0.0
    return -scale * total, log_factor


@numba.njit(cache=True, inline="always")
def _flip(r, i, states, hq, m, indptr, indices, data, xi):
    s_i = states[r, i]
    twice = -2.0 * s_i
    states[r, i] = -s_i
    for q in range(indptr[i], indptr[i + 1]):
        hq[r, indices[q]] += twice * data[q]
    for mu in range(m.shape[1]):
        m[r, mu] += twice * xi[mu, i]


@numba.njit(cache=True, parallel=True)
def pattern_anneal(indptr, indices, data, xi, kind, degree, beta_f, scale, betas, rule, states, hq, m, current,
                   best_states, best, rng, trace, trace_offset):
    """Annealing sweeps (index order) on every read; energies tracked incrementally."""
    reads, n = states.shape
    record = trace.shape[1] > 0
    for r in prange(reads):
        x_rng = rng[r]
        energy = current[r]
        for k in range(len(betas)):
            beta = betas[k]
            for i in range(n):
                s_i = states[r, i]
                scaled, log_factor = pattern_delta(i, s_i, m[r], xi, kind, degree, beta_f, float(n), scale)
                delta = 2.0 * s_i * hq[r, i] + scaled * np.exp(log_factor)
                accepted, x_rng = accept(delta, beta, rule, x_rng)
                if not accepted:
                    continue
                _flip(r, i, states, hq, m, indptr, indices, data, xi)
                energy += delta
            best[r] = end_of_sweep(energy, best[r], states[r], best_states[r], record, trace[r], trace_offset + k)
        current[r] = energy
        rng[r] = x_rng


@numba.njit(cache=True, parallel=True)
def pattern_hopfield(indptr, indices, data, xi, kind, degree, beta_f, scale, states, hq, m, rng, random_order,
                     zero_rule, zero_tol, max_sweeps, sweeps_done, trace, start_energy):
    """Asynchronous updates to a fixed point: a unit flips when that lowers the energy (zero: ``zero_rule``; a
    change within ``2 zero_tol[i]`` of zero is a zero one, as a field within ``zero_tol[i]`` is in
    ``hopfield_async``)."""
    reads, n = states.shape
    record = trace.shape[1] > 0
    quadratic = len(data) > 0
    for r in prange(reads):
        x_rng = rng[r]
        order = np.arange(n)
        energy = start_energy[r]
        for sweep in range(max_sweeps):
            if random_order:
                x_rng = shuffle(order, x_rng)
            changed = 0
            for idx in range(n):
                i = order[idx]
                s_i = states[r, i]
                scaled, log_factor = pattern_delta(i, s_i, m[r], xi, kind, degree, beta_f, float(n), scale)
                delta = 2.0 * s_i * hq[r, i] + scaled * np.exp(log_factor)
                decide = delta if quadratic else scaled  # the scaled change keeps its sign where exp underflows
                flip = decide < -2.0 * zero_tol[i] or (abs(decide) <= 2.0 * zero_tol[i] and zero_rule != 0
                                                    and s_i != zero_rule)
                if flip:
                    _flip(r, i, states, hq, m, indptr, indices, data, xi)
                    energy += delta
                    changed += 1
            if record and sweep < trace.shape[1]:
                trace[r, sweep] = energy
            sweeps_done[r] = sweep + 1
            if changed == 0:
                break
        rng[r] = x_rng
