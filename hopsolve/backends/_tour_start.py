"""Constructive starting tours for large instances: greedy edge matching on the candidate lists.

Greedy edge (Bentley 1992) adds candidate edges shortest first whenever both cities still have fewer than two
tour edges and the edge closes no cycle; it ends 14–20% above the optimum on uniform instances (a random tour is
hundreds of times longer), in O(n·k log(n·k)). The fragments left over are joined end to nearest free end.
"""

from __future__ import annotations

import numba
import numpy as np

from hopsolve.metric import distance, pair_distances


@numba.njit(cache=True)
def _find(parent, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@numba.njit(cache=True)
def _greedy_fragments(n, first, second, adj, degree):
    parent = np.arange(n)
    for e in range(len(first)):
        a = first[e]
        b = second[e]
        if degree[a] >= 2 or degree[b] >= 2:
            continue
        ra = _find(parent, a)
        rb = _find(parent, b)
        if ra == rb:
            continue
        parent[ra] = rb
        adj[a, degree[a]] = b
        adj[b, degree[b]] = a
        degree[a] += 1
        degree[b] += 1


@numba.njit(cache=True)
def _walk(start, adj, degree, used, tour, filled):
    """Append the fragment that begins at endpoint ``start`` to ``tour``; returns (count, its other end)."""
    prev = -1
    here = start
    while True:
        tour[filled] = here
        filled += 1
        used[here] = True
        nxt = -1
        for t in range(degree[here]):
            if adj[here, t] != prev and not used[adj[here, t]]:
                nxt = adj[here, t]
        if nxt < 0:
            return filled, here
        prev = here
        here = nxt


@numba.njit(cache=True)
def _join(metric, adj, degree):
    n = len(degree)
    tour = np.empty(n, dtype=np.int64)
    used = np.zeros(n, dtype=np.bool_)
    ends = np.flatnonzero(degree < 2)
    filled = 0
    if len(ends) == 0:  # the edges already form one cycle
        filled, _ = _walk(0, adj, degree, used, tour, filled)
        return tour
    filled, last = _walk(ends[0], adj, degree, used, tour, filled)
    while filled < n:
        best = -1
        best_d = np.inf
        for e in ends:
            if not used[e]:
                d = distance(metric, last, e)
                if d < best_d:
                    best_d = d
                    best = e
        filled, last = _walk(best, adj, degree, used, tour, filled)
    return tour


def greedy_tour(metric, neighbours: np.ndarray) -> np.ndarray:
    """A greedy-edge tour (city at each position) from the metric arrays and the candidate lists."""
    n, k = neighbours.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = neighbours.ravel().astype(np.int64)
    first = np.minimum(rows, cols)
    second = np.maximum(rows, cols)
    lengths = np.empty(len(first))
    pair_distances(metric, first, second, lengths)
    order = np.lexsort((second, first, lengths))
    adj = np.full((n, 2), -1, dtype=np.int64)
    degree = np.zeros(n, dtype=np.int64)
    _greedy_fragments(n, first[order], second[order], adj, degree)
    return _join(metric, adj, degree)
