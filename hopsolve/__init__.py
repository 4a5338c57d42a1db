"""hopsolve: combinatorial optimisation problems as Hopfield energies, solved by Hopfield-family dynamics.

The flow of one solve: a problem plugin reads an :class:`Instance`, encodes it as an :class:`Energy`, a backend
returns a :class:`SampleSet`, and the problem decodes the best state into a scored :class:`Solution`.

``__all__`` is the public API, and all a plugin needs: the contracts (``Problem``, ``Backend``, ``Baseline``),
the energy terms, the errors, the reading helpers (``read_text``, ``parse_number``, ``table_reference``),
parameter checks (``require``, ``parse_assignments``), the permutation and tour energies, the CP-SAT runner,
``stoppable`` (Ctrl-C for a baseline in native code), the registry, and the solve flow: ``solve`` (one call from
a file, an ``Instance``, a networkx graph, a QUBO or a dimod model), ``solve_instance``, ``solve_path`` and
``Result``.
The first-party plugins import nothing else from hopsolve (a test checks it).
"""

from hopsolve.backend import Backend, Callback, RunParams, TimedRunParams
from hopsolve.baseline import DECIMAL_SCALE_DIGITS, Baseline, BaselineOutcome, decimal_scale, integer_values
from hopsolve.baselines.cpsat import (
    CpsatParams,
    cpsat_build_timeout,
    cpsat_scale,
    quadratic_objective,
    solve_cpsat,
)
from hopsolve.energy import (
    Energy,
    GroupSquareTerm,
    KroneckerTerm,
    LazyTerm,
    OneHotGroups,
    OneHotLayout,
    PermutationView,
    QuadraticTerm,
    SlackBlocks,
    Term,
    Vartype,
    check_matrix_input,
    check_matrix_size,
)
from hopsolve.errors import (
    HopsolveError,
    MemoryLimitError,
    ParameterError,
    ParseError,
    PluginError,
    PluginFailure,
    TooLargeError,
    UserError,
)
from hopsolve.hookspecs import hookimpl
from hopsolve.interrupt import stoppable
from hopsolve.metric import Metric
from hopsolve.params import parse_assignments, require
from hopsolve.pattern_term import PatternTerm
from hopsolve.permutation import permutation_energy, tour_energy
from hopsolve.plugins import Registry, build_registry
from hopsolve.problem import Instance, Problem, Solution
from hopsolve.references import table_reference
from hopsolve.result import Result, relative_gap
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import resolve_seed
from hopsolve.solving import solve_instance, solve_path
from hopsolve.sources import solve
from hopsolve.textio import (
    MAX_EXACT,
    check_exact_sum,
    check_input_file,
    check_read_size,
    only_plain_numbers,
    parse_number,
    read_npy,
    read_text,
    tokens_per_line,
)

__all__ = [
    "DECIMAL_SCALE_DIGITS",
    "MAX_EXACT",
    "Backend",
    "Baseline",
    "BaselineOutcome",
    "Callback",
    "CpsatParams",
    "Energy",
    "GroupSquareTerm",
    "HopsolveError",
    "Instance",
    "KroneckerTerm",
    "LazyTerm",
    "MemoryLimitError",
    "Metric",
    "OneHotGroups",
    "OneHotLayout",
    "ParameterError",
    "ParseError",
    "PatternTerm",
    "PermutationView",
    "PluginError",
    "PluginFailure",
    "Problem",
    "QuadraticTerm",
    "Registry",
    "Result",
    "RunParams",
    "SampleSet",
    "SlackBlocks",
    "Solution",
    "Term",
    "TimedRunParams",
    "TooLargeError",
    "UserError",
    "Vartype",
    "build_registry",
    "check_exact_sum",
    "check_matrix_input",
    "check_matrix_size",
    "check_read_size",
    "cpsat_build_timeout",
    "cpsat_scale",
    "decimal_scale",
    "hookimpl",
    "integer_values",
    "parse_assignments",
    "parse_number",
    "permutation_energy",
    "quadratic_objective",
    "read_npy",
    "read_text",
    "table_reference",
    "check_input_file",
    "only_plain_numbers",
    "tokens_per_line",
    "relative_gap",
    "require",
    "resolve_seed",
    "solve",
    "solve_cpsat",
    "solve_instance",
    "solve_path",
    "stoppable",
    "tour_energy",
]
