"""The ``maxcut`` problem: the Ising energy whose minimum is the maximum cut."""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve import Energy, Instance, ParameterError, Problem, Solution, check_exact_sum, table_reference
from hopsolve_maxcut.rudy import Graph, read_graph


def alternating_cut(graph: Graph) -> float:
    """The cut between the odd- and the even-numbered nodes: a fingerprint of a graph's edges (G1 and G2 have the
    same nodes, edge count and weights, not the same edges), as the identity tour's length is of a TSP file."""
    return graph.cut_weight(np.arange(graph.n) % 2)


CHECKSUM_MODULUS = 2**31 - 1
"""The prime :func:`edge_checksum` sums modulo (every term and the sum of a graph's stay exact in int64)."""


def edge_checksum(graph: Graph) -> float:
    """``Σ w_e·h(i, j) mod (2³¹ − 1)`` over the edges, ``h`` a hash of the edge's two (0-based) nodes, and the
    weights rounded to integers (Gset's are ±1): a fingerprint that any edit changes, but with chance about 2⁻³¹
    (moving an edge between two nodes of the same parity kept :func:`alternating_cut`, and with it G1's best-known
    cut for a graph that beat it: a gap of -0.85%)."""
    low = np.minimum(graph.heads, graph.tails).astype(np.int64)
    high = np.maximum(graph.heads, graph.tails).astype(np.int64)
    hashed = (low * 1_000_003 + high * 998_244_353 + (low * high) % 65_521) % CHECKSUM_MODULUS
    weights = np.rint(graph.weights).astype(np.int64) % CHECKSUM_MODULUS
    return float(int(np.sum(weights * hashed % CHECKSUM_MODULUS)) % CHECKSUM_MODULUS)


def best_known(path: Path, graph: Graph) -> float | None:
    """The best-known cut from a ``bks.csv`` beside the file, else hopsolve's Gset table, by
    :func:`hopsolve.table_reference`: a row of the file's name and ``n`` whose ``edge_checksum``
    (:func:`edge_checksum`) and ``alternating_cut`` (:func:`alternating_cut`), where the row gives them, are the
    graph's, so that a copy of G1 saved as G2.txt, or a graph edited, gets no reference rather than another
    graph's. A malformed table beside the file is a :class:`ParseError` naming it."""
    cut: list[float] = []

    def same_alternating_cut(row: dict[str, str]) -> bool:
        if not row.get("alternating_cut"):
            return True
        if not cut:
            cut.append(alternating_cut(graph))
        return math.isclose(float(row["alternating_cut"]), cut[0], rel_tol=1e-9, abs_tol=1e-9)

    return table_reference(path, (path.stem,), graph.n,
                           ("hopsolve_maxcut/data/bks.csv",
                            resources.files("hopsolve_maxcut").joinpath("data/bks.csv").read_text()),
                           ("bks", "bks_current"), ("edge_checksum", lambda: edge_checksum(graph)),
                           beside="bks.csv", applies=same_alternating_cut)


