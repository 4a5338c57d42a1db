"""Quadratic energies in the Hopfield sign convention, kept as named, re-weightable terms.

Convention (both vartypes)::

    E(v) = -½ vᵀ W v - bᵀ v + c,   W symmetric with zero diagonal,

with ``v ∈ {-1, +1}ⁿ`` (``Vartype.SPIN``) or ``v ∈ {0, 1}ⁿ`` (``Vartype.BINARY``). The *local field* of unit i is
``h_i = Σ_j W_ij v_j + b_i`` and the deterministic update is ``v_i ← high if h_i > 0, low if h_i < 0`` (for spins,
``s_i ← sign(h_i)``; the threshold is ``θ = -b``). Flipping unit i changes the energy by ``(v_i - v_i') h_i``.

The QUBO form is ``E(x) = xᵀ Q x + c`` with Q symmetric and the linear part on its diagonal; spins and bits are
related by ``s = 2x - 1`` and a state has the same energy in either form. dimod's Ising form
``Σ h_i s_i + Σ_{i<j} J_ij s_i s_j`` is the negation of the Hopfield coefficients: ``h = -b``, ``J = -W``.

An energy is a weighted sum of named terms: ``objective`` plus one term per penalty (``row``, ``column``, ...).
Weights are kept apart from the terms, so :meth:`Energy.reweighted` re-tunes them without re-encoding. A term that
would be too large as a matrix (the ``total`` penalty of a TSP couples every pair of neurons) is kept in structured
form (:class:`GroupSquareTerm`), which gives energies and fields in O(n) without storing couplings. Every term is
defined on the discrete states and extended multilinearly to real-valued states (no ``v_i²`` terms), which is the
energy continuous (Hopfield–Tank) dynamics descend.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve.errors import MemoryLimitError, ParameterError, TooLargeError
from hopsolve.permutation_rows import inverse_permutations

__all__ = [
    "Vartype",
    "Term",
    "QuadraticTerm",
    "GroupSquareTerm",
    "KroneckerTerm",
    "OneHotLayout",
    "PermutationView",
    "Energy",
    "max_matrix_bytes",
    "check_matrix_input",
    "check_matrix_size",
]

DEFAULT_MAX_MATRIX_BYTES = 2 * 1024**3
_BYTES_PER_NONZERO = 12  # float64 value + int32 column index in CSR


class Vartype(Enum):
    """The domain of every unit: spins ``{-1, +1}`` or bits ``{0, 1}``."""

    SPIN = "spin"
    BINARY = "binary"

    @property
    def low(self) -> int:
        return -1 if self is Vartype.SPIN else 0

    @property
    def high(self) -> int:
        return 1

    @classmethod
    def parse(cls, value: str | Vartype) -> Vartype:
        if isinstance(value, Vartype):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ParameterError(f"unknown vartype {value!r}: choose 'spin' or 'binary'") from None


_unlimited = contextvars.ContextVar("hopsolve_unlimited_matrix_bytes", default=False)


@contextlib.contextmanager
def miniature_sizes() -> Iterator[None]:
    """Within the block, :func:`max_matrix_bytes` allows anything: for hopsolve's own miniatures (a warm-up's
    few units, :mod:`hopsolve.warmup`), which are not the user's input, so that a limit set below them refuses
    the user's instance by name instead of "the 4×4 distance matrix" of a miniature nobody asked for."""
    token = _unlimited.set(True)
    try:
        yield
    finally:
        _unlimited.reset(token)


def max_matrix_bytes() -> int | float:
    """The largest coupling matrix hopsolve will build, from ``HOPSOLVE_MAX_MATRIX_BYTES`` (default 2 GiB);
    unlimited inside :func:`miniature_sizes`."""
    if _unlimited.get():
        return math.inf
    raw = os.environ.get("HOPSOLVE_MAX_MATRIX_BYTES")
    if raw is None:
        return DEFAULT_MAX_MATRIX_BYTES
    try:
        if "_" in raw:  # Python's float() takes 1_000; hopsolve's numbers, in files and options, do not
            raise ValueError
        value = float(raw)
    except ValueError:
        raise ParameterError(f"HOPSOLVE_MAX_MATRIX_BYTES={raw!r} is not a number of bytes") from None
    if not np.isfinite(value):
        raise ParameterError(f"HOPSOLVE_MAX_MATRIX_BYTES={raw!r} is not a finite number of bytes")
    if value < 1:
        raise ParameterError(f"HOPSOLVE_MAX_MATRIX_BYTES={raw!r} must be at least 1 byte")
    return int(value)


def format_count(count: float) -> str:
    """A count as people read it: ``1,000,000`` in full up to 10¹⁵, ``1e+99`` beyond (a count given as ``1e99``
    was printed with its hundred digits)."""
    return f"{int(count):,}" if abs(count) < 1e15 else f"{float(count):.3g}"


def format_bytes(nbytes: float) -> str:
    """A byte count as people read it: ``~1,649.3 GiB``, ``~12.5 MiB``, ``1,280 bytes`` (any int or float: a
    file's announced sizes can pass float64)."""
    try:
        value = float(nbytes)
    except OverflowError:
        return "an unbounded amount"
    if not math.isfinite(value):
        return "an unbounded amount"
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            return f"~{value / size:,.1f} {unit}" if value < 1e15 * size else f"~{value / size:.3g} {unit}"
    return f"{int(value):,} bytes"


def check_allocation(nbytes: float, what: str, advice: str = "") -> None:
    """Refuse, before allocating, an array sized by the input that would pass the memory limit
    (``HOPSOLVE_MAX_MATRIX_BYTES``, the largest single allocation hopsolve makes from a user's input); ``advice``,
    where given, ends the message (what would fit)."""
    limit = max_matrix_bytes()
    if not np.isfinite(nbytes) or nbytes > limit:
        raise MemoryLimitError(f"{what} would need {format_bytes(float(nbytes))}, over the limit of "
                               f"{format_bytes(limit).lstrip('~')} (HOPSOLVE_MAX_MATRIX_BYTES)"
                               + (f"; {advice}" if advice else ""))


def check_matrix_size(nonzeros: int, what: str, *, bytes_per_entry: float = _BYTES_PER_NONZERO,
                      entries: str = "couplings", instead: str = "use a structured encoding") -> None:
    """Refuse, with a clear message, to build a matrix with more stored entries than the memory limit allows.

    ``bytes_per_entry`` is what one entry costs (12 for a CSR coupling: a float64 and an int32 column);
    ``entries`` names them in the message and ``instead`` says what the user can do other than raise the limit."""
    needed = int(nonzeros) * bytes_per_entry
    limit = max_matrix_bytes()
    if needed > limit:
        raise MemoryLimitError(
            f"{what} needs {int(nonzeros):,} {entries} ({format_bytes(needed)}), over the limit of "
            f"{format_bytes(limit).lstrip('~')}; {instead} or raise HOPSOLVE_MAX_MATRIX_BYTES"
        )


def _as_states(states: Any, n: int) -> np.ndarray:
    """``states`` as a float64 array of n columns (one state may be a vector)."""
    return np.asarray(_state_rows(states, n), dtype=np.float64)


ENERGY_BLOCK_ENTRIES = 1 << 21
"""States are scored this many entries (states × units) at a time, each block converted to float64 on its own:
3000 reads of G81 (60 million entries) at once took 1.6 GB and 3.2 s."""


