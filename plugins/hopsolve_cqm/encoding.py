"""A constrained quadratic model (``dimod.ConstrainedQuadraticModel``) as a Hopfield energy with named penalties.

The rules, in the order they are applied:

- **Variables.** Binary variables are units; spin variables are rewritten as binary ones (``s = 2x − 1``, dimod's
  ``spin_to_binary``) and reported as ±1 again. Integer variables bounded within [0, 1] (an LP file's ``General``
  0/1 variables) are binary ones, a bound that allows one value an equality constraint ``bound v``; other integer
  and real variables are refused, and so are soft (weighted) constraints: every constraint is held hard.
- **One-hot groups.** A discrete constraint (``cqm.add_discrete``), or any linear equality ``Σ x_i = 1`` with unit
  coefficients over variables not yet in a group, becomes a one-hot group (:class:`hopsolve.OneHotGroups`), so
  the backends move inside it (anneal changes which unit is on, hopfield takes the winner, tank a softmax). Its
  penalty ``(Σ x_i − 1)²`` is the term ``onehot``.
- **Assignments.** A model whose m² binary variables each lie in one of m row and one of m column constraints
  ``Σ x = 1`` (nothing else, a linear objective) also gets a permutation view (:func:`permutation_grid`): its
  feasible states are the permutations, and the backends' exchange moves keep both families.
- **Other constraints** are linear (a quadratic constraint is refused). Each is scaled to integer coefficients
  (by the smallest power of ten up to 10⁶ that makes every coefficient and the right-hand side integral; else
  refused), so a violated constraint costs at least 1 in its penalty:

  - equality ``a·x = b``: ``(a·x − b)²``, in the term ``equality``;
  - at most one, ``Σ x_i ≤ 1`` with unit coefficients: ``Σ_{i<j} x_i x_j`` (exact, no slack), in ``inequality``;
  - none at all, ``a·x ≤ 0`` with positive coefficients: ``a·x``, in ``inequality``;
  - any other inequality ``a·x ≤ b`` (``≥`` is negated): ``(a·x + s − b)²`` with an integer slack
    ``0 ≤ s ≤ b − min(a·x)`` written in binary (⌈log₂(range + 1)⌉ slack units, the last one capped so ``s`` cannot
    exceed its range), in ``inequality``; the blocks are the energy's ``slacks``
    (:class:`hopsolve.SlackBlocks`), so ``anneal`` sets each slack to its best value after every move instead of
    flipping slack bits on their own (the penalty it sees is then ``max(0, a·x − b)²``). An inequality that always
    holds is dropped; one that never can is an error.

- **Automatic weights.** Every penalty term gets the weight ``λ = U + 1`` with ``U = Σ|linear| + Σ|quadratic|`` of
  the objective, an upper bound on the objective's range over all states. Any state that violates a constraint
  (or sets a slack wrongly) then has an energy above every feasible state's objective, so every ground state is
  feasible and optimal, and every optimum (with its slack set right) is a ground state. ``--weight`` overrides
  a term's weight (the rule's value is the default); the weights used are in every result.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve import (
    DECIMAL_SCALE_DIGITS,
    Energy,
    OneHotGroups,
    OneHotLayout,
    ParameterError,
    PermutationView,
    SlackBlocks,
    Vartype,
    decimal_scale,
)


@dataclass(frozen=True)
class CqmData:
    """The model as given (``original``, for scoring by dimod) and its all-binary form (``binary``)."""

    original: Any
    binary: Any
    variables: tuple
    """Labels in unit order (the first ``len(variables)`` units; slack units follow)."""
    spins: frozenset
    """Variables that were spins in the original model (reported as ±1)."""

    @cached_property
    def permutation_grid(self) -> np.ndarray | None:
        """The model's units as an assignment's grid, or ``None`` (see :func:`permutation_grid`)."""
        return permutation_grid(self)

    @cached_property
    def table(self) -> ConstraintTable | None:
        """The original model's linear constraints as one sparse matrix (``None`` when one is quadratic)."""
        return ConstraintTable.of(self.original, self.variables)


