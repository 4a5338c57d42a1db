"""Constructive starting tours for large instances: greedy edge matching on the candidate lists.

Greedy edge (Bentley 1992) adds candidate edges shortest first whenever both cities still have fewer than two
tour edges and the edge closes no cycle; it ends 14–20% above the optimum on uniform instances (a random tour is
hundreds of times longer), in O(n·k log(n·k)). The fragments left over are joined end to nearest free end.
"""

from __future__ import annotations

import numba
import numpy as np

from hopsolve.backends._timing import fastest_seconds
from hopsolve.metric import Metric, candidates_queried, distance, pair_distances


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


JOIN_CANDIDATES = 16
"""The join looks for the nearest free end among this many nearest free ends by coordinates (a k-d tree) before
scanning them all: pla85900's 2,845 ends took 0.1 s to join by scans alone, a fifth of its greedy start."""


@numba.njit(cache=True)
def _join(metric, adj, degree, ends, candidates):
    """The fragments joined into one tour, each from the end of the last to the nearest free end (by the metric,
    ties to the lower city): first among ``candidates`` (row ``i``: indices into ``ends`` near ``ends[i]``), else
    by a scan of every free end."""
    n = len(degree)
    tour = np.empty(n, dtype=np.int64)
    used = np.zeros(n, dtype=np.bool_)
    filled = np.int64(0)  # typed values, not literals, so that `_walk` compiles once
    if len(ends) == 0:  # the edges already form one cycle
        filled, _ = _walk(np.int64(0), adj, degree, used, tour, filled)
        return tour
    slot = np.full(n, -1, dtype=np.int64)  # city → its index in ends
    for i in range(len(ends)):
        slot[ends[i]] = i
    free = ends.copy()  # the free ends, compacted: free[:alive]
    where = np.arange(len(ends))  # index in ends → position in free
    alive = len(ends)
    start = ends[0]
    while True:
        filled, last = _walk(start, adj, degree, used, tour, filled)
        for city in (start, last):  # both ends of the walked fragment leave the free list (once for a singleton)
            i = slot[city]
            if where[i] < alive:
                alive -= 1
                moved = free[alive]
                free[where[i]] = moved
                where[slot[moved]] = where[i]
                free[alive] = city
                where[i] = alive
        if filled >= n:
            return tour
        best = np.int64(-1)
        best_d = np.inf
        for c in candidates[slot[last]]:
            e = ends[c]
            if not used[e]:
                d = distance(metric, last, e)
                if d < best_d or (d == best_d and e < best):
                    best_d = d
                    best = e
        if best < 0:
            for q in range(alive):
                e = free[q]
                d = distance(metric, last, e)
                if d < best_d or (d == best_d and e < best):
                    best_d = d
                    best = e
        start = best


def _end_candidates(metric, ends: np.ndarray) -> np.ndarray:
    """Each free end's :data:`JOIN_CANDIDATES` nearest other free ends by coordinates (indices into ``ends``; none
    for an explicit matrix, or where the ends are few enough to scan)."""
    if len(metric.matrix) or len(ends) <= 4 * JOIN_CANDIDATES:
        return np.zeros((len(ends), 0), dtype=np.int64)
    from scipy.spatial import cKDTree

    points = metric.coords[ends]
    _, found = cKDTree(points).query(points, k=JOIN_CANDIDATES + 1, workers=-1)
    return np.ascontiguousarray(found[:, 1:], dtype=np.int64)


def _shortest_first(n: int, first: np.ndarray, second: np.ndarray, lengths: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The edges ordered by length, then ``first``, then ``second``. Integral lengths (every TSPLIB rule but some
    explicit matrices) are packed with the two cities into one int64 key and sorted as plain numbers, which took
    pla85900's 859,000 candidate edges from 0.11 s (a three-key ``lexsort``) to about 0.02 s; the order is the
    same (the twice-listed edges stay adjacent, and the greedy pass skips the second)."""
    top = float(lengths.max(initial=0.0))
    if (lengths.min(initial=0.0) >= 0 and np.all(lengths == np.floor(lengths))
            and (top + 1.0) * float(n) * float(n) < 2.0**62):
        keys = np.sort((lengths.astype(np.int64) * n + first) * n + second)
        return (keys // n) % n, keys % n
    order = np.lexsort((second, first, lengths))
    return first[order], second[order]


def greedy_tour(metric, neighbours: np.ndarray) -> np.ndarray:
    """A greedy-edge tour (city at each position) from the metric arrays and the candidate lists."""
    n, k = neighbours.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = neighbours.ravel().astype(np.int64)
    first = np.minimum(rows, cols)
    second = np.maximum(rows, cols)
    lengths = np.empty(len(first))
    pair_distances(metric, first, second, lengths)
    first, second = _shortest_first(n, first, second, lengths)
    adj = np.full((n, 2), -1, dtype=np.int64)
    degree = np.zeros(n, dtype=np.int64)
    _greedy_fragments(n, first, second, adj, degree)
    ends = np.flatnonzero(degree < 2)
    return _join(metric, adj, degree, ends, _end_candidates(metric, ends))


HILBERT_BITS = 16  # a 65,536 × 65,536 grid: distinct cells for every shipped instance's distinct points
SETUP_SAMPLE = 4096  # points of the sample whose set-up is timed to project the whole one's


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


NEIGHBOURS_SAMPLE_K = 64
"""The most neighbours :func:`projected_setup_seconds` builds on its sample: a user's neighbours=5914 on rl5915
had the projection build 4,095 lists of 4,095 on the sample and a greedy tour from them three times (15 s)."""


def projected_setup_seconds(metric: Metric, k: int, *, greedy: bool = True) -> float:
    """Seconds the candidate lists (``metric.neighbours(k)``) and, with ``greedy``, :func:`greedy_tour` of
    ``metric`` should take, projected linearly in n from timing both on :data:`SETUP_SAMPLE` of its points (a fixed
    sample), and linearly in the candidates a point from lists of at most :data:`NEIGHBOURS_SAMPLE_K`.

    A timed tour anneal checks this against its limit before building them. The fastest of three timings on
    4,096 points: two on 2,048 had scattered pla85900's projection over 0.40–0.57 s for a set-up of 0.46 s; now
    0.38–0.44 s for 0.32–0.39 s (usa13509: 0.067–0.070 s for 0.066–0.071 s). The lists alone of rl5915 with 1,000
    and 5,914 neighbours: projected 0.89 and 3.4 s, built in 1.1 and 4.4 s (the query's log factor is left out).
    0 for explicit matrices, whose reading already cost their n²."""
    n = metric.size
    k = min(k, n - 1)
    if metric.kind == "EXPLICIT" or k <= 0 or (greedy and n <= SETUP_SAMPLE):
        return 0.0
    size = min(n, SETUP_SAMPLE)
    timed_k = min(k, size - 1, NEIGHBOURS_SAMPLE_K)
    chosen = np.sort(np.random.default_rng(0).choice(n, size, replace=False)) if size < n else np.arange(n)
    points = np.asarray(metric.points)[chosen]
    samples = iter([Metric(metric.kind, points=points) for _ in range(3)])  # fresh ones: candidate lists are cached

    def one_set_up() -> None:
        sample = next(samples)
        lists = sample.neighbours(timed_k)
        if greedy:
            greedy_tour(sample.arrays, lists)

    # the fastest of three: a context switch in one 30 ms timing would be projected 20-fold
    seconds = fastest_seconds(one_set_up, 3)
    return seconds * (n / size) * (candidates_queried(k, n) / candidates_queried(timed_k, size))
