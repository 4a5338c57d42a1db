"""hopsolve: combinatorial optimisation problems as Hopfield energies, solved by Hopfield-family dynamics.

The flow of one solve: a problem plugin reads an :class:`Instance`, encodes it as an :class:`Energy`, a backend
returns a :class:`SampleSet`, and the problem decodes the best state into a scored :class:`Solution`.
"""

from hopsolve.backend import Backend
from hopsolve.baseline import Baseline, BaselineOutcome
from hopsolve.energy import (
    Energy,
    GroupSquareTerm,
    KroneckerTerm,
    LazyTerm,
    OneHotLayout,
    PermutationView,
    QuadraticTerm,
    Vartype,
)
from hopsolve.errors import HopsolveError, ParameterError, ParseError, PluginError, TooLargeError, UserError
from hopsolve.hookspecs import hookimpl
from hopsolve.metric import Metric
from hopsolve.plugins import Registry, build_registry
from hopsolve.problem import Instance, Problem, Solution
from hopsolve.result import Result, relative_gap
from hopsolve.sampleset import SampleSet
from hopsolve.solve import solve_instance, solve_path

__all__ = [
    "Backend",
    "Baseline",
    "BaselineOutcome",
    "Energy",
    "GroupSquareTerm",
    "HopsolveError",
    "Instance",
    "KroneckerTerm",
    "LazyTerm",
    "Metric",
    "OneHotLayout",
    "ParameterError",
    "ParseError",
    "PermutationView",
    "PluginError",
    "Problem",
    "QuadraticTerm",
    "Registry",
    "Result",
    "SampleSet",
    "Solution",
    "TooLargeError",
    "UserError",
    "Vartype",
    "build_registry",
    "hookimpl",
    "relative_gap",
    "solve_instance",
    "solve_path",
]
