"""The problem plugin contract: read an instance, encode it as an energy, decode and score a state."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from hopsolve.energy import Energy
from hopsolve.errors import ParameterError
from hopsolve.params import build_params
from hopsolve.plugin_calls import plugin_call

Sense = Literal["min", "max"]


@dataclass(frozen=True, eq=False)
class Instance:
    """One problem instance: its ``data`` in the plugin's own form, and what is known about its optimum."""

    problem: str
    name: str
    data: Any
    reference: float | None = None
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Solution:
    """A candidate in the problem's own terms, scored.

    ``value`` is JSON-able with 1-based indices as in the file formats (a tour, each node's side, each row's
    column, a bit vector). ``violations`` maps each violated constraint to its amount (finite numbers; all zero or
    empty when feasible): from :meth:`Problem.decode` (a backend's state), each penalty term's unweighted value,
    keyed by the term's name, whatever :meth:`Problem.score` said; from ``score`` alone (a baseline's candidate),
    what ``score`` gives. A problem whose ``score`` names its own constraints and wants them for backends too
    overrides ``decode`` (as ``cqm`` does, keyed by the model's constraint labels).
    ``details`` is the problem's own extra (not read by hopsolve) except ``details["note"]``: text the problem
    wants a user to read beside the answer (shown under ``hopsolve solve``'s summary and kept as the result's
    ``info["solution_note"]``), e.g. that the objective shown is the negation of the one the file maximises.
    """

    value: Any
    objective: float | None
    feasible: bool
    violations: dict[str, float] = field(default_factory=dict)
    repaired: bool = False
    details: dict[str, Any] = field(default_factory=dict)


