"""Compiled replica exchange over a :class:`~hopsolve.backends._model.SpinModel`: sweeps, exchanges, cluster moves.

A run holds ``L`` ladders of ``R`` replicas, replica ``m`` (0 ≤ m < L·R) belonging to ladder ``m // R`` for the
whole run. ``replica_at[l, k]`` is the replica of ladder ``l`` that sits at temperature ``k``, ``temperature_of[m]``
the inverse map. In round ``t`` temperature ``k`` is ``β = cold[t] · ratios[k]`` (``ratios`` increasing to 1): a
fixed ladder has a constant ``cold``, an annealed one a rising ``cold``. One *round* is

1. one Metropolis (or Glauber) sweep of every replica at its own β, all replicas in parallel, with the single-flip
   kernel of ``anneal`` (:func:`hopsolve.backends._kernels._anneal_read`);
2. exchanges between neighbouring temperatures of each ladder, the pairs (0,1), (2,3), ... on even rounds and
   (1,2), (3,4), ... on odd ones, each accepted with probability ``min(1, exp((β_k - β_{k+1})(E_a - E_b)))``
   (:func:`exchange_accepted`), which keeps the product of Boltzmann distributions over the ladder invariant; the
   replicas swap temperatures, not states;
3. optionally (every ``every`` rounds), a Houdayer cluster move at every temperature between the replicas that
   ladders ``2g`` and ``2g+1`` hold there (:func:`houdayer_move`).

Ladders ``2g`` and ``2g+1`` form group ``g``; the groups share nothing, so each runs a whole chunk of rounds on its
own thread (no synchronisation per round, which on a busy machine would cost more than the sweeps). Every replica
owns a xorshift64* stream (its sweeps and the cluster moves it leads), every ladder one for its
exchanges, so a run gives the same states for any number of threads and any split of its rounds into chunks.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from numba import prange

from hopsolve.backends._kernels import _anneal_read, xorshift_uniform

Couplings = namedtuple("Couplings", ["indptr", "indices", "data", "dense", "group_of", "group_target",
                                     "group_scale", "rule", "table_size"])
"""The model as the single-flip kernel reads it (see :class:`hopsolve.backends._model.SpinModel`): CSR couplings,
a dense copy for nearly full models (else 0 × 0), the one-hot group penalties, the acceptance rule and the integer
delta table's size (0: no table)."""

Ladders = namedtuple("Ladders", [
    "ratios", "replica_at", "temperature_of", "states", "fields", "group_sums", "energies", "best_states", "best",
    "rng", "exchange_rng", "exchange_tried", "exchange_accepted", "cluster_moves", "cluster_tried",
    "cluster_sizes", "queue", "mark"])
"""The state of a run: ``ratios`` (R, each temperature's β over the coldest one), ``replica_at`` (L × R),
``temperature_of`` (M = L·R), spins, quadratic fields and group sums of every replica (M × n, M × n, M × F × G),
running and best energies (M), best states (M × n), the replicas' and the ladders' generators (M, L), exchange
counts per group and neighbour pair (G × (R - 1)), cluster-move counts per group and temperature (G × R: moves
made, attempts, summed sizes), and each group's scratch for growing clusters (G × n, or G × 0 without them)."""


@numba.njit(cache=True, inline="always")
def exchange_accepted(beta_low, beta_high, energy_low, energy_high, x_rng):
    """(accepted?, generator state) for swapping the replicas at β_low (energy ``energy_low``) and β_high.

    The Metropolis rule on the joint distribution ``exp(-β_low E_a - β_high E_b)``: the swap changes its
    logarithm by ``(β_low - β_high)(E_a - E_b)``; a random number is drawn only when that is negative.
    """
    x = (beta_low - beta_high) * (energy_low - energy_high)
    if x >= 0.0:
        return True, x_rng
    x_rng, u = xorshift_uniform(x_rng)
    return u < np.exp(x), x_rng


