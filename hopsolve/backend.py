"""The backend plugin contract: solve an energy, return a SampleSet."""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from hopsolve.energy import Energy, check_allocation, format_count, max_matrix_bytes
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.params import build_params, require
from hopsolve.sampleset import SampleSet


class Callback(Protocol):
    """What receives progress updates during a solve (a function of one dict): ``done`` out of ``total`` in one
    ``unit`` (``done`` never goes back; ``total`` may be revised where it is an estimate), ``best_energy``, and where
    the backend has it the best state so far as ``best_state`` (a state of the energy) or ``best_positions`` (item →
    position under its permutation view), from which ``hopsolve.solve_instance`` records the anytime curve.
    ``hopsolve.solve_instance`` also sends ``{"stage": "preparing"}`` and ``{"stage": "solving"}`` around compiling.
    The unit is ``s`` (seconds of the time limit) where a backend fills or follows a limit by its pace (``anneal``,
    ``replica``, ``bifurcation`` under a limit), else the backend's own: ``sweeps`` (``anneal``, ``replica``,
    ``tank``'s serial schedule), ``steps`` (``bifurcation``, ``tank``), ``reads`` (``hopfield``), ``chunks`` of
    states (``exact``)."""

    def __call__(self, update: dict[str, Any], /) -> None: ...


@dataclass(frozen=True)
class RunParams:
    """The run parameters every built-in backend shares; a backend's ``Params`` subclasses it (and may change the
    defaults). Where a run starts is ``solve``'s ``seed`` argument, not a parameter."""

    reads: int = 1
    """Independent runs (restarts), or one per given initial state."""

    def validate(self) -> None:
        require(self.reads >= 1, "backend", f"reads must be at least 1, got {self.reads}")


@dataclass(frozen=True)
class TimedRunParams(RunParams):
    """Run parameters of a backend that honours a time limit (:meth:`Backend.supports_time_limit`)."""

    time_limit: float | None = None
    """Seconds for the whole run; the best states so far are returned when it is reached."""

    def validate(self) -> None:
        super().validate()
        require(self.time_limit is None or (math.isfinite(self.time_limit) and self.time_limit > 0), "backend",
                "time_limit must be a positive number of seconds")


SCHEDULE_BUILD_S_PER_STEP = 1e-7
"""What building (and re-planning) a schedule costs per step, about twice what ``np.geomspace`` and ``np.interp``
take on the project's machines (60 ns a step for 50 million): the bound :func:`check_run_size` holds a timed
run's schedule to."""

SCHEDULE_BUILD_SHARE = 0.2
"""The share of a time limit that building a run's schedule may take (see :func:`check_run_size`)."""

SCHEDULE_BUILD_FLOOR_S = 0.005
"""A schedule that builds within this many seconds is never refused for its building time, whatever the limit
(50,000 steps): under a 0.01 s limit the TSP default's 3,381 sweeps (0.3 ms to build) were refused with advice to
give fewer sweeps, which the user had not given."""


def schedule_steps_buildable(seconds: float) -> int:
    """The most schedule steps that build within :data:`SCHEDULE_BUILD_SHARE` of ``seconds``: the cap on what a
    run that plans or stretches its own schedule to fill a time limit may schedule."""
    return max(1, int(SCHEDULE_BUILD_SHARE * max(seconds, 0.0) / SCHEDULE_BUILD_S_PER_STEP))


