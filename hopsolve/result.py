"""One JSON-able record of a run: what was solved, by what, how well, and how long it took."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hopsolve.errors import ParameterError, UserError

Status = Literal["optimal", "feasible", "infeasible", "timeout", "interrupted", "error"]


def _check_sense(sense: str) -> None:
    if sense not in ("min", "max"):
        raise ParameterError(f"sense must be 'min' or 'max', got {sense!r}")


def relative_gap(objective: float | None, reference: float | None, sense: str = "min") -> float | None:
    """``(objective - reference)/|reference|`` for minimisation (mirrored for maximisation): ≥ 0 when worse.
    ``sense`` is ``"min"`` or ``"max"`` (anything else was taken as "max": "minimize" mirrored the gap)."""
    _check_sense(sense)
    if objective is None or reference is None:
        return None
    worse_by = objective - reference if sense == "min" else reference - objective
    if reference == 0:
        return 0.0 if worse_by == 0 else None
    return float(worse_by / abs(reference))


def absolute_gap(objective: float | None, reference: float | None, sense: str = "min") -> float | None:
    """``objective - reference`` for minimisation (mirrored for maximisation): ≥ 0 when worse. Defined also where
    the relative gap is not (a reference of 0)."""
    _check_sense(sense)
    if objective is None or reference is None:
        return None
    return float(objective - reference if sense == "min" else reference - objective)


def to_jsonable(value: Any) -> Any:
    """Plain Python values for JSON: numpy scalars and arrays, tuples, dataclasses, non-finite floats → None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Result:
    """The outcome of one solve; ``to_json()`` is the contract of ``hopsolve solve --json``."""

    problem: str
    instance: str
    solver: str
    kind: Literal["backend", "baseline"]
    params: dict[str, Any]
    seed: int | None
    status: Status
    feasible: bool
    objective: float | None
    reference: float | None
    gap: float | None
    energy: float | None
    wall_time_s: float
    """A backend's run: from reading the file (where the solve started from one) to the decoded result, compiling
    excluded, as its time limit counts; a baseline's: its solver's call (its time limit is the solver's own)."""
    violations: dict[str, float] = field(default_factory=dict)
    solution: Any = None
    repaired: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    reads: int | None = None
    feasible_reads: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    absolute_gap: float | None = None
    """``objective - reference`` (≥ 0 when worse), also where ``gap`` is undefined (a reference of 0)."""

    # (problem, instance, Solution) for plot(), set on a result by hopsolve.solve; unannotated, so not a dataclass
    # field: it never reaches to_dict(), the JSON, equality or repr
    _drawable = None

    def plot(self, ax: Any = None) -> Any:
        """Draw the solution with its problem's ``plot`` (TSP: the tour over the cities; extra ``plot``) into
        ``ax`` (a matplotlib Axes) or a new figure; returns the Axes. Only for results of :func:`hopsolve.solve`
        (which keep the instance they came from) and problems that can draw."""
        if self._drawable is None:
            raise UserError("this result keeps no instance to draw: results of hopsolve.solve(...) do")
        problem, instance, solution = self._drawable
        draw = getattr(problem, "plot", None)
        if draw is None:
            raise UserError(f"problem {problem.name!r} cannot draw a solution")
        if solution.value is None:
            raise UserError("no solution to draw: the run found no valid candidate")
        return draw(instance, solution, ax=ax)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(dataclasses.asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)
