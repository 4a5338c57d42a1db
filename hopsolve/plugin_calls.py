"""Calls into plugin code (a problem's ``read``/``encode``/``score``, a backend's or baseline's ``solve``) that
name the plugin when it fails.

First-party plugins go through the same calls as a third party's. hopsolve's own errors (a ``ParseError`` naming a
file's line, a ``ParameterError``), Ctrl-C, ``MemoryError`` and ``OSError`` (a file that is not there) pass
through unchanged; anything else the plugin raises, its
``sys.exit()`` included, becomes a :class:`~hopsolve.errors.PluginFailure` naming the plugin and its distribution,
and a value of the wrong kind is refused there, instead of failing later inside hopsolve as an internal error.
hopsolve's own plugins' exceptions, and any with ``HOPSOLVE_DEBUG=1``, pass through unchanged: a bug of
hopsolve's is its internal error (exit 1, the traceback on request), not a plugin's failure.
"""

from __future__ import annotations

import importlib.metadata as metadata
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from hopsolve.errors import HopsolveError, PluginFailure
from hopsolve.switches import switched_on

T = TypeVar("T")


def describe_plugin(kind: str, owner: Any) -> str:
    """``problem 'mis' (hopsolve-mis 0.1.0)``: the object's kind and name, and the distribution that installed it
    (as the registry recorded it; else the one its module comes from, else the module: a plugin named by
    ``HOPSOLVE_PLUGINS``)."""
    origin = getattr(owner, "_hopsolve_origin", None)  # hopsolve.plugins.ORIGIN_ATTRIBUTE (no import cycle)
    name = getattr(owner, "name", type(owner).__name__)
    if origin is not None and origin.distribution:
        return f"{kind} {name!r} ({' '.join(p for p in (origin.distribution, origin.version) if p)})"
    module = type(owner).__module__
    found = metadata.packages_distributions().get(module.split(".")[0], [])
    where = module
    if found:
        try:
            where = f"{found[0]} {metadata.version(found[0])}"
        except metadata.PackageNotFoundError:
            where = found[0]
    return f"{kind} {name!r} ({where})"


def first_party(owner: Any) -> bool:
    """Whether ``owner`` is hopsolve's own (the registry's record of where it came from, else its module's
    distribution): a failure there is hopsolve's bug, reported as such (exit 1, ``HOPSOLVE_DEBUG=1`` for the
    traceback), not a plugin's."""
    origin = getattr(owner, "_hopsolve_origin", None)
    if origin is not None:
        return bool(origin.first_party)
    top = type(owner).__module__.split(".")[0]
    return top == "hopsolve" or "hopsolve" in metadata.packages_distributions().get(top, [])


def _failure(kind: str, owner: Any, method: str, exc: BaseException) -> PluginFailure:
    """The one-line :class:`PluginFailure` for ``exc``, raised in the plugin's ``method``."""
    return PluginFailure(f"{describe_plugin(kind, owner)} failed in {method}: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())}")


def plugin_call(kind: str, owner: Any, method: str, call: Callable[[], T], returns: type | None = None,
                passing: tuple[type[BaseException], ...] = ()) -> T:
    """``call()``, a plugin's ``method``; a failure that is not hopsolve's own error (nor one of ``passing``), or a
    result that is not a ``returns`` (where given), is a :class:`PluginFailure` naming the plugin (see the module
    docstring). A :class:`~hopsolve.problem.Solution` returned must have a finite objective or none (a NaN was
    reported as "optimal objective nan")."""
    try:
        value = call()
    except (HopsolveError, KeyboardInterrupt, MemoryError, OSError):  # the CLI words these (a missing file: OSError)
        raise
    except passing:
        raise
    except Exception as exc:
        if switched_on("HOPSOLVE_DEBUG") or first_party(owner):  # hopsolve's own bug: its traceback, exit 1
            raise
        raise _failure(kind, owner, method, exc) from exc
    except BaseException as exc:  # noqa: BLE001 - a plugin's sys.exit() is its failure, not the end of hopsolve
        raise _failure(kind, owner, method, exc) from exc
    if returns is not None and not isinstance(value, returns):
        raise PluginFailure(f"{describe_plugin(kind, owner)}: {method} returned a value of type "
                            f"{type(value).__name__}, not a hopsolve.{returns.__name__}")
    if returns is not None and returns.__name__ == "Solution":
        _check_solution(kind, owner, method, value)
    return value


