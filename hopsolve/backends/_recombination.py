"""Recombination of states by their clusters of disagreement: the best of several reads' states, region by region.

Take two states ``a`` and ``x`` of a model ``E(s) = -½ sᵀWs - bᵀs + const`` without group penalties. The sites
where they disagree fall into *clusters*: the connected components of those sites in the coupling graph (Houdayer's
clusters; :func:`hopsolve.backends._replica_kernels.houdayer_move` flips one of them in two replicas at once). A
cluster's neighbours outside it are sites where ``a`` and ``x`` agree, so giving ``a`` the values of ``x`` on a
cluster ``C`` changes its energy by

    ``ΔE(C) = 2 Σ_{i∈C} s_i b_i + 2 Σ_{i∈C, j∉C} W_ij s_i s_j``   (``s`` = ``a``)

whatever is done on the other clusters: the clusters are independent. The best state that takes each cluster from
one parent or the other is therefore found exactly, by taking ``x``'s values on every cluster with ``ΔE(C) < 0``;
it is never above either parent. :func:`recombine_into` does that in O(n + nnz).

An annealing run's reads end in low states that differ in separate regions: one read has settled a region that
another left with a defect, and the other way round. On a held-out 100 × 100 ±1 torus at 60 s the recombination
of 8–10 reads raised the best read's cut by 6 and 14, of 40 shorter reads by 16 (RESULTS §10); on sparse random
graphs it took little or nothing. :func:`recombine_reads` folds every read's state (and its global flip, the same
cut for max-cut) into the best one.
"""

from __future__ import annotations

import numba
import numpy as np

from hopsolve.backends._replica_kernels import grow_cluster

GAIN_TOLERANCE = 1e-9
"""A cluster is taken from the donor only when that lowers the energy by more than this (relative to the model's
largest coefficient), so rounding never makes a recombination raise an energy."""


@numba.njit(cache=True)
def recombine_into(indptr, indices, data, bias, child, donor, mark, queue, tolerance):
    """Give ``child`` (spins, float64, changed in place) the values of ``donor`` on every cluster of disagreement
    whose flip lowers ``child``'s energy by more than ``tolerance``; returns (energy change ≤ 0, clusters taken).

    ``mark`` (int8, n, zero) and ``queue`` (int64, n) are scratch; ``mark`` is zero again on return. Clusters grow
    through nonzero couplings only (a zero entry joins nothing and contributes nothing)."""
    n = len(child)
    change = 0.0
    taken = 0
    for start in range(n):
        if mark[start] != 0 or child[start] == donor[start]:
            continue
        size = grow_cluster(indptr, indices, data, child, donor, start, queue, mark, n)
        delta = 0.0  # the cluster's neighbours outside it are exactly those where child and donor agree
        for k in range(size):
            i = queue[k]
            s_i = child[i]
            delta += 2.0 * s_i * bias[i]
            for q in range(indptr[i], indptr[i + 1]):
                j = indices[q]
                w = data[q]
                if w != 0.0 and j != i and child[j] == donor[j]:
                    delta += 2.0 * w * s_i * child[j]
        if delta < -tolerance:
            for k in range(size):
                child[queue[k]] = -child[queue[k]]
            change += delta
            taken += 1
    for i in range(n):
        mark[i] = 0
    return change, taken


MAX_PASSES = 4
"""Passes of :func:`recombine_reads` over the donors at most (a pass that takes nothing ends it)."""


def recombine_reads(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, bias: np.ndarray,
                    states: np.ndarray, energies: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, float, int]:
    """The recombination of ``states`` (reads × n spins) into the lowest one: (child spins, child's energy, clusters
    taken).

    Starting from the read of least energy, every other read and its global flip ``-x`` donate the clusters that
    lower the child (:func:`recombine_into`), in order of increasing energy, in passes until one takes nothing (at
    most :data:`MAX_PASSES`). ``-x`` is a donor like any other state: for max-cut it is the same cut as ``x`` and
    its clusters of disagreement are the agreements of ``x``, so both are needed to see every region. The child's
    energy is the best read's plus the changes, never above any read's."""
    # one signature for every model (a CSR's indices may be int32 or int64), compiled once by the backend's prepare
    indptr, indices = np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64)
    data, bias = np.asarray(data, dtype=np.float64), np.asarray(bias, dtype=np.float64)
    order = np.argsort(energies, kind="stable")
    child = np.ascontiguousarray(states[order[0]], dtype=np.float64).copy()
    energy = float(energies[order[0]])
    n = len(child)
    mark = np.zeros(n, dtype=np.int8)
    queue = np.zeros(n, dtype=np.int64)
    tolerance = GAIN_TOLERANCE * max(scale, 1.0)
    taken_total = 0
    for _ in range(MAX_PASSES):
        taken_pass = 0
        for k in order[1:]:
            donor = np.ascontiguousarray(states[k], dtype=np.float64)
            for side in (donor, -donor):
                change, taken = recombine_into(indptr, indices, data, bias, child, side, mark, queue, tolerance)
                energy += change
                taken_pass += taken
        taken_total += taken_pass
        if taken_pass == 0:
            break
    return child, energy, taken_total