class Problem(ABC):
    """A stateless problem plugin. Subclasses set ``name``, ``description``, ``suffixes`` and ``sense``.

    ``decode`` is ``score(instance, candidate(instance, state))`` so that baselines, which find candidates
    without an energy, are scored by the same code as the backends.

    Optional: ``plot(instance, solution, path=None, *, ax=None)`` draws a solution (``hopsolve solve --plot``;
    a problem without it is refused before the solve), and ``check_plot(instance)`` raises a
    :class:`~hopsolve.errors.UserError` for an instance ``plot`` could not draw, called once the instance is read
    and before it is solved, so that the refusal costs no run.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    sense: ClassVar[Sense] = "min"
    default_backend: ClassVar[str] = "anneal"
    default_time_limit: ClassVar[float | None] = None
    """The time limit given to a baseline that needs one (OR-Tools routing) when the user gives none; backends
    without an explicit limit run the budget of their parameters (see :meth:`default_params`)."""
    anytime: ClassVar[bool] = False
    """True: a time limit the user gives is a budget to spend, and backends that can stretch their schedule to
    fill it (``anneal``'s ``fill_time``) do, unless the user also gives the sweeps (then those run, and the limit
    only caps them; reads the user gives are kept and only their sweeps are planned); False: a time limit only caps
    the default budget."""
    energy_is_objective: ClassVar[bool] = True
    """True: the energy's ground states are the objective's optima (its ``objective`` term is the objective, its
    penalties zero on feasible states), so an answer a backend proves a ground state (``exact``) is ``optimal``.
    False where the objective measures something else (memory's overlap with the nearest stored pattern: its
    ground states can be spurious states): a proven ground state is then only ``feasible``."""
    data_type: ClassVar[type | tuple[type, ...]] = object
    """The type of :attr:`Instance.data` this problem's ``read`` and constructors make (an ``isinstance`` check):
    :func:`~hopsolve.solve_instance` refuses an instance whose data is another, in one line, before the plugin reads
    it (a hand-built ``Instance("tsp", "x", matrix)`` failed deep in the plugin with an ``AttributeError``).
    ``object``, the default: any data is passed to the plugin as it is."""
    solution_suffixes: ClassVar[tuple[str, ...] | None] = None
    """The file suffixes :meth:`write_solution` writes (``hopsolve solve --out`` refuses any other before the
    solve starts); ``None``: any suffix (the default format is plain text)."""
    Options: ClassVar[type | None] = None
    """A frozen dataclass of encoding options (``hopsolve solve --option key=value``); ``None``: no options."""
    file_options: ClassVar[tuple[str, ...]] = ()
    """The :attr:`Options` fields that name files (memory's ``cue``): ``hopsolve bench`` resolves them to absolute
    paths as it does instances (a suite's relative to its folder), so a worker started elsewhere reads the same
    file, and refuses one that names no file before any task; no other option value is touched."""

    def options(self, values: Mapping[str, Any] | None = None) -> Any:
        """Build and validate this problem's encoding options (unknown or invalid fields are errors)."""
        if self.Options is None:
            if values:
                raise ParameterError(f"problem {self.name!r} takes no encoding options")
            return None
        return build_params(self.Options, values, owner=f"problem {self.name!r}")

    def initial_states(self, instance: Instance, energy: Energy, options: Any) -> np.ndarray | None:
        """States the dynamics should start from (e.g. the cues of an associative memory), or ``None``."""
        return None

    def default_params(self, backend: str, instance: Instance) -> dict[str, Any]:
        """Backend parameters this problem suggests for ``instance`` (the user's values take precedence)."""
        return {}

    def prepare(self) -> float:
        """Compile or load this problem's own compiled code (readers, distance kernels) before a solve's clock
        starts; returns the seconds spent. The default does nothing."""
        return 0.0

    @abstractmethod
    def read(self, path: str | Path) -> Instance:
        """Parse a file; raise :class:`hopsolve.errors.ParseError` naming file and line on bad input."""

    @abstractmethod
    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None, options: Any = None) -> Energy:
        """The energy whose minima are the instance's optima (weights default from the instance's scale).

        ``options`` is an instance of :attr:`Options` (problems without options may omit the argument).
        """

    @abstractmethod
    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> Any:
        """The problem-level candidate a state stands for, or ``None`` if the state is not one."""

    @abstractmethod
    def score(self, instance: Instance, candidate: Any) -> Solution:
        """Check and score a candidate in the problem's own terms."""

    def decode(self, instance: Instance, energy: Energy, state: np.ndarray, *, repair: bool = False) -> Solution:
        """Map a state back to a scored solution; with ``repair`` an invalid state is mended and flagged. Its
        ``violations`` are the energy's penalty terms' values (see :class:`Solution`)."""
        state = np.asarray(state)
        violations = energy.violations(state)
        found = plugin_call("problem", self, "candidate", lambda: self.candidate(instance, energy, state))
        if found is None and repair:
            mended = plugin_call("problem", self, "repair", lambda: self.repair(instance, energy, state))
            if mended is not None:
                solution = plugin_call("problem", self, "score", lambda: self.score(instance, mended), returns=Solution)
                return Solution(solution.value, solution.objective, False, violations, True, solution.details)
        if found is None:
            return Solution(None, None, False, violations)
        solution = plugin_call("problem", self, "score", lambda: self.score(instance, found), returns=Solution)
        feasible = solution.feasible and all(abs(v) < 1e-9 for v in violations.values())
        return Solution(solution.value, solution.objective, feasible, violations, False, solution.details)

    def decode_permutation(self, instance: Instance, energy: Energy, positions: np.ndarray) -> Solution:
        """Decode a feasible state given as its permutation (item → position) under ``energy.permutation``.

        The default builds the bit state and calls :meth:`decode`; problems whose bit states can be too large to
        build (a tour over 85,900 cities) override it and score the permutation directly."""
        layout = energy.permutation.layout
        return self.decode(instance, energy, layout.state(positions, energy.vartype, energy.num_variables))

    def state_of(self, instance: Instance, energy: Energy, candidate: Any) -> np.ndarray:
        """The state of ``energy`` that stands for ``candidate`` (the inverse of :meth:`candidate`)."""
        raise ParameterError(f"problem {self.name!r} cannot encode a candidate as a state")

    def repair(self, instance: Instance, energy: Energy, state: np.ndarray) -> Any:
        """A feasible candidate near an invalid state, or ``None`` where the problem offers no repair."""
        return None

    def reference(self, instance: Instance) -> float | None:
        """The known optimum or best-known objective value, if any."""
        return instance.reference

    def write_solution(self, instance: Instance, solution: Solution, path: str | Path) -> None:
        """Write a solution in the problem's own file format (default: one value per line)."""
        values = solution.value if isinstance(solution.value, list) else [solution.value]
        Path(path).write_text("".join(f"{v}\n" for v in values))
