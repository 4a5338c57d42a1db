"""An energy flattened into the arrays the compiled kernels read: spin form, weights applied.

Quadratic terms are summed into one CSR matrix; structured group penalties stay as groups (``group_of[f, i]``,
``group_target[f, g]``, ``group_scale[f]``), so a TSP ``total`` penalty costs O(1) per flip, not O(n²) couplings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np
import scipy.sparse as sp

from hopsolve.energy import (
    Energy,
    GroupSquareTerm,
    KroneckerTerm,
    LazyTerm,
    QuadraticTerm,
    Vartype,
    check_allocation,
    check_matrix_size,
)
from hopsolve.errors import ParameterError
from hopsolve.pattern_term import KINDS, PatternTerm

DENSE_FRACTION = 0.25  # above this fill, couplings are used as a dense array


@numba.njit(cache=True)
def _coupling_statistics(indptr: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Per row ``Σ_j |W_ij|`` and ``Σ_j W_ij²``, the smallest nonzero ``|W_ij|`` (inf if none) and whether every
    ``2 W_ij`` is an integer, in one pass over the stored couplings and without copying them (a TSP model holds
    10⁷–10⁸ of them: scipy's ``abs(W).sum(axis=1)`` copied the matrix and took 0.6 s on rat195)."""
    n = len(indptr) - 1
    row_abs = np.zeros(n)
    row_squares = np.zeros(n)
    smallest = np.inf
    integral = True
    for i in range(n):
        total = 0.0
        squares = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            w = data[k]
            size = abs(w)
            total += size
            squares += w * w
            if 0.0 < size < smallest:
                smallest = size
            if integral and 2.0 * w != np.round(2.0 * w):
                integral = False
        row_abs[i] = total
        row_squares[i] = squares
    return row_abs, row_squares, smallest, integral


@numba.njit(cache=True, parallel=True)
def _sparse_fields(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, bias: np.ndarray,
                   columns: np.ndarray) -> np.ndarray:
    """``W s + b`` for every read at once, ``columns[j, r]`` being read ``r``'s spin ``j`` (reads contiguous), as
    ``(n, reads)``. Each stored coupling is read once for all the reads, so a batch costs about one pass over ``W``
    (scipy's product read it again per read and took 28 ms a read on gr202's 16 million couplings); each sum runs
    in the order of the stored couplings, as scipy's does, whatever the number of threads."""
    n, reads = columns.shape
    out = np.zeros((n, reads))
    if reads == 1:  # one read: a plain row sum (the loop over reads would cost more than the product)
        for i in numba.prange(n):
            total = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                total += data[k] * columns[indices[k], 0]
            out[i, 0] = total + bias[i]
        return out
    for i in numba.prange(n):
        for k in range(indptr[i], indptr[i + 1]):
            w = data[k]
            j = indices[k]
            for r in range(reads):
                out[i, r] += w * columns[j, r]
        for r in range(reads):
            out[i, r] += bias[i]
    return out


def compile_model_kernels() -> None:
    """Compile (or load) this module's kernels on a two-unit model: a miniature energy is dense and would not reach
    the sparse product, which a real solve would then compile inside its time limit."""
    indptr, indices, data = np.array([0, 1, 2]), np.array([1, 0], dtype=np.int32), np.array([0.5, 0.5])
    _coupling_statistics(indptr, data)
    _sparse_fields(indptr, indices, data, np.zeros(2), np.ones((2, 1)))


ZERO_FIELD_RTOL = 1e-10
"""A field within this share of its unit's largest possible field is zero (:attr:`SpinModel.zero_field_tolerance`):
half a million times double precision's rounding (fields updated by a million flips stay inside it), far below any
change a coefficient of the unit can make unless its coefficients span ten orders of magnitude."""


