"""First-party ``qubo`` problem plugin, registered through the ``hopsolve`` entry-point group."""

from __future__ import annotations

from hopsolve import hookimpl


@hookimpl
def hopsolve_problems(register):
    from hopsolve_qubo.plugin import QuboProblem

    register(QuboProblem)


@hookimpl
def hopsolve_baselines(register):
    from hopsolve_qubo.baselines import OrtoolsCpsatQubo

    register(OrtoolsCpsatQubo)
