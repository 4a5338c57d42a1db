"""Errors a user can cause, each rendered by the CLI as one line and exit code 2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class HopsolveError(Exception):
    """Base class of every error hopsolve raises on purpose."""


@dataclass
class UserError(HopsolveError):
    """A problem with the user's input: a file, a parameter, a plugin name or a size.

    ``str(error)`` is the one line the CLI prints: ``file:line: message`` where those are known.
    """

    message: str
    path: str | Path | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:"
            if self.line is not None:
                where += f"{self.line}:"
            where += " "
        return f"{where}{self.message}"


class ParseError(UserError):
    """A malformed input file; always names the file and, where it can, the line."""


class ParameterError(UserError):
    """An unknown or invalid parameter or weight, named in the message."""


class PluginError(UserError):
    """An unknown plugin name, or a clash between two plugins."""


class TooLargeError(UserError):
    """An instance or matrix that would not fit within the configured memory limit, or a run too large for its
    time limit."""


class MemoryLimitError(TooLargeError):
    """An allocation over ``HOPSOLVE_MAX_MATRIX_BYTES`` (:func:`hopsolve.energy.check_allocation`): the time
    limit has no part in it, so a refusal of this kind is never explained by where the limit went."""


class PluginFailure(HopsolveError):
    """A plugin's method raised something other than hopsolve's own errors, or returned the wrong kind of value:
    the CLI prints it as one line naming the plugin (``problem 'mis' (hopsolve-mis 0.1.0) failed in read: ...``),
    not as hopsolve's internal error. Raised by :func:`hopsolve.plugin_calls.plugin_call`."""
