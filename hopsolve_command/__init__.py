"""The ``hopsolve`` console script's entry point, kept outside the :mod:`hopsolve` package.

Importing anything inside ``hopsolve`` first runs ``hopsolve/__init__.py``, which imports numpy, scipy, numba and
the plugins (about half a second). A Ctrl-C in that time used to print Python's traceback, because
:func:`hopsolve.cli.main`, which answers a Ctrl-C with one line and exit code 130, did not exist yet. This module
imports nothing of hopsolve's until :func:`main` runs, and answers a Ctrl-C during that import the same way.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130
"""The shell's code for a process ended by SIGINT (128 + 2), as :func:`hopsolve.cli.main` returns it."""


def main() -> int:
    """Import the command line and run it on ``sys.argv``; a Ctrl-C while importing ends with one line, 130."""
    try:
        from hopsolve.cli import main as run_command
    except KeyboardInterrupt:
        print("hopsolve: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run_command()