def _state_rows(states: Any, n: int) -> np.ndarray:
    """``states`` as a 2-d array of n columns (one state may be a vector), in its own numeric type (not yet
    float64: :func:`_state_blocks` converts a block at a time)."""
    try:
        arr = np.asarray(states)
    except ValueError:  # a ragged list of lists
        raise ParameterError(f"states must be rows of {n} numbers each (a rectangular array)") from None
    if arr.dtype.kind not in "biuf":
        try:
            arr = np.asarray(states, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"states must be numbers, got {arr.dtype} entries such as "
                                 f"{arr.flat[0].item()!r:.40}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n:
        raise ParameterError(f"states must have {n} columns, got shape {np.shape(states)}")
    return arr


def _one_state(state: Any, n: int) -> np.ndarray:
    """``state`` as one row (1 × n float64): a method about one state refuses none or several (``violations`` of
    several rows scored the first in silence; of none, an IndexError)."""
    rows = _as_states(state, n)
    if len(rows) != 1:
        raise ParameterError(f"give one state (a vector of {n}), got {len(rows)} rows; energies() scores many")
    return rows


def _state_blocks(rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, block as float64)`` over ``rows``, :data:`ENERGY_BLOCK_ENTRIES` entries a block."""
    step = max(1, ENERGY_BLOCK_ENTRIES // max(1, rows.shape[1]))
    for lo in range(0, len(rows), step):
        yield lo, np.asarray(rows[lo:lo + step], dtype=np.float64)


MATRIX_BYTES_PER_ENTRY = _BYTES_PER_NONZERO
"""What one stored entry of a matrix costs as CSR (a float64 and an int32): :func:`check_matrix_input`. A QUBO's
other direction of each coupling is counted when its symmetric matrix is checked in turn."""

MATRIX_BYTES_PER_VARIABLE = 64
"""What one variable of a user's matrix costs in CSR row pointers here and fields and states in a solve."""

COUNTED_ENTRIES = 1 << 29
"""A dense matrix of up to this many entries has its nonzeros counted (about 0.3 s); a larger one is judged by its
size (one of 10¹⁰ entries, a broadcast view without memory behind it, took 17 s to fail)."""


def check_matrix_input(value: Any, what: str) -> None:
    """Refuse, before it is converted, a matrix given in Python (numpy, scipy sparse, lists) whose energy would pass
    the memory limit (``HOPSOLVE_MAX_MATRIX_BYTES``): :data:`MATRIX_BYTES_PER_VARIABLE` a variable and
    :data:`MATRIX_BYTES_PER_ENTRY` a stored entry (a dense one's nonzeros, counted where that is quick), and a
    float64 copy of a dense one of another type. A dense 14,000² QUBO of ones took 9.3 GB and 51 s before numpy's
    MemoryError, where a file of it is refused at once."""
    shape = np.shape(value) if sp.issparse(value) or isinstance(value, np.ndarray) else None
    if shape is None or len(shape) != 2:
        return  # lists are converted first (their size is theirs to pay), and a wrong shape is refused later
    copy = 0.0
    if sp.issparse(value):
        entries = float(value.nnz)
    else:
        size = float(shape[0]) * float(shape[1])
        entries = float(np.count_nonzero(value)) if size <= COUNTED_ENTRIES else size
        if value.dtype != np.float64:  # converted to float64 first: a copy of it all
            copy = 8.0 * size
    check_allocation(MATRIX_BYTES_PER_VARIABLE * float(max(shape)) + MATRIX_BYTES_PER_ENTRY * entries + copy,
                     f"{what} ({shape[0]:,} × {shape[1]:,}, {int(entries):,} nonzero entries)", "give a smaller model")


def _real_matrix(value: Any, what: str, owned: bool = False) -> sp.csr_matrix:
    """``value`` as a float64 CSR matrix of its own (a caller's float64 CSR matrix is copied unless ``owned``, one
    its caller gives away: the energy's clean-up sorted and pruned the caller's matrix in place, and its later
    changes changed the energy), refusing what the
    conversion would silently change or fail on deep inside scipy: complex entries (their imaginary parts were
    dropped with only a warning), more or fewer than two dimensions, entries that are not numbers, and a matrix
    past the memory limit (:func:`check_matrix_input`)."""
    check_matrix_input(value, what)
    if sp.issparse(value):
        if np.iscomplexobj(value):  # its dtype (a lil matrix's data is an object array of lists)
            raise ParameterError(f"{what} must be real, got complex entries")
        if len(value.shape) != 2:
            raise ParameterError(f"{what} must be a 2-d matrix, got shape {value.shape}")
        matrix = sp.csr_matrix(value, dtype=np.float64)
        if not owned and isinstance(value, (sp.csr_matrix, sp.csr_array)) and np.shares_memory(matrix.data,
                                                                                              value.data):
            matrix = matrix.copy()
        return matrix
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what} must be a 2-d matrix of numbers ({exc})") from None
    if np.iscomplexobj(array):
        raise ParameterError(f"{what} must be real, got complex entries")
    if array.ndim != 2:
        raise ParameterError(f"{what} must be a 2-d matrix of numbers, got {array.ndim} dimension(s)"
                             + (f" of shape {array.shape}" if array.ndim else f" ({value!r})"))
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        try:  # Python ints past int64, Fractions, Decimals: numbers numpy holds as objects
            array = array.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"{what} must be a 2-d matrix of numbers, got entries of type "
                                 f"{array.dtype}") from None
    return sp.csr_matrix(array, dtype=np.float64)


def real_array(value: Any, what: str, ndim: int | None = None) -> np.ndarray:
    """``value`` as a float64 array of finite numbers, or a one-line :class:`ParameterError` naming ``what``: the
    builders of terms took NaN and inf (``exact`` then called a NaN state proven optimal) and let strings, complex
    numbers and ragged lists through to numpy's own errors."""
    if np.iscomplexobj(value):
        raise ParameterError(f"{what} must be real, got complex entries")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"{what} must be numbers (a rectangular array), got {value!r:.60}") from None
    if ndim is not None and array.ndim != ndim:
        raise ParameterError(f"{what} must have {ndim} dimension{'' if ndim == 1 else 's'}, got shape {array.shape}")
    if array.size and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        raise ParameterError(f"{what} must be finite numbers, got {array[~np.isfinite(array)][0]}")
    return array


