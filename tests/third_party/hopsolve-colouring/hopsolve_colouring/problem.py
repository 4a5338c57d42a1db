"""The ``colouring`` problem: colour a graph's nodes with k colours so that no edge joins two nodes of one colour.

Encoding: ``n·k`` bits, ``x[v·k + c] = 1`` when node v has colour c; the k bits of a node are a one-hot group
(:class:`hopsolve.OneHotGroups`, ``rows(n, k)``), so ``anneal`` recolours a node by moving inside its group,
``hopfield`` picks each node's colour winner-take-all and ``tank`` runs a softmax over the k colours. Two named
terms, both penalties (each zero exactly on proper colourings):

- ``onehot`` = ``Σ_v (Σ_c x_vc − 1)²``, the group penalty (always zero under the group moves above);
- ``conflicts`` = ``Σ_{uv ∈ E} Σ_c x_uc x_vc``, the edges whose ends share a colour.

Both are non-negative and vanish together exactly on the proper k-colourings, so with k ≥ χ any positive weights
(default 1 and 1) make the ground states exactly the proper colourings. The energy has no ``objective`` term:
within a fixed k every proper colouring is as good as any other; fewer colours means a smaller k (``--option
colours=K``, or a search over k as ``benchmarks/bench_colouring.py`` does).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve import (
    Energy,
    Instance,
    OneHotGroups,
    ParameterError,
    Problem,
    QuadraticTerm,
    Solution,
    UserError,
    Vartype,
    check_matrix_size,
    require,
)
from hopsolve_colouring.dimacs import ColGraph, dsatur, read_col

# anneal's default budget: group moves per read (a move costs about a node's degree); two reads, one per core
ANNEAL_MOVES_PER_READ = 2e6


@dataclass(frozen=True)
class ColouringOptions:
    """How the colouring is encoded (``hopsolve solve --option colours=K``)."""

    colours: int | None = None
    """k, the colours each node may take. Default (``None`` in ``params.options``): the number of colours DSatur
    (Brélaz 1979) uses on the instance — an upper bound on χ, so a proper k-colouring exists; ``hopsolve solve
    FILE --baseline dsatur`` prints it as its objective."""

    def validate(self) -> None:
        require(self.colours is None or self.colours >= 1, "problem 'colouring'", "colours must be at least 1")


def _table(text: str) -> dict[str, dict[str, str]]:
    return {row["name"]: row for row in csv.DictReader(line for line in text.splitlines()
                                                        if line.strip() and not line.startswith("#"))}


def known_chromatic_number(path: Path, graph: ColGraph) -> float | None:
    """χ from a ``chromatic.csv`` beside the file (columns ``name,n,m,chromatic``), else from this package's table
    of the shipped DIMACS instances; a row counts only where its node and edge counts match the file's."""
    tables = []
    beside = path.parent / "chromatic.csv"
    if beside.exists():
        tables.append(_table(beside.read_text()))
    tables.append(_table(resources.files("hopsolve_colouring").joinpath("chromatic.csv").read_text()))
    for table in tables:
        row = table.get(path.stem)
        if row and int(row["n"]) == graph.n and int(row["m"]) == graph.m and row.get("chromatic"):
            return float(row["chromatic"])
    return None


