"""Distances between points computed on the fly by the TSPLIB rules, so a tour over 85,900 cities never needs
its 59 GB distance matrix.

A :class:`Metric` is a point set and a rule (``EUC_2D``, ``EUC_3D``, ``MAN_2D``, ``MAN_3D``, ``MAX_2D``,
``MAX_3D``, ``CEIL_2D``, ``GEO``, ``ATT``) or, for ``EXPLICIT`` instances, a stored matrix. Compiled kernels read
it as one structure of arrays (:class:`MetricArrays`) and call :func:`distance`; Python code calls the vectorised
:meth:`Metric.pairs`. The rules are TSPLIB 95's (``nint(x) = floor(x + 0.5)``; GEO truncates degrees, uses
``PI = 3.141592`` and ``RRR = 6378.388``; ATT rounds pseudo-Euclidean distances up); ``tests/test_metric.py``
checks every rule against the matrix form on every shipped instance.

Memory is O(n·k): coordinates plus the k-nearest candidate lists (:meth:`Metric.neighbours`, scipy's
``cKDTree``; GEO through a 3-D embedding of the sphere, on which chord length orders pairs as the great-circle
distance does, with the TSPLIB distance re-checked exactly).
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numba
import numpy as np

from hopsolve.energy import check_allocation, check_matrix_size
from hopsolve.errors import ParameterError
from hopsolve.permutation_rows import SERIAL_BELOW, invert_into
from hopsolve.permutation_rows import warm_up as warm_up_rows

KINDS = ("EUC_2D", "EUC_3D", "MAN_2D", "MAN_3D", "MAX_2D", "MAX_3D", "CEIL_2D", "GEO", "ATT", "EXPLICIT")
EUC, MAN, MAX, CEIL, GEO, ATT, EXPLICIT = 0, 2, 4, 6, 7, 8, 9
_KIND_CODE = {name: code for code, name in enumerate(KINDS)}
_WIDTH = {"EUC_2D": 2, "EUC_3D": 3, "MAN_2D": 2, "MAN_3D": 3, "MAX_2D": 2, "MAX_3D": 3, "CEIL_2D": 2, "GEO": 2,
          "ATT": 2}
GEO_PI = 3.141592
GEO_RADIUS = 6378.388

MetricArrays = namedtuple("MetricArrays", ["kind", "coords", "matrix"])
"""What a kernel reads: ``kind`` (an index into :data:`KINDS`), ``coords`` (n × 3; GEO holds latitude and
longitude in radians) and ``matrix`` (n × n for EXPLICIT, else 0 × 0), all float64."""


@numba.njit(cache=True, inline="always")
def _nint(x):
    return np.floor(x + 0.5)


@numba.njit(cache=True)
def distance(m, i, j):
    """The TSPLIB distance between points i and j of the metric arrays ``m`` (a float holding an integer,
    except for EXPLICIT matrices of fractional weights); 0 when i = j."""
    if i == j:
        return 0.0
    kind = m.kind
    if kind == 9:
        return m.matrix[i, j]
    c = m.coords
    dx = c[i, 0] - c[j, 0]
    dy = c[i, 1] - c[j, 1]
    if kind == 0:
        return _nint(np.sqrt(dx * dx + dy * dy))
    if kind == 7:
        q1 = np.cos(c[i, 1] - c[j, 1])
        q2 = np.cos(c[i, 0] - c[j, 0])
        q3 = np.cos(c[i, 0] + c[j, 0])
        inner = min(1.0, max(-1.0, 0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)))
        return np.floor(GEO_RADIUS * np.arccos(inner) + 1.0)
    if kind == 8:
        r = np.sqrt((dx * dx + dy * dy) / 10.0)
        t = _nint(r)
        return t + 1.0 if t < r else t
    if kind == 6:
        return np.ceil(np.sqrt(dx * dx + dy * dy))
    dz = c[i, 2] - c[j, 2]
    if kind == 1:
        return _nint(np.sqrt(dx * dx + dy * dy + dz * dz))
    if kind == 2:
        return _nint(abs(dx) + abs(dy))
    if kind == 3:
        return _nint(abs(dx) + abs(dy) + abs(dz))
    if kind == 4:
        return max(_nint(abs(dx)), _nint(abs(dy)))
    return max(_nint(abs(dx)), _nint(abs(dy)), _nint(abs(dz)))  # MAX_3D


@numba.njit(cache=True)
def pair_distances(m, first, second, out):
    for k in range(len(first)):
        out[k] = distance(m, first[k], second[k])


@numba.njit(cache=True)
def _nearest_candidates(m, found, k):
    """Each row's ``k`` nearest of its candidates ``found[i]`` by the exact TSPLIB distance, ties by index, the
    point itself left out (a KD-tree ranks by the unrounded distance: rounding makes near-ties)."""
    n, extra = found.shape
    out = np.empty((n, k), dtype=np.int64)
    dist = np.empty(extra)
    cand = np.empty(extra, dtype=np.int64)
    for i in range(n):
        count = 0
        for t in range(extra):
            j = found[i, t]
            if j == i:
                continue
            d = distance(m, i, j)
            pos = count  # insertion into the sorted (distance, index) pairs so far
            while pos > 0 and (dist[pos - 1] > d or (dist[pos - 1] == d and cand[pos - 1] > j)):
                dist[pos] = dist[pos - 1]
                cand[pos] = cand[pos - 1]
                pos -= 1
            dist[pos] = d
            cand[pos] = j
            count += 1
        for t in range(k):
            out[i, t] = cand[t]
    return out


@numba.njit(cache=True)
def tour_length(m, tour):
    """The closed tour's length, summed exactly (every TSPLIB distance is an integer below 2⁵³)."""
    n = len(tour)
    total = 0.0
    for a in range(n):
        total += distance(m, tour[a], tour[(a + 1) % n])
    return total


