"""Read max-cut graphs: Gset/rudy files (``n m`` then ``i j w`` lines, 1-based) and plain weighted edge lists.

What a file may hold: UTF-8 or ASCII text with any line ends (comment lines start with ``#`` or ``c ``), node
ids as plain integers in 1..n, weights as plain decimals (integers or fractions, any sign; no ``1_0``, NaN or
infinity), no self-loops, no duplicate edges. Exact or refused: the absolute weights must sum to less than 2⁵³, so
every cut and the energy's offset are sums of integers below 2⁵³ (exact in float64) for integer weights, and
rounded only as float64 rounds for fractional ones (:func:`hopsolve.textio.check_exact_sum`). The node count
(the header's n, or an edge list's largest id) is checked against ``HOPSOLVE_MAX_MATRIX_BYTES`` before anything
of its size is allocated.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hopsolve import (
    ParseError,
    check_exact_sum,
    check_read_size,
    only_plain_numbers,
    parse_number,
    read_text,
    tokens_per_line,
)

BYTES_PER_NODE = 64  # what a solve keeps per node (fields, states, CSR row pointers) in the reader's estimate
BYTES_PER_EDGE = 48  # three arrays here, two CSR entries (both directions) in the energy


@dataclass(frozen=True, eq=False)
class Graph:
    """An undirected weighted graph on nodes 0..n-1 (edges i < j, no self-loops, no duplicates)."""

    n: int
    heads: np.ndarray
    tails: np.ndarray
    weights: np.ndarray
    name: str = "graph"

    def cut_weight(self, sides: np.ndarray) -> float:
        """Total weight of the edges whose ends lie on different sides (±1 or 0/1 labels)."""
        s = np.asarray(sides)
        return float(self.weights[s[self.heads] != s[self.tails]].sum())


TSPLIB_KEYWORDS = frozenset({"NAME", "TYPE", "COMMENT", "DIMENSION", "EDGE_WEIGHT_TYPE"})
"""The words a TSPLIB file's first line starts with: such a file read as a max-cut one is named as TSPLIB."""


def _number(token: str, path: Path, line: int, what: str, integer: bool) -> float:
    return parse_number(token, path, line, what, integer)


def _token_lines(text: str) -> list[tuple[int, list[str]]]:
    """The text's lines that are neither blank nor comments (``#``, ``c ``), each with its 1-based number."""
    return [(k, line.split()) for k, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith(("#", "c "))]