class ColouringProblem(Problem):
    """Graph colouring with k colours (DIMACS ``.col`` files, networkx graphs).

    - ``solution``: each node's colour, 1-based, in node order.
    - ``objective``: the number of distinct colours a *proper* colouring uses (minimised); ``None`` for a
      colouring with a conflict, which is never feasible.
    - ``feasible``: every node has exactly one colour and no edge joins two nodes of the same colour.
    - ``violations``: ``onehot`` (nodes without exactly one colour, as the group penalty's value) and
      ``conflicts`` (edges whose ends share a colour).
    - ``reference``: the known chromatic number χ (see :func:`known_chromatic_number`), so ``gap`` is
      ``(colours used − χ)/χ``. It does not depend on k: with k < χ no run can be feasible.
    - option ``colours`` (k): see :class:`ColouringOptions`.
    """

    name = "colouring"
    description = "graph colouring with k colours (DIMACS .col), one-hot group per node"
    suffixes = (".col",)
    sense = "min"
    default_backend = "anneal"
    Options = ColouringOptions

    def read(self, path: str | Path) -> Instance:
        path = Path(path)
        graph = read_col(path)
        return Instance(self.name, graph.name, graph, reference=known_chromatic_number(path, graph),
                        source=str(path), meta={"duplicate_edges": graph.duplicates})

    @staticmethod
    def from_graph(graph: Any, name: str = "graph", reference: float | None = None) -> Instance:
        """An instance from a networkx graph; nodes are numbered in ``graph.nodes`` order (kept in
        ``meta['nodes']``), so ``solution[i]`` is the colour of the i-th node."""
        index = {node: k for k, node in enumerate(graph.nodes)}
        data = ColGraph.build(len(index), [(index[u], index[v]) for u, v in graph.edges], name)
        return Instance("colouring", name, data, reference=reference, meta={"nodes": list(graph.nodes)})

    @staticmethod
    def default_colours(instance: Instance) -> int:
        """The default k: the number of colours DSatur uses."""
        return int(dsatur(instance.data).max(initial=0)) + 1

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None,
               options: ColouringOptions | None = None) -> Energy:
        graph: ColGraph = instance.data
        k = (options.colours if options is not None else None) or self.default_colours(instance)
        n = graph.n
        check_matrix_size(2 * graph.m * k, "the conflicts term")
        colour = np.arange(k)
        heads = (graph.edges[:, :1] * k + colour).ravel()
        tails = (graph.edges[:, 1:] * k + colour).ravel()
        # x_u x_v = -½(W_uv + W_vu) x_u x_v in the Hopfield form: W = -1 on both entries of every edge and colour
        coupling = sp.coo_matrix((-np.ones(2 * len(heads)), (np.concatenate([heads, tails]),
                                                             np.concatenate([tails, heads]))), shape=(n * k, n * k))
        groups = OneHotGroups.rows(n, k)
        conflicts = QuadraticTerm.build("conflicts", coupling.tocsr(), np.zeros(n * k))
        energy = Energy(Vartype.BINARY, (groups.penalty("onehot", n * k), conflicts), groups=groups)
        return energy.reweighted(**weights) if weights else energy

    def default_params(self, backend: str, instance: Instance) -> dict[str, Any]:
        """``anneal``: two reads (one per core) of ``2·10⁶`` group moves each (``2·10⁶/n`` sweeps), β from 1 to 10.

        Every energy change is a whole number of conflicts (at the default weights), so β = 1 accepts one more
        conflict with probability e⁻¹ and β = 10 with 5·10⁻⁵. The range derived from sampled moves (about 0.3 to
        4.6) ends too hot to settle: on le450_15a with k = 16 and 20 s it left 16 conflicts where [1, 10] found a
        proper colouring (``benchmarks/RESULTS.md``). With ``--weight conflicts=w`` divide both ends by w.
        """
        if backend != "anneal":
            return {}
        sweeps = max(100, int(ANNEAL_MOVES_PER_READ / max(instance.data.n, 1)))
        return {"reads": 2, "sweeps": sweeps, "beta_min": 1.0, "beta_max": 10.0}

    @staticmethod
    def _colours_available(instance: Instance, energy: Energy) -> int:
        return energy.num_variables // max(instance.data.n, 1)

    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray | None:
        """The colour of each node (0-based), or ``None`` where some node has no colour or several."""
        choices = energy.groups.choices(state)
        return None if (choices < 0).any() else choices

    def repair(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray:
        """Give each node without exactly one colour the colour (among those it has on, else among all) that
        conflicts with the fewest neighbours coloured so far."""
        k = self._colours_available(instance, energy)
        graph: ColGraph = instance.data
        on = (np.asarray(state)[: graph.n * k].reshape(graph.n, k) == 1)
        colours = energy.groups.choices(state)
        indptr, indices = graph.neighbours()
        for v in np.flatnonzero(colours < 0):
            allowed = np.flatnonzero(on[v]) if on[v].any() else np.arange(k)
            around = colours[indices[indptr[v]:indptr[v + 1]]]
            clashes = np.array([(around == c).sum() for c in allowed])
            colours[v] = allowed[int(np.argmin(clashes))]
        return colours

    def score(self, instance: Instance, candidate: Any) -> Solution:
        graph: ColGraph = instance.data
        colours = np.asarray(candidate)
        if colours.shape != (graph.n,) or not np.issubdtype(colours.dtype, np.integer) or (colours < 0).any():
            raise ParameterError(f"a colouring gives each of the {graph.n} nodes a colour 0, 1, 2, ...")
        conflicts = graph.conflicts(colours)
        used = len(np.unique(colours))
        proper = conflicts == 0
        return Solution([int(c) + 1 for c in colours], float(used) if proper else None, proper,
                        details={"conflicts": conflicts, "colours_used": used})

    def state_of(self, instance: Instance, energy: Energy, candidate: Any) -> np.ndarray:
        k = self._colours_available(instance, energy)
        colours = np.asarray(candidate, dtype=np.int64)
        if (colours >= k).any():
            raise ParameterError(f"colour {int(colours.max()) + 1} is more than the energy's {k} colours")
        state = np.full(energy.num_variables, energy.vartype.low, dtype=np.int8)
        state[np.arange(instance.data.n) * k + colours] = 1
        return state

    def plot(self, instance: Instance, solution: Solution, path: str | Path | None = None, *, ax: Any = None) -> Any:
        """Draw the graph (networkx spring layout, seed 0), each node in its colour and every conflicting edge
        thick and red, into ``ax`` or a new figure saved to ``path`` (extra ``plot``); returns the Axes."""
        try:
            import networkx as nx
            from matplotlib import colormaps
            from matplotlib.figure import Figure
        except ImportError:
            raise UserError("--plot needs matplotlib: pip install 'hopsolve[plot]'") from None
        if solution.value is None:
            raise UserError("no colouring to draw", path=path)
        graph: ColGraph = instance.data
        colours = np.asarray(solution.value) - 1
        nxg = graph.to_networkx()
        where = nx.spring_layout(nxg, seed=0)
        own = ax is None
        if own:
            fig = Figure(figsize=(6, 6))
            ax = fig.subplots()
        bad = [(u, v) for u, v in graph.edges.tolist() if colours[u] == colours[v]]
        nx.draw_networkx_edges(nxg, where, ax=ax, width=0.4, alpha=0.4)
        if bad:
            nx.draw_networkx_edges(nxg, where, edgelist=bad, ax=ax, width=2.0, edge_color="red")
        palette = colormaps["tab20"]
        nx.draw_networkx_nodes(nxg, where, ax=ax, node_size=60 if graph.n <= 200 else 15,
                               node_color=[palette(int(c) % 20) for c in colours])
        used = len(np.unique(colours))
        ax.set_title(f"{instance.name}: {used} colours, {len(bad)} conflicts"
                     + (f" (χ = {instance.reference:g})" if instance.reference is not None else ""))
        ax.set_axis_off()
        if own and path is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        return ax
