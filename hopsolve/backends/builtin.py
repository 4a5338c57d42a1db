"""Registers the built-in backends through the same hooks a third-party plugin uses."""

from __future__ import annotations

from hopsolve.hookspecs import hookimpl


@hookimpl
def hopsolve_backends(register):
    from hopsolve.backends.anneal import AnnealBackend
    from hopsolve.backends.bifurcation import BifurcationBackend
    from hopsolve.backends.exact import ExactBackend
    from hopsolve.backends.hopfield import HopfieldBackend
    from hopsolve.backends.replica import ReplicaBackend
    from hopsolve.backends.tank import TankBackend

    for backend in (ExactBackend, HopfieldBackend, AnnealBackend, TankBackend, ReplicaBackend, BifurcationBackend):
        register(backend)
