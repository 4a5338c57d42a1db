"""DIMACS ``.col`` graphs: read and write them, count a colouring's conflicts.

The format (the Second DIMACS Implementation Challenge, 1992–93)::

    c any comment
    p edge N M        (N nodes numbered 1..N, M edge lines; ``p col N M`` is read the same way)
    e u v             (one line per edge)

Rules of this reader, each a one-line :class:`hopsolve.ParseError` naming the file and line when broken:

- blank lines and ``c`` lines are skipped; exactly one ``p`` line, before the first ``e`` line; any other line
  (``n`` node descriptors included) is an error;
- ``N ≥ 1``, ``M ≥ 0``, and the file has exactly ``M`` ``e`` lines (a truncated file is caught);
- every node is an integer in ``1..N``;
- a self-loop ``e v v`` is an error: no colouring of such a graph is proper, so it is no colouring instance;
- a repeated edge (``e u v`` twice, or ``e u v`` and ``e v u`` — older copies of the queen graphs list every
  edge in both directions) is kept once; how many were dropped is :attr:`ColGraph.duplicates`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hopsolve import ParameterError, ParseError, parse_number, read_text


@dataclass(frozen=True, eq=False)
class ColGraph:
    """An undirected simple graph on nodes ``0..n-1``: ``edges`` is an ``(m, 2)`` array, each row ``u < v``,
    rows sorted and unique."""

    n: int
    edges: np.ndarray
    name: str = "graph"
    duplicates: int = 0
    """Edge lines the file repeated (dropped)."""
    comments: tuple[str, ...] = field(default=())

    @classmethod
    def build(cls, n: int, pairs: Iterable[tuple[int, int]], name: str = "graph") -> ColGraph:
        """A graph from 0-based node pairs (either order; repeats merged, self-loops refused)."""
        arr = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
        if len(arr) and (arr.min() < 0 or arr.max() >= n):
            raise ParameterError(f"graph {name!r}: nodes must lie in 0..{n - 1}")
        if (arr[:, 0] == arr[:, 1]).any():
            raise ParameterError(f"graph {name!r}: a self-loop has no proper colouring")
        ordered = np.sort(arr, axis=1)
        unique = np.unique(ordered, axis=0) if len(ordered) else ordered
        return cls(int(n), unique, name, len(ordered) - len(unique))

    @property
    def m(self) -> int:
        return len(self.edges)

    def degrees(self) -> np.ndarray:
        return np.bincount(self.edges.ravel(), minlength=self.n)

    def conflicts(self, colours: Any) -> int:
        """Edges whose two ends have the same colour."""
        c = np.asarray(colours)
        return int((c[self.edges[:, 0]] == c[self.edges[:, 1]]).sum())

    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """Adjacency in CSR form: the neighbours of ``v`` are ``indices[indptr[v]:indptr[v + 1]]``."""
        heads = np.concatenate([self.edges[:, 0], self.edges[:, 1]])
        tails = np.concatenate([self.edges[:, 1], self.edges[:, 0]])
        order = np.argsort(heads, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(heads, minlength=self.n))])
        return indptr, tails[order]

    def to_networkx(self) -> Any:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(map(tuple, self.edges.tolist()))
        return graph


def dsatur(graph: ColGraph) -> np.ndarray:
    """Brélaz's DSatur greedy colouring (0-based colours): colour next the uncoloured node with the most distinct
    colours among its neighbours (ties: the highest degree, then the lowest index) with the lowest colour they
    leave free. Deterministic; never more than max degree + 1 colours."""
    n = graph.n
    indptr, indices = graph.neighbours()
    degree = np.diff(indptr)
    width = int(degree.max(initial=0)) + 2
    seen = np.zeros((n, width), dtype=bool)  # seen[v, c]: a neighbour of v has colour c
    saturation = np.zeros(n, dtype=np.int64)
    colours = np.full(n, -1, dtype=np.int64)
    for _ in range(n):
        key = np.where(colours < 0, saturation * (n + 1) + degree, -1)
        v = int(np.argmax(key))
        c = int(np.argmin(seen[v]))
        colours[v] = c
        around = indices[indptr[v]:indptr[v + 1]]
        fresh = around[~seen[around, c]]
        saturation[fresh] += 1
        seen[around, c] = True
    return colours


def read_col(path: str | Path) -> ColGraph:
    """Parse a DIMACS ``.col`` file by the rules in this module's docstring."""
    path = Path(path)
    n = declared = header_line = None
    pairs: list[tuple[int, int]] = []
    comments: list[str] = []
    last_line = 0
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        last_line = line_no
        kind = tokens[0]
        if kind == "c":
            comments.append(line[1:].strip())
        elif kind == "p":
            if header_line is not None:
                raise ParseError(f"a second 'p' line (the first is line {header_line})", path, line_no)
            if len(tokens) != 4 or tokens[1] not in ("edge", "col"):
                raise ParseError(f"expected 'p edge N M', got {line.strip()!r}", path, line_no)
            n = int(parse_number(tokens[2], path, line_no, "node count", integer=True))
            declared = int(parse_number(tokens[3], path, line_no, "edge count", integer=True))
            if n < 1 or declared < 0:
                raise ParseError(f"'p edge N M' needs N ≥ 1 and M ≥ 0, got {n} {declared}", path, line_no)
            header_line = line_no
        elif kind == "e":
            if n is None:
                raise ParseError("an 'e' line before the 'p edge N M' line", path, line_no)
            if len(tokens) != 3:
                raise ParseError(f"expected 'e u v', got {line.strip()!r}", path, line_no)
            u = int(parse_number(tokens[1], path, line_no, "node", integer=True))
            v = int(parse_number(tokens[2], path, line_no, "node", integer=True))
            for node in (u, v):
                if not 1 <= node <= n:
                    raise ParseError(f"node {node} is not in 1..{n}", path, line_no)
            if u == v:
                raise ParseError(f"self-loop on node {u}: no colouring of this graph is proper", path, line_no)
            pairs.append((u - 1, v - 1))
        else:
            raise ParseError(f"unexpected line {line.strip()[:40]!r}: a .col file has only c, p and e lines",
                             path, line_no)
    if n is None:
        raise ParseError("no 'p edge N M' line", path, None)
    if len(pairs) != declared:
        raise ParseError(f"'p edge {n} {declared}' announces {declared} edges, found {len(pairs)} 'e' lines", path,
                         last_line)
    graph = ColGraph.build(n, pairs, path.stem)
    return ColGraph(graph.n, graph.edges, graph.name, graph.duplicates, tuple(comments))


def write_col(graph: ColGraph, path: str | Path, comments: Iterable[str] = ()) -> None:
    """Write ``graph`` as a DIMACS ``.col`` file (nodes 1-based, one ``e`` line per edge)."""
    lines = [f"c {text}" for text in comments]
    lines.append(f"p edge {graph.n} {graph.m}")
    lines += [f"e {u + 1} {v + 1}" for u, v in graph.edges.tolist()]
    Path(path).write_text("\n".join(lines) + "\n")
