"""First-party ``maxcut`` problem plugin (Gset) with OR-Tools and networkx baselines."""

from __future__ import annotations

from hopsolve import hookimpl


@hookimpl
def hopsolve_problems(register):
    from hopsolve_maxcut.plugin import MaxcutProblem

    register(MaxcutProblem)


@hookimpl
def hopsolve_baselines(register):
    from hopsolve_maxcut import baselines

    for baseline in baselines.BASELINES:
        register(baseline)
