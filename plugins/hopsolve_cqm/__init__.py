"""First-party ``cqm`` problem plugin (constrained quadratic models and LP files, through dimod), registered through
the ``hopsolve`` entry-point group like a third party's."""

from __future__ import annotations

from hopsolve import hookimpl


@hookimpl
def hopsolve_problems(register):
    from hopsolve_cqm.plugin import CqmProblem

    register(CqmProblem)


@hookimpl
def hopsolve_baselines(register):
    from hopsolve_cqm.baselines import OrtoolsCpsatCqm

    register(OrtoolsCpsatCqm)
