"""Every hook a hopsolve plugin can implement. Each docstring is that hook's reference documentation.

A plugin is any module or object with functions marked ``@hopsolve.hookimpl``, found through the entry-point group
``hopsolve`` (``[project.entry-points.hopsolve] myname = "my_package"``). Each hook receives a ``register``
callback, so hopsolve knows which plugin gave which name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from hopsolve.plugins import Registry

PROJECT = "hopsolve"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def hopsolve_problems(register: Callable[[type], None]) -> None:
    """Register problem classes (subclasses of :class:`hopsolve.Problem`), each with a unique ``name``.

    >>> @hopsolve.hookimpl
    ... def hopsolve_problems(register):
    ...     register(MyProblem)
    """


@hookspec
def hopsolve_backends(register: Callable[[type], None]) -> None:
    """Register backend classes (subclasses of :class:`hopsolve.Backend`), each with a unique ``name``."""


@hookspec
def hopsolve_baselines(register: Callable[[type], None]) -> None:
    """Register baseline classes (subclasses of :class:`hopsolve.Baseline`); ``(problem, name)`` is unique."""


@hookspec
def hopsolve_commands(register: Callable[..., None], registry: Registry) -> None:
    """Add CLI commands: ``register(name, help, configure, run)``.

    ``configure(parser)`` adds arguments to an ``argparse`` sub-parser; ``run(args) -> int`` executes the command
    and returns the exit code. Raise :class:`hopsolve.errors.UserError` for a one-line error with exit code 2.
    ``registry`` is the :class:`hopsolve.Registry` being built (every problem, backend and baseline is in it by the
    time a command runs): use it instead of loading the plugins again. An implementation may leave it out of its
    arguments (pluggy passes only what a hook implementation asks for).
    """