@numba.njit(cache=True, inline="always")
def exchange_rungs(beta_cold, ratios, unit, energies, rungs, parity, x_rng, tried, accepted):
    """One exchange step of a ladder whose rung t holds replica ``rungs[t]`` (coldest last) at β ``beta_cold ·
    ratios[t] · unit``: neighbours at rungs t, t+1 for t of the given parity swap places by
    :func:`exchange_accepted` on ``energies``, counted in ``tried`` and ``accepted``. Returns the generator state.
    The permutation and tour ladders' step (``unit`` 1 for energies, the energy of a unit of length for tours)."""
    for t in range(parity, len(ratios) - 1, 2):
        hot, cold = rungs[t], rungs[t + 1]
        tried[t] += 1
        take, x_rng = exchange_accepted(beta_cold * ratios[t] * unit, beta_cold * ratios[t + 1] * unit,
                                        energies[hot], energies[cold], x_rng)
        if take:
            accepted[t] += 1
            rungs[t], rungs[t + 1] = cold, hot
    return x_rng


@numba.njit(cache=True, inline="always")
def grow_cluster(indptr, indices, data, sa, sb, start, queue, mark, cap):
    """The cluster of disagreement of states ``sa`` and ``sb`` around site ``start`` (where they disagree): the
    sites connected to it through nonzero couplings on which the two disagree, breadth first from ``start``. They
    are left in ``queue[:size]`` with ``mark`` set to 1 on each; returns ``size``. Sites already marked are not
    entered (a caller keeps earlier clusters marked so as not to grow them twice). A cluster that would pass
    ``cap`` sites stops growing: ``-size`` is returned for the sites queued so far (still marked)."""
    queue[0] = start
    mark[start] = 1
    size = 1
    head = 0
    while head < size:
        i = queue[head]
        head += 1
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q]
            if mark[j] == 0 and sa[j] != sb[j] and data[q] != 0.0:
                if size >= cap:
                    return -size
                mark[j] = 1
                queue[size] = j
                size += 1
    return size


@numba.njit(cache=True)
def houdayer_move(indptr, indices, data, a, b, states, fields, energies, rng, cap, queue, mark):
    """One Houdayer cluster move between replicas ``a`` and ``b`` (at the same β); returns the cluster's size
    (0 when nothing moved).

    A site where the two replicas disagree is drawn uniformly (with ``a``'s generator); the cluster is the
    connected set of disagreeing sites around it (through nonzero couplings), and both replicas flip it. Every
    coupling inside the cluster keeps its product in both replicas, and across its boundary (where the replicas
    agree) and on its sites' biases the two replicas' contributions cancel before and after, so ``E_a + E_b`` is
    unchanged and the move is accepted outright; the cluster is the same after the flip, so the move is its own
    reverse with the same probability. Clusters larger than ``cap`` sites are left alone (the same decision
    either way): near the percolation point they are most of the disagreeing sites, and flipping them is close to
    exchanging the two replicas, which costs O(n) and gains nothing. Only for models without group penalties.

    J. Houdayer, "A cluster Monte Carlo algorithm for 2-dimensional spin glasses", Eur. Phys. J. B 22, 479 (2001);
    Z. Zhu, A. J. Ochoa, H. G. Katzgraber, "Efficient cluster algorithm for spin glasses in any space dimension",
    Phys. Rev. Lett. 115, 077201 (2015).
    """
    sa = states[a]
    sb = states[b]
    n = len(sa)
    differing = 0
    for i in range(n):
        if sa[i] != sb[i]:
            differing += 1
    if differing == 0:
        return 0
    x_rng, u = xorshift_uniform(rng[a])
    rng[a] = x_rng
    pick = min(int(u * differing), differing - 1)
    seed = -1
    for i in range(n):
        if sa[i] != sb[i]:
            if pick == 0:
                seed = i
                break
            pick -= 1
    size = grow_cluster(indptr, indices, data, sa, sb, seed, queue, mark, cap)
    for k in range(abs(size)):
        mark[queue[k]] = 0
    if size < 0:
        return 0
    for k in range(size):
        energies[a] += _flip(indptr, indices, data, sa, fields[a], queue[k])
        energies[b] += _flip(indptr, indices, data, sb, fields[b], queue[k])
    return size