@dataclass(frozen=True, eq=False)
class SpinModel:
    """``E(s) = -½ sᵀWs - bᵀs + Σ_f scale_f Σ_g (Σ_{i∈g} s_i - t_fg)² + const`` as plain arrays.

    ``indptr``, ``indices`` and ``data`` may be the energy's own matrix's arrays (one term of weight 1, sorted,
    no stored zeros: :func:`compile_spin_model` then makes no copy), so they are read, never written."""

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    bias: np.ndarray
    group_of: np.ndarray
    group_target: np.ndarray
    group_scale: np.ndarray

    @property
    def nnz(self) -> int:
        return len(self.data)

    def integer_delta_bound(self, cap: int = 1 << 14) -> int:
        """If every single-flip energy change is an integer, a bound on its size (≤ ``cap``); else 0.

        A change is ``2 s_i h_i`` with ``h_i`` a sum of couplings, biases and group terms ``-2·scale·(S - s_i - t)``
        (S a sum of spins): it is an integer whenever 2W, 2b, 4·scale and 4·scale·t are (half-integer couplings,
        as in max-cut's ``W = -w/2``, count).
        """
        if not self._integral_changes:
            return 0
        bound = int(np.ceil(self.coefficient_scales()[0])) + 1
        return bound if bound <= cap else 0

    @cached_property
    def _integral_changes(self) -> bool:
        """Whether every single-flip energy change is an integer (see :meth:`integer_delta_bound`)."""
        scale4 = 4.0 * self.group_scale
        parts = [2.0 * self.bias, scale4, (scale4[:, None] * self.group_target).ravel()]
        return bool(self._statistics[3]) and all(np.array_equal(p, np.round(p)) for p in parts)

    @property
    def coupling(self) -> sp.csr_matrix:
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n, self.n))

    @property
    def is_dense(self) -> bool:
        """Mostly full: contiguous dense rows (and BLAS products) beat index lists."""
        return self.nnz > DENSE_FRACTION * self.n * self.n

    @cached_property
    def dense_coupling(self) -> np.ndarray:
        """W as a dense array, built once per model."""
        return self.coupling.toarray()

    def initial_fields(self, spins: np.ndarray) -> np.ndarray:
        """Quadratic fields ``W s + b`` of every row of ``spins`` by one matrix product (BLAS for dense W)."""
        s = spins.astype(np.float64)
        if self.is_dense:
            return np.ascontiguousarray(s @ self.dense_coupling + self.bias)  # W is symmetric
        # C order matters: each read's row must be contiguous, or kernels stride and threads share cache lines
        return np.ascontiguousarray(_sparse_fields(self.indptr, self.indices, self.data, self.bias,
                                                   np.ascontiguousarray(s.T)).T)

    @cached_property
    def _statistics(self) -> tuple[np.ndarray, np.ndarray, float, bool]:
        """:func:`_coupling_statistics` of the couplings, computed once per model."""
        return _coupling_statistics(self.indptr, self.data)

    def typical_field(self) -> float:
        """Root mean square over units of the spread of a unit's quadratic field at a uniformly random state,
        ``sqrt(mean_i(Σ_j W_ij² + b_i²))``: the size of a typical flip's change is twice this."""
        squares = self._statistics[1] + self.bias**2
        return float(np.sqrt(squares.mean())) if len(squares) else 0.0

    def coefficient_scales(self) -> tuple[float, float]:
        """(largest possible single-flip energy change, smallest nonzero coefficient-driven change)."""
        smallest = [self._statistics[2], np.abs(self.bias[self.bias != 0]).min(initial=np.inf)]
        smallest += [2.0 * scale for scale in self.group_scale if scale > 0]
        largest = 2.0 * float(self._field_bounds.max(initial=0.0))
        return largest, 2.0 * float(min(smallest))

    @cached_property
    def _field_bounds(self) -> np.ndarray:
        """Each unit's largest possible field: its couplings' and bias's sizes summed, and its groups' terms."""
        row_abs = self._statistics[0] + np.abs(self.bias)
        for f in range(len(self.group_scale)):
            member = self.group_of[f] >= 0
            sizes = np.bincount(self.group_of[f][member], minlength=self.group_target.shape[1])
            g = self.group_of[f][member]
            row_abs[member] += 2.0 * self.group_scale[f] * (sizes[g] - 1 + np.abs(self.group_target[f][g]))
        return row_abs

    @cached_property
    def zero_field_tolerance(self) -> np.ndarray:
        """Per unit, the field below which its field counts as zero (``zero_field``'s case): :data:`ZERO_FIELD_RTOL`
        of the largest field that unit can feel, and 0 for every unit where every flip's change is an integer (its
        fields are then exact). Fields are sums in floating point: Hebbian couplings ``/N`` and the pseudo-inverse
        rule's leave 1e-17 where the exact field is 0, and a strict sign test flipped the units of a stored
        pattern ``zero_field=keep`` should keep. (One tolerance for the whole model, from its largest row, hid
        improving flips of 1 beside a coefficient of 10⁹.)"""
        if self._integral_changes:
            return np.zeros(self.n)
        return ZERO_FIELD_RTOL * self._field_bounds

    def unit_gaps(self) -> np.ndarray:
        """Each unit's smallest nonzero single-flip energy change, as far as its coefficients tell (``inf`` for a
        unit that no flip can change: no couplings, bias or group).

        A flip of unit i changes the energy by ``2|h_i|``. When i's couplings all have one magnitude ``a`` and it
        has no bias and no group (max-cut with unit or ±1 weights), ``h_i`` is ``a`` times a sum of ``deg_i``
        signs, so its smallest nonzero value is ``a`` for an odd degree and ``2a`` for an even one: the change is
        ``2a`` or ``4a``, exactly. Otherwise the estimate ``2·min(|coupling|, |bias|)`` of
        :meth:`coefficient_scales` (and dwave-samplers) is used per unit, with the group penalties' ``2·scale``
        where i has a group: not a bound (a difference of two couplings can be smaller), the scale of a change."""
        n = self.n
        degree = np.diff(self.indptr)
        absolute = np.abs(self.data)
        smallest = np.full(n, np.inf)
        largest = np.zeros(n)
        rows = np.flatnonzero(degree > 0)
        if len(rows):
            starts = self.indptr[rows]
            smallest[rows] = np.minimum.reduceat(absolute, starts)
            largest[rows] = np.maximum.reduceat(absolute, starts)
        bias = np.abs(self.bias)
        grouped = np.zeros(n, dtype=bool)
        group_gap = np.full(n, np.inf)
        for f in range(len(self.group_scale)):
            member = self.group_of[f] >= 0
            grouped |= member
            if self.group_scale[f] > 0:
                group_gap[member] = np.minimum(group_gap[member], 2.0 * self.group_scale[f])
        gaps = 2.0 * np.minimum(smallest, np.where(bias > 0, bias, np.inf))
        gaps = np.minimum(gaps, group_gap)
        uniform = (degree > 0) & (largest <= smallest * (1.0 + 1e-12)) & (bias == 0) & ~grouped
        gaps[uniform] = np.where(degree[uniform] % 2 == 1, 2.0, 4.0) * smallest[uniform]
        return gaps


