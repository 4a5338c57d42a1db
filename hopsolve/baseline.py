"""The baseline contract: a reference solver that works on the instance itself, not on an energy."""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from hopsolve.errors import ParameterError
from hopsolve.params import build_params
from hopsolve.problem import Instance

BaselineStatus = Literal["optimal", "feasible", "infeasible", "timeout", "error"]
BASELINE_STATUSES: tuple[str, ...] = get_args(BaselineStatus)
"""The statuses a baseline's :class:`BaselineOutcome` may carry (another is refused as the plugin's failure)."""


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

    imports: ClassVar[tuple[str, ...]] = ()
    """Modules :meth:`solve` imports (``ortools.sat.python.cp_model``): :meth:`prepare` imports them before the
    clock starts, as a backend's kernels are compiled before it (a first import of OR-Tools took 0.2 s, twice a
    0.1 s limit)."""

    @dataclass(frozen=True)
    class Params:
        """No parameters."""

    def prepare(self) -> float:
        """Import :attr:`imports` (untimed: ``solve_instance`` calls it before the limit's clock starts and reports
        the seconds as ``info['compile_s']``); returns the seconds spent."""
        started = time.perf_counter()
        for module in self.imports:
            importlib.import_module(module)
        return time.perf_counter() - started

    def params(self, values: Mapping[str, Any] | None = None) -> Any:
        return build_params(self.Params, values, owner=f"baseline {self.name!r}")

    @abstractmethod
    def solve(self, instance: Instance, params: Any, *, seed: int, time_limit: float | None) -> BaselineOutcome:
        """Solve ``instance`` within ``time_limit`` seconds where the solver supports a limit."""


def integer_values(values: Any, owner: str, what: str) -> np.ndarray:
    """``values`` as int64 for a solver that takes integers (OR-Tools), refused in one line unless every one is
    exactly an integer below 2^53 in magnitude. Exactly: a tolerance such as ``np.allclose``'s relative 1e-5 took
    100000.5 for an integer, and the solver then proved "optimal" an answer to other numbers than the instance's."""
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ParameterError(f"{owner} needs finite {what}")
    if not np.array_equal(array, np.rint(array)):
        raise ParameterError(f"{owner} needs integer {what}; this instance has fractional ones")
    if array.size and not float(np.abs(array).max()) < 2**53:
        raise ParameterError(f"{owner} needs integer {what} below 2^53 in magnitude")
    return array.astype(np.int64)


DECIMAL_SCALE_DIGITS = 6
"""The most decimal digits :func:`decimal_scale` shifts: coefficients finer than 10^-6 are not taken as decimals."""

DECIMAL_ROUNDING = 1e-12
"""How far (relative) a decimal times its power of ten may land from the integer it stands for: float rounding,
of one product (0.3 × 10 = 3.0000000000000004) or of the sums a spin model's conversion to bits makes (a right side
less an offset summed over 1,000 spins: 104.9999999999998 for 105), not more. A looser 1e-9 took 4000000004.4 for
the integer 4000000004, and the penalties and CP-SAT then solved other numbers than the model's."""


def decimal_scale(values: Any) -> tuple[np.ndarray, float] | None:
    """``values`` times the smallest power of ten (up to 10^:data:`DECIMAL_SCALE_DIGITS`) that makes them all
    integers, and that factor; ``None`` where none does. What a solver of integers (CP-SAT) or an integer encoding
    (slack digits) needs of decimal coefficients such as 0.25 or 1.5."""
    values = np.asarray(values, dtype=np.float64)
    for digits in range(DECIMAL_SCALE_DIGITS + 1):
        scaled = values * 10.0**digits
        if np.all(np.abs(scaled - np.rint(scaled)) <= DECIMAL_ROUNDING * np.maximum(1.0, np.abs(scaled))):
            return np.rint(scaled), 10.0**digits
    return None
