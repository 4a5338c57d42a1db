"""Graph colouring as a third-party hopsolve plugin: DIMACS ``.col`` files, k colours, one one-hot group per node.

Problem ``colouring`` (:mod:`hopsolve_colouring.problem`) and baselines ``dsatur`` and ``ortools-cpsat``
(:mod:`hopsolve_colouring.baselines`). It imports only ``hopsolve``'s public API (``hopsolve.__all__``).
"""

from __future__ import annotations

import hopsolve


@hopsolve.hookimpl
def hopsolve_problems(register):
    from hopsolve_colouring.problem import ColouringProblem

    register(ColouringProblem)


@hopsolve.hookimpl
def hopsolve_baselines(register):
    from hopsolve_colouring.baselines import BASELINES

    for baseline in BASELINES:
        register(baseline)
