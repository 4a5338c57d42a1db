"""First-party ``tsp`` problem plugin (TSPLIB) with OR-Tools and networkx baselines."""

from __future__ import annotations

from hopsolve import hookimpl


@hookimpl
def hopsolve_problems(register):
    from hopsolve_tsp.plugin import TspProblem

    register(TspProblem)


@hookimpl
def hopsolve_baselines(register):
    from hopsolve_tsp import baselines

    for baseline in baselines.BASELINES:
        register(baseline)