def real_number(value: Any, what: str) -> float:
    """``value`` as one finite float, or a one-line :class:`ParameterError` naming ``what``."""
    if isinstance(value, (complex, np.complexfloating)):
        raise ParameterError(f"{what} must be a real number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"{what} must be a number, got {value!r:.60}") from None
    if not math.isfinite(number):
        raise ParameterError(f"{what} must be finite, got {number}")
    return number


def finite_matrix(value: Any, what: str) -> sp.csr_matrix:
    """``value`` as a float64 CSR matrix (:func:`_real_matrix`) whose entries are finite numbers."""
    matrix = _real_matrix(value, what)
    real_array(matrix.data, what)
    return matrix


def integer_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a 1-d int64 array of whole numbers (0.9 was truncated to 0 in silence)."""
    array = real_array(value, what, ndim=1)
    if not np.array_equal(array, np.rint(array)):
        raise ParameterError(f"{what} must be whole numbers, got {array[array != np.rint(array)][0]}")
    return array.astype(np.int64)


def _check_finite(name: str, coupling: sp.csr_matrix, linear: np.ndarray, offset: float) -> None:
    """A term's coefficients are finite numbers: NaN or inf ones were taken and gave NaN or inf energies (the exact
    backend called such a state proven optimal); only the backends' spin models refused them, each in its own
    words (tank's "the integration diverged … give a smaller dt")."""
    for part, values in (("couplings", coupling.data), ("linear part", linear), ("offset", np.array([offset]))):
        # min and max (NaN propagates through both) read the values without a mask as large as them: a280's
        # Hopfield–Tank matrix has 44 million
        if values.size and not (np.isfinite(values.min()) and np.isfinite(values.max())):
            bad = values[~np.isfinite(values)][0]
            raise ParameterError(f"term {name!r}: its {part} must be finite numbers, got {bad}")


def _symmetric_zero_diagonal(matrix: Any, n: int, owned: bool = False) -> sp.csr_matrix:
    mat = _real_matrix(matrix, "the quadratic part", owned)
    if mat.shape != (n, n):
        raise ParameterError(f"quadratic part must be {n}×{n}, got {mat.shape}")
    if mat.diagonal().any():
        raise ParameterError("quadratic part must have a zero diagonal (put self-couplings in the linear part)")
    if mat.nnz:
        difference = abs(mat - mat.T)
        difference.eliminate_zeros()
        if difference.nnz:  # each pair against its own magnitude: against the matrix's largest entry, W[1,2] = 1
            scale = abs(mat).maximum(abs(mat.T))  # beside W[2,1] = 0 passed where another entry was 1e9
            if ((difference - 1e-9 * scale) > 1e-9).nnz:
                raise ParameterError("quadratic part must be symmetric")
            mat = ((mat + mat.T) * 0.5).tocsr()  # what rounding left: both triangles the same, as every form reads one
    mat.eliminate_zeros()
    mat.sort_indices()
    return mat


class Term(ABC):
    """A named piece of an energy. Subclasses give energies and fields for many states at once."""

    name: str

    @property
    @abstractmethod
    def num_variables(self) -> int:
        """How many units the term acts on."""

    @abstractmethod
    def energies(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        """Energy of each row of ``states`` (multilinear extension for real-valued rows)."""

    @abstractmethod
    def fields(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        """Local fields ``h = -∂E/∂v`` of the multilinear extension, one row per state."""

    @abstractmethod
    def converted(self, source: Vartype, target: Vartype) -> Term:
        """The same function of the state, written for the other vartype."""

    @abstractmethod
    def quadratic(self, vartype: Vartype) -> QuadraticTerm:
        """This term as an explicit matrix (subject to the memory limit)."""

    @abstractmethod
    def field_bounds(self) -> np.ndarray:
        """An upper bound on each unit's |field| over all (also graded) states: sets step sizes and β ranges."""

    @property
    @abstractmethod
    def stored_couplings(self) -> int:
        """How many couplings :meth:`quadratic` would store."""


@dataclass(frozen=True, eq=False)
class QuadraticTerm(Term):
    """``E = -½ vᵀ W v - bᵀ v + c`` with W sparse, symmetric, zero diagonal."""

    name: str
    coupling: sp.csr_matrix
    linear: np.ndarray
    offset: float = 0.0

    @classmethod
    def build(cls, name: str, coupling: Any, linear: Any = None, offset: float = 0.0, *,
              owned: bool = False) -> QuadraticTerm:
        """Validate and normalise the parts (symmetric, zero diagonal, float64). The term keeps a copy of a caller's
        CSR coupling matrix unless ``owned`` (a matrix built for it, which no one else holds)."""
        try:
            shape = np.shape(coupling)
        except ValueError:  # a ragged list of lists
            raise ParameterError(f"term {name!r}: the couplings must be a 2-d matrix of numbers (a rectangular "
                                 "array)") from None
        if linear is None and len(shape) != 2:
            raise ParameterError(f"term {name!r}: the couplings must be a 2-d matrix, got {coupling!r:.60}")
        given = None if linear is None else real_array(linear, f"term {name!r}: its linear part (the biases)")
        n = shape[0] if given is None else (len(given) if given.ndim == 1 else -1)
        if given is not None and (given.ndim != 1 or shape[:1] != (n,)):
            raise ParameterError(f"term {name!r}: {n if given.ndim == 1 else given.shape} biases for a "
                                 f"{'×'.join(map(str, shape))} coupling matrix: give one bias a unit")
        lin = np.zeros(n) if given is None else given.copy()
        matrix = _symmetric_zero_diagonal(coupling, n, owned)
        offset = real_number(offset, f"term {name!r}: its offset")
        _check_finite(name, matrix, lin, offset)
        return cls(name, matrix, lin, offset)

    @property
    def num_variables(self) -> int:
        return len(self.linear)

    @property
    def stored_couplings(self) -> int:
        return int(self.coupling.nnz)

    @cached_property
    def _product_operand(self) -> np.ndarray | sp.csr_matrix:
        """W itself, or W as a dense array when it is mostly full (BLAS products are far faster then)."""
        n = self.num_variables
        return self.coupling.toarray() if self.coupling.nnz > 0.25 * n * n else self.coupling

    def _times(self, states: np.ndarray) -> np.ndarray:
        """``states @ W`` (W is symmetric)."""
        w = self._product_operand
        return states @ w if isinstance(w, np.ndarray) else np.asarray((w @ states.T).T)

    def energies(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        w = self._product_operand
        if isinstance(w, np.ndarray):
            quadratic = np.einsum("mi,mi->m", states, states @ w)
        else:  # W·Sᵀ on C-ordered columns, summed in the same layout (a transposed view cost a copy and a slow sum)
            columns = np.ascontiguousarray(states.T)
            quadratic = np.einsum("im,im->m", columns, np.asarray(w @ columns))
        return -0.5 * quadratic - states @ self.linear + self.offset

    def fields(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        return self._times(states) + self.linear

    def field_bounds(self) -> np.ndarray:
        return np.asarray(abs(self.coupling).sum(axis=1)).ravel() + np.abs(self.linear)

    def converted(self, source: Vartype, target: Vartype) -> QuadraticTerm:
        if source is target:
            return self
        w, b, c = self.coupling, self.linear, self.offset
        # sums past float64 become inf (or nan), which the spin model then refuses in one line, without warnings
        with np.errstate(over="ignore", invalid="ignore"):
            row_sums = np.asarray(w.sum(axis=1)).ravel()
            total = float(row_sums.sum())
            if source is Vartype.SPIN:  # s = 2x - 1
                return QuadraticTerm(self.name, (4.0 * w).tocsr(), 2.0 * b - 2.0 * row_sums,
                                     c - 0.5 * total + float(b.sum()))
            return QuadraticTerm(self.name, (0.25 * w).tocsr(), 0.5 * b + 0.25 * row_sums,
                                 c - 0.125 * total - 0.5 * float(b.sum()))

    def quadratic(self, vartype: Vartype) -> QuadraticTerm:
        return self


@dataclass(frozen=True, eq=False)
class GroupSquareTerm(Term):
    """``E = scale · Σ_g (Σ_{i∈g} v_i - t_g)² + offset`` over disjoint groups, stored without couplings.

    ``groups[i]`` is the group of unit i (``-1`` for none) and ``targets[g]`` its target sum. With targets 1 on
    bits this is the one-hot penalty of a row or column of a permutation matrix; one group holding every unit is
    the Hopfield–Tank ``total`` penalty. Fields cost O(n) for all units.

    On discrete states both ``extension`` choices agree. For graded states ``multilinear`` (the default, as for
    every term) drops the ``v_i²`` self-terms; ``square`` keeps the literal square, i.e. a self-coupling on the
    diagonal, as in Hopfield & Tank's global inhibition ``-C`` that includes ``i = j``.
    """

    name: str
    groups: np.ndarray
    targets: np.ndarray
    scale: float = 1.0
    offset: float = 0.0
    extension: str = "multilinear"

    @classmethod
    def build(cls, name: str, groups: Any, targets: Any, scale: float = 1.0, offset: float = 0.0,
              extension: str = "multilinear") -> GroupSquareTerm:
        g = integer_array(groups, f"term {name!r}: group ids")
        t = np.atleast_1d(real_array(targets, f"term {name!r}: targets"))
        if t.ndim != 1:
            raise ParameterError(f"term {name!r}: targets must be one number a group, got shape {t.shape}")
        scale = real_number(scale, f"term {name!r}: scale")
        offset = real_number(offset, f"term {name!r}: offset")
        if g.ndim != 1 or (g.size and (g.min() < -1 or g.max() >= len(t))):
            raise ParameterError(f"term {name!r}: group ids must be -1 or index into {len(t)} targets")
        if extension not in ("multilinear", "square"):
            raise ParameterError(f"term {name!r}: extension must be 'multilinear' or 'square'")
        return cls(name, g, t, float(scale), float(offset), extension)

    @property
    def num_variables(self) -> int:
        return len(self.groups)

    @cached_property
    def _indicator(self) -> sp.csr_matrix:
        members = np.flatnonzero(self.groups >= 0)
        return sp.csr_matrix(
            (np.ones(len(members)), (self.groups[members], members)),
            shape=(len(self.targets), self.num_variables),
        )

    @cached_property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.groups[self.groups >= 0], minlength=len(self.targets)).astype(np.float64)

    @property
    def stored_couplings(self) -> int:
        return int((self.sizes * (self.sizes - 1)).sum())

    def energies(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        sums = (self._indicator @ states.T).T  # (m, groups)
        squares = ((sums - self.targets) ** 2).sum(axis=1)
        if self.extension == "multilinear":
            inside = states if self._everyone else states[:, self.groups >= 0]
            diagonal = inside.sum(axis=1) if vartype is Vartype.BINARY else np.full(len(states), inside.shape[1])
            squares = squares - np.einsum("ij,ij->i", inside, inside) + diagonal
        return self.scale * squares + self.offset

    @cached_property
    def _everyone(self) -> bool:
        """Every unit is in a group (a permutation's rows or columns): no unit needs to be picked out."""
        return bool((self.groups >= 0).all())

    def fields(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        sums = (self._indicator @ states.T).T
        member = self.groups >= 0
        h = np.zeros_like(states)
        g = self.groups[member]
        if self.extension == "square":
            h[:, member] = -2.0 * self.scale * (sums[:, g] - self.targets[g])
            return h
        derivative = 1.0 if vartype is Vartype.BINARY else 0.0
        h[:, member] = -self.scale * (2.0 * (sums[:, g] - states[:, member] - self.targets[g]) + derivative)
        return h

    def field_bounds(self) -> np.ndarray:
        bound = np.zeros(self.num_variables)
        member = self.groups >= 0
        g = self.groups[member]
        bound[member] = abs(self.scale) * (2.0 * (self.sizes[g] - 1) + 2.0 * np.abs(self.targets[g]) + 1.0)
        return bound

    def converted(self, source: Vartype, target: Vartype) -> GroupSquareTerm:
        if source is target:
            return self
        if source is Vartype.BINARY:  # Σx = (Σs + |g|)/2
            return replace(self, targets=2.0 * self.targets - self.sizes, scale=self.scale / 4.0)
        return replace(self, targets=(self.sizes + self.targets) / 2.0, scale=4.0 * self.scale)

    def quadratic(self, vartype: Vartype) -> QuadraticTerm:
        check_matrix_size(self.stored_couplings, f"term {self.name!r}")
        member = np.flatnonzero(self.groups >= 0)
        order = member[np.argsort(self.groups[member], kind="stable")]
        rows, cols = [], []
        for g in np.unique(self.groups[member]):
            idx = order[self.groups[order] == g]
            r, c = np.meshgrid(idx, idx, indexing="ij")
            keep = r != c
            rows.append(r[keep])
            cols.append(c[keep])
        n = self.num_variables
        r = np.concatenate(rows) if rows else np.zeros(0, int)
        c = np.concatenate(cols) if cols else np.zeros(0, int)
        w = sp.csr_matrix((np.full(len(r), -2.0 * self.scale), (r, c)), shape=(n, n))
        t = self.targets[self.groups[member]]
        b = np.zeros(n)
        if vartype is Vartype.SPIN:
            b[member] = 2.0 * self.scale * t
            c0 = self.scale * float((self.sizes + self.targets**2).sum())
        else:
            b[member] = self.scale * (2.0 * t - 1.0)
            c0 = self.scale * float((self.targets**2).sum())
        w.sort_indices()
        return QuadraticTerm(self.name, w, b, self.offset + c0)


def _padded_rows(b: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``b`` with explicit zeros added to every row of fewer than ``k`` entries (at the lowest columns the row does
    not use), indices sorted: the same matrix, each row ``k`` entries long, so that :func:`_regular_kron` builds
    it by broadcasting (a pinned tour's path has two rows of one entry; it went to scipy's ``kron``, unchecked
    against a timed run's deadline: a280 at a 1 s limit built for 8 s)."""
    rows, cols = [], []
    for r in np.flatnonzero(np.diff(b.indptr) < k):
        used = set(b.indices[b.indptr[r]:b.indptr[r + 1]].tolist())
        free = (c for c in range(b.shape[1]) if c not in used)
        for _ in range(k - (b.indptr[r + 1] - b.indptr[r])):
            rows.append(r)
            cols.append(next(free))
    coo = b.tocoo()
    padded = sp.csr_matrix((np.concatenate([coo.data, np.zeros(len(rows))]),
                            (np.concatenate([coo.row, rows]), np.concatenate([coo.col, cols]))), shape=b.shape)
    padded.sort_indices()
    return padded


def _regular_kron(flow: np.ndarray, adjacency: sp.csr_matrix, deadline: float | None = None,
                  what: str = "the couplings") -> sp.csr_matrix | None:
    """``A ⊗ B`` in CSR with sorted indices, written by broadcasting, when every row of B has the same number of
    nonzeros (TSP's cycle: two); None otherwise. A is taken as dense (zeros come out as explicit entries, which
    the caller eliminates). scipy's ``kron`` plus the transpose and sum took ~4 s for a280's 87 million couplings
    on the project's VM; this takes a fraction of that.

    It is written a block of A's rows at a time; with a ``deadline`` (a ``time.perf_counter()`` reading) the pace
    of the blocks done so far projects the end, and a build that would end after the deadline is refused
    (:class:`TooLargeError`, naming ``what``) as soon as that is clear, not after it."""
    b = sp.csr_matrix(adjacency)
    b.sort_indices()
    n, m, kb = flow.shape[0], b.shape[0], np.diff(b.indptr)
    if n and m and kb.max() and kb.min() != kb.max() and kb.max() * m <= 2 * b.nnz:
        b = _padded_rows(b, int(kb.max()))  # a path (a pinned tour's B): its end rows padded with explicit zeros
        kb = np.diff(b.indptr)
    if not n or not m or kb.min() != kb.max() or not kb[0]:
        return None
    ka, kb = n, int(kb[0])
    a_vals = np.asarray(flow, dtype=np.float64)
    b_cols, b_vals = b.indices.reshape(m, kb), b.data.reshape(m, kb)
    # row (i, a) holds (j, b) for every j, then b in B's row a: columns j·m + b come out sorted. Written into
    # C-ordered arrays (a ufunc on broadcast inputs may pick another order, and ravel would then copy)
    total = n * m * ka * kb
    index_type = np.int32 if n * m < 2**31 and total < 2**31 else np.int64
    indices = np.empty((n, m, ka, kb), dtype=index_type)
    data = np.empty((n, m, ka, kb))
    columns = (np.arange(n, dtype=np.int64) * m)[None, None, :, None] + b_cols[None, :, None, :]
    began, block = time.perf_counter(), max(1, n // 16)
    for first in range(0, n, block):
        last = min(n, first + block)
        indices[first:last] = columns
        np.multiply(a_vals[first:last, None, :, None], b_vals[None, :, None, :], out=data[first:last])
        if deadline is not None and last < n:
            now = time.perf_counter()
            finish = now + (now - began) * (n - last) / last
            if finish > deadline:
                allowed = max(deadline - began, 0.0)
                raise TooLargeError(f"{what} ({total:,}) would take about {finish - began:.2g} s to build, past "
                                    f"the {allowed:.2g} s a timed run allows for building it (the rest of its "
                                    "limit is for the search); give a longer limit or use a backend that moves on "
                                    "permutations (anneal)")
    indptr = (np.arange(n * m + 1, dtype=np.int64) * (ka * kb)).astype(index_type)
    return sp.csr_matrix((data.reshape(total), indices.reshape(total), indptr), shape=(n * m, n * m))


@dataclass(frozen=True, eq=False)
class KroneckerTerm(Term):
    """``E = scale · Σ_{i≠j,a,b} A_ij B_ab v_ia v_jb + Σ_ia C_ia v_ia + offset`` on an ``n×n`` grid of units.

    Unit ``(i, a)`` is index ``i·n + a``. A is dense (zero diagonal), B sparse. This is the objective of TSP
    (A = distances, B = cycle adjacency) and QAP (flows, distances) without storing the n²×n² coupling matrix:
    energies and fields cost O(n²·deg B + n³) by matrix products, and the matrix is built only on request.
    """

    name: str
    flow: np.ndarray
    adjacency: sp.csr_matrix
    linear: np.ndarray
    scale: float = 1.0
    offset: float = 0.0

    @classmethod
    def build(cls, name: str, flow: Any, adjacency: Any, linear: Any = None, scale: float = 1.0,
              offset: float = 0.0) -> KroneckerTerm:
        a = real_array(flow, f"term {name!r}: the flow matrix", ndim=2)
        n = a.shape[0]
        if a.shape != (n, n):
            raise ParameterError(f"term {name!r}: flow matrix must be square, got {a.shape}")
        if np.diagonal(a).any():
            raise ParameterError(f"term {name!r}: flow matrix must have a zero diagonal (fold it into linear)")
        b = finite_matrix(adjacency, f"term {name!r}: the adjacency")
        if b.shape != (n, n):
            raise ParameterError(f"term {name!r}: adjacency must be {n}×{n}, got {b.shape}")
        c = np.zeros(n * n) if linear is None else real_array(linear, f"term {name!r}: the linear part").ravel()
        if c.size != n * n:
            raise ParameterError(f"term {name!r}: the linear part must have n² = {n * n} entries, got {c.size}")
        return cls(name, a, b, c.copy(), real_number(scale, f"term {name!r}: scale"),
                   real_number(offset, f"term {name!r}: offset"))

    @property
    def size(self) -> int:
        return self.flow.shape[0]

    @property
    def num_variables(self) -> int:
        return self.size**2

    @property
    def stored_couplings(self) -> int:
        return int(2 * np.count_nonzero(self.flow) * self.adjacency.nnz)

    def _grids(self, states: np.ndarray) -> np.ndarray:
        return states.reshape(len(states), self.size, self.size)

    @cached_property
    def _has_quadratic(self) -> bool:
        return bool(self.scale) and self.adjacency.nnz > 0 and bool(np.any(self.flow))

    def energies(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        out = np.zeros(len(states))
        if not self._has_quadratic:
            return out + states @ self.linear + self.offset
        bt = self.adjacency.T.tocsr()
        for k, v in enumerate(self._grids(states)):
            vb = (bt @ v.T).T  # V B
            out[k] = self.scale * float(np.sum(self.flow * (vb @ v.T)))
        return out + states @ self.linear + self.offset

    def fields(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        h = np.zeros_like(states)
        if not self._has_quadratic:
            return h - self.linear
        b = self.adjacency
        for k, v in enumerate(self._grids(states)):
            forward = self.flow @ (b @ v.T).T  # A V Bᵀ
            if self._symmetric:  # Aᵀ V B is the same product: half the work for TSP
                h[k] = -2.0 * self.scale * forward.ravel()
                continue
            backward = self.flow.T @ (b.T @ v.T).T  # Aᵀ V B
            h[k] = -self.scale * (forward + backward).ravel()
        return h - self.linear

    @cached_property
    def _symmetric(self) -> bool:
        """Whether A and B are both symmetric (TSP's distances and cycle), so the two field products agree."""
        return bool(np.array_equal(self.flow, self.flow.T)) and (self.adjacency != self.adjacency.T).nnz == 0

    def field_bounds(self) -> np.ndarray:
        abs_a = np.abs(self.flow)
        abs_b = abs(self.adjacency)
        row = (abs_a.sum(axis=1)[:, None] * np.asarray(abs_b.sum(axis=1)).ravel()[None, :])
        col = (abs_a.sum(axis=0)[:, None] * np.asarray(abs_b.sum(axis=0)).ravel()[None, :])
        return abs(self.scale) * (row + col).ravel() + np.abs(self.linear)

    def converted(self, source: Vartype, target: Vartype) -> KroneckerTerm:
        if source is target:
            return self
        # Σ A_ij B_ab v_ia v_jb with v = αu + β: the quadratic part scales by α², the cross terms become linear:
        # β·Σ_jb A_ij B_ab v... sums to (row sums of A)_i (row sums of B)_a + (column sums of A)_i (column sums of
        # B)_a, and the constant to ΣA·ΣB: O(n²), not the dense products by a matrix of ones they equal (n³:
        # 27 s at 5,915 cities, before a refusal of its couplings could be made)
        alpha, beta = (2.0, -1.0) if source is Vartype.SPIN else (0.5, 0.5)
        b = self.adjacency
        b_rows, b_columns = np.asarray(b.sum(axis=1)).ravel(), np.asarray(b.sum(axis=0)).ravel()
        cross = (np.outer(self.flow.sum(axis=1), b_rows) + np.outer(self.flow.sum(axis=0), b_columns)).ravel()
        constant = float(self.flow.sum()) * float(b_rows.sum())
        linear = alpha * self.linear + self.scale * alpha * beta * cross
        offset = self.offset + float(self.linear.sum()) * beta + self.scale * beta * beta * constant
        return KroneckerTerm(self.name, self.flow, self.adjacency, linear, self.scale * alpha * alpha, offset)

    def quadratic(self, vartype: Vartype, deadline: float | None = None) -> QuadraticTerm:
        """The coupling matrix (n⁴ entries at most); with a ``deadline``, TSP's is refused as soon as its build is
        projected to end after it (see :func:`_regular_kron`)."""
        check_matrix_size(self.stored_couplings, f"term {self.name!r}")
        what = f"the couplings of term {self.name!r}"
        regular = _regular_kron(self.flow, self.adjacency, deadline, what) if self._symmetric else None
        if regular is not None:  # A ⊗ B is its own transpose: W = -2·scale·(A ⊗ B), built directly in CSR
            regular.data *= -2.0 * self.scale
            w = regular
        else:
            kron = sp.kron(sp.csr_matrix(self.flow), self.adjacency, format="csr")
            w = sp.csr_matrix(-self.scale * (kron + kron.T))
        w.eliminate_zeros()
        w.sort_indices()
        return QuadraticTerm(self.name, w, -self.linear, self.offset)


@dataclass(frozen=True, eq=False)
class LazyTerm(Term):
    """A term built only when a state of its ``num_variables`` units is evaluated.

    Large permutation energies (a tour over 85,900 cities has 7.4·10⁹ units) are solved inside the feasible set
    through their :class:`PermutationView` and never need their terms as arrays; this wrapper keeps such a term
    named and re-weightable, and builds it (``build()``) on first use after checking that the ``entries`` it
    stores fit under ``HOPSOLVE_MAX_MATRIX_BYTES``. ``couplings`` is what :meth:`quadratic` would store.
    """

    name: str
    units: int
    build: Callable[[], Term]
    entries: int
    couplings: int
    grouped: bool | None = None
    """Whether the term built is a :class:`GroupSquareTerm`, which a spin model keeps by its groups (``True``), or
    one it stores as ``couplings`` (``False``), so that a size check need not build it to know; ``None``: not
    said (the check builds it)."""

    @cached_property
    def term(self) -> Term:
        check_matrix_size(self.entries, f"term {self.name!r} on {self.units:,} units", entries="entries")
        built = self.build()
        if built.name != self.name or built.num_variables != self.units:
            raise ParameterError(f"lazy term {self.name!r} built a different term")
        return built

    @property
    def num_variables(self) -> int:
        return self.units

    @property
    def stored_couplings(self) -> int:
        return self.couplings

    def energies(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        return self.term.energies(states, vartype)

    def fields(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        return self.term.fields(states, vartype)

    def field_bounds(self) -> np.ndarray:
        return self.term.field_bounds()

    def converted(self, source: Vartype, target: Vartype) -> Term:
        if source is target:
            return self
        return replace(self, build=lambda: self.term.converted(source, target))

    def quadratic(self, vartype: Vartype) -> QuadraticTerm:
        check_matrix_size(self.couplings, f"term {self.name!r}")
        return self.term.quadratic(vartype)


def _multilinear(term: Term) -> Term:
    """``term`` in its multilinear form: a square-extension group term as multilinear, a lazy one built so (a
    ``.tsp`` file's ``total`` term is lazy: the first fix missed it), every other term itself."""
    if isinstance(term, GroupSquareTerm) and term.extension == "square":
        return replace(term, extension="multilinear")
    if isinstance(term, LazyTerm) and term.grouped is not False:  # it may build a group term
        return replace(term, build=lambda: _multilinear(term.term))
    return term


@dataclass(frozen=True, eq=False)
class OneHotLayout:
    """Units arranged as an ``items × positions`` permutation matrix: ``index[i, a]`` is the unit of item i at a.

    A feasible state sets exactly one unit in every row and every column. Backends use this to move inside the
    feasible set (exchange two items' positions, reverse a block of positions) instead of flipping single units.
    """

    index: np.ndarray | None = None
    grid: int | None = None
    """With ``index`` left out, the plain grid of ``grid × grid`` units (unit ``i·grid + a``), never stored: a
    tour over 85,900 cities would need 59 GB for it."""

    def __post_init__(self) -> None:
        if self.index is None:
            if self.grid is None or self.grid < 0:
                raise ParameterError("a one-hot layout needs an index array or a grid size")
            return
        idx = np.asarray(self.index)
        if idx.ndim != 2 or idx.shape[0] != idx.shape[1]:
            raise ParameterError(f"one-hot layout must be square, got shape {idx.shape}")

    @classmethod
    def square(cls, n: int) -> OneHotLayout:
        """The grid layout ``index[i, a] = i·n + a`` without storing it."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:  # 2.5 was taken
            raise ParameterError(f"a square layout's size must be a whole number of items, got {n!r}")
        return cls(None, int(n))

    @property
    def size(self) -> int:
        return int(self.grid if self.index is None else self.index.shape[0])

    def indices(self) -> np.ndarray:
        """``index`` as an array (built for a grid layout, within the memory limit)."""
        if self.index is not None:
            return self.index
        check_matrix_size(self.size * self.size, f"the {self.size:,}×{self.size:,} one-hot layout", bytes_per_entry=8,
                          entries="units")
        return np.arange(self.size * self.size).reshape(self.size, self.size)

    @cached_property
    def rows(self) -> OneHotGroups:
        """Each item's row of units as a one-hot group (made once: the continuous backend asks at every step)."""
        index = self.indices()
        return OneHotGroups(index.ravel(), np.arange(index.shape[0] + 1) * index.shape[1])

    def units(self, items: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The unit of each (item, position) pair."""
        if self.index is None:
            return np.asarray(items, dtype=np.int64) * self.size + np.asarray(positions, dtype=np.int64)
        return self.index[items, positions]

    def state(self, positions: Sequence[int], vartype: Vartype, num_variables: int) -> np.ndarray:
        """The state in which item i sits at ``positions[i]`` (0-based)."""
        check_allocation(float(num_variables), f"a state of {num_variables:,} units")  # one byte a unit
        v = np.full(num_variables, vartype.low, dtype=np.int8)
        v[self.units(np.arange(self.size), np.asarray(positions))] = 1
        return v

    def positions(self, state: np.ndarray) -> np.ndarray | None:
        """Item → position if ``state`` is a permutation matrix, else ``None``."""
        n = self.size
        grid = np.asarray(state)[: n * n].reshape(n, n) if self.index is None else np.asarray(state)[self.index]
        on = grid == 1
        if not (on.sum(axis=1) == 1).all() or not (on.sum(axis=0) == 1).all():
            return None
        return on.argmax(axis=1)


@dataclass(frozen=True, eq=False)
class OneHotGroups:
    """Potts variables: groups of units of which a feasible state sets exactly one (a colour per node, a slot per
    job, a value per discrete variable). Units outside every group are free.

    The groups are disjoint; group ``g`` holds ``members[offsets[g]:offsets[g + 1]]`` (any sizes, at least one
    unit each). An energy that carries them (``Energy.groups``) still has its one-hot penalty as a named term, so
    single flips and the penalty keep working; backends that know the structure move inside the feasible set
    instead: ``anneal`` changes which unit of a group is on, ``hopfield`` updates a group as one winner-take-all
    unit, ``tank`` runs a softmax (Potts) over it. A permutation layout's rows are the square special case.
    """

    members: np.ndarray
    offsets: np.ndarray
    names: tuple | None = None
    """Optional label per group (e.g. the constraint's label in a CQM)."""

    def __post_init__(self) -> None:
        members = np.ascontiguousarray(self.members, dtype=np.int64)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "offsets", offsets)
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(members):
            raise ParameterError("one-hot groups: offsets must run from 0 to the number of members")
        if (np.diff(offsets) < 1).any():
            raise ParameterError("one-hot groups: every group needs at least one unit")
        # a count per unit (O(n)), not np.unique's sort: a permutation energy's rows hold n² units
        if len(members) and (members.min() < 0 or np.bincount(members).max() > 1):
            raise ParameterError("one-hot groups: units must be non-negative and in at most one group")
        if self.names is not None and len(self.names) != self.count:
            raise ParameterError(f"one-hot groups: {len(self.names)} names for {self.count} groups")

    @classmethod
    def from_lists(cls, groups: Sequence[Sequence[int]], names: Sequence[Any] | None = None) -> OneHotGroups:
        """Groups given as lists of unit indices."""
        sizes = [len(g) for g in groups]
        members = np.array([int(u) for g in groups for u in g], dtype=np.int64)
        return cls(members, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                   tuple(names) if names is not None else None)

    @classmethod
    def rows(cls, rows: int, columns: int) -> OneHotGroups:
        """``rows`` groups of ``columns`` consecutive units (unit ``i·columns + a``)."""
        return cls(np.arange(rows * columns, dtype=np.int64), np.arange(rows + 1, dtype=np.int64) * columns)

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def group(self, g: int) -> np.ndarray:
        return self.members[self.offsets[g]:self.offsets[g + 1]]

    def penalty(self, name: str, num_variables: int) -> GroupSquareTerm:
        """The one-hot penalty ``Σ_g (Σ_{i∈g} x_i − 1)²`` on bits as a structured term (zero exactly when every
        group has one unit on), for encoders that give their groups a named, re-weightable penalty."""
        ids = np.full(num_variables, -1, dtype=np.int64)
        ids[self.members] = np.repeat(np.arange(self.count), self.sizes)
        return GroupSquareTerm.build(name, ids, np.ones(self.count))

    def free_units(self, num_variables: int) -> np.ndarray:
        """The units in no group."""
        grouped = np.zeros(num_variables, dtype=bool)
        grouped[self.members] = True
        return np.flatnonzero(~grouped)

    def choices(self, state: Any) -> np.ndarray:
        """For each group, the position (within the group) of its one unit that is on, or -1 where the group does
        not have exactly one unit on."""
        on = (np.asarray(state)[self.members] == 1).astype(np.int64)
        counts = np.add.reduceat(on, self.offsets[:-1]) if len(self.members) else np.zeros(0, np.int64)
        first = np.zeros(self.count, dtype=np.int64)
        for g in range(self.count):
            if counts[g] == 1:
                first[g] = int(np.argmax(on[self.offsets[g]:self.offsets[g + 1]]))
        return np.where(counts == 1, first, -1)

    def satisfied(self, state: Any) -> bool:
        """True when every group has exactly one unit on."""
        return bool((self.choices(state) >= 0).all())

    def random_states(self, rng: np.random.Generator, reads: int, vartype: Vartype, num_variables: int
                      ) -> np.ndarray:
        """``reads`` states with one unit on per group (uniformly) and the free units at random."""
        if len(self.members) and self.members.max() >= num_variables:
            raise ParameterError(f"one-hot groups name unit {self.members.max()} of {num_variables}")
        states = rng.choice(np.array([vartype.low, 1], dtype=np.int8), size=(reads, num_variables))
        states[:, self.members] = vartype.low
        pick = (rng.random((reads, self.count)) * self.sizes).astype(np.int64)
        states[np.arange(reads)[:, None], self.members[self.offsets[:-1] + pick]] = 1
        return states


@dataclass(frozen=True, eq=False)
class SlackBlocks:
    """Inequalities written with slack units: block ``b`` stands for ``Σ_k a_k x_{u_k} + Σ_m c_m y_m = rhs_b``,
    where the ``x`` are ordinary units, the ``y`` its slack units (bits, ``0 ≤ Σ c_m y_m ≤ Σ c_m``) and the energy
    penalises ``(Σ a x + Σ c y − rhs)²``. The inequality ``Σ a x ≤ rhs`` holds exactly when some slack makes that
    zero. A backend that knows this structure never flips a slack unit on its own: after every move of the ``x``
    it sets each affected block's slack to its best value, so the penalty is ``max(0, Σ a x − rhs)²`` and a move
    that keeps the inequality pays nothing for it (``anneal``'s ``onehot``/``auto`` moves). Coefficients and right
    sides are integers; the slack digits are 1, 2, 4, … with the last one capped, so every value from 0 to their
    sum has exactly the greedy representation :meth:`slack_bits` writes.
    """

    unit_offsets: np.ndarray
    units: np.ndarray
    coefficients: np.ndarray
    rhs: np.ndarray
    slack_offsets: np.ndarray
    slack_units: np.ndarray
    slack_coefficients: np.ndarray

    def __post_init__(self) -> None:
        for name in ("unit_offsets", "units", "coefficients", "rhs", "slack_offsets", "slack_units",
                     "slack_coefficients"):
            # every part is whole numbers (the docstring's integers): NaN and fractions were taken in silence
            values = integer_array(np.ravel(getattr(self, name)), f"slack blocks: {name}")
            dtype = np.int64 if name in ("unit_offsets", "units", "slack_offsets", "slack_units") else np.float64
            object.__setattr__(self, name, np.ascontiguousarray(values, dtype=dtype))
        if len(self.unit_offsets) != self.count + 1 or len(self.slack_offsets) != self.count + 1:
            raise ParameterError("slack blocks: one offset per block plus one, for units and slack units")
        if len(np.intersect1d(self.units, self.slack_units)):
            raise ParameterError("slack blocks: a slack unit cannot also be a constrained unit")

    @classmethod
    def from_blocks(cls, blocks: Sequence[tuple[Sequence[int], Sequence[float], float, Sequence[int],
                                                Sequence[float]]]) -> SlackBlocks:
        """From ``(units, coefficients, rhs, slack_units, slack_coefficients)`` per block."""
        unit_sizes = [len(b[0]) for b in blocks]
        slack_sizes = [len(b[3]) for b in blocks]
        flat = lambda k, dtype: np.array([v for b in blocks for v in b[k]], dtype=dtype)  # noqa: E731
        return cls(np.concatenate([[0], np.cumsum(unit_sizes)]), flat(0, np.int64), flat(1, np.float64),
                   np.array([b[2] for b in blocks], dtype=np.float64), np.concatenate([[0], np.cumsum(slack_sizes)]),
                   flat(3, np.int64), flat(4, np.float64))

    @property
    def count(self) -> int:
        return len(self.rhs)

    def residuals(self, bits: np.ndarray) -> np.ndarray:
        """``rhs − Σ a x`` of every block for a bit state (or states, reads × n)."""
        bits = np.atleast_2d(bits)
        owner = np.repeat(np.arange(self.count), np.diff(self.unit_offsets))
        products = bits[:, self.units] * self.coefficients
        sums = np.zeros((len(bits), self.count))
        np.add.at(sums.T, owner, products.T)
        return self.rhs - sums

    def slack_bits(self, bits: np.ndarray) -> np.ndarray:
        """``bits`` (a bit state, or reads × n) with every block's slack units set to their best values."""
        out = np.array(bits, copy=True)
        single = out.ndim == 1
        out = np.atleast_2d(out)
        residual = self.residuals(out)
        for b in range(self.count):
            units = self.slack_units[self.slack_offsets[b]:self.slack_offsets[b + 1]]
            digits = self.slack_coefficients[self.slack_offsets[b]:self.slack_offsets[b + 1]]
            for r in range(len(out)):
                out[r, units] = _slack_digits(residual[r, b], digits)
        return out[0] if single else out


def _slack_digits(residual: float, digits: np.ndarray) -> np.ndarray:
    """The greedy representation of ``clamp(residual, 0, Σ digits)``: the capped last digit first, then binary."""
    bits = np.zeros(len(digits), dtype=np.int8)
    remaining = int(round(min(max(residual, 0.0), float(digits.sum()))))
    if len(digits) and remaining >= digits[-1]:
        bits[-1] = 1
        remaining -= int(digits[-1])
    for k in range(len(digits) - 1):
        bits[k] = (remaining >> k) & 1
    return bits


def _is_uniform_path(adjacency: sp.spmatrix) -> bool:
    """Whether ``adjacency`` is w·(the path 0-1-2-…-(m-1)), both directions, one weight w: a pinned tour's B (any
    other was scored as a tour and gave energies its own terms did not)."""
    coo = sp.coo_matrix(adjacency)
    m = coo.shape[0]
    if coo.shape != (m, m) or coo.nnz != 2 * max(m - 1, 0):
        return False
    if m < 2:
        return True
    return bool(np.all(np.abs(coo.row - coo.col) == 1) and np.all(coo.data == coo.data[0]) and coo.data[0] != 0
                and len(set(zip(coo.row.tolist(), coo.col.tolist()))) == coo.nnz)


@dataclass(frozen=True, eq=False)
class PermutationView:
    """The energy restricted to permutations: ``E(p) = w·(Σ_ij A_ij B_p(i)p(j) + Σ_i C_i,p(i) + offset)``
    (:meth:`energy`).

    ``term`` names the energy term whose weight is ``w``; on feasible states every other term is zero. ``offset``
    is that term's constant, so the weight scales it too (it was added unweighted, and a weighted QAP energy with
    an offset was scored, and once proven optimal, by the wrong constant). TSP has A =
    distances, B = adjacency of the cycle of positions; QAP has flows and distances; linear assignment has A = 0.
    B is sparse, so moves touch only the positions it connects.

    A may be given as a matrix (``flow``) or, for tours, as a distance function: ``metric`` (a
    :class:`hopsolve.metric.Metric`) with ``A = metric / metric_scale``, computed on the fly, so a tour over
    85,900 cities needs O(n) memory. :meth:`flow_matrix` builds A either way (within the memory limit), and
    :meth:`linear_matrix` C.

    A tour may have its first city pinned (``pinned``, TSP's ``fix_first``): the metric's city 0 sits at position
    0 outside the layout, whose items and positions are the other cities and positions (item i is city i + 1,
    position a is position a + 1), B is the path through those positions and the edges to city 0 are C, computed
    from the metric. The tour moves apply to it as to a whole tour (:attr:`is_tour`): tours are over all
    ``metric.size`` cities, translated by :meth:`tours_of_items` and :meth:`positions_of_tours`.
    """

    layout: OneHotLayout
    flow: np.ndarray | None
    adjacency: sp.csr_matrix
    linear: np.ndarray | None = None
    term: str = "objective"
    offset: float = 0.0
    metric: Any = None
    metric_scale: float = 1.0
    pinned: bool = False

    def __post_init__(self) -> None:
        if (self.flow is None) == (self.metric is None):
            raise ParameterError("a permutation view needs either a flow matrix or a metric")
        if self.pinned and (self.metric is None or self.linear is not None or self.metric.size != self.size + 1
                            or not _is_uniform_path(self.adjacency)):
            raise ParameterError("a pinned tour view needs a metric of one city more than its layout's items, an "
                                 "adjacency that is a path of one weight through the positions (1-2, 2-3, …), "
                                 "and no linear part (the edges to the pinned city are computed from the metric)")

    @property
    def size(self) -> int:
        return self.layout.size

    def check_flow_size(self) -> None:
        """Refuse, before it is built, a flow matrix built from the metric that would pass the memory limit (the
        distances as integers, then divided: 16 bytes an entry at the peak)."""
        if self.flow is None:
            n = self.size
            check_matrix_size(n * n, f"the {n:,}×{n:,} distance matrix", bytes_per_entry=16, entries="distances",
                              instead="use a backend that works from the coordinates (anneal)")

    def flow_matrix(self) -> np.ndarray:
        """A as a dense matrix (built from the metric on request, refused over the memory limit)."""
        if self.flow is not None:
            return self.flow
        self.check_flow_size()
        if self.pinned:
            a = self.metric.rows(1, self.metric.size)[:, 1:] / self.metric_scale
        else:
            a = self.metric.matrix_form() / self.metric_scale
        np.fill_diagonal(a, 0.0)
        return a

    def linear_matrix(self) -> np.ndarray | None:
        """C as a dense items × positions matrix, or ``None`` where there is none: a pinned tour's edges to its
        first city (positions 1 and n - 1 of the whole tour) built from the metric, refused over the memory limit."""
        if not self.pinned:
            return self.linear
        m = self.size
        check_matrix_size(m * m, f"the {m:,}×{m:,} edges to the pinned city", bytes_per_entry=8, entries="entries",
                          instead="use a backend that works from the coordinates (anneal)")
        to_first = self.metric.pairs(np.zeros(m, dtype=np.int64), np.arange(1, m + 1)) / self.metric_scale
        weight = 2.0 * self.tour_weight
        linear = np.zeros((m, m))
        if m:
            linear[:, 0] += weight * to_first
            linear[:, m - 1] += weight * to_first
        return linear

    def energy(self, positions: Sequence[int], weight: float) -> float:
        """The energy of the permutation ``positions`` under the term's ``weight``: ``weight·(value + offset)``."""
        return weight * (self.value(positions) + self.offset)

    def energies(self, rows: np.ndarray, weight: float) -> np.ndarray:
        """:meth:`energy` of every row of ``rows`` (reads × n positions); tours are summed in parallel from the
        metric, in O(n) a row (no sort)."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.int64))
        if self.is_tour and len(rows):
            lengths = self.metric.lengths_of_positions(self._whole_positions(rows)).astype(np.float64)
            return weight * (2.0 * self.tour_weight * lengths / self.metric_scale + self.offset)
        return np.array([self.energy(p, weight) for p in rows], dtype=np.float64)

    def _whole_positions(self, rows: np.ndarray) -> np.ndarray:
        """Rows of the layout's positions as positions of all the metric's cities (a pinned tour's first city at
        position 0, the others one further on); unpinned rows are returned as they are."""
        if not self.pinned:
            return rows
        whole = np.zeros((len(rows), self.size + 1), dtype=np.int64)
        whole[:, 1:] = rows + 1
        return whole

    def tours_of_items(self, item_at: np.ndarray) -> np.ndarray:
        """Tours (the city at each position, reads × ``metric.size``) from the layout's item at each position (reads
        × :attr:`size`): a pinned tour's first city is put first."""
        item_at = np.atleast_2d(np.asarray(item_at, dtype=np.int64))
        if not self.pinned:
            return np.ascontiguousarray(item_at)
        tours = np.zeros((len(item_at), self.size + 1), dtype=np.int64)
        tours[:, 1:] = item_at + 1
        return tours

    def positions_of_tours(self, tours: np.ndarray) -> np.ndarray:
        """The layout's position of each item (reads × :attr:`size`) for tours over all ``metric.size`` cities: a
        pinned tour is read from where its first city stands (the same tour, turned round)."""
        whole = inverse_permutations(tours)
        if not self.pinned:
            return whole
        n = whole.shape[1]
        return (whole[:, 1:] - whole[:, :1]) % n - 1

    def value(self, positions: Sequence[int]) -> float:
        """The unweighted objective of the permutation ``positions`` (item → position, 0-based), without the
        offset."""
        p = np.asarray(positions)
        if self.is_tour:
            length = self.metric.tour_length(np.argsort(self._whole_positions(p[None, :])[0]))
            total = 2.0 * self.tour_weight * float(length) / self.metric_scale
        else:
            b = self.adjacency[p][:, p]
            total = float(b.multiply(self.flow_matrix()).sum())
        if self.linear is not None:
            total += float(self.linear[np.arange(self.size), p].sum())
        return total

    @cached_property
    def cyclic_weight(self) -> float | None:
        """w if B is w·(adjacency of the cycle of positions) and A symmetric (2-opt deltas are O(1)), else None."""
        n = self.size
        if n < 3 or (self.flow is not None and not np.allclose(self.flow, self.flow.T)):
            return None
        coo = sp.coo_matrix(self.adjacency)
        if coo.nnz == 0:
            return None
        w = coo.data[0]
        diff = (coo.col - coo.row) % n
        if np.all(coo.data == w) and np.all((diff == 1) | (diff == n - 1)) and coo.nnz == (2 * n if n > 2 else n):
            return float(w)
        return None

    @property
    def is_tour(self) -> bool:
        """A tour energy: A from a metric, B a weighted cycle, no linear part, or a pinned tour (the tour kernels
        apply)."""
        return self.metric is not None and self.linear is None and (self.pinned or self.cyclic_weight is not None)

    @property
    def tour_weight(self) -> float:
        """w of a tour energy's B (half its energy per unit of normalised length): the cycle's weight, or a pinned
        tour's path's."""
        if self.pinned:
            return float(self.adjacency.data[0]) if self.adjacency.nnz else 0.5
        if self.cyclic_weight is None:
            raise ParameterError("this permutation energy is not a tour energy")
        return self.cyclic_weight


OBJECTIVE = "objective"
"""The name of an energy's objective term; every other term is a penalty (see :class:`Energy`)."""


@dataclass(frozen=True, eq=False)
class Energy:
    """``E = Σ_k weight_k · term_k`` on ``vartype`` units; weights default to 1.

    The term named ``objective`` (:data:`OBJECTIVE`), if there is one, is the objective; **every other term is a
    penalty**: zero exactly where its constraint holds and positive elsewhere. :attr:`penalty_names`,
    :meth:`violations` and a problem's ``decode`` (a state is feasible only where every penalty is zero) read the
    names so, so an objective given another name would make every state infeasible; ``hopsolve.testing.
    check_problem(..., optimum_by_exact=True)`` catches a penalty that is negative on the states it checks.

    >>> import numpy as np
    >>> e = Energy.from_qubo(np.array([[1.0, -2.0], [0.0, 1.0]]))
    >>> float(e.energies([[1, 1]])[0])
    0.0
    """

    vartype: Vartype
    terms: tuple[Term, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    labels: Sequence | None = None
    """One label per unit, in unit order (a tuple, or a lazy sequence such as a permutation energy's grid)."""
    layout: OneHotLayout | None = None
    permutation: PermutationView | None = None
    groups: OneHotGroups | None = None
    """One-hot groups (Potts variables) the backends may move within; see :class:`OneHotGroups`."""
    slacks: SlackBlocks | None = None
    """Inequalities written with slack units, whose slack backends may set exactly; see :class:`SlackBlocks`."""

    def __post_init__(self) -> None:
        if not self.terms:
            raise ParameterError("an energy needs at least one term")
        strays = [type(t).__name__ for t in self.terms if not isinstance(t, Term)]
        if strays:
            raise ParameterError(f"an energy's terms must be hopsolve terms (QuadraticTerm, GroupSquareTerm, ...), "
                                 f"got a {strays[0]}")
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names):
            raise ParameterError(f"term names must be unique, got {names}")
        sizes = {t.num_variables for t in self.terms}
        if len(sizes) != 1:
            raise ParameterError(f"terms disagree on the number of variables: {sorted(sizes)}")
        weights = {name: 1.0 for name in names}
        weights.update(self._checked_weights(self.weights, names))
        object.__setattr__(self, "weights", weights)
        if self.labels is not None and len(self.labels) != self.num_variables:
            raise ParameterError(f"{len(self.labels)} labels for {self.num_variables} variables")
        if isinstance(self.labels, (list, tuple)):  # a lazy sequence (GridLabels: n² of them, 7.4·10⁹ for
            try:  # pla85900) is distinct by construction, and a set of it ran a large TSP out of memory
                distinct = len(set(self.labels)) == len(self.labels)
            except TypeError:  # an unhashable label could name no dimod variable
                raise ParameterError("every label must be hashable (a number, a string, a tuple)") from None
            if not distinct:  # to_dimod merged two units named alike into one variable, and the energy changed
                raise ParameterError("two variables share a label; labels must be distinct")
        if self.groups is not None and len(self.groups.members) and self.groups.members.max() >= self.num_variables:
            raise ParameterError(f"one-hot groups name unit {self.groups.members.max()} of {self.num_variables}")
        if self.slacks is not None:  # anneal indexed past the state with a slack unit out of range
            named = np.concatenate([self.slacks.units, self.slacks.slack_units])
            outside = named[(named < 0) | (named >= self.num_variables)]
            if len(outside):
                raise ParameterError(f"slack blocks name unit {int(outside[0])} of {self.num_variables}")

    @staticmethod
    def _checked_weights(weights: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
        checked = {}
        for key, value in weights.items():
            if key not in names:
                raise ParameterError(f"unknown weight {key!r}: this energy has terms {', '.join(names)}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"weight {key}={value!r} is not a number") from None
            if not np.isfinite(number) or number < 0:
                raise ParameterError(f"weight {key}={value!r} must be finite and non-negative")
            checked[key] = number
        return checked

    # ---- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_hopfield(cls, coupling: Any, bias: Any = None, offset: float = 0.0,
                      vartype: Vartype | str = Vartype.SPIN, name: str = "objective") -> Energy:
        """One term ``-½ vᵀWv - bᵀv + c``, named ``name`` (any name but ``objective`` makes it a penalty: see the
        class docstring)."""
        return cls(Vartype.parse(vartype), (QuadraticTerm.build(name, coupling, bias, offset),))

    @classmethod
    def from_qubo(cls, q: Any, offset: float = 0.0, name: str = "objective") -> Energy:
        """``E(x) = xᵀ Q x + offset`` on bits; Q need not be symmetric, its diagonal is the linear part. One term
        named ``name`` (as :meth:`from_hopfield`)."""
        mat = _real_matrix(q, "Q")
        if mat.shape[0] != mat.shape[1]:
            raise ParameterError(f"Q must be square, got {mat.shape}")
        # the symmetric matrix holds both directions of each entry: checked before it is built, not after
        check_matrix_size(2 * mat.nnz, "Q's symmetric form")
        sym = mat + mat.T
        linear = -mat.diagonal()
        sym.setdiag(0.0)
        return cls(Vartype.BINARY, (QuadraticTerm.build(name, -sym, linear, offset, owned=True),))

    @classmethod
    def from_ising(cls, h: Any, j: Any, offset: float = 0.0, name: str = "objective") -> Energy:
        """dimod's convention ``Σ h_i s_i + Σ_{i<j} J_ij s_i s_j + offset``. As in dimod, where ``(i, j)`` and
        ``(j, i)`` name one coupling, ``J[i, j]`` and ``J[j, i]`` add: give each coupling once (the upper triangle,
        say); a symmetric J counts every coupling twice. A nonzero diagonal (``s_i² = 1``, a constant) is refused,
        as dimod refuses self-loops. One term named ``name`` (as :meth:`from_hopfield`)."""
        mat = _real_matrix(j, "J")
        if mat.shape[0] != mat.shape[1]:
            raise ParameterError(f"J must be square, got {mat.shape}")
        if mat.diagonal().any():
            raise ParameterError("J must have a zero diagonal (s_i·s_i = 1 is a constant: add it to the offset)")
        check_matrix_size(2 * mat.nnz, "J's symmetric form")  # both directions, checked before they are built
        upper = sp.triu(mat, 1) + sp.tril(mat, -1).T
        return cls(Vartype.SPIN, (QuadraticTerm.build(name, -(upper + upper.T), -real_array(
            h, "h (the linear biases)", ndim=1), offset, owned=True),))

    # ---- basic facts --------------------------------------------------------------------------------------------
    @property
    def num_variables(self) -> int:
        return self.terms[0].num_variables

    @property
    def term_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.terms)

    @property
    def penalty_names(self) -> tuple[str, ...]:
        """Every term but the one named :data:`OBJECTIVE`."""
        return tuple(t.name for t in self.terms if t.name != OBJECTIVE)

    def term(self, name: str) -> Term:
        for t in self.terms:
            if t.name == name:
                return t
        raise ParameterError(f"no term {name!r}: this energy has {', '.join(self.term_names)}")

    def reweighted(self, **weights: float) -> Energy:
        """The same terms with some weights changed; nothing is re-encoded."""
        new = dict(self.weights)
        new.update(self._checked_weights(weights, self.term_names))
        return replace(self, weights=new)

    # ---- evaluation ---------------------------------------------------------------------------------------------
    def energies(self, states: Any) -> np.ndarray:
        """Energy of each row of ``states`` (one state may be passed as a vector), evaluated
        :data:`ENERGY_BLOCK_ENTRIES` entries at a time."""
        rows = _state_rows(states, self.num_variables)
        total = np.zeros(len(rows))
        for lo, x in _state_blocks(rows):
            for t in self.terms:
                w = self.weights[t.name]
                if w:
                    total[lo:lo + len(x)] += w * t.energies(x, self.vartype)
        return total

    def energy(self, state: Any) -> float:
        """The energy of one state."""
        return float(self.energies(_one_state(state, self.num_variables))[0])

    def term_energies(self, states: Any) -> dict[str, np.ndarray]:
        """Unweighted energy of every term for each state (in blocks, as :meth:`energies`)."""
        rows = _state_rows(states, self.num_variables)
        out = {t.name: np.zeros(len(rows)) for t in self.terms}
        for lo, x in _state_blocks(rows):
            for t in self.terms:
                out[t.name][lo:lo + len(x)] = t.energies(x, self.vartype)
        return out

    def violations(self, state: Any) -> dict[str, float]:
        """Unweighted value of each penalty term for one state: zero everywhere when it is feasible."""
        x = _one_state(state, self.num_variables)
        # only the penalties: the objective term can cost far more to evaluate (a Kronecker product on n² units)
        return {t.name: float(t.energies(x, self.vartype)[0]) for t in self.terms if t.name in self.penalty_names}

    def fields(self, states: Any) -> np.ndarray:
        """Local fields ``h = -∂E/∂v`` for each state (rows)."""
        x = _as_states(states, self.num_variables)
        h = np.zeros_like(x)
        for t in self.terms:
            w = self.weights[t.name]
            if w:
                h += w * t.fields(x, self.vartype)
        return h

    def field_bounds(self) -> np.ndarray:
        """Upper bound on each unit's |field| (weights applied)."""
        bound = np.zeros(self.num_variables)
        for t in self.terms:
            if self.weights[t.name]:
                bound += self.weights[t.name] * t.field_bounds()
        return bound

    def flip_deltas(self, state: Any) -> np.ndarray:
        """``E(state with unit i flipped) - E(state)`` for every i."""
        v = _one_state(state, self.num_variables)[0]
        other = -v if self.vartype is Vartype.SPIN else 1.0 - v
        return (v - other) * self.discrete_fields(v)[0]

    def discrete_fields(self, states: Any) -> np.ndarray:
        """The fields a single flip of a discrete state feels: :meth:`fields` of the multilinear extension, where
        a ``GroupSquareTerm(extension="square")`` (the same energy on discrete states) has a self-coupling that
        only graded units may feel. Its square-extension fields made ``flip_deltas`` and synchronous Hopfield
        updates wrong on the default TSP energy (its ``total`` term): a global minimum left for a 2-cycle."""
        return self.multilinear().fields(states)

    def multilinear(self) -> Energy:
        """This energy with every square-extension group term in its multilinear form: the same on every discrete
        state, and the form whose fields are single-flip fields."""
        terms = tuple(_multilinear(t) for t in self.terms)
        return self if all(a is b for a, b in zip(terms, self.terms)) else replace(self, terms=terms)

    # ---- conversion ---------------------------------------------------------------------------------------------
    def to_vartype(self, vartype: Vartype | str) -> Energy:
        """The same energy on the other kind of unit (``s = 2x - 1``)."""
        target = Vartype.parse(vartype)
        if target is self.vartype:
            return self
        # kept on the instance (not a field: equality, ``replace`` and weights are untouched): backends convert
        # the same energy several times, and at 640,000 units one conversion takes about 0.1 s of a time limit
        conversions = self.__dict__.setdefault("_conversions", {})
        if target not in conversions:
            terms = tuple(t.converted(self.vartype, target) for t in self.terms)
            conversions[target] = replace(self, vartype=target, terms=terms)
        return conversions[target]

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the cached conversions (a worker converts again if it needs to)."""
        state = dict(self.__dict__)
        state.pop("_conversions", None)
        return state

    def to_spin(self) -> Energy:
        return self.to_vartype(Vartype.SPIN)

    def to_binary(self) -> Energy:
        return self.to_vartype(Vartype.BINARY)

    @property
    def stored_couplings(self) -> int:
        return sum(t.stored_couplings for t in self.terms if self.weights[t.name])

    def to_hopfield(self) -> tuple[sp.csr_matrix, np.ndarray, float]:
        """The weighted sum as one ``(W, b, c)``, materialising structured terms (subject to the memory limit)."""
        check_matrix_size(self.stored_couplings, "this energy as one matrix")
        n = self.num_variables
        w = sp.csr_matrix((n, n))
        b = np.zeros(n)
        c = 0.0
        for t in self.terms:
            weight = self.weights[t.name]
            if not weight:
                continue
            q = t.quadratic(self.vartype)
            w = w + weight * q.coupling
            b += weight * q.linear
            c += weight * q.offset
        w = sp.csr_matrix(w)
        w.eliminate_zeros()
        w.sort_indices()
        return w, b, c

    def to_qubo(self) -> tuple[sp.csr_matrix, float]:
        """``(Q, c)`` with ``E(x) = xᵀQx + c``, Q symmetric, the linear part on its diagonal."""
        w, b, c = self.to_binary().to_hopfield()
        q = (-0.5 * w).tolil()
        q.setdiag(-b)
        return q.tocsr(), c

    def to_dimod(self) -> Any:
        """A ``dimod.BinaryQuadraticModel`` with the same energy (coefficients negated: ``h = -b``, ``J = -W``),
        its variables named by :attr:`labels` where the energy has them (as :meth:`from_dimod` leaves them), else
        0..n-1."""
        try:
            import dimod
        except ImportError:
            raise ParameterError("to_dimod needs the optional dependency: pip install 'hopsolve[dimod]'") from None
        w, b, c = self.to_hopfield()
        name = list(self.labels) if self.labels is not None else list(range(self.num_variables))
        upper = sp.triu(w, 1).tocoo()
        # dimod's adjacency holds each coupling twice (a neighbour and its bias): checked before it is built (the
        # Python dicts this was built from took 1 GB under a 120 MB limit for berlin52's TSP energy)
        check_matrix_size(2 * upper.nnz, "the BQM's couplings", bytes_per_entry=16.0)
        vartype = dimod.SPIN if self.vartype is Vartype.SPIN else dimod.BINARY
        # from arrays, the variables in unit order (built from dicts, dimod had put the coupled ones first and
        # from_dimod(to_dimod()) reordered the units)
        return dimod.BinaryQuadraticModel.from_numpy_vectors(
            -np.asarray(b, dtype=np.float64), (upper.row.astype(np.int64), upper.col.astype(np.int64), -upper.data),
            float(c), vartype, variable_order=name)

    @classmethod
    def from_dimod(cls, bqm: Any) -> Energy:
        """Read a ``dimod.BinaryQuadraticModel``; variables are relabelled 0..n-1 in ``bqm.variables`` order. A
        constrained model is the ``cqm`` problem's (``hopsolve.solve(cqm)``); anything else is refused in one line."""
        if not all(hasattr(bqm, name) for name in ("variables", "get_linear", "quadratic", "offset", "vartype")):
            kind = type(bqm).__name__
            hint = (" (a constrained model: hopsolve.solve(cqm) solves it through the cqm problem)"
                    if hasattr(bqm, "constraints") else "")
            raise ParameterError(f"Energy.from_dimod takes a dimod BinaryQuadraticModel, got a {kind}{hint}")
        order = list(bqm.variables)
        n = len(order)
        interactions = getattr(bqm, "num_interactions", None)
        if interactions is not None:  # both directions of each coupling, checked before they are built
            check_matrix_size(2 * int(interactions), "the BQM's couplings")
        if hasattr(bqm, "to_numpy_vectors"):  # dimod's arrays in one call: the loop below took 4.6 s of a 0.3 s
            linear, (irow, icol, qdata), _ = bqm.to_numpy_vectors(variable_order=order)  # limit (1.1M couplings)
            b = -np.asarray(linear, dtype=np.float64)
            rows = np.concatenate([irow, icol]).astype(np.int64)
            cols = np.concatenate([icol, irow]).astype(np.int64)
            vals = -np.concatenate([qdata, qdata]).astype(np.float64)
        else:
            where = {v: k for k, v in enumerate(order)}
            b = np.array([-bqm.get_linear(v) for v in order], dtype=np.float64)
            rows, cols, vals = [], [], []
            for (u, v), bias in bqm.quadratic.items():
                rows += [where[u], where[v]]
                cols += [where[v], where[u]]
                vals += [-bias, -bias]
        w = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
        vartype = Vartype.SPIN if bqm.vartype.name == "SPIN" else Vartype.BINARY
        energy = cls.from_hopfield(w, b, float(bqm.offset), vartype)
        return replace(energy, labels=tuple(order))