@numba.njit(cache=True, inline="always")
def _flip(indptr, indices, data, s, h, i):
    """Flip spin i, update its neighbours' fields; returns the energy change."""
    s_i = s[i]
    twice = -2.0 * s_i
    s[i] = -s_i
    for q in range(indptr[i], indptr[i + 1]):
        h[indices[q]] += twice * data[q]
    return -twice * h[i]


@numba.njit(cache=True)
def _group_rounds(model, ladders, g, cold, first_round, clusters, cap, every):
    """Group ``g`` (ladders 2g and 2g+1, or the last ladder alone) runs ``len(cold)`` rounds."""
    ratios = ladders.ratios
    replica_at = ladders.replica_at
    temperature_of = ladders.temperature_of
    states = ladders.states
    energies = ladders.energies
    best = ladders.best
    n_ladders, n_temps = replica_at.shape
    first = 2 * g
    last = min(first + 2, n_ladders)
    pair = clusters and last - first == 2
    beta_now = np.empty(1)
    no_trace = np.empty(0)
    for t in range(len(cold)):
        for m in range(first * n_temps, last * n_temps):
            beta_now[0] = cold[t] * ratios[temperature_of[m]]
            energies[m], best[m] = _anneal_read(
                model.indptr, model.indices, model.data, model.dense, model.group_of, model.group_target,
                model.group_scale, beta_now, model.rule, model.table_size, states[m], ladders.fields[m],
                ladders.group_sums[m], energies[m], ladders.best_states[m], best[m], ladders.rng, m, no_trace,
                np.int64(0), np.bool_(False))  # typed values, not literals: the version `anneal` compiles
        parity = (first_round + t) % 2
        for lad in range(first, last):
            x_rng = ladders.exchange_rng[lad]
            for k in range(parity, n_temps - 1, 2):
                a = replica_at[lad, k]
                b = replica_at[lad, k + 1]
                accepted, x_rng = exchange_accepted(cold[t] * ratios[k], cold[t] * ratios[k + 1], energies[a],
                                                    energies[b], x_rng)
                ladders.exchange_tried[g, k] += 1
                if accepted:
                    replica_at[lad, k] = b
                    replica_at[lad, k + 1] = a
                    temperature_of[a] = k + 1
                    temperature_of[b] = k
                    ladders.exchange_accepted[g, k] += 1
            ladders.exchange_rng[lad] = x_rng
        if not pair or (first_round + t) % every != 0:
            continue
        for k in range(n_temps):
            size = houdayer_move(model.indptr, model.indices, model.data, replica_at[first, k],
                                 replica_at[first + 1, k], states, ladders.fields, energies, ladders.rng, cap,
                                 ladders.queue[g], ladders.mark[g])
            ladders.cluster_tried[g, k] += 1
            if size > 0:
                ladders.cluster_moves[g, k] += 1
                ladders.cluster_sizes[g, k] += size
        for m in range(first * n_temps, last * n_temps):
            if energies[m] < best[m]:
                best[m] = energies[m]
                ladders.best_states[m, :] = states[m]


@numba.njit(cache=True, parallel=True)
def run_rounds(model, ladders, cold, first_round, clusters, cap, every):
    """Run ``len(cold)`` rounds (see the module docstring) on every group of ladders, the groups in parallel;
    ``first_round`` is the number of rounds run before, which sets the exchange parity, so a run split into chunks
    equals the run in one call."""
    groups = (ladders.replica_at.shape[0] + 1) // 2
    for g in prange(groups):
        _group_rounds(model, ladders, np.int64(g), cold, first_round, clusters, cap, every)
