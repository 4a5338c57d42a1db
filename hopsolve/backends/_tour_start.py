"""Constructive starting tours for large instances: greedy edge matching on the candidate lists.

Greedy edge (Bentley 1992) adds candidate edges shortest first whenever both cities still have fewer than two
tour edges and the edge closes no cycle; it ends 14–20% above the optimum on uniform instances (a random tour is
hundreds of times longer), in O(n·k log(n·k)). The fragments left over are joined end to nearest free end.
"""

from __future__ import annotations

import numba
import numpy as np

from hopsolve.backends._timing import fastest_seconds
from hopsolve.metric import Metric, distance, pair_distances


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
    filled = np.int64(0)  # typed values, not literals, so that `_walk` compiles once
    if len(ends) == 0:  # the edges already form one cycle
        filled, _ = _walk(np.int64(0), adj, degree, used, tour, filled)
        return tour
    filled, last = _walk(ends[0], adj, degree, used, tour, filled)
    while filled < n:
        best = np.int64(-1)
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


HILBERT_BITS = 16  # a 65,536 × 65,536 grid: distinct cells for every shipped instance's distinct points
SETUP_SAMPLE = 2048  # points of the sample whose set-up is timed to project the whole one's


def space_filling_tour(points: np.ndarray) -> np.ndarray:
    """Cities in the order a Hilbert curve over their bounding box visits them (the first two coordinates).

    The fallback start where the greedy one would not fit the time limit: O(n log n) (one sort), no candidate
    lists, and on uniform points about 25% above the optimum (Platzman & Bartholdi 1989) against greedy's 14–20%.
    Ties (points in one cell) keep their index order, so the tour is the same on every machine."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    low = xy.min(axis=0)
    span = max(float((xy.max(axis=0) - low).max()), 1e-300)
    side = 1 << HILBERT_BITS
    cells = np.minimum(((xy - low) / span * side).astype(np.int64), side - 1)
    x, y = cells[:, 0].copy(), cells[:, 1].copy()
    index = np.zeros(len(xy), dtype=np.int64)
    s = side >> 1
    while s > 0:  # the quadrant at this scale, then the cell turned into that quadrant's own frame
        rx = (x & s) > 0
        ry = (y & s) > 0
        index += s * s * ((3 * rx) ^ ry)
        flip = ~ry & rx
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        swap = ~ry
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s >>= 1
    return np.argsort(index, kind="stable")


def projected_setup_seconds(metric: Metric, k: int) -> float:
    """Seconds the candidate lists (``metric.neighbours(k)``) and :func:`greedy_tour` of ``metric`` should take,
    projected linearly in n from timing both on :data:`SETUP_SAMPLE` of its points (a fixed sample).

    A timed tour anneal checks this against its limit before building them (pla85900: 0.5 s at idle, 0.95 s on a
    busy machine, against a 1 s limit). On the shipped instances of 2,000–86,000 cities the real cost was 0.9–1.3
    times this (n log n, the sorts' growth, overestimated pla85900's by 1.6×, enough to lose its greedy start at
    a 1 s limit). 0 for explicit matrices, whose reading already cost their n²."""
    n = metric.size
    if metric.kind == "EXPLICIT" or n <= SETUP_SAMPLE:
        return 0.0
    chosen = np.sort(np.random.default_rng(0).choice(n, SETUP_SAMPLE, replace=False))
    points = np.asarray(metric.points)[chosen]
    samples = iter([Metric(metric.kind, points=points) for _ in range(2)])  # fresh ones: candidate lists are cached

    def one_greedy_tour() -> None:
        sample = next(samples)
        greedy_tour(sample.arrays, sample.neighbours(k))

    # the faster of two: a context switch in one 15 ms timing would be projected 40-fold
    return fastest_seconds(one_greedy_tour, 2) * n / SETUP_SAMPLE
