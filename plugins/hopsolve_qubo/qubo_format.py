"""Read and write the qbsolv ``.qubo`` text format.

::

    c comment lines anywhere
    p qubo 0 maxDiag nDiag nElements     (topology, number of variables, diagonal and off-diagonal counts)
    i i value                            (nDiag diagonal lines first, 0-based)
    i j value                            (nElements coupler lines, i != j)

What a file may hold: UTF-8 or ASCII text with any line ends; one header with maxDiag ≥ 1 variables, at most
maxDiag diagonal and maxDiag·(maxDiag-1)/2 coupler lines; indices as plain integers in 0..maxDiag-1; values as
plain decimals (no ``1_0``, NaN or infinity); no entry twice. Exact or refused: the absolute values must sum to
less than 2⁵³, so every partial sum of ``xᵀQx`` is exact in float64 for integer values (fractional values: float64
rounding only, :func:`hopsolve.textio.check_exact_sum`). The variable count is checked against
``HOPSOLVE_MAX_MATRIX_BYTES`` before the sparse matrix is built (a file may declare variables it never uses).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from hopsolve import (
    ParseError,
    check_exact_sum,
    check_read_size,
    only_plain_numbers,
    parse_number,
    read_text,
)

BYTES_PER_VARIABLE = 64  # CSR row pointers here; fields and states in a solve
BYTES_PER_ENTRY = 24  # the entry here, both directions of a coupling in the energy
ENTRY = np.dtype([("i", np.int64), ("j", np.int64), ("value", np.float64)])
"""One ``i j value`` line, as the fast path parses it."""


@dataclass(frozen=True, eq=False)
class QuboModel:
    """``minimise xᵀ Q x + offset`` with Q upper-triangular as read (diagonal = linear biases); a model built in
    memory (``hopsolve.solve`` on a dict, matrix or dimod model) may have any square Q and an offset, which the
    ``.qubo`` format has no place for."""

    q: sp.csr_matrix
    offset: float = 0.0

    @property
    def num_variables(self) -> int:
        return self.q.shape[0]

    def value(self, bits: np.ndarray) -> float:
        x = np.asarray(bits, dtype=np.float64)
        return float(x @ (self.q @ x)) + self.offset


def _number(token: str, path: Path, line: int, what: str, integer: bool) -> float:
    return parse_number(token, path, line, what, integer)


def _fast_qubo(text: str, path: Path) -> QuboModel | None:
    """A ``.qubo`` file read with numpy in a few passes over the text, or None when anything is unusual (a comment
    after the header, a line without three tokens, an index out of range or not an integer, a
    diagonal entry among the couplers or the other way round, a duplicate, a count that differs from the header's,
    a sum past 2⁵³): the line-by-line reader then names the line. Both give the same matrix (tested). A dense
    QUBO of 3,000 variables (4.5 million lines) took about 40 s line by line."""
    lines = text.split("\n", 64)  # the header comes after a few comment lines, if any
    ahead = 0
    while ahead < len(lines) - 1 and (not lines[ahead].split() or lines[ahead].split()[0] == "c"):
        ahead += 1
    header = lines[ahead].split()
    if len(header) != 6 or header[:2] != ["p", "qubo"] or not all(t.isdigit() and t.isascii() for t in header[3:]):
        return None
    n, n_diag, n_elements = (int(t) for t in header[3:])
    if n < 1 or n_diag > n or n_elements > n * (n - 1) // 2:
        return None
    check_read_size(BYTES_PER_VARIABLE * n + BYTES_PER_ENTRY * (n_diag + n_elements), f"a QUBO of {n} variables",
                    path, ahead + 1)
    body = "\n".join(lines[ahead + 1:])
    if not only_plain_numbers(body):
        return None
    count = n_diag + n_elements
    if not body.strip():  # no entries (loadtxt would warn of an empty input)
        table = np.zeros(0, ENTRY)
    else:
        try:  # numpy's parser is strict: an index like 1.5 or 1e3, a value like 1-2, a line without 3 tokens fail
            table = np.loadtxt(io.StringIO(body), dtype=ENTRY, comments=None, ndmin=1)
        except (OverflowError, ValueError):
            return None
    if len(table) != count:
        return None
    ends, values = np.stack([table["i"], table["j"]]), np.ascontiguousarray(table["value"])
    if count and (ends.min() < 0 or ends.max() >= n):
        return None
    rows, cols = ends.min(axis=0), ends.max(axis=0)
    diagonal = rows == cols
    if np.any(~diagonal[:n_diag]) or np.any(diagonal[n_diag:]):
        return None
    keys = np.sort(rows * n + cols)  # a sort: numpy's hashing unique is many times slower here
    if np.any(keys[1:] == keys[:-1]):
        return None
    with np.errstate(over="ignore"):
        total = float(np.abs(values).sum())
    if not np.isfinite(values).all() or not total < 2.0**53:
        return None
    return QuboModel(sp.csr_matrix((values, (rows, cols)), shape=(n, n), dtype=np.float64))


def read_qubo(path: str | Path) -> QuboModel:
    """Parse a ``.qubo`` file; every defect raises :class:`ParseError` naming the file and line. Files without
    anything unusual take the numpy fast path (:func:`_fast_qubo`)."""
    path = Path(path)
    text = read_text(path)
    fast = _fast_qubo(text, path)
    if fast is not None:
        return fast
    header = None
    entries: list[tuple[int, int, int, float]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0] == "c":
            continue
        if tokens[0] == "p":
            if header is not None:
                raise ParseError("second 'p' header line", path, number)
            if len(tokens) != 6 or tokens[1] != "qubo":
                raise ParseError("header must be 'p qubo topology maxDiag nDiag nElements'", path, number)
            counts = [int(_number(t, path, number, name, True))
                      for t, name in zip(tokens[3:], ("maxDiag", "nDiag", "nElements"))]
            if min(counts) < 0:
                raise ParseError("header counts must be non-negative", path, number)
            n, n_diag, n_elements = counts
            if n < 1:
                raise ParseError("the model has no variables (maxDiag 0)", path, number)
            if n_diag > n or n_elements > n * (n - 1) // 2:
                raise ParseError(f"header announces {n_diag} diagonal and {n_elements} coupler entries, more than "
                                 f"{n} variables have", path, number)
            check_read_size(BYTES_PER_VARIABLE * n + BYTES_PER_ENTRY * (n_diag + n_elements),
                            f"a QUBO of {n} variables", path, number)
            header = (number, *counts)
            continue
        if header is None:
            raise ParseError(f"data before the 'p qubo' header: {_clip(raw)!r}", path, number)
        if len(tokens) != 3:
            raise ParseError(f"expected 'i j value', got {_clip(raw)!r}", path, number)
        i = int(_number(tokens[0], path, number, "index", True))
        j = int(_number(tokens[1], path, number, "index", True))
        value = _number(tokens[2], path, number, "value", False)
        entries.append((number, i, j, value))
    if header is None:
        raise ParseError("empty file or no 'p qubo' header", path, 1 if text.strip() else None)
    header_line, n, n_diag, n_elements = header
    if len(entries) != n_diag + n_elements:
        line = entries[-1][0] if entries else header_line
        raise ParseError(f"header announces {n_diag} diagonal + {n_elements} coupler lines, found {len(entries)}",
                         path, line)
    rows, cols, vals = [], [], []
    seen: set[tuple[int, int]] = set()
    for k, (line, i, j, value) in enumerate(entries):
        for index in (i, j):
            if not 0 <= index < n:
                raise ParseError(f"index {index} out of range 0..{n - 1}", path, line)
        diagonal_section = k < n_diag
        if diagonal_section and i != j:
            raise ParseError(f"expected a diagonal entry 'i i value' (line {k + 1} of {n_diag}), got {i} {j}",
                             path, line)
        if not diagonal_section and i == j:
            raise ParseError(f"diagonal entry {i} {i} among the couplers (diagonal lines come first)", path, line)
        key = (min(i, j), max(i, j))
        if key in seen:
            raise ParseError(f"duplicate entry for ({key[0]}, {key[1]})", path, line)
        seen.add(key)
        rows.append(key[0])
        cols.append(key[1])
        vals.append(value)
    magnitudes = np.abs(np.asarray(vals, dtype=np.float64))
    with np.errstate(over="ignore"):  # a sum past 1.8e308 is inf, refused like any other over 2^53
        total = float(magnitudes.sum())
    largest = entries[int(np.argmax(magnitudes))][0] if entries else header_line
    check_exact_sum(total, path, "xᵀQx (the absolute values summed)", largest)
    q = sp.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float64)
    return QuboModel(q)


def _clip(text: str, size: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= size else text[: size - 3] + "..."


def upper_folded(q: sp.spmatrix) -> sp.coo_matrix:
    """``Q`` with each lower-triangular entry folded onto its upper twin (``xᵀQx`` unchanged): the diagonal and one
    coupler per pair i < j, as the qbsolv format writes them and CP-SAT's model takes them."""
    return sp.triu(q + sp.tril(q, -1).T).tocoo()


def write_qubo(model: QuboModel, path: str | Path, comment: str = "") -> None:
    """Write ``model`` in the qbsolv format (diagonal first, then couplers with i < j; a lower-triangular entry is
    folded onto its upper twin). The format has no offset: a nonzero one is written as a comment only."""
    q = upper_folded(model.q)
    diag = [(i, j, v) for i, j, v in zip(q.row, q.col, q.data) if i == j]
    off = [(i, j, v) for i, j, v in zip(q.row, q.col, q.data) if i != j]
    lines = [f"c {line}" for line in comment.splitlines()]
    if model.offset:
        lines.append(f"c offset {model.offset!r} (not part of the format: not read back)")
    lines.append(f"p qubo 0 {model.num_variables} {len(diag)} {len(off)}")
    lines += [f"{i} {j} {float(v)!r}" for i, j, v in diag + off]
    Path(path).write_text("\n".join(lines) + "\n")
