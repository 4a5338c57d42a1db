"""The baseline contract: a reference solver that works on the instance itself, not on an energy."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from hopsolve.params import build_params
from hopsolve.problem import Instance

BaselineStatus = Literal["optimal", "feasible", "infeasible", "timeout", "error"]


@dataclass(frozen=True)
class BaselineOutcome:
    """A candidate in the problem's terms and the solver's own status (``optimal`` only when proven)."""

    candidate: Any
    status: BaselineStatus
    bound: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    """Extra facts for the result's ``info``: ``anytime`` (``[[seconds, objective], ...]``, the curve of improving
    answers) and ``note`` (one line the CLI prints under the summary, e.g. why the answer is an unsearched start)
    are read by hopsolve; anything else is kept as it is."""


class Baseline(ABC):
    """An exact or heuristic solver for one problem (``problem``), registered under ``name``."""

    name: ClassVar[str]
    problem: ClassVar[str]
    description: ClassVar[str] = ""
    exact: ClassVar[bool] = False
    deterministic: ClassVar[bool] = False
    """True when the answer does not depend on the seed or the time limit: ``hopsolve bench`` then runs it once
    per instance (with the grid's first seed), not once per seed."""
    stops_at_time_limit: ClassVar[bool] = True
    """Whether :meth:`solve` ends within ``time_limit`` by itself. False for one that cannot (a library call that
    runs to its end, as networkx's): ``solve_instance`` then runs it in a worker thread and, given a time limit,
    leaves it unfinished when the limit passes (status ``timeout``, no answer, ``info['abandoned']``; the thread
    runs on to its end in the background, and the CLI ends the process at once). In ``hopsolve bench``'s worker
    processes the bench's own deadline stops it instead."""

    @dataclass(frozen=True)
    class Params:
        """No parameters."""

    def params(self, values: Mapping[str, Any] | None = None) -> Any:
        return build_params(self.Params, values, owner=f"baseline {self.name!r}")

    @abstractmethod
    def solve(self, instance: Instance, params: Any, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        """Solve ``instance`` within ``time_limit`` seconds where the solver supports a limit."""