def _shown(tokens: list[str]) -> str:
    text = " ".join(tokens)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _fast_rudy(text: str, path: Path) -> Graph | None:
    """A Gset/rudy file read with numpy in a few passes over the text, or None when anything is unusual (a comment,
    a blank line, a node out of range, a self-loop, a duplicate, a count that differs): the line-by-line reader
    then names the line. Both give the same graph (tested)."""
    header_end = text.find("\n")
    header = (text if header_end < 0 else text[:header_end]).split()
    body = "" if header_end < 0 else text[header_end + 1:]
    if len(header) != 2 or not all(t.isdigit() and t.isascii() for t in header) or not only_plain_numbers(body) \
            or not tokens_per_line(body, 3):
        return None
    n, m = int(header[0]), int(header[1])
    tokens = body.split()
    if n < 1 or len(tokens) != 3 * m or m > n * (n - 1) // 2:
        return None
    check_read_size(BYTES_PER_NODE * n + BYTES_PER_EDGE * m, f"a graph of {n} nodes and {m} edges", path, 1)
    try:  # an id like 1.5 or 1e3, a weight like 1-2 or e: the line-by-line reader says where
        ends = np.array(tokens[0::3] + tokens[1::3], dtype=np.int64).reshape(2, m)
        weights = np.array(tokens[2::3], dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    heads, tails = ends.min(axis=0), ends.max(axis=0)
    if m and (heads.min() < 1 or tails.max() > n or np.any(heads == tails)):
        return None
    keys = np.sort(heads * (n + 1) + tails)  # a sort: numpy's hashing unique is many times slower here
    if np.any(keys[1:] == keys[:-1]):
        return None
    with np.errstate(over="ignore"):
        total = float(np.abs(weights).sum())
    if not np.isfinite(weights).all() or total >= 2.0**53:
        return None
    return Graph(n, heads - 1, tails - 1, weights, path.stem)


EDGE = {2: np.dtype([("i", np.int64), ("j", np.int64)]),
        3: np.dtype([("i", np.int64), ("j", np.int64), ("w", np.float64)])}
"""An edge list's line without and with its weight, as the fast path parses it."""


def _fast_edges(text: str, path: Path) -> Graph | None:
    """An edge list (``.edges``) read with numpy, or None when anything is unusual (a comment or blank line, lines
    with and without weights mixed, a node below 1 or not an integer, a self-loop, a duplicate, a sum past 2⁵³):
    the line-by-line reader then names the line. Both give the same graph (tested). A million edges took 14 s
    line by line."""
    if not only_plain_numbers(text):
        return None
    width = 3 if tokens_per_line(text, 3) else 2 if tokens_per_line(text, 2) else 0
    if not width or not text.strip():
        return None
    try:  # numpy's parser is strict: a node like 1.5 or 1e3, a weight like 1-2 fail
        table = np.loadtxt(io.StringIO(text), dtype=EDGE[width], comments=None, ndmin=1)
    except (OverflowError, ValueError):
        return None
    heads, tails = np.minimum(table["i"], table["j"]), np.maximum(table["i"], table["j"])
    if heads.min() < 1 or np.any(heads == tails):
        return None
    n, m = int(tails.max()), len(tails)
    check_read_size(BYTES_PER_NODE * n + BYTES_PER_EDGE * m, f"a graph of {n} nodes (its largest node id) and {m} "
                    "edges", path, None)
    keys = np.sort(heads * (n + 1) + tails)  # a sort: numpy's hashing unique is many times slower here
    if np.any(keys[1:] == keys[:-1]):
        return None
    weights = np.ascontiguousarray(table["w"]) if width == 3 else np.ones(m)
    with np.errstate(over="ignore"):
        total = float(np.abs(weights).sum())
    if not np.isfinite(weights).all() or not total < 2.0**53:
        return None
    return Graph(n, heads - 1, tails - 1, weights, path.stem)


def read_graph(path: str | Path) -> Graph:
    """Parse a rudy/Gset file (first line ``n m``), or, for ``.edges`` files, an edge list (``i j [w]`` lines,
    1-based, no header, weight 1 when missing)."""
    path = Path(path)
    text = read_text(path)
    fast = _fast_rudy(text, path) if path.suffix != ".edges" else _fast_edges(text, path)
    if fast is not None:
        return fast
    lines = _token_lines(text)  # the text read once, for the fast path and for this
    if not lines:
        raise ParseError("empty file: expected 'n m' then 'i j w' lines", path, None)
    first_line, first = lines[0]
    rudy = path.suffix != ".edges"
    if rudy:
        if first and first[0].split(":")[0].upper() in TSPLIB_KEYWORDS:  # burma14 saved as .txt: "node count
            raise ParseError(f"expected the max-cut header 'n m', got {_shown(first)} (a TSPLIB file? add "  # 'NAME:'
                             "--problem tsp)", path, first_line)  # is not a number" named no way out
        if len(first) != 2:
            hint = " (an OR-Library assignment file? add --problem assignment)" if len(first) == 1 else ""
            raise ParseError(f"expected the max-cut header 'n m', got {_shown(first)}{hint}", path, first_line)
        n = int(_number(first[0], path, first_line, "node count", True))
        m = int(_number(first[1], path, first_line, "edge count", True))
        if n < 1 or m < 0:
            raise ParseError(f"header 'n m' needs n ≥ 1 and m ≥ 0, got {n} {m}", path, first_line)
        if m > n * (n - 1) // 2:
            raise ParseError(f"header announces {m} edges, more than a simple graph on {n} nodes has", path,
                             first_line)
        body = lines[1:]
        if len(body) != m:
            where = body[-1][0] if body else first_line
            raise ParseError(f"header announces {m} edges, found {len(body)}", path, where)
        check_read_size(BYTES_PER_NODE * n + BYTES_PER_EDGE * m, f"a graph of {n} nodes and {m} edges", path,
                        first_line)
    else:
        body, n = lines, None
    heads, tails, weights, seen = [], [], [], {}
    for line, tokens in body:
        if len(tokens) not in (2, 3) or (rudy and len(tokens) != 3):
            raise ParseError(f"expected 'i j w', got {_shown(tokens)}", path, line)
        i = int(_number(tokens[0], path, line, "node", True))
        j = int(_number(tokens[1], path, line, "node", True))
        w = _number(tokens[2], path, line, "weight", False) if len(tokens) == 3 else 1.0
        for node in (i, j):
            if node < 1 or (n is not None and node > n):
                raise ParseError(f"node {node} is not in 1..{n if n is not None else 'n'}", path, line)
        if i == j:
            raise ParseError(f"self-loop on node {i}", path, line)
        key = (min(i, j), max(i, j))
        if key in seen:
            raise ParseError(f"duplicate edge {key[0]}-{key[1]} (first on line {seen[key]})", path, line)
        seen[key] = line
        heads.append(key[0] - 1)
        tails.append(key[1] - 1)
        weights.append(w)
    if n is None:
        n = max(tails, default=-1) + 1
        if n < 1:
            raise ParseError("no edges: expected 'i j [w]' lines", path, None)
        check_read_size(BYTES_PER_NODE * n + BYTES_PER_EDGE * len(tails),
                        f"a graph of {n} nodes (its largest node id) and {len(tails)} edges", path, None)
    weights = np.array(weights, dtype=np.float64)
    with np.errstate(over="ignore"):  # a sum past 1.8e308 is inf, refused like any other over 2^53
        total = float(np.abs(weights).sum())
    largest = body[int(np.argmax(np.abs(weights)))][0] if len(weights) else None
    check_exact_sum(total, path, "a cut's weight (the absolute weights summed)", largest)
    return Graph(n, np.array(heads, dtype=np.int64), np.array(tails, dtype=np.int64), weights, path.stem)