BUILD_SHARE = 0.5
"""A timed run's couplings must be built within this share of its time limit (:func:`build_deadline`): the rest is
for setting up its reads and searching. A build projected to take longer is refused as soon as that is clear."""


def build_deadline(started: float, time_limit: float | None) -> float | None:
    """The ``deadline`` for :func:`compile_spin_model` of a run started at ``started`` (``perf_counter``)."""
    return None if time_limit is None else started + BUILD_SHARE * time_limit


def _canonical(matrix: sp.csr_matrix) -> bool:
    """Whether a CSR matrix's rows are sorted and it stores no zeros: then a spin model may share its arrays (an
    energy's own matrix, weight 1, is used without a copy: a dense K2000 holds 4 million couplings, 48 MB)."""
    return bool(matrix.has_sorted_indices) and not np.any(matrix.data == 0.0)


def check_spin_model_size(energy: Energy) -> None:
    """Refuse (``TooLargeError``) an energy whose spin model's per-unit arrays alone would pass the memory limit:
    backends call it from ``prepare`` too, so such an energy is refused before any kernel is compiled."""
    n = energy.num_variables
    # row pointers, biases, one-hot group maps: several arrays of n before any coupling is stored
    check_allocation(8.0 * 4 * float(n), f"a spin model of {n:,} units")
    # and each term the model would materialise, before any is converted to spins (rl5915's objective spent 2 s
    # and 1.3 GB on its conversion and the reads' random starts before its 8·10¹¹ couplings were refused)
    # a permutation energy (pr1002's TSP through hopfield) is solved by the backends that move inside the
    # permutations without its couplings ("use a structured encoding" named nothing a user could give)
    instead = ("use a backend that moves inside the permutations (anneal, replica or tank)"
               if energy.permutation is not None else "use a structured encoding")
    for term in energy.terms:
        if not energy.weights[term.name] or isinstance(term, PatternTerm):
            continue
        if isinstance(term, LazyTerm) and term.grouped is not None:  # said how it is stored: not built to know
            if not term.grouped:
                check_matrix_size(term.couplings, f"term {term.name!r}", instead=instead)
            continue
        inner = term.term if isinstance(term, LazyTerm) else term
        if not isinstance(inner, (GroupSquareTerm, QuadraticTerm)):  # those are stored as they are
            check_matrix_size(inner.stored_couplings, f"term {term.name!r}", instead=instead)


