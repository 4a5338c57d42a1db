"""First-party ``assignment`` (linear) and ``qap`` problem plugins with exact baselines."""

from __future__ import annotations

from hopsolve import hookimpl


@hookimpl
def hopsolve_problems(register):
    from hopsolve_assignment.plugin import AssignmentProblem, QapProblem

    register(AssignmentProblem)
    register(QapProblem)


@hookimpl
def hopsolve_baselines(register):
    from hopsolve_assignment import baselines

    for baseline in baselines.BASELINES:
        register(baseline)
