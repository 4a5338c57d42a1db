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
from collections.abc import Callable
from typing import Any, TypeVar

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
    objective = getattr(value, "objective", None) if returns is not None and returns.__name__ == "Solution" else None
    if objective is not None and not (isinstance(objective, numbers.Real) and math.isfinite(objective)):
        raise PluginFailure(f"{describe_plugin(kind, owner)}: {method} returned a solution whose objective is "
                            f"{objective!r}, not a finite number")
    return value
