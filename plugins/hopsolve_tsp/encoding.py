"""TSP as a Hopfield energy on neurons ``V_Xi`` (city X at tour position i).

Two forms, both with every term named and the distances normalised by their largest value:

``hopfield-tank`` (Hopfield & Tank 1985)::

    E = A·row + B·column + C·total + D·objective
    row       = ½ Σ_X Σ_{i≠j} V_Xi V_Xj          (no city twice)
    column    = ½ Σ_i Σ_{X≠Y} V_Xi V_Yi          (no position twice)
    total     = ½ (Σ_Xi V_Xi - ñ)²                (ñ neurons on; ñ = n unless given; for graded
                                                 outputs the literal square, HT's -C self-coupling included)
    objective = ½ Σ_{X≠Y} Σ_i d_XY V_Xi (V_Y,i+1 + V_Y,i-1)   (the tour length for a valid tour)

``lucas`` (the one-hot QUBO of Lucas 2014)::

    E = λ·row + λ·column + objective,   row = Σ_X (Σ_i V_Xi - 1)²,   column = Σ_i (Σ_X V_Xi - 1)²

Default weights (documented rule, so that the optimal tour is the minimum-energy state): with distances scaled to
``max d = 1``, ``D = 1``, ``A = B = λ = 3`` and, in the HT form, ``C = 2λ = 6``. Dropping a city from a tour saves
at most two edges (≤ 2); Lucas' row and column penalties then cost 2λ = 6, and HT's ``total`` term (the only HT
term that sees an empty row) costs C/2 = 3. Any extra neuron raises the penalties and the length. The permutation view
(``A = d``, ``B`` = cycle adjacency with weight ½) lets the annealer move between tours directly (2-opt, swaps).
With ``fix_first=True`` city 1 sits at position 1 and the network has ``(n-1)²`` neurons; over a metric the view is
a pinned tour (:class:`~hopsolve.energy.PermutationView`), so the tour moves still apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from hopsolve import (
    Energy,
    GroupSquareTerm,
    KroneckerTerm,
    LazyTerm,
    Metric,
    OneHotLayout,
    ParameterError,
    PermutationView,
    Term,
    Vartype,
)

Form = Literal["hopfield-tank", "lucas"]
DEFAULT_PENALTY = 3.0


@dataclass(frozen=True)
class TspEncoding:
    """How the network is laid out: which cities and positions the neurons stand for."""

    n: int
    fix_first: bool

    @property
    def free(self) -> int:
        """Cities (and positions) that have neurons."""
        return self.n - 1 if self.fix_first else self.n

    def tour_from_positions(self, positions: np.ndarray) -> np.ndarray:
        """0-based tour from item → position of the free cities."""
        if not self.fix_first:
            return np.argsort(positions)
        order = np.argsort(positions) + 1
        return np.concatenate([[0], order])

    def positions_from_tour(self, tour: np.ndarray) -> np.ndarray:
        """Item → position of the free cities for a tour (rotated so that city 1 comes first when fixed)."""
        t = np.asarray(tour)
        if self.fix_first:
            t = np.roll(t, -int(np.flatnonzero(t == 0)[0]))[1:] - 1
        positions = np.empty(self.free, dtype=np.int64)
        positions[t] = np.arange(self.free)
        return positions


def cycle_adjacency(n: int, weight: float = 0.5) -> sp.csr_matrix:
    """B_ab = weight when positions a and b are neighbours on the cycle of n positions."""
    if n < 2:
        return sp.csr_matrix((n, n))
    a = np.arange(n)
    rows = np.concatenate([a, a])
    cols = np.concatenate([(a + 1) % n, (a - 1) % n])
    b = sp.coo_matrix((np.full(2 * n, weight), (rows, cols)), shape=(n, n)).tocsr()
    b.data[:] = weight  # n = 2: both neighbours are the same position
    return b


def default_weights(form: Form) -> dict[str, float]:
    """The documented default weights (distances normalised to max 1)."""
    if form == "lucas":
        return {"objective": 1.0, "row": DEFAULT_PENALTY, "column": DEFAULT_PENALTY}
    return {"objective": 1.0, "row": DEFAULT_PENALTY, "column": DEFAULT_PENALTY, "total": 2 * DEFAULT_PENALTY}


class GridLabels(Sequence):
    """The label ``(city, position)`` of each unit, 1-based, computed on demand (a tour over 85,900 cities has
    7.4·10⁹ units)."""

    def __init__(self, m: int, shift: int) -> None:
        self.m = m
        self.shift = shift

    def __len__(self) -> int:
        return self.m * self.m

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if not -len(self) <= k < len(self):
            raise IndexError(k)
        x, i = divmod(k % len(self), self.m)
        return (x + 1 + self.shift, i + 1 + self.shift)


def _penalties(form: Form, m: int, active: float | None) -> tuple[Term, ...]:
    """The one-hot penalties on the ``m × m`` grid (see the module docstring)."""
    items = np.repeat(np.arange(m), m)
    positions = np.tile(np.arange(m), m)
    if form == "lucas":
        return (GroupSquareTerm.build("row", items, np.ones(m)), GroupSquareTerm.build("column", positions, np.ones(m)))
    target = float(m if active is None else active)
    # ½ Σ_{i≠j} V_i V_j = ½(S - ½)² - ⅛ on bits: a group square with target ½
    return (GroupSquareTerm.build("row", items, np.full(m, 0.5), 0.5, -m / 8.0),
            GroupSquareTerm.build("column", positions, np.full(m, 0.5), 0.5, -m / 8.0),
            GroupSquareTerm.build("total", np.zeros(m * m, dtype=int), [target], 0.5, extension="square"))


def _lazy_penalties(form: Form, m: int, active: float | None) -> tuple[Term, ...]:
    """The same penalties, built only if a bit state is ever evaluated."""
    names = ("row", "column") if form == "lucas" else ("row", "column", "total")
    couplings = {"row": m * m * (m - 1), "column": m * m * (m - 1), "total": m * m * (m * m - 1)}
    return tuple(LazyTerm(name, m * m, lambda k=k: _penalties(form, m, active)[k], m * m, couplings[name],
                          grouped=True) for k, name in enumerate(names))


def encode_tsp(distances: np.ndarray | Metric, *, form: Form = "hopfield-tank", fix_first: bool = False,
               weights: Mapping[str, float] | None = None, active: float | None = None,
               normalise: bool = True) -> tuple[Energy, TspEncoding]:
    """The TSP energy and its layout. ``active`` is HT's ñ (defaults to the number of free cities).

    ``distances`` is a matrix or a :class:`~hopsolve.metric.Metric`. With a metric (and, with ``fix_first``, at
    least 3 cities) nothing of size n² is built: the permutation view reads distances on the fly (with
    ``fix_first`` a pinned tour, see :class:`~hopsolve.energy.PermutationView`), and the terms (objective and
    penalties, the same as the matrix form's) are :class:`~hopsolve.energy.LazyTerm` s, built only if a bit state
    is evaluated. ``fix_first`` needs 2 cities: with one, no city is left to place (it crashed in an internal
    error).
    """
    metric = distances if isinstance(distances, Metric) else None
    n = metric.size if metric is not None else np.asarray(distances).shape[0]
    if n < 1:
        raise ParameterError("a tour needs at least 1 city")
    if form not in ("hopfield-tank", "lucas"):
        raise ParameterError(f"unknown TSP form {form!r}: choose hopfield-tank or lucas")
    if fix_first and n < 2:
        raise ParameterError("fix_first pins city 1 and places the others; this tour has no other city: leave "
                             "fix_first out")
    if metric is not None and (not fix_first or n >= 3):
        return _encode_metric(metric, form, weights, active, normalise, fix_first)
    d = np.asarray(metric.matrix_form() if metric is not None else distances, dtype=np.float64)
    scale = float(d.max()) if normalise and d.max() > 0 else 1.0
    dn = d / scale
    encoding = TspEncoding(n, fix_first)
    m = encoding.free
    if fix_first:
        flow = dn[1:, 1:].copy()
        path = cycle_adjacency(n)[1:, 1:]
        linear = np.zeros((m, m))
        linear[:, 0] += dn[0, 1:]  # position 2 neighbours city 1 at position 1
        linear[:, m - 1] += dn[0, 1:]  # so does position n
        view_linear = linear
    else:
        flow, path, linear, view_linear = dn.copy(), cycle_adjacency(n), None, None
    np.fill_diagonal(flow, 0.0)
    objective = KroneckerTerm.build("objective", flow, path, linear)
    layout = OneHotLayout(np.arange(m * m).reshape(m, m))
    view = PermutationView(layout, flow, path, view_linear, "objective")
    labels = tuple((x + 1 + fix_first, i + 1 + fix_first) for x in range(m) for i in range(m))
    energy = Energy(Vartype.BINARY, (objective, *_penalties(form, m, active)), default_weights(form), labels=labels,
                    layout=layout, permutation=view)
    if weights:
        energy = energy.reweighted(**weights)
    return energy, encoding


def _encode_metric(metric: Metric, form: Form, weights: Mapping[str, float] | None, active: float | None,
                   normalise: bool, fix_first: bool = False) -> tuple[Energy, TspEncoding]:
    """The encoding over a metric: terms built only if a bit state is evaluated, and a permutation view that reads
    distances on the fly. With ``fix_first`` (n ≥ 3) the view is a pinned tour: the network has (n-1)² units, as
    the matrix form's, and the tour moves still apply (a permutation path over the other cities, with the edges
    to city 1 as a linear part, took 620 s untimed on berlin52)."""
    n = metric.size
    largest = metric.max_distance
    scale = largest if normalise and largest > 0 else 1.0
    m = n - 1 if fix_first else n
    path = cycle_adjacency(n)[1:, 1:] if fix_first else cycle_adjacency(n)
    layout = OneHotLayout.square(m)
    view = PermutationView(layout, None, path, None, "objective", metric=metric, metric_scale=scale,
                           pinned=fix_first)

    def objective() -> KroneckerTerm:
        return KroneckerTerm.build("objective", view.flow_matrix(), path, view.linear_matrix())

    terms = (LazyTerm("objective", m * m, objective, m * m, 4 * m * m * max(m - 1, 0), grouped=False),
             *_lazy_penalties(form, m, active))
    energy = Energy(Vartype.BINARY, terms, default_weights(form), labels=GridLabels(m, int(fix_first)),
                    layout=layout, permutation=view)
    if weights:
        energy = energy.reweighted(**weights)
    return energy, TspEncoding(n, fix_first)