MAX_COEFFICIENT = 1e150
"""The largest coefficient magnitude a spin model takes: the backends' scales sum squares of coefficients over a
unit's row (up to millions of terms), which stays below float64's 1.8e308 from here (a weight of 1e200 crashed
bifurcation's spectral radius in an internal error, and printed overflow warnings in replica)."""


def refuse_unscalable(couplings: np.ndarray, fields: np.ndarray, *others: float) -> None:
    """Refuse (``ParameterError``, one line) coefficients that are not finite or pass :data:`MAX_COEFFICIENT` in
    magnitude: ``couplings`` and ``fields`` of a model and any ``others`` (a group family's scale). Every backend
    that sums or multiplies coefficients asks this (``exact`` gave 1e308 couplings a ground state count of 2 of 3,
    "truncated"; ``tank`` printed numpy's overflow warnings)."""
    if not np.isfinite(couplings).all() or not np.isfinite(fields).all() or not np.isfinite(others).all():
        raise ParameterError("the energy has non-finite coefficients (NaN or inf, or finite ones so large that "
                             "their sums overflow a 64-bit float: scale the problem down)")
    largest = max(float(np.abs(couplings).max(initial=0.0)), float(np.abs(fields).max(initial=0.0)),
                  *(abs(float(x)) for x in others))
    if largest > MAX_COEFFICIENT:
        raise ParameterError(f"the energy's coefficients are too large: they reach {largest:.3g}, and above "
                             f"{MAX_COEFFICIENT:.0e} their squares and sums overflow a 64-bit float in the backends' "
                             "scales; give its terms smaller weights or scale the problem down")


def compile_spin_model(energy: Energy, deadline: float | None = None) -> SpinModel:
    """Flatten ``energy`` (any vartype) into a :class:`SpinModel`; unknown term kinds are materialised.

    With a ``deadline`` (a ``time.perf_counter()`` reading: a timed run's end) a Kronecker term (TSP's objective)
    whose couplings could not be built before it is refused as soon as that is clear (``TooLargeError``), so a
    time limit is not overrun by the set-up alone (a280: 44 million couplings)."""
    check_spin_model_size(energy)
    spin = energy.to_spin()
    n = spin.num_variables
    parts: list[sp.csr_matrix] = []
    bias = np.zeros(n)
    families: list[GroupSquareTerm] = []
    shared_as_it_is = False  # the last part is the energy's own canonical matrix, weight 1, not copied
    for term in spin.terms:
        weight = spin.weights[term.name]
        if not weight or isinstance(term, PatternTerm):  # pattern terms have kernels of their own
            continue
        if isinstance(term, LazyTerm):  # its own form (a group-square family stays one), not its n² couplings
            term = term.term
        if isinstance(term, GroupSquareTerm):
            families.append(GroupSquareTerm(term.name, term.groups, term.targets, weight * term.scale))
            continue
        shared = isinstance(term, QuadraticTerm)  # the energy's own matrix: never modified here
        if isinstance(term, KroneckerTerm):
            term = term.quadratic(Vartype.SPIN, deadline)
        elif not shared:
            check_matrix_size(term.stored_couplings, f"term {term.name!r}")
            term = term.quadratic(Vartype.SPIN)
        if term.coupling.nnz:  # one term's matrix is used as it is, not added to an empty one (a280: 44M entries)
            # a term's own new matrix, or the energy's canonical one, is used as it is at weight 1; else a copy
            shared_as_it_is = shared and weight == 1.0 and _canonical(term.coupling)
            as_it_is = weight == 1.0 and (shared_as_it_is or not shared)
            parts.append(term.coupling if as_it_is else term.coupling * weight)
        bias += weight * term.linear
    coupling = sp.csr_matrix(sum(parts[1:], parts[0]) if parts else (n, n))
    if not (len(parts) == 1 and shared_as_it_is):  # the energy's own matrix, canonical: never modified here
        coupling.eliminate_zeros()
        coupling.sort_indices()
    refuse_unscalable(coupling.data, bias, *(abs(float(f.scale)) * max(1.0, float(np.abs(f.targets).max(
        initial=0.0))) ** 2 for f in families))
    max_groups = max((len(f.targets) for f in families), default=0)
    group_of = np.full((len(families), n), -1, dtype=np.int64)
    group_target = np.zeros((len(families), max(max_groups, 1)))
    for k, fam in enumerate(families):
        group_of[k] = fam.groups
        group_target[k, : len(fam.targets)] = fam.targets
    model = SpinModel(
        n=n,
        indptr=coupling.indptr.astype(np.int64, copy=False),  # no copy where the type is already right
        indices=coupling.indices.astype(np.int32, copy=False),
        data=coupling.data.astype(np.float64, copy=False),
        bias=bias,
        group_of=group_of,
        group_target=group_target,
        group_scale=np.array([f.scale for f in families], dtype=np.float64),
    )
    _check_flip_changes_finite(model)
    return model


