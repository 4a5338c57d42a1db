"""Read assignment instances: OR-Library cost matrices, .npy/.csv matrices, QAPLIB .dat and .sln files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hopsolve import ParseError, parse_number, read_text


def _tokens(path: Path) -> list[tuple[str, int]]:
    return [(token, k) for k, line in enumerate(read_text(path).splitlines(), start=1) for token in line.split()]


def _numbers(tokens: list[tuple[str, int]], path: Path, what: str, integer: bool = False) -> np.ndarray:
    return np.array([parse_number(t, path, line, what, integer) for t, line in tokens], dtype=np.float64)


def _size(tokens: list[tuple[str, int]], path: Path) -> int:
    if not tokens:
        raise ParseError("empty file: expected the size n first", path, None)
    n = int(_numbers(tokens[:1], path, "size n", integer=True)[0])
    if n < 1:
        raise ParseError(f"size n must be positive, got {n}", path, tokens[0][1])
    return n


def _check_count(tokens: list[tuple[str, int]], expected: int, path: Path, what: str) -> None:
    if len(tokens) != expected:
        line = tokens[-1][1] if tokens else None
        raise ParseError(f"{what}: expected {expected} numbers, found {len(tokens)}", path, line)


def read_cost_matrix(path: str | Path) -> np.ndarray:
    """A square cost matrix: OR-Library text (``n`` then n² costs), ``.npy`` or ``.csv``."""
    path = Path(path)
    if path.suffix == ".npy":
        try:
            matrix = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ParseError(f"cannot read .npy: {exc}", path) from None
    elif path.suffix == ".csv":
        rows = [line for line in read_text(path).splitlines() if line.strip()]
        parsed = []
        for k, line in enumerate(rows, start=1):
            parsed.append(_numbers([(t.strip(), k) for t in line.split(",")], path, "cost"))
            if len(parsed[-1]) != len(parsed[0]):
                raise ParseError(f"row has {len(parsed[-1])} costs, the first row {len(parsed[0])}", path, k)
        matrix = np.array(parsed)
    else:
        tokens = _tokens(path)
        n = _size(tokens, path)
        _check_count(tokens[1:], n * n, path, f"cost matrix of size {n}")
        matrix = _numbers(tokens[1:], path, "cost").reshape(n, n)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ParseError(f"the cost matrix must be square, got shape {matrix.shape}", path, None)
    if not np.issubdtype(matrix.dtype, np.number) or not np.isfinite(matrix).all():
        raise ParseError("the cost matrix must hold finite numbers", path, None)
    return matrix.astype(np.float64)


def read_qaplib(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """QAPLIB ``.dat``: n, the flow matrix A, the distance matrix B (numbers may wrap anywhere)."""
    path = Path(path)
    tokens = _tokens(path)
    n = _size(tokens, path)
    _check_count(tokens[1:], 2 * n * n, path, f"two {n}×{n} matrices")
    values = _numbers(tokens[1:], path, "matrix entry")
    return values[: n * n].reshape(n, n), values[n * n:].reshape(n, n)


def read_qaplib_solution(path: str | Path) -> tuple[int, float, np.ndarray]:
    """QAPLIB ``.sln``: ``n cost`` then the permutation (1-based); returned 0-based."""
    path = Path(path)
    tokens = _tokens(path)
    if len(tokens) < 2:
        raise ParseError("expected 'n cost' then the permutation", path, None)
    n = _size(tokens, path)
    cost = float(_numbers(tokens[1:2], path, "cost")[0])
    _check_count(tokens[2:], n, path, "permutation")
    perm = _numbers(tokens[2:], path, "position", integer=True).astype(np.int64)
    if sorted(perm.tolist()) != list(range(1, n + 1)):
        raise ParseError(f"the permutation must hold each of 1..{n} once", path, tokens[2][1])
    return n, cost, perm - 1