@dataclass(frozen=True)
class ConstraintTable:
    """``lhs = A·values + offset`` of every constraint, for checking many samples at once. Violations follow
    dimod's ``cqm.violations`` exactly: ``lhs − rhs`` for ≤, ``rhs − lhs`` for ≥, ``|lhs − rhs|`` for =, and a
    sample is feasible when none exceeds the tolerance (``cqm.check_feasible``); a test checks they agree."""

    labels: tuple
    matrix: Any
    offset: np.ndarray
    rhs: np.ndarray
    sense: np.ndarray
    """+1 for ≤, -1 for ≥, 0 for =."""

    @classmethod
    def of(cls, cqm: Any, variables: tuple) -> ConstraintTable | None:
        index = {v: k for k, v in enumerate(variables)}
        rows, cols, vals, labels, offset, rhs, sense = [], [], [], [], [], [], []
        for r, (label, constraint) in enumerate(cqm.constraints.items()):
            if len(constraint.lhs.quadratic):
                return None
            for v, bias in constraint.lhs.linear.items():
                rows.append(r)
                cols.append(index[v])
                vals.append(float(bias))
            labels.append(label)
            offset.append(float(constraint.lhs.offset))
            rhs.append(float(constraint.rhs))
            sense.append({"Le": 1, "Ge": -1}.get(constraint.sense.name, 0))
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(labels), len(variables)))
        return cls(tuple(labels), matrix, np.array(offset), np.array(rhs), np.array(sense))

    def violations(self, values: np.ndarray) -> np.ndarray:
        """Each constraint's violation for a sample (variables in table order, spins as ±1)."""
        lhs = self.matrix @ np.asarray(values, dtype=np.float64) + self.offset
        return np.where(self.sense == 1, lhs - self.rhs, np.where(self.sense == -1, self.rhs - lhs,
                                                                   np.abs(lhs - self.rhs)))


def cqm_data(cqm: Any) -> CqmData:
    """Check the variable types and build the binary form."""
    import dimod

    cqm = _unit_integers_as_binary(cqm)
    for v in cqm.variables:
        vartype = cqm.vartype(v)
        if vartype not in (dimod.BINARY, dimod.SPIN):
            bounds = f" with bounds [{float(cqm.lower_bound(v)):g}, {float(cqm.upper_bound(v)):g}]" \
                if vartype is dimod.INTEGER else ""
            raise ParameterError(f"cqm: variable {v!r} is {vartype.name}{bounds}; hopsolve's cqm problem takes binary "
                                 "and spin variables, and integers bounded within [0, 1]")
    cqm = _bounds_as_constraints(cqm)
    spins = frozenset(v for v in cqm.variables if cqm.vartype(v) is dimod.SPIN)
    binary = cqm.spin_to_binary(inplace=False) if spins else cqm
    return CqmData(cqm, binary, tuple(binary.variables), spins)


def _unit_integers_as_binary(cqm: Any) -> Any:
    """``cqm``, or a copy of it in which every integer variable bounded within [0, 1] is binary, its bounds kept (an
    LP file's ``General`` variables with ``0 <= x <= 1``, as modelling tools write 0/1 variables, were refused as
    integers). On {0, 1} a square is the variable itself, so a self-coupling ``x²`` becomes a linear ``x``."""
    import dimod

    unit = {v for v in cqm.variables if cqm.vartype(v) is dimod.INTEGER
            and float(cqm.lower_bound(v)) >= 0.0 and float(cqm.upper_bound(v)) <= 1.0}
    if not unit:
        return cqm

    def rebuilt(model: Any) -> Any:
        out = dimod.QuadraticModel()
        for v in model.variables:
            if v in unit:
                out.add_variable(dimod.BINARY, v)
            elif model.vartype(v) is dimod.INTEGER:
                out.add_variable(dimod.INTEGER, v, lower_bound=model.lower_bound(v), upper_bound=model.upper_bound(v))
            else:
                out.add_variable(model.vartype(v), v)
        for v, bias in model.iter_linear():
            out.add_linear(v, bias)
        for u, v, bias in model.iter_quadratic():
            if u == v and u in unit:
                out.add_linear(u, bias)
            else:
                out.add_quadratic(u, v, bias)
        out.offset = model.offset
        return out

    binary = dimod.ConstrainedQuadraticModel()
    for v in cqm.variables:  # the model's order, which a solution keeps
        if v in unit or cqm.vartype(v) is not dimod.INTEGER:
            binary.add_variable(dimod.BINARY if v in unit else cqm.vartype(v), v)
        else:
            binary.add_variable(dimod.INTEGER, v, lower_bound=cqm.lower_bound(v), upper_bound=cqm.upper_bound(v))
    binary.set_objective(rebuilt(cqm.objective))
    for label, constraint in cqm.constraints.items():
        binary.add_constraint_from_model(rebuilt(constraint.lhs), constraint.sense, constraint.rhs, label=label,
                                         copy=False)
    for v in unit:  # a binary variable's bounds cannot be set: one that allows one value is a constraint
        allowed = _allowed_bits(v, cqm, "integer")
        if len(allowed) == 1:
            _fix(binary, v, allowed[0])
    return binary


