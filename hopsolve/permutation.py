"""Energies over permutation matrices: a quadratic objective plus one-hot row and column penalties.

``x_ia = 1`` puts item i at position a. The objective ``Σ_{i≠j} A_ij B_p(i)p(j) + Σ_i C_i,p(i)`` covers
Koopmans–Beckmann QAP (flows × distances), TSP (distances × cycle adjacency) and linear assignment (A = 0).
The energy carries the one-hot layout and the :class:`~hopsolve.energy.PermutationView`, so the ``anneal``
backend can move inside the feasible set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve.energy import (
    Energy,
    GroupSquareTerm,
    KroneckerTerm,
    LazyTerm,
    OneHotLayout,
    PermutationView,
    Vartype,
    finite_matrix,
    real_array,
    real_number,
)
from hopsolve.errors import ParameterError
from hopsolve.metric import Metric


class GridLabels(Sequence):
    """The labels ``(item, position)`` of the ``n²`` units of a permutation energy, in unit order, made on demand.

    A tuple of them costs about 0.4 s and 60 MB at n = 800 (assign800), inside a user's time limit; this sequence
    answers ``len``, indexing and iteration the same way without storing them."""

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def __len__(self) -> int:
        return self.n * self.n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        k = int(index)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"unit {index} of {len(self)}")
        return divmod(k, self.n)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GridLabels):
            return self.n == other.n
        return isinstance(other, Sequence) and len(other) == len(self) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(("GridLabels", self.n))

    def __repr__(self) -> str:
        return f"GridLabels({self.n})"


def one_hot_terms(n: int) -> tuple[GroupSquareTerm, GroupSquareTerm]:
    """``row``: each item at exactly one position; ``column``: each position holds exactly one item (bits)."""
    items = np.repeat(np.arange(n), n)
    positions = np.tile(np.arange(n), n)
    return (GroupSquareTerm.build("row", items, np.ones(n)), GroupSquareTerm.build("column", positions, np.ones(n)))


def default_penalty(objective: KroneckerTerm) -> float:
    """The largest change one unit can make to the objective (so breaking a one-hot row never pays), at least 1."""
    return float(max(objective.field_bounds().max(initial=0.0), 1.0))


def permutation_energy(flow: Any, adjacency: Any, linear: Any = None, *, weights: dict[str, float] | None = None,
                       offset: float = 0.0) -> Energy:
    """The energy ``objective + row + column`` on ``n²`` bits, with layout and permutation view.

    A diagonal of ``flow`` is folded into the linear part (``A_ii B_aa`` is paid by item i at position a). The
    default penalty weight is :func:`default_penalty`; ``weights`` overrides any term's weight.
    """
    # each part checked (numbers, finite) before anything is derived from it: a NaN flow was reported as a bad
    # penalty weight the user never gave, and strings, complex numbers and ragged lists reached numpy's errors
    a = real_array(flow, "the flow matrix", ndim=2).copy()
    n = a.shape[0]
    if n == 0:  # an energy without units, which anneal's permutation moves failed on deep inside
        raise ParameterError("the flow matrix must hold at least one item, got shape (0, 0)")
    b = finite_matrix(adjacency, "the adjacency")
    c = np.zeros((n, n)) if linear is None else real_array(linear, "the linear part").copy()
    if a.shape != (n, n) or b.shape != (n, n) or c.size != n * n:
        raise ParameterError(f"flow, adjacency and linear must all be {n}×{n}")
    c = c.reshape(n, n)
    offset = real_number(offset, "offset")
    c += np.outer(np.diagonal(a), b.diagonal())
    np.fill_diagonal(a, 0.0)
    objective = KroneckerTerm.build("objective", a, b, c, offset=offset)
    row, column = one_hot_terms(n)
    penalty = default_penalty(objective)
    layout = OneHotLayout(np.arange(n * n).reshape(n, n))
    view = PermutationView(layout, a, b, c if c.any() else None, "objective", offset)
    energy = Energy(Vartype.BINARY, (objective, row, column), {"row": penalty, "column": penalty},
                    labels=GridLabels(n), layout=layout, permutation=view)
    return energy.reweighted(**weights) if weights else energy


def tour_energy(metric: Any) -> Energy:
    """The tour objective over a :class:`~hopsolve.metric.Metric` (length / largest distance) with one-hot row
    and column penalties: a permutation energy whose view reads distances on the fly, so nothing of size n² is
    built unless a bit state is evaluated (the terms are :class:`~hopsolve.energy.LazyTerm` s)."""
    if not isinstance(metric, Metric):  # a distance matrix failed on a missing attribute
        raise ParameterError(f"tour_energy takes a hopsolve.Metric (Metric.from_matrix(distances) for a matrix), "
                             f"got a {type(metric).__name__}")
    n = metric.size
    scale = metric.max_distance or 1.0
    cycle = sp.diags([np.ones(n - 1), np.ones(n - 1)], [1, -1], shape=(n, n), format="lil")
    cycle[0, n - 1] = cycle[n - 1, 0] = 1.0
    path = sp.csr_matrix(cycle) * 0.5

    def objective() -> KroneckerTerm:
        flow = metric.matrix_form() / scale
        np.fill_diagonal(flow, 0.0)
        return KroneckerTerm.build("objective", flow, path)

    terms = (LazyTerm("objective", n * n, objective, n * n, 4 * n * n * (n - 1), grouped=False),
             *(LazyTerm(name, n * n, lambda k=k: one_hot_terms(n)[k], n * n, n * n * (n - 1), grouped=True)
               for k, name in enumerate(("row", "column"))))
    layout = OneHotLayout.square(n)
    view = PermutationView(layout, None, path, None, "objective", metric=metric, metric_scale=scale)
    return Energy(Vartype.BINARY, terms, {"row": 3.0, "column": 3.0}, layout=layout, permutation=view)
