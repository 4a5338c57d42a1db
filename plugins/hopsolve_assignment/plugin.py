"""The ``assignment`` (linear) and ``qap`` (quadratic) problems: permutation matrices with one-hot penalties."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve import (
    MAX_EXACT,
    Energy,
    Instance,
    ParameterError,
    Problem,
    Solution,
    permutation_energy,
    table_reference,
)
from hopsolve_assignment.formats import read_cost_matrix, read_qaplib


def table_value(path: Path, table: str, n: int, identity_cost: Callable[[], float]) -> float | None:
    """The optimum from an ``optima.csv`` beside the file, else from hopsolve's own table ``table``, by
    :func:`hopsolve.table_reference`: a row of the file's name and ``n`` whose ``identity_cost`` (the cost of the
    identity assignment, a fingerprint of the file's numbers; ``identity_cost()`` computes the file's) is the
    file's, so that an edited or renamed copy gets no reference rather than another instance's optimum. A malformed
    table beside the file is a :class:`ParseError` naming it."""
    return table_reference(path, (path.stem,), n,
                           (f"hopsolve_assignment/data/{table}",
                            resources.files("hopsolve_assignment").joinpath(f"data/{table}").read_text()),
                           ("opt",), ("identity_cost", identity_cost))


SMALL_SWEEPS_PER_ITEM = 1e4
"""The default anneal never runs more than this many sweeps an item: a sweep of n² move attempts on 3 facilities
is microseconds, so the fixed budget of attempts (``anneal_attempts``) would otherwise anneal a toy instance for
seconds (3 facilities: 1.1 million sweeps, 3 s). It binds below about 10 facilities (QAP) or 14 rows (assignment),
so no QAPLIB or OR-Library instance's default changes."""