def _check_flip_changes_finite(model: SpinModel) -> None:
    """Refuse coefficients so large that a flip's energy change overflows float64 (couplings of 1e308 summed to
    inf, and an internal OverflowError came out of the integer-delta bound): every coefficient is finite, but the
    energy changes the backends compute from them would not be."""
    with np.errstate(over="ignore"):
        coupling = max(abs(float(model.data.min(initial=0.0))), abs(float(model.data.max(initial=0.0))))
        degree = float(np.diff(model.indptr).max(initial=0))
        bias = float(np.abs(model.bias).max(initial=0.0))
        groups = float(np.abs(model.group_scale).sum()) * (4.0 * model.n + 2.0 * float(
            np.abs(model.group_target).max(initial=0.0)))
        if np.isfinite(2.0 * (coupling * degree + bias + groups)):  # a bound on every flip's change: no pass needed
            return
        largest = model.coefficient_scales()[0]  # the exact largest change, only where the bound overflowed
    if not np.isfinite(largest):
        biggest = max(float(np.abs(model.data).max(initial=0.0)), float(np.abs(model.bias).max(initial=0.0)))
        raise ParameterError(f"the energy's coefficients are too large (up to {biggest:.3g}): a single flip's energy "
                             "change overflows a 64-bit float; scale the problem down")


def to_spins(states: np.ndarray, vartype: Vartype) -> np.ndarray:
    """States of ``vartype`` as int8 spins."""
    arr = np.asarray(states)
    return (2 * arr - 1).astype(np.int8) if vartype is Vartype.BINARY else arr.astype(np.int8)


def from_spins(spins: np.ndarray, vartype: Vartype) -> np.ndarray:
    """int8 spins as states of ``vartype``."""
    return ((spins + 1) // 2).astype(np.int8) if vartype is Vartype.BINARY else spins.astype(np.int8)


@dataclass(frozen=True, eq=False)
class PatternPart:
    """The dense pattern term of an energy in kernel form (weight folded into ``scale``)."""

    patterns: np.ndarray
    kind: int
    degree: float
    beta: float
    scale: float

    def overlaps(self, spins: np.ndarray) -> np.ndarray:
        return spins.astype(np.float64) @ self.patterns.T


def pattern_part(energy: Energy, model: SpinModel) -> PatternPart | None:
    """The energy's pattern term, if any (at most one; not combined with group penalties)."""
    found = [t for t in energy.terms if isinstance(t, PatternTerm) and energy.weights[t.name]]
    if not found:
        return None
    if len(found) > 1 or len(model.group_scale):
        raise ParameterError("the compiled backends take at most one pattern term and no group penalties with it")
    term = found[0]
    return PatternPart(np.ascontiguousarray(term.patterns, dtype=np.float64), KINDS.index(term.kind),
                       term.degree, term.beta, term.scale * energy.weights[term.name])
