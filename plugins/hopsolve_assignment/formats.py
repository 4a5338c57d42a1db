"""Read assignment instances: OR-Library cost matrices, .npy/.csv matrices, QAPLIB .dat and .sln files.

What a file may hold: UTF-8 or ASCII text with any line ends (``.csv``: one row a line, blank lines ignored), or a
``.npy`` array of real numbers (:func:`hopsolve.read_npy`); sizes as plain integers ≥ 1, costs as plain decimals
(integers or fractions, any sign; no ``1_0``, NaN or infinity), exactly as many numbers as the size announces.
Exact or refused: a linear assignment is accepted when ``Σ_i max_j |c_ij| < 2⁵³`` and a QAP when
``Σ_ij |a_ij| · max |b| < 2⁵³``, the largest magnitude any partial sum of a cost can reach; so integer costs give
exact objectives in float64 and fractional ones are rounded only as float64 rounds
(:func:`hopsolve.textio.check_exact_sum`). Every count a header announces is compared with the numbers the file
holds, and the matrices with ``HOPSOLVE_MAX_MATRIX_BYTES``, before anything of that size is allocated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hopsolve import ParseError, check_exact_sum, check_read_size, only_plain_numbers, parse_number, read_npy, read_text


def _plain_matrix(path: Path) -> np.ndarray | None:
    """An OR-Library matrix (``n`` then n² plain numbers) read at numpy speed, or None when anything is unusual
    (then :func:`_tokens` and :func:`parse_number` name the line). Both give the same matrix (tested)."""
    text = read_text(path)
    head = text.split(maxsplit=1)
    if not head or not head[0].isdigit() or not head[0].isascii() or not only_plain_numbers(text):
        return None
    n = int(head[0])
    tokens = text.split()
    if n < 1 or len(tokens) != 1 + n * n:
        return None
    check_read_size(8 * n * n, f"the {n}×{n} cost matrix", path, 1)
    try:
        values = np.array(tokens[1:], dtype=np.float64)
    except ValueError:
        return None
    return values.reshape(n, n) if np.isfinite(values).all() else None


def _tokens(path: Path) -> list[tuple[str, int]]:
    return [(token, k) for k, line in enumerate(read_text(path).splitlines(), start=1) for token in line.split()]


def _numbers(tokens: list[tuple[str, int]], path: Path, what: str, integer: bool = False) -> np.ndarray:
    return np.array([parse_number(t, path, line, what, integer) for t, line in tokens], dtype=np.float64)


def _size(tokens: list[tuple[str, int]], path: Path) -> int:
    if not tokens:
        raise ParseError("empty file: expected the size n first", path, None)
    token, line = tokens[0]
    n = parse_number(token, path, line, "size n", integer=True)
    if n < 1:
        raise ParseError(f"size n must be positive, got {n}", path, line)
    return n


def _check_count(tokens: list[tuple[str, int]], expected: int, path: Path, what: str) -> None:
    if len(tokens) != expected:
        line = tokens[-1][1] if tokens else None
        raise ParseError(f"{what}: expected {expected} numbers, found {len(tokens)}", path, line)


def _largest_sum(values: np.ndarray) -> float:
    with np.errstate(over="ignore"):  # a sum past 1.8e308 is inf, refused like any other over 2^53
        return float(values.sum())


def read_cost_matrix(path: str | Path) -> np.ndarray:
    """A square cost matrix: OR-Library text (``n`` then n² costs), ``.npy`` or ``.csv``."""
    path = Path(path)
    if path.suffix == ".npy":
        matrix = read_npy(path)
    elif path.suffix == ".csv":
        matrix = _csv_matrix(path)
    elif (plain := _plain_matrix(path)) is not None:
        matrix = plain
    else:
        tokens = _tokens(path)
        n = _size(tokens, path)
        _check_count(tokens[1:], n * n, path, f"cost matrix of size {n}")
        check_read_size(8 * n * n, f"the {n}×{n} cost matrix", path, tokens[0][1])
        matrix = _numbers(tokens[1:], path, "cost").reshape(n, n)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        hint = ""
        if path.suffix == ".npy" and matrix.ndim == 2 and matrix.size and np.isin(matrix, (-1, 1)).all():
            hint = " (a .npy of ±1 rows is stored patterns: --problem memory)"  # .npy is read as assignment's
        raise ParseError(f"the cost matrix must be square, got shape {matrix.shape}{hint}", path, None)
    matrix = matrix.astype(np.float64)
    check_exact_sum(_largest_sum(np.abs(matrix).max(axis=1)), path,
                    "an assignment's cost (each row's largest |cost| summed)")
    return matrix


def _csv_matrix(path: Path) -> np.ndarray:
    parsed: list[np.ndarray] = []
    for k, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        parsed.append(_numbers([(t.strip(), k) for t in line.split(",")], path, "cost"))
        if len(parsed[-1]) != len(parsed[0]):
            raise ParseError(f"row has {len(parsed[-1])} costs, the first row {len(parsed[0])}", path, k)
    if not parsed:
        raise ParseError("empty file: expected rows of comma-separated costs", path, None)
    return np.array(parsed)


def read_qaplib(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """QAPLIB ``.dat``: n, the flow matrix A, the distance matrix B (numbers may wrap anywhere)."""
    path = Path(path)
    tokens = _tokens(path)
    n = _size(tokens, path)
    _check_count(tokens[1:], 2 * n * n, path, f"two {n}×{n} matrices")
    check_read_size(16 * n * n, f"two {n}×{n} matrices", path, tokens[0][1])
    values = _numbers(tokens[1:], path, "matrix entry")
    flow, distance = values[: n * n].reshape(n, n), values[n * n:].reshape(n, n)
    largest = float(np.abs(distance).max())
    check_exact_sum(largest, path, "a distance")
    check_exact_sum(_largest_sum(np.abs(flow)) * largest, path, "a QAP cost (Σ|flow| · max|distance|)")
    return flow, distance


def read_qaplib_solution(path: str | Path) -> tuple[int, float, np.ndarray]:
    """QAPLIB ``.sln``: ``n cost`` then the permutation (1-based); returned 0-based."""
    path = Path(path)
    tokens = _tokens(path)
    if len(tokens) < 2:
        raise ParseError("expected 'n cost' then the permutation", path, tokens[0][1] if tokens else None)
    n = _size(tokens, path)
    cost = float(_numbers(tokens[1:2], path, "cost")[0])
    check_exact_sum(abs(cost), path, "the cost", tokens[1][1])
    _check_count(tokens[2:], n, path, "permutation")
    first: dict[int, int] = {}
    for token, line in tokens[2:]:
        position = parse_number(token, path, line, "position", integer=True)
        if not 1 <= position <= n:
            raise ParseError(f"position {position} is not in 1..{n}", path, line)
        if position in first:
            raise ParseError(f"position {position} appears twice (first on line {first[position]}); the permutation "
                             f"must hold each of 1..{n} once", path, line)
        first[position] = line
    return n, cost, np.array(list(first), dtype=np.int64) - 1