def _allowed_bits(v: Any, cqm: Any, kind: str) -> list[int]:
    """Which of 0 and 1 the bounds of ``v`` allow; refused where neither (the model has no solution)."""
    low, high = float(cqm.lower_bound(v)), float(cqm.upper_bound(v))
    allowed = [value for value in (0, 1) if low - 1e-9 <= value <= high + 1e-9]
    if not allowed:
        raise ParameterError(f"cqm: {kind} variable {v!r} has bounds [{low:g}, {high:g}], which allow neither 0 nor "
                             "1: the model has no solution")
    return allowed


def _fix(cqm: Any, v: Any, value: int) -> None:
    """Add the constraint ``v == value`` to ``cqm``, labelled ``bound v`` (primed until the label is new)."""
    label = f"bound {v}"
    while label in cqm.constraints:
        label += "'"
    # from (variable, bias) pairs: a model of its own would bring bounds of 0 and 1, refused as conflicting
    cqm.add_constraint_from_iterable([(v, 1.0)], "==", rhs=value, label=label)


def _bounds_as_constraints(cqm: Any) -> Any:
    """``cqm``, or a copy of it with an equality constraint ``v == value`` (labelled ``bound v``) for each binary
    variable whose bounds allow only one value: an LP file's ``Bounds`` (``0 <= a <= 0``, ``b = 1``) were kept by
    dimod and read by nothing, and a wrong answer was called optimal. Bounds that allow neither 0 nor 1 are refused
    (the model has no solution)."""
    import dimod

    fixed = {}
    for v in cqm.variables:
        if cqm.vartype(v) is not dimod.BINARY:
            continue
        allowed = _allowed_bits(v, cqm, "binary")
        if len(allowed) == 1:
            fixed[v] = allowed[0]
    if not fixed:
        return cqm
    cqm = copy.deepcopy(cqm)  # the caller's model stays as given
    for v, value in fixed.items():
        _fix(cqm, v, value)
    return cqm