@numba.njit(cache=True)
def _row_length(m, positions, r, tour):
    """The length of the tour whose city c sits at ``positions[r, c]`` (``tour`` is scratch of n cities), or NaN
    where the row is not a permutation of 0..n-1 (every distance is finite). The helpers below run on one thread
    under :data:`~hopsolve.permutation_rows.SERIAL_BELOW` entries (rows × cities, or point pairs): waking numba's
    threads for a tiny call cost 18–25 ms on a busy 2-core machine (kroA100's largest distance, two reads'
    lengths), a limit of 0.05 s overrun by that alone."""
    if not invert_into(positions[r], tour):
        return np.nan
    return tour_length(m, tour)


@numba.njit(cache=True, parallel=True)
def _lengths_parallel(m, positions, out):
    reads, n = positions.shape
    for r in numba.prange(reads):
        out[r] = _row_length(m, positions, r, np.empty(n, dtype=np.int64))


@numba.njit(cache=True)
def _lengths_serial(m, positions, out):
    reads, n = positions.shape
    tour = np.empty(n, dtype=np.int64)
    for r in range(reads):
        out[r] = _row_length(m, positions, r, tour)


@numba.njit(cache=True)
def _pair_max_row(m, points, a):
    best = 0.0
    for b in range(a + 1, len(points)):
        best = max(best, distance(m, points[a], points[b]))
    return best


@numba.njit(cache=True, parallel=True)
def _max_over_parallel(m, points):
    """The largest distance between two of ``points`` (O(len(points)²), parallel over rows)."""
    h = len(points)
    row_max = np.zeros(h)
    for a in numba.prange(h):
        row_max[a] = _pair_max_row(m, points, a)
    return row_max.max() if h else 0.0


@numba.njit(cache=True)
def _max_over_serial(m, points):
    best = 0.0
    for a in range(len(points)):
        best = max(best, _pair_max_row(m, points, a))
    return best


def _max_over(m: MetricArrays, points: np.ndarray) -> float:
    """The largest distance between two of ``points``, on one thread below :data:`SERIAL_BELOW` pairs."""
    h = len(points)
    return float((_max_over_serial if h * h < 2 * SERIAL_BELOW else _max_over_parallel)(m, points))


@numba.njit(cache=True, parallel=True)
def _fill_rows(m, first, out):
    """Rows ``first``, ``first + 1``, ... of the distance matrix into ``out`` (int64: coordinate distances are
    integers held in floats, so the cast is exact)."""
    rows, n = out.shape
    for r in numba.prange(rows):
        i = np.int64(first + r)
        for j in range(n):
            out[r, j] = distance(m, i, np.int64(j))  # int64 as elsewhere: one compiled version


def _geo_radians(values: np.ndarray) -> np.ndarray:
    degrees = np.trunc(values)
    return GEO_PI * (degrees + 5.0 * (values - degrees) / 3.0) / 180.0


def _sphere(radians: np.ndarray) -> np.ndarray:
    lat, lon = radians[:, 0], radians[:, 1]
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)