def check_run_size(*, reads: int, units: int, steps: int = 0, trace: bool = False, arrays: int = 4,
                   steps_name: str = "sweeps", time_limit: float | None = None, replicas: int = 1,
                   steps_parameter: str | None = None, entries_per_step: int = 1) -> None:
    """Refuse, before anything is allocated, a run whose per-read arrays (``arrays`` float64 arrays of reads ×
    ``replicas`` × units), schedule (``steps``) or trace (reads × steps) would pass the memory limit, naming the
    parameter (with ``replicas`` above 1, a ladder's: the reads that fit are counted with them, not as if each
    replica were a read, which advised 33,554 reads where 8 fit beside 4,096 replicas).

    With a ``time_limit``, also refuse a schedule whose building alone would take more than
    :data:`SCHEDULE_BUILD_SHARE` of it (the whole schedule is built before the first step: 50 million sweeps
    took 3 s, so a 1 s limit would end at 3 s after no sweep at all). Fewer steps are then the user's fix; a
    schedule that builds in time but does not run in time is squeezed by the run, as before.

    ``steps_parameter`` names the parameter that sets the steps where it is not ``steps_name`` (hopfield's
    ``max_sweeps``), for the messages. ``entries_per_step`` is the schedule's entries a step (replica's rounds a
    sweep on permutation energies): sized and timed by its entries, advised in steps (pla85900's 9 rounds a sweep
    were advised as sweeps, and the advice refused again)."""
    shown_reads, shown_steps = format_count(reads), format_count(steps)
    per_read = _read_bytes(units, arrays, replicas)
    fit = _most_that_fit(per_read)
    ladder = f" × {format_count(replicas)} replicas" if replicas > 1 else ""
    fewer = " or fewer replicas (replicas)" if replicas > 1 else ""
    check_allocation(per_read * float(reads), f"{shown_reads} {'read' if reads == 1 else 'reads'}{ladder} of "
                                              f"{format_count(units)} units",
                     f"give at most {fit:,} {'read' if fit == 1 else 'reads'} (reads){fewer}" if fit >= 1 else
                     f"even one read is over it: {'fewer replicas, or ' if fewer else ''}another backend")
    buildable = None if time_limit is None else max(schedule_steps_buildable(time_limit),
                                                    int(SCHEDULE_BUILD_FLOOR_S / SCHEDULE_BUILD_S_PER_STEP))
    # sweeps=1e12 "to run until the limit" was refused with no way out: say what fits, or to leave them to it
    per = max(1, entries_per_step)
    most_steps = min(_most_that_fit(8.0 * per), buildable // per if buildable is not None else math.inf)
    parameter = steps_parameter or steps_name  # the parameter that sets them (hopfield's max_sweeps)
    entries = float(steps) * per
    check_allocation(8.0 * entries, f"a schedule of {shown_steps} {steps_name} ({parameter})",
                     f"give at most {format_count(most_steps)} {steps_name}"
                     + (f" ({parameter})" if parameter != steps_name else "")
                     + (f", or leave {steps_name} to the time limit" if time_limit is not None else ""))
    building = SCHEDULE_BUILD_S_PER_STEP * entries
    allowed = SCHEDULE_BUILD_SHARE * time_limit if time_limit is not None else 0.0
    if buildable is not None and building > max(allowed, SCHEDULE_BUILD_FLOOR_S):
        most = format_count(max(1, buildable // per))
        share = f"{SCHEDULE_BUILD_SHARE:.0%} of the {time_limit:.3g} s the solver has"
        raise TooLargeError(f"a schedule of {shown_steps} {steps_name} ({parameter}) takes about {building:.2g} s "
                            f"to build, more than the time limit leaves for it ({share}); give at most "
                            f"{most} {steps_name} with this limit (a schedule that does not run in time is "
                            f"squeezed to fit), or leave {steps_name} to the time limit")
    if trace:
        check_allocation(8.0 * float(reads) * float(steps),
                         f"a trace of {shown_reads} reads × {shown_steps} {steps_name} (trace)")


def _read_bytes(units: int, arrays: int, replicas: int) -> float:
    """Bytes of one read's arrays as :func:`check_run_size` counts them."""
    return 8.0 * arrays * float(max(units, 1)) * float(max(replicas, 1))


def reads_that_fit(units: int, arrays: int = 4, replicas: int = 1) -> int:
    """The most reads :func:`check_run_size` lets through for models of ``units`` units (its memory check alone):
    what a rule that chooses the reads itself plans within."""
    return _most_that_fit(_read_bytes(units, arrays, replicas))


def _most_that_fit(each: float) -> int:
    """How many items of ``each`` bytes the memory limit holds (0 for an item past it or not finite; a large
    count where the limit is unbounded, as inside the warm-up's miniatures)."""
    limit = max_matrix_bytes()
    if not np.isfinite(each) or each <= 0:
        return 0
    return int(limit // each) if np.isfinite(limit) else 10**18  # inf // each is NaN


def time_left_phrase(left: float, limit: float, used_by: str) -> str:
    """How a refusal says what the time limit leaves: ``more than the 0.3 s the time limit leaves``, or, where
    nothing is left, that ``used_by`` used all of it ("more than the 0 s" read as a rounding slip)."""
    return (f"more than the {left:.2g} s the time limit leaves" if left > 0 else
            f"and {used_by} used all {limit:.2g} s the backend had")


def given_states(energy: Energy, initial_states: Any, owner: str) -> np.ndarray:
    """``initial_states`` as a (reads × n) array, checked to be states of ``energy``: ``n`` columns, every value
    the vartype's low value or 1 (0/1 bits, -1/+1 spins). A backend starts its reads from them as they are, so a
    0 among spins, or a 7 among bits, would be run and scored as a state no energy has (``ParameterError``)."""
    n = energy.num_variables
    try:
        states = np.atleast_2d(np.asarray(initial_states))
    except ValueError:  # a ragged list of lists
        raise ParameterError(f"{owner}: initial states must be (reads, {n}), rows of equal length") from None
    if not len(states):  # no read to start: an empty sample set was returned
        raise ParameterError(f"{owner}: initial states hold no state; give at least one row, or none at all")
    if states.ndim != 2 or states.shape[1] != n:
        raise ParameterError(f"{owner}: initial states must be (reads, {n}), got shape {np.shape(initial_states)}")
    if states.dtype.kind not in "biuf":
        raise ParameterError(f"{owner}: initial states must be numbers, got {states.dtype}")
    low = energy.vartype.low
    outside = np.argwhere((states != low) & (states != 1))
    if len(outside):
        row, unit = (int(i) for i in outside[0])
        raise ParameterError(f"{owner}: initial states of a {energy.vartype.value} energy hold only {low} and 1; "
                             f"row {row}, unit {unit} is {states[row, unit].item()!r}")
    return states


class Backend(ABC):
    """A stateless solver of energies. ``Params`` is a frozen dataclass, every field defaulted and documented.

    ``solve`` must be deterministic for a given seed, with or without a callback (reporting progress, which
    splits a built-in backend's run into chunks, changes no read's arithmetic), and must return states scored by
    ``energy`` itself. A Ctrl-C (``KeyboardInterrupt``) during ``solve`` ends the built-in backends' runs at the
    chunk it interrupts, callback or not, with every read's best so far and the sample set's ``interrupted`` true
    (passed as ``interrupted=True`` to :meth:`SampleSet.from_states`; reads never started are not returned); a
    backend that cannot stop may let it propagate.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    starts_from_initial_states: ClassVar[bool] = True
    """Whether ``solve`` runs one read from each row of ``initial_states`` (the dynamics start there). False for
    a backend that ignores them (``exact`` enumerates every state): ``hopsolve recall``, whose answer is where the
    dynamics go from each cue, refuses such a backend."""

    @classmethod
    def supports_time_limit(cls) -> bool:
        """Whether ``Params`` has a ``time_limit`` field (seconds) that ``solve`` honours. ``hopsolve bench`` runs a
        backend without one with no limit and records ``time_limit_applied: false``."""
        return any(f.name == "time_limit" for f in dataclasses.fields(cls.Params))

    @dataclass(frozen=True)
    class Params:
        """No parameters."""

    def params(self, values: Mapping[str, Any] | None = None) -> Any:
        """Build and validate this backend's ``Params`` (unknown or invalid fields are errors)."""
        return build_params(self.Params, values, owner=f"backend {self.name!r}")

    def checked_params(self, energy: Any, params: Any) -> Any:
        """What ``solve`` was given, checked: ``energy`` must be a :class:`~hopsolve.energy.Energy`, and
        ``params`` one of this backend's ``Params``, a mapping of their fields (built by :meth:`params`, as
        ``{"reads": 2}``), or ``None`` (the defaults). Returns the ``Params``. The built-in backends call it
        first, so a dict or a matrix given by mistake is one ``ParameterError``, not an ``AttributeError`` from
        deep inside."""
        owner = f"backend {self.name!r}"
        if not isinstance(energy, Energy):
            raise ParameterError(f"{owner}: solve takes a hopsolve.Energy (Energy.from_qubo, from_ising, ...), got "
                                 f"a {type(energy).__name__}")
        if params is None:
            return self.Params()
        if isinstance(params, Mapping):
            return self.params(params)
        if not isinstance(params, self.Params):
            raise ParameterError(f"{owner}: params must be its Params or a dict of their fields, got a "
                                 f"{type(params).__name__}")
        # built directly, a Params was never validated (TankParams(u0=inf) reached numpy as an OverflowError):
        # its fields go through the same checks as a dict's
        return self.params({f.name: getattr(params, f.name) for f in dataclasses.fields(params) if f.init})

    def prepare(self, energy: Energy, params: Any) -> float:
        """Compile or load whatever :meth:`solve` will run on ``energy`` with ``params``, before the time limit's
        clock starts (see :mod:`hopsolve.warmup`); returns the seconds spent. The default does nothing."""
        return 0.0

    def prepare_everything(self) -> float:
        """Compile or load the kernels that :meth:`prepare` takes only for some energies or parameters (those of
        large models, of options off by default), for ``hopsolve warmup``; returns the seconds spent. The default
        does nothing: ``hopsolve warmup`` also runs :meth:`prepare` on one miniature of each kind of energy."""
        return 0.0

    @abstractmethod
    def solve(
        self,
        energy: Energy,
        params: Any = None,
        *,
        seed: int | None = None,
        initial_states: np.ndarray | None = None,
        callback: Callback | None = None,
    ) -> SampleSet:
        """Minimise ``energy``; ``initial_states`` (reads × n, states of the energy's vartype, checked by
        :func:`given_states`) where the dynamics start from given states;
        ``callback`` gets progress updates (:class:`Callback`) and may raise ``KeyboardInterrupt`` to stop the run."""
