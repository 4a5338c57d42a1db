"""The ``tsp`` problem: symmetric TSPLIB instances as Hopfield–Tank (or Lucas) energies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hopsolve import (
    Energy,
    Instance,
    Metric,
    ParameterError,
    Problem,
    Solution,
    UserError,
    check_exact_sum,
    require,
    table_reference,
)
from hopsolve_tsp.encoding import TspEncoding, encode_tsp
from hopsolve_tsp.tsplib import TsplibInstance, read_tsplib, write_tour

# move attempts per read for the default anneal run (a few seconds a read at ~5·10⁶ attempts/s)
ANNEAL_ATTEMPTS_PER_READ = 2e7
SMALL_SWEEPS_PER_CITY = 1e4
"""Below ~45 cities the default schedule is this many sweeps per city, not the fixed budget: burma14 took 10.6 s
for 1.4 million sweeps, now 0.9 s for 140,000, and every instance of 14–48 cities (burma14 … hk48) still reached
its optimum in 8 seeds of 8 (1,000 a city missed att48's and gr48's in 5 of 16)."""


@dataclass(frozen=True)
class TspOptions:
    """How the tour is encoded as a network (``hopsolve solve --option key=value``)."""

    form: Literal["hopfield-tank", "lucas"] = "hopfield-tank"
    """``hopfield-tank``: row/column/total/objective as in Hopfield & Tank (1985); ``lucas``: one-hot QUBO."""
    fix_first: bool = False
    """Pin city 1 to position 1: (n-1)² neurons instead of n², for the network dynamics (``hopfield``, ``tank``).
    Backends that move between tours (``anneal``, ``replica``) move as on the whole tour and report it turned round
    to city 1: the same moves, sizes and speed as without the option (before, they moved between permutations of
    the other cities: berlin52 untimed 620 s instead of 3 s, and nothing past the n × n matrix's memory limit)."""
    active: float | None = None
    """Hopfield–Tank's ñ, the target number of active neurons in the ``total`` term (default: n)."""
    normalise: bool = True
    """Divide distances by the largest one (so default weights fit every instance); ``False`` keeps raw units,
    as Hopfield & Tank's weights A = B = 500, C = 200, D = 500 assume for cities in the unit square."""

    def validate(self) -> None:
        require(self.active is None or self.active > 0, "problem 'tsp'", "active must be positive")


def known_optimum(path: Path, instance: TsplibInstance) -> float | None:
    """The optimum from an ``optima.csv`` beside the file, else from hopsolve's TSPLIB table (verified rows only),
    by :func:`hopsolve.table_reference`: a row of the file's NAME (or its file name) and dimension whose
    ``identity_length`` (the length of the tour 1, 2, …, n, a fingerprint of the file's distances) is the file's
    (a copy of berlin52 with one city moved kept the name and the size, and reported a tour below the "optimum"
    as a gap of -3.26%). A malformed table beside the file is a :class:`ParseError` naming it."""
    n = instance.dimension
    return table_reference(path, (instance.name, path.name.split(".")[0]), n,
                           ("hopsolve_tsp/data/optima.csv",
                            resources.files("hopsolve_tsp").joinpath("data/optima.csv").read_text()),
                           ("optimum",), ("identity_length", lambda: instance.tour_length(np.arange(n))),
                           applies=lambda row: row.get("verified", "1") == "1")


class TspProblem(Problem):
    """Symmetric TSP from TSPLIB files; the solution is the tour as 1-based city ids."""

    name = "tsp"
    data_type = TsplibInstance
    description = "symmetric travelling salesman (TSPLIB .tsp), Hopfield-Tank or Lucas encoding"
    suffixes = (".tsp",)
    solution_suffixes = (".tour",)
    sense = "min"
    default_backend = "anneal"
    default_time_limit = 10.0
    anytime = True
    Options = TspOptions

    def prepare(self) -> float:
        """Compile (or load) the on-the-fly distance kernels (:class:`hopsolve.Metric`)."""
        return Metric.warm_up()

    def read(self, path: str | Path) -> Instance:
        path = Path(path)
        data = read_tsplib(path)
        return Instance("tsp", data.name, data, reference=known_optimum(path, data), source=str(path))

    @staticmethod
    def from_distances(distances: Any, name: str = "tsp", reference: float | None = None,
                       coordinates: Any = None) -> Instance:
        """An instance from a distance matrix (and optional coordinates, one row of x, y per city, for plotting),
        checked as a file's distances are: a symmetric square matrix of at least one city, finite numbers whose
        tours stay below 2^53 (a 0 × 0 matrix crashed OR-Tools routing; NaN, strings or ragged rows gave numpy's
        errors; distances of 1e308 an infinite tour blamed on the backend)."""
        try:
            d = np.asarray(distances)
        except (TypeError, ValueError):  # ragged rows
            raise ParameterError("distances must be a square matrix of numbers") from None
        if d.dtype.kind not in "iuf":  # complex, strings (numpy reads "1" as 1), objects
            raise ParameterError(f"distances must be a square matrix of real numbers, got {d.dtype} entries")
        if d.dtype.kind == "f":
            d = d.astype(np.float64)
        if d.ndim != 2 or d.shape[0] != d.shape[1] or d.size == 0:
            raise ParameterError(f"distances must be a square matrix of at least one city, got shape {d.shape}")
        if not np.isfinite(d).all():
            raise ParameterError("distances must be finite numbers")
        with np.errstate(over="ignore"):  # distances of 1e308 sum to inf, refused below
            longest = float(np.abs(d).max(axis=1).astype(np.float64).sum())
        check_exact_sum(longest, None, "a tour's length", error=ParameterError)
        if not np.array_equal(d, d.T):  # exactly, as a file's are: within allclose's 1e-5, 100000 and 100001 gave
            raise ParameterError("distances must be a symmetric matrix (d[i, j] == d[j, i])")  # a cycle two lengths
        # (negative distances are taken from Python, where a file's are refused: the solvers handle them)
        coords = None
        if coordinates is not None:
            try:
                coords = np.asarray(coordinates, dtype=float)
            except (TypeError, ValueError):
                raise ParameterError("coordinates must be numbers") from None
            if coords.ndim != 2 or coords.shape != (d.shape[0], 2) or not np.isfinite(coords).all():
                raise ParameterError(f"coordinates must be finite x, y rows, one per city: shape ({d.shape[0]}, 2), "
                                     f"got {coords.shape}")
        data = TsplibInstance(name, d.shape[0], "EXPLICIT", Metric.from_matrix(d), coordinates=coords)
        return Instance("tsp", name, data, reference=reference)

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None,
               options: TspOptions | None = None) -> Energy:
        options = options or TspOptions()
        energy, _ = encode_tsp(instance.data.metric, form=options.form, fix_first=options.fix_first,
                               weights=weights, active=options.active, normalise=options.normalise)
        if options.active is not None and options.active != energy.layout.size:
            energy = replace(energy, permutation=None)  # with ñ ≠ n a valid tour is not a zero-penalty state
        return energy

    @staticmethod
    def _encoding(instance: Instance, energy: Energy) -> TspEncoding:
        n = instance.data.dimension
        m = energy.layout.size
        return TspEncoding(n, m == n - 1)

    def decode(self, instance: Instance, energy: Energy, state: np.ndarray, *, repair: bool = False) -> Solution:
        """As :meth:`hopsolve.Problem.decode`, except for Hopfield–Tank's ``total`` term: its violation is
        ``½(Σ V − n)²``, the constraint the C term stands for. With ``--option active=ñ`` (ñ ≠ n, the source
        article's ñ = 15 for 10 cities) the term's own value ``½(Σ V − ñ)²`` is a bias of the dynamics that no tour
        can zero; it made every valid tour of the article's network "infeasible" (0/20 where ~9% are tours)."""
        solution = super().decode(instance, energy, state, repair=repair)
        if "total" not in solution.violations:
            return solution
        violations = dict(solution.violations)
        violations["total"] = 0.5 * (float(np.asarray(state, dtype=float).sum()) - energy.layout.size) ** 2
        feasible = (solution.value is not None and not solution.repaired
                    and all(abs(v) < 1e-9 for v in violations.values()))
        return replace(solution, violations=violations, feasible=feasible)

    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray | None:
        positions = energy.layout.positions(state)
        if positions is None:
            return None
        return self._encoding(instance, energy).tour_from_positions(positions)

    def decode_permutation(self, instance: Instance, energy: Energy, positions: np.ndarray) -> Solution:
        """Score the tour a permutation stands for, without building its n² bits. A permutation is a feasible
        state of either form (every one-hot penalty is zero; ``tests/test_tsp_large.py`` checks this against the
        bit state), so the violations are zero."""
        tour = self._encoding(instance, energy).tour_from_positions(np.asarray(positions))
        solution = self.score(instance, tour)
        return replace(solution, violations={name: 0.0 for name in energy.penalty_names})

    def score(self, instance: Instance, candidate: Any) -> Solution:
        tour = np.asarray(candidate, dtype=np.int64)
        n = instance.data.dimension
        if tour.shape != (n,) or not np.array_equal(np.sort(tour), np.arange(n)):
            raise ParameterError(f"a tour must visit each of the {n} cities exactly once")
        length = instance.data.tour_length(tour)
        return Solution((tour + 1).tolist(), float(length), True)  # Python ints, 10× faster than int(c) + 1 each

    def state_of(self, instance: Instance, energy: Energy, candidate: Any) -> np.ndarray:
        positions = self._encoding(instance, energy).positions_from_tour(np.asarray(candidate))
        return energy.layout.state(positions, energy.vartype, energy.num_variables)

    def repair(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray:
        """Greedy: place the most active (city, position) pairs first, then fill gaps in city order."""
        m = energy.layout.size
        grid = np.asarray(state, dtype=float)[energy.layout.indices()]
        order = np.argsort(-grid, axis=None, kind="stable")
        positions = np.full(m, -1)
        taken = np.zeros(m, dtype=bool)
        for flat in order:
            item, pos = divmod(int(flat), m)
            if positions[item] < 0 and not taken[pos] and grid[item, pos] > 0:
                positions[item] = pos
                taken[pos] = True
        free = iter(np.flatnonzero(~taken))
        for item in np.flatnonzero(positions < 0):
            positions[item] = next(free)
        return self._encoding(instance, energy).tour_from_positions(positions)

    def default_params(self, backend: str, instance: Instance) -> dict[str, Any]:
        """For ``anneal``: tour moves, two reads (one per core), sweeps (of n move attempts each) from a fixed budget
        of attempts per read, capped at :data:`SMALL_SWEEPS_PER_CITY` sweeps a city so that a small instance is not
        annealed for seconds; an explicit time limit stretches or squeezes the schedule to fill it."""
        if backend != "anneal":
            return {}
        n = instance.data.dimension
        budget = min(ANNEAL_ATTEMPTS_PER_READ / n, SMALL_SWEEPS_PER_CITY * n)
        return {"reads": 2, "sweeps": max(100, int(budget))}

    def write_solution(self, instance: Instance, solution: Solution, path: str | Path) -> None:
        tour = np.asarray(solution.value) - 1
        write_tour(path, instance.name, tour, f"length {solution.objective:.12g} (hopsolve)")

    def check_plot(self, instance: Instance) -> None:
        """Refuse an instance without coordinates to draw (an explicit matrix without display data)."""
        if instance.data.plot_coordinates() is None:
            raise UserError(f"{instance.name} has no coordinates to draw", path=instance.source)

    def plot(self, instance: Instance, solution: Solution, path: str | Path | None = None, *, ax: Any = None) -> Any:
        """Draw the tour over the city coordinates (extra ``plot``) into ``ax`` (a matplotlib Axes, e.g. in a
        notebook) or a new figure saved to ``path``; returns the Axes."""
        try:
            from matplotlib.figure import Figure  # no pyplot: a notebook's backend is left alone
        except ImportError:
            raise UserError("--plot needs matplotlib: pip install 'hopsolve[plot]'") from None
        self.check_plot(instance)
        coords = instance.data.plot_coordinates()
        tour = np.asarray(solution.value) - 1
        loop = np.append(tour, tour[0])
        own = ax is None
        if own:
            fig = Figure(figsize=(6, 6))
            ax = fig.subplots()
        size = 3 if len(tour) <= 2000 else 0.5
        ax.plot(coords[loop, 0], coords[loop, 1], "-", color="tab:blue", lw=1 if len(tour) <= 2000 else 0.3)
        ax.plot(coords[:, 0], coords[:, 1], "o", color="tab:red", ms=size)
        ax.set_title(f"{instance.name}: length {solution.objective:.12g}")
        ax.set_aspect("equal")
        if own and path is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        return ax