def _integral(values: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    """``values`` times the smallest power of ten that makes them integers, and that factor."""
    found = decimal_scale(values)
    if found is None:
        raise ParameterError(f"cqm: {what} has coefficients that are not multiples of 10^-{DECIMAL_SCALE_DIGITS}; "
                             "scale the constraint to integers")
    return found


@dataclass
class _Penalties:
    """Accumulates penalty QUBOs (upper-triangular entries) per term."""

    size: int
    entries: dict

    def add(self, term: str, i: int, j: int, value: float) -> None:
        rows, cols, vals = self.entries.setdefault(term, ([], [], []))
        a, b = (i, j) if i <= j else (j, i)
        rows.append(a)
        cols.append(b)
        vals.append(value)

    def square(self, term: str, units: list[int], coefficients: np.ndarray, target: float) -> float:
        """Add ``(Σ c_k x_k − target)²`` on bits; returns its constant ``target²``."""
        for a, (i, ci) in enumerate(zip(units, coefficients)):
            self.add(term, i, i, ci * ci - 2.0 * target * ci)
            for j, cj in zip(units[a + 1:], coefficients[a + 1:]):
                self.add(term, i, j, 2.0 * ci * cj)
        return target * target

    def matrix(self, term: str, size: int) -> sp.csr_matrix:
        rows, cols, vals = self.entries.get(term, ([], [], []))
        return sp.csr_matrix((vals, (rows, cols)), shape=(size, size))


def _slack_coefficients(upper: int) -> list[int]:
    """Binary digits 1, 2, 4, … whose subsets sum to every integer in ``[0, upper]`` and to nothing above."""
    coefficients, total = [], 0
    while total < upper:
        step = min(1 << len(coefficients), upper - total)
        coefficients.append(step)
        total += step
    return coefficients


def _check_equality_can_hold(label: Any, given: np.ndarray, offset: float, model_rhs: float,
                             coefficients: np.ndarray, rhs: float, factor: float) -> None:
    """Refuse an equality no assignment of its bits can meet, as an inequality that can never hold is refused (it
    was solved and reported infeasible, exit 0): its right side outside the range of its left, or not a multiple
    of its (integer-scaled) coefficients' greatest common divisor. Said in the model's own terms."""
    low, high = float(np.minimum(coefficients, 0).sum()), float(np.maximum(coefficients, 0).sum())
    if not low <= rhs <= high:
        smallest = float(np.minimum(given, 0).sum()) + offset
        largest = float(np.maximum(given, 0).sum()) + offset
        raise ParameterError(f"cqm: constraint {label!r} can never hold (its left side is between {smallest:g} and "
                             f"{largest:g}, never {model_rhs:g})")
    divisor = int(np.gcd.reduce(np.abs(coefficients).astype(np.int64))) if len(coefficients) else 0
    if divisor > 1 and int(rhs) % divisor:
        raise ParameterError(f"cqm: constraint {label!r} can never hold (its left side less its constant is always "
                             f"a multiple of {divisor / factor:g}, and {model_rhs - offset:g} is not)")


def compile_cqm(data: CqmData, weights: dict[str, float] | None = None) -> Energy:
    """The energy of the model (see the module), with its one-hot groups and its inequalities' slack blocks."""
    from dimod.sym import Sense

    cqm = data.binary
    index = {v: k for k, v in enumerate(data.variables)}
    n = len(index)
    groups: list[list[int]] = []
    group_names: list[Any] = []
    grouped: set[int] = set()
    slack_labels: list[str] = []
    blocks: list[tuple] = []
    penalties = _Penalties(n, {})
    offsets = {"onehot": 0.0, "equality": 0.0, "inequality": 0.0}

    for label, constraint in cqm.constraints.items():
        lhs = constraint.lhs
        if len(lhs.quadratic):
            raise ParameterError(f"cqm: constraint {label!r} is quadratic; hopsolve's cqm problem takes linear "
                                 "constraints")
        units = [index[v] for v in lhs.linear]
        given = coefficients = np.array([float(lhs.linear[v]) for v in lhs.linear])  # given: as the model says
        rhs = float(constraint.rhs) - float(lhs.offset)
        sense = constraint.sense
        unit_equality = sense is Sense.Eq and np.all(coefficients == 1.0) and rhs == 1.0
        if (label in cqm.discrete or unit_equality) and units and not grouped.intersection(units):
            groups.append(units)
            group_names.append(label)
            grouped.update(units)
            continue
        if sense is Sense.Ge:
            coefficients, rhs = -coefficients, -rhs
        scaled, factor = _integral(np.append(coefficients, rhs), f"constraint {label!r}")
        coefficients, rhs = scaled[:-1], float(scaled[-1])
        if sense is Sense.Eq:
            _check_equality_can_hold(label, given, float(lhs.offset), float(constraint.rhs), coefficients, rhs,
                                     factor)
            offsets["equality"] += penalties.square("equality", units, coefficients, rhs)
            continue
        low, high = float(np.minimum(coefficients, 0).sum()), float(np.maximum(coefficients, 0).sum())
        if high <= rhs:
            continue  # always holds
        if low > rhs:  # said in the model's own terms: not negated (≥), not scaled, with its offset
            smallest = float(np.minimum(given, 0).sum()) + float(lhs.offset)
            largest = float(np.maximum(given, 0).sum()) + float(lhs.offset)
            bound = (f"its left side is at most {largest:g} < {float(constraint.rhs):g}" if sense is Sense.Ge
                     else f"its left side is at least {smallest:g} > {float(constraint.rhs):g}")
            raise ParameterError(f"cqm: constraint {label!r} can never hold ({bound})")
        if rhs == 1.0 and np.all(coefficients == 1.0):
            for a, i in enumerate(units):
                for j in units[a + 1:]:
                    penalties.add("inequality", i, j, 1.0)
            continue
        if rhs == 0.0 and np.all(coefficients > 0):
            for i, c in zip(units, coefficients):
                penalties.add("inequality", i, i, c)
            continue
        slack = _slack_coefficients(int(rhs - low))
        first = n + len(slack_labels)
        slack_labels.extend(f"slack[{label}][{k}]" for k in range(len(slack)))
        blocks.append((units, coefficients, rhs, list(range(first, first + len(slack))), slack))
        offsets["inequality"] += penalties.square("inequality", units + list(range(first, first + len(slack))),
                                                  np.append(coefficients, slack), rhs)

    size = n + len(slack_labels)
    objective = cqm.objective
    q = sp.lil_matrix((size, size))
    for v, bias in objective.linear.items():
        q[index[v], index[v]] += float(bias)
    for (u, v), bias in objective.quadratic.items():
        i, j = sorted((index[u], index[v]))
        q[i, j] += float(bias)
    terms = [Energy.from_qubo(q.tocsr(), float(objective.offset)).terms[0]]
    span = float(np.abs(list(objective.linear.values())).sum() + np.abs(list(objective.quadratic.values())).sum())
    automatic = span + 1.0
    group_set = OneHotGroups.from_lists(groups, names=group_names) if groups else None
    if group_set is not None:
        terms.append(group_set.penalty("onehot", size))
    for name in ("equality", "inequality"):
        if name in penalties.entries:
            terms.append(Energy.from_qubo(penalties.matrix(name, size), offsets[name], name=name).terms[0])
    names = [t.name for t in terms]
    chosen = {name: automatic for name in names if name != "objective"}
    for key, value in (weights or {}).items():
        chosen[key] = value  # unknown names are refused by Energy
    clash = set(slack_labels).intersection(v for v in data.variables if isinstance(v, str))  # named like a slack: "two
    if clash:  # variables share a label" named neither, and the user's labels were distinct
        raise ParameterError(f"cqm: variable {sorted(clash)[0]!r} has the name hopsolve gives a slack unit of an "
                             "inequality; rename the variable")
    labels = tuple(data.variables) + tuple(slack_labels)
    layout = view = None
    grid = data.permutation_grid
    if grid is not None:  # an assignment: exchange moves keep every constraint (see permutation_grid)
        costs = np.array([[float(objective.linear.get(data.variables[u], 0.0)) for u in row] for row in grid])
        layout = OneHotLayout(grid)
        m = len(grid)
        view = PermutationView(layout, np.zeros((m, m)), sp.csr_matrix((m, m)), costs if costs.any() else None,
                               "objective", float(objective.offset))
    return Energy(Vartype.BINARY, tuple(terms), weights=chosen, labels=labels, groups=group_set,
                  slacks=SlackBlocks.from_blocks(blocks) if blocks else None, layout=layout, permutation=view)


def permutation_grid(data: CqmData) -> np.ndarray | None:
    """The units of a model that is an assignment, as an ``m × m`` grid (``grid[i, a]``: the unit in row
    constraint i and column constraint a), or ``None``: every variable binary and in exactly one of m "row" and
    one of m "column" constraints ``Σ x = 1`` (unit coefficients, no other constraint), each row meeting each
    column in exactly one variable, and the objective linear. On such a model the states where every constraint
    holds are the permutations, and the backends' exchange moves (the assignment problem's) keep both families;
    one-hot moves keep only one and froze (606 for 10 s where 165 is optimal). Computed once per model."""
    from dimod.sym import Sense

    cqm = data.binary
    index = {v: k for k, v in enumerate(data.variables)}
    count = len(index)
    m = math.isqrt(count)
    constraints = list(cqm.constraints.values())
    if data.spins or m < 2 or m * m != count or len(constraints) != 2 * m or len(cqm.objective.quadratic):
        return None
    members = []
    for constraint in constraints:
        lhs = constraint.lhs
        if constraint.sense is not Sense.Eq or len(lhs.quadratic) or len(lhs.linear) != m or \
                float(constraint.rhs) - float(lhs.offset) != 1.0 or any(b != 1.0 for b in lhs.linear.values()):
            return None
        members.append([index[v] for v in lhs.linear])
    first = set(members[0])  # the rows are the constraints disjoint from the first, the columns the others
    rows = [units for units in members if first.isdisjoint(units) or units is members[0]]
    columns = [units for units in members if not (first.isdisjoint(units) or units is members[0])]
    if len(rows) != m or len(columns) != m:
        return None
    row_of = np.full(count, -1)
    column_of = np.full(count, -1)
    for k, units in enumerate(rows):
        if (row_of[units] >= 0).any():
            return None
        row_of[units] = k
    for k, units in enumerate(columns):
        if (column_of[units] >= 0).any():
            return None
        column_of[units] = k
    if (row_of < 0).any() or (column_of < 0).any():
        return None
    grid = np.full((m, m), -1)
    grid[row_of, column_of] = np.arange(count)
    return grid if (grid >= 0).all() else None


def automatic_weight(data: CqmData) -> float:
    """The weight every penalty term gets by default (see the module): ``Σ|objective coefficients| + 1``."""
    objective = data.binary.objective
    return float(np.abs(list(objective.linear.values())).sum() + np.abs(list(objective.quadratic.values())).sum()
                 ) + 1.0


def is_finite_model(cqm: Any) -> bool:
    """True when every coefficient of the model is finite."""
    values = [*cqm.objective.linear.values(), *cqm.objective.quadratic.values(), cqm.objective.offset]
    for constraint in cqm.constraints.values():
        values.extend(constraint.lhs.linear.values())
        values.extend([constraint.rhs, constraint.lhs.offset])
    return all(math.isfinite(float(v)) for v in values)