def finite_number(value: Any) -> bool:
    """Whether a plugin's number (an objective, a reference) is one a result can report: a finite real, not a
    bool (``True`` passed as 1)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


SOLUTION_VALUE_TYPES = (type(None), numbers.Number, str, list, tuple, dict)
"""What a :class:`~hopsolve.problem.Solution`'s ``value`` may be: what a result's JSON can hold (a numpy array is
refused by its type too: give ``.tolist()``)."""


def _check_solution(kind: str, owner: Any, method: str, solution: Any) -> None:
    """Refuse a solution its result could not report truthfully: an objective that is not a finite number (a NaN
    was reported as "optimal objective nan"; ``True`` passed as 1), ``feasible`` that is not a bool (``"no"`` was
    taken as true), violations that are not amounts by constraint, a value JSON cannot hold (a set ended ``--json``
    in an internal error)."""
    def refuse(what: str) -> PluginFailure:
        return PluginFailure(f"{describe_plugin(kind, owner)}: {method} returned a solution whose {what}")

    if solution.objective is not None and not finite_number(solution.objective):
        raise refuse(f"objective is {solution.objective!r}, not a finite number")
    if not isinstance(solution.feasible, (bool, np.bool_)):
        raise refuse(f"feasible is {solution.feasible!r}, not True or False")
    violations = solution.violations
    if not isinstance(violations, Mapping) or not all(finite_number(v) for v in violations.values()):
        raise refuse("violations are not a mapping of each constraint to a finite amount (a string or a list "
                     "ended in an internal error)")
    if not isinstance(solution.value, SOLUTION_VALUE_TYPES):
        raise refuse(f"value is a {type(solution.value).__name__}, which a result cannot hold (give a list, a "
                     "number, a string or a dict)")


ENERGY_AGREEMENT = 1e-6
"""How closely a third party's reported energy must match the energy of its state recomputed, relative to the
energy's coefficients (float rounding of sums, not a tolerance for a different number)."""


def check_samples(owner: Any, samples: Any, energy: Any) -> None:
    """Refuse, as a :class:`PluginFailure` naming the backend, a sample set its caller could not trust: no reads,
    states not ``reads × units`` of the energy's vartype (``{0, 1}`` or ``{-1, 1}``), energies that are not finite
    or not one per read, and, for a third party's backend, a best read whose energy is not its state's. A ±1 state
    for a 0/1 energy was reported with the wrong energy, NaN energies as "feasible", and an empty sample set ended
    in an internal error. hopsolve's own backends are held to this by their tests; their states are checked here
    too, their energies are not recomputed (pla85900's tour energy is evaluated from its permutation)."""
    def refuse(what: str) -> PluginFailure:
        return PluginFailure(f"{describe_plugin('backend', owner)}: solve returned {what}")

    reads = len(samples.energies)
    if reads == 0:
        raise refuse("a sample set without reads")
    energies = np.asarray(samples.energies, dtype=float)
    if energies.ndim != 1 or not np.isfinite(energies).all():
        raise refuse("energies that are not one finite number per read")
    if samples.vartype is not energy.vartype:
        raise refuse(f"{samples.vartype.name} states for a {energy.vartype.name} energy")
    if samples.permutations is not None:
        size = energy.permutation.layout.size if energy.permutation is not None else None
        if size is None or samples.permutations.shape != (reads, size):
            raise refuse(f"permutations of shape {samples.permutations.shape}, not ({reads}, {size})")
    if samples.states is not None:
        states = samples.states
        if states.ndim != 2 or states.shape != (reads, energy.num_variables):
            raise refuse(f"states of shape {states.shape}, not ({reads}, {energy.num_variables}) (reads × units)")
        low, high = energy.vartype.low, energy.vartype.high
        if states.size and not ((states == low) | (states == high)).all():
            raise refuse(f"states with values other than {low} and {high} (the energy's {energy.vartype.name} "
                         "values)")
    if samples.states is None and samples.permutations is None:
        raise refuse("neither states nor permutations")
    if first_party(owner):
        return
    best = int(np.argmin(energies))
    if samples.permutations is not None:  # scored from the permutation, O(n): its bit state is n² units (a
        view = energy.permutation  # 7,397-city tour's took 57 s and 6.5 GB to score)
        recomputed = float(view.energy(samples.permutations[best], energy.weights[view.term]))
        scale = abs(recomputed)
    else:
        state = samples.states[best]
        recomputed = float(energy.energy(state))
        terms = energy.term_energies(state)  # the sum's own size: rounding is relative to it, not to its total
        scale = sum(abs(energy.weights[name] * float(value[0])) for name, value in terms.items())
    if abs(recomputed - float(energies[best])) > ENERGY_AGREEMENT * max(scale, abs(recomputed)):
        raise refuse(f"energy {float(energies[best]):.6g} for its best read, whose state's energy is "
                     f"{recomputed:.6g}")