class _PermutationProblem(Problem):
    """Shared decoding for problems whose candidates are permutations (row i → column p[i])."""

    default_backend = "anneal"
    anneal_moves: dict[str, float] = {"swap_probability": 1.0}
    """The move mix ``anneal`` uses by default (exchanges only: reversals mean nothing to an assignment)."""

    @abstractmethod
    def anneal_attempts(self, n: int) -> float:
        """Move attempts per read by default: a few seconds on one core."""

    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray | None:
        return energy.layout.positions(state)

    def state_of(self, instance: Instance, energy: Energy, candidate: Any) -> np.ndarray:
        return energy.layout.state(np.asarray(candidate), energy.vartype, energy.num_variables)

    def repair(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray:
        """The permutation closest to the state: a linear assignment maximising the overlap with it."""
        from scipy.optimize import linear_sum_assignment

        grid = np.asarray(state, dtype=float)[energy.layout.indices()]
        _, cols = linear_sum_assignment(-grid)
        return cols

    def _check(self, candidate: Any, n: int) -> np.ndarray:
        p = np.asarray(candidate, dtype=np.int64)
        if p.shape != (n,) or sorted(p.tolist()) != list(range(n)):
            raise ParameterError(f"an assignment must be a permutation of 0..{n - 1}")
        return p

    def default_params(self, backend: str, instance: Instance) -> dict[str, Any]:
        """For ``anneal``: two reads, this problem's move mix, and sweeps (of n² attempts each) from its budget of
        attempts per read (:meth:`anneal_attempts`), at most :data:`SMALL_SWEEPS_PER_ITEM` sweeps an item; for
        ``replica``, which tempers with the same moves, the move mix."""
        if backend == "replica":
            return dict(self.anneal_moves)
        if backend != "anneal":
            return {}
        n = self._size(instance)
        sweeps = max(100, int(min(self.anneal_attempts(n) / (n * n), SMALL_SWEEPS_PER_ITEM * n)))
        return {"reads": 2, "sweeps": sweeps, **self.anneal_moves}

    @staticmethod
    def _size(instance: Instance) -> int:
        data = instance.data
        return len(data) if isinstance(data, np.ndarray) else len(data[0])


class AssignmentProblem(_PermutationProblem):
    """Linear assignment: minimise Σ_i C[i, p(i)]; the solution gives each row's column (1-based)."""

    name = "assignment"
    data_type = np.ndarray
    description = "linear assignment (OR-Library, .npy or .csv cost matrices)"
    suffixes = (".npy", ".csv", ".assign")
    sense = "min"
    anneal_moves = {"swap_probability": 1.0, "chain_probability": 1.0}

    def anneal_attempts(self, n: int) -> float:
        """Ejection chains weigh 10·n exchanges of O(1) each; 2·10⁵ chains per read (capped at 4·10⁸ attempts,
        ~4 s) reach the optimum of assign100–800 or come within 1% of it (0.8% at worst, on assign700)."""
        return min(4e8, 2e6 * n)

    def read(self, path: str | Path) -> Instance:
        path = Path(path)
        costs = read_cost_matrix(path)
        reference = table_value(path, "assign_optima.csv", len(costs), lambda: float(np.trace(costs)))
        return Instance("assignment", path.stem, costs, reference=reference, source=str(path))

    @staticmethod
    def from_costs(costs: Any, name: str = "assignment", reference: float | None = None) -> Instance:
        if np.iscomplexobj(costs):
            raise ParameterError("a cost matrix must be real, got complex entries")
        try:
            c = np.asarray(costs, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError("a cost matrix must hold numbers") from None
        if c.ndim != 2 or c.shape[0] != c.shape[1] or c.size == 0:
            raise ParameterError(f"the cost matrix must be square and not empty, got shape {c.shape}")
        if not np.isfinite(c).all():
            raise ParameterError("a cost matrix's entries must be finite numbers")
        largest = float(np.abs(c).max(axis=1).sum())  # as a file's costs are checked (formats.read_cost_matrix)
        if not largest < MAX_EXACT:
            raise ParameterError(f"an assignment's cost could reach {largest:.3g}: it must stay below 2^53 ≈ 9.0e15 "
                                 "for float64 sums to be exact; scale the costs down")
        return Instance("assignment", name, c, reference=reference)

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None, options: Any = None) -> Energy:
        """Costs divided by their largest magnitude; row and column penalties weigh at least that (1)."""
        c = instance.data
        n = len(c)
        scale = float(np.abs(c).max()) or 1.0
        return permutation_energy(np.zeros((n, n)), sp.csr_matrix((n, n)), c / scale, weights=weights)

    def score(self, instance: Instance, candidate: Any) -> Solution:
        p = self._check(candidate, len(instance.data))
        cost = float(instance.data[np.arange(len(p)), p].sum())
        return Solution([int(k) + 1 for k in p], cost, True)


class QapProblem(_PermutationProblem):
    """Koopmans–Beckmann QAP: minimise Σ a_ij b_p(i)p(j); the solution gives each facility's location."""

    name = "qap"
    data_type = tuple
    description = "quadratic assignment (QAPLIB .dat)"
    suffixes = (".dat",)
    solution_suffixes = (".sln",)
    sense = "min"

    def anneal_attempts(self, n: int) -> float:
        """Exchanges of O(n) each on a dense QAP."""
        return 1e7

    def read(self, path: str | Path) -> Instance:
        path = Path(path)
        flow, distance = read_qaplib(path)
        reference = table_value(path, "qap_optima.csv", len(flow), lambda: float(np.vdot(flow, distance)))
        return Instance("qap", path.stem, (flow, distance), reference=reference, source=str(path))

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None, options: Any = None) -> Energy:
        flow, distance = instance.data
        return permutation_energy(flow, distance, weights=weights)

    def write_solution(self, instance: Instance, solution: Solution, path: str | Path) -> None:
        """QAPLIB's ``.sln``: ``n cost``, then each facility's location (1-based), as QAPLIB's own solution files
        are (and as :func:`read_qaplib_solution` reads them)."""
        if solution.value is None or solution.objective is None:
            raise ParameterError("no solution to write")
        cost = float(solution.objective)
        shown = f"{int(cost)}" if cost.is_integer() else repr(cost)
        Path(path).write_text(f"{len(solution.value)} {shown}\n{' '.join(str(v) for v in solution.value)}\n")

    def score(self, instance: Instance, candidate: Any) -> Solution:
        flow, distance = instance.data
        p = self._check(candidate, len(flow))
        cost = float((flow * distance[np.ix_(p, p)]).sum())
        return Solution([int(k) + 1 for k in p], cost, True)