@dataclass(frozen=True, eq=False)
class Metric:
    """A point set under a TSPLIB distance rule, or an explicit symmetric matrix (``kind = "EXPLICIT"``).

    ``points`` are the file's coordinates as given (degrees.minutes for GEO); ``matrix`` the explicit weights.
    Nothing of size n² is stored for a coordinate rule: :meth:`matrix_form` builds the matrix only on request,
    after checking it against ``HOPSOLVE_MAX_MATRIX_BYTES``.
    """

    kind: str
    points: np.ndarray | None = None
    matrix: np.ndarray | None = None
    integral: bool = True
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in _KIND_CODE:
            raise ParameterError(f"unknown distance rule {self.kind!r}: choose one of {', '.join(KINDS)}")
        if self.kind == "EXPLICIT":
            if self.matrix is None or self.matrix.ndim != 2 or self.matrix.shape[0] != self.matrix.shape[1]:
                raise ParameterError("an EXPLICIT metric needs a square matrix")
        elif self.points is None or self.points.ndim != 2 or self.points.shape[1] != _WIDTH[self.kind]:
            raise ParameterError(f"{self.kind} needs {_WIDTH[self.kind]} coordinates per point")

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> Metric:
        d = np.asarray(matrix)
        return cls("EXPLICIT", matrix=d, integral=bool(np.issubdtype(d.dtype, np.integer)))

    @property
    def size(self) -> int:
        return len(self.matrix) if self.kind == "EXPLICIT" else len(self.points)

    @cached_property
    def arrays(self) -> MetricArrays:
        """The kernels' view (float64 arrays; GEO coordinates converted to radians once)."""
        code = _KIND_CODE[self.kind]
        if self.kind == "EXPLICIT":
            return MetricArrays(code, np.zeros((0, 3)), np.ascontiguousarray(self.matrix, dtype=np.float64))
        coords = np.zeros((self.size, 3))
        given = np.asarray(self.points, dtype=np.float64)
        coords[:, : given.shape[1]] = _geo_radians(given) if self.kind == "GEO" else given
        return MetricArrays(code, coords, np.zeros((0, 0)))

    def _cities(self, indices: Any, name: str) -> np.ndarray:
        """``indices`` as contiguous int64 (flattened), each a city of this metric (0-based): the kernels read
        without bounds checks, and a city past the end read other memory (a length of 1e225, or a crash)."""
        given = np.asarray(indices)
        whole = given.dtype.kind in "iu" or (given.dtype.kind == "f" and bool(np.all(np.isfinite(given)))
                                             and np.array_equal(given, np.round(given)))
        if given.size and not whole:
            raise ParameterError(f"{name} must hold city indices (whole numbers), got {given.dtype}")
        cities = np.ascontiguousarray(given, dtype=np.int64).ravel()
        if cities.size and (cities.min() < 0 or cities.max() >= self.size):
            bad = cities[(cities < 0) | (cities >= self.size)][0]
            raise ParameterError(f"{name}: city {bad} is not one of this metric's {self.size} (0 to "
                                 f"{self.size - 1})")
        return cities

    def pairs(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Distances between ``first[k]`` and ``second[k]`` for every k (int64 for integral rules)."""
        a, b = self._cities(first, "first"), self._cities(second, "second")
        if np.shape(first) != np.shape(second):
            raise ParameterError(f"first and second must have one shape, got {np.shape(first)} and "
                                 f"{np.shape(second)}")
        out = np.empty(len(a))
        pair_distances(self.arrays, a, b, out)
        out = out.reshape(np.shape(first))
        return out.astype(np.int64) if self.integral else out

    def tour_length(self, tour: np.ndarray) -> int | float:
        """Length of the closed tour (an int for integral rules)."""
        if np.ndim(tour) != 1:  # several tours flattened into one gave one length for them all
            raise ParameterError(f"tour must be one sequence of cities, got shape {np.shape(tour)}")
        total = tour_length(self.arrays, self._cities(tour, "tour"))
        return int(total) if self.integral else float(total)

    def lengths_of_positions(self, positions: np.ndarray) -> np.ndarray:
        """The closed tours' lengths, one a row of ``positions`` (row r puts city c at position
        ``positions[r, c]``), in parallel without sorting (85,900 cities: 5.6 ms a row by ``argsort`` and
        :meth:`tour_length`); a row that is not a permutation of this metric's cities is refused."""
        rows = np.ascontiguousarray(np.atleast_2d(positions), dtype=np.int64)
        if rows.ndim != 2 or rows.shape[1] != self.size:
            raise ParameterError(f"positions must be rows of {self.size} positions, got shape {np.shape(positions)}")
        out = np.empty(len(rows))
        (_lengths_serial if rows.size < SERIAL_BELOW else _lengths_parallel)(self.arrays, rows, out)
        bad = np.flatnonzero(np.isnan(out))
        if len(bad):
            raise ParameterError(f"positions: row {bad[0]} is not a permutation of 0..{self.size - 1}")
        return out.astype(np.int64) if self.integral else out

    def matrix_form(self) -> np.ndarray:
        """The full n × n distance matrix (int64 for integral rules), refused over the memory limit."""
        if self.kind == "EXPLICIT":
            return self.matrix
        n = self.size
        check_matrix_size(n * n, f"the {n:,}×{n:,} distance matrix", bytes_per_entry=8, entries="distances",
                          instead="use a backend that works from the coordinates (anneal)")
        return self.rows(0, n)

    def rows(self, first: int, last: int) -> np.ndarray:
        """Rows ``first`` to ``last - 1`` of the distance matrix (int64 for coordinate rules; a view of an explicit
        matrix), computed in parallel without building the others: what a consumer that needs the whole matrix in
        its own form (OR-Tools' lists) converts a block at a time. Not checked against the memory limit."""
        if self.kind == "EXPLICIT":
            return self.matrix[first:last]
        out = np.empty((max(0, last - first), self.size), dtype=np.int64)
        _fill_rows(self.arrays, np.int64(first), out)
        return out

    @cached_property
    def max_distance(self) -> float:
        """The largest distance between two points, exactly. For the norm-based planar and 3-D rules the farthest
        pair lies on the convex hull (a norm is convex and every rounding here is monotone), so only hull vertices
        are compared; GEO and degenerate point sets compare all pairs."""
        if self.kind == "EXPLICIT":
            return float(np.max(self.matrix)) if self.matrix.size else 0.0
        points = np.arange(self.size, dtype=np.int64)
        if self.kind != "GEO" and self.size > 3 * self.points.shape[1]:
            from scipy.spatial import ConvexHull, QhullError

            with contextlib.suppress(QhullError, ValueError):  # collinear or coincident: compare every pair
                points = np.asarray(ConvexHull(self.points).vertices, dtype=np.int64)
        return float(_max_over(self.arrays, points))

    @staticmethod
    def warm_up() -> float:
        """Compile (or load) every metric kernel on four points; returns the seconds spent."""
        import time

        started = time.perf_counter()
        for kind in ("EUC_2D", "GEO"):
            metric = Metric(kind, points=np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [1.0, 9.0]]))
            metric.tour_length(np.arange(4))
            metric.pairs(np.arange(4), np.arange(4))
            _ = metric.max_distance
            metric.matrix_form()
            metric.neighbours(2)  # the KD-tree's candidates, ranked by a kernel (the routing baseline's start)
            # both the one-thread and the parallel helpers, whichever size a run's calls will have
            points, rows, lengths = np.arange(4), np.array([[0, 1, 2, 3]]), np.empty(1)
            _max_over_serial(metric.arrays, points), _max_over_parallel(metric.arrays, points)
            _lengths_serial(metric.arrays, rows, lengths), _lengths_parallel(metric.arrays, rows, lengths)
        warm_up_rows()
        return time.perf_counter() - started

    def neighbours(self, k: int) -> np.ndarray:
        """Each point's ``k`` nearest other points (n × k, nearest first; ties broken by index). For a coordinate
        rule the ties are ranked among the candidates a KD-tree returns (:func:`candidates_queried`, ranked by the
        unrounded distance): where more points than that margin round to the list's last distance, one left out
        may have a lower index than one kept. The distances are always the k smallest."""
        key = ("neighbours", k)
        if key in self._cache:
            return self._cache[key]
        n = self.size
        k = min(k, n - 1)
        if k <= 0:
            return np.zeros((n, 0), dtype=np.int64)
        # the query's distances and indices and the lists: neighbours=85899 on pla85900 asked numpy for 118 GB
        check_allocation(24.0 * n * candidates_queried(k, n),
                         f"candidate lists of {k:,} neighbours for {n:,} points (neighbours)")
        if self.kind == "EXPLICIT":
            found = _matrix_neighbours(np.asarray(self.matrix, dtype=np.float64), k)
        else:
            found = self._tree_neighbours(k)
        self._cache[key] = found
        return found

    def _tree_neighbours(self, k: int) -> np.ndarray:
        from scipy.spatial import cKDTree

        if self.kind == "GEO":
            space, norm = _sphere(self.arrays.coords[:, :2]), 2
        else:
            space = np.asarray(self.points, dtype=np.float64)
            norm = 1 if self.kind.startswith("MAN") else np.inf if self.kind.startswith("MAX") else 2
        # rounding makes near-ties: ask for a margin, then rank by the exact TSPLIB distance and the index
        extra = candidates_queried(k, self.size)
        _, found = cKDTree(space).query(space, k=extra, p=norm, workers=-1)
        return _nearest_candidates(self.arrays, np.ascontiguousarray(found, dtype=np.int64), k)


def candidates_queried(k: int, n: int) -> int:
    """How many nearest points :meth:`Metric.neighbours` asks its KD-tree for, per point, to return ``k``: a
    margin for the near-ties rounding makes, ranked afterwards by the exact distance and the index."""
    return min(n, k + 1 + max(8, k // 2))


def _matrix_neighbours(matrix: np.ndarray, k: int) -> np.ndarray:
    n = len(matrix)
    out = np.empty((n, k), dtype=np.int64)
    for i in range(n):
        row = matrix[i].copy()
        row[i] = np.inf
        idx = np.arange(n)
        order = np.lexsort((idx, row))[:k]
        out[i] = order
    return out