class MaxcutProblem(Problem):
    """Max-cut on Gset/rudy files, edge lists or networkx graphs; the solution is each node's side (+1/-1).

    Energy: ``E(s) = Σ_{i<j} w_ij (s_i s_j - 1)/2 = -cut(s)``, i.e. Hopfield couplings ``W_ij = -w_ij/2`` and
    offset ``-Σw/2``, so the energy of a state is minus its cut weight.
    """

    name = "maxcut"
    data_type = Graph
    description = "maximum cut of a weighted graph (Gset/rudy files, edge lists, networkx graphs)"
    suffixes = (".txt", ".rudy", ".gset", ".edges")
    sense = "max"
    default_backend = "replica"
    anytime = True

    def read(self, path: str | Path) -> Instance:
        path = Path(path)
        graph = read_graph(path)
        return Instance("maxcut", path.stem, graph, reference=best_known(path, graph), source=str(path))

    @staticmethod
    def from_graph(graph: Any, weight: str = "weight", name: str = "graph",
                   reference: float | None = None) -> Instance:
        """An instance from a networkx graph (nodes relabelled 0..n-1 in ``graph.nodes`` order)."""
        index = {node: k for k, node in enumerate(graph.nodes)}
        edges = []
        for u, v, d in graph.edges(data=True):
            value = d.get(weight, 1.0)
            try:
                number = float(value)
            except (TypeError, ValueError):  # a bare "could not convert string to float" named neither
                raise ParameterError(f"edge ({u!r}, {v!r}) has {weight}={value!r:.40}, not a number") from None
            if not math.isfinite(number):
                raise ParameterError(f"edge ({u!r}, {v!r}) has {weight}={value!r}, not a finite number")
            edges.append((min(index[u], index[v]), max(index[u], index[v]), number))
        if any(u == v for u, v, _ in edges):
            raise ParameterError("the graph has a self-loop")
        arr = np.array(edges, dtype=float).reshape(-1, 3)
        with np.errstate(over="ignore"):  # 1e308s sum to inf: refused below
            total = float(np.abs(arr[:, 2]).sum())  # as a file's weights are checked (rudy.read_graph): 2**60 + 1 was
        # taken as 2**60 in silence
        check_exact_sum(total, None, "a cut (the edge weights' sizes summed)", error=ParameterError)
        data = Graph(len(index), arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2], name)
        return Instance("maxcut", name, data, reference=reference, meta={"nodes": list(graph.nodes)})

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None, options: Any = None) -> Energy:
        g: Graph = instance.data
        w = sp.coo_matrix((-0.5 * g.weights, (g.heads, g.tails)), shape=(g.n, g.n))
        energy = Energy.from_hopfield((w + w.T).tocsr(), np.zeros(g.n), -0.5 * float(g.weights.sum()), "spin")
        return energy.reweighted(**weights) if weights else energy

    def default_params(self, backend: str, instance: Instance) -> dict[str, Any]:
        """The default backend, ``replica``, anneals 40 ladders of one replica each over 2500 sweeps from the typical
        hot end (``schedule="anneal"``): ``anneal``'s max-cut defaults, state for state (same streams, kernel and
        schedule; a test checks it), then a greedy descent of each read's best state (``final_descent``: it
        removes the excitations a best state seen at the end of a sweep still carries). With ``--time-limit T``
        (max-cut is ``anytime``) it spends T instead: a pilot times a round, then reads of about ten sweeps a
        node (2.5 on graphs of more than 16 edges a node on average; 1,000 to 100,000) as many as fill T,
        between 4 and 1,000 of them, the sweeps stretched to what is left
        (:func:`hopsolve.backends.replica.plan_anytime`), recorded as the result's ``reads`` and ``sweeps``; on a
        graph of at most 5,000 nodes with one weight on every edge and four edges at every node (a torus, as
        G48–G50) 30% of T goes to tabu walks from the anneal's best states (``tabu_share``'s default, recorded as
        the result's ``tabu_share``).

        ``anneal``: 40 reads × 2500 sweeps from the typical hot end (best-known cuts of G1–G5 in every one of 10
        seeds, ~0.5 s each on two cores; the worst-case hot end found G2's in 2 of 10 at 40 × 1000); with a time
        limit its schedule is stretched to fill it."""
        if backend == "replica":
            return {"reads": 40, "sweeps": 2500, "schedule": "anneal"}
        if backend == "anneal":
            return {"reads": 40, "sweeps": 2500, "hot_end": "typical"}
        return {}

    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray:
        s = np.asarray(state)
        return s if energy.vartype.value == "spin" else 2 * s - 1

    def score(self, instance: Instance, candidate: Any) -> Solution:
        sides = np.asarray(candidate)
        g: Graph = instance.data
        if sides.shape != (g.n,) or not np.isin(sides, (-1, 1)).all():
            raise ParameterError(f"a cut assigns each of the {g.n} nodes the side +1 or -1")
        return Solution(sides.astype(np.int64).tolist(), g.cut_weight(sides), True)

    def state_of(self, instance: Instance, energy: Energy, candidate: Any) -> np.ndarray:
        sides = np.asarray(candidate, dtype=np.int8)
        return sides if energy.vartype.value == "spin" else ((sides + 1) // 2).astype(np.int8)
