"""Registers the built-in backends through the same hooks a third-party plugin uses."""

from __future__ import annotations

from hopsolve.hookspecs import hookimpl


@hookimpl
def hopsolve_backends(register):
    from hopsolve.backends.exact import ExactBackend

    register(ExactBackend)
