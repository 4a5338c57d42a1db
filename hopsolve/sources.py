"""``hopsolve.solve``: one call from what a Python user holds (a file, an :class:`Instance`, a networkx graph, a
QUBO as a dict or a matrix, a dimod model) to a scored :class:`Result`, with no registry in sight.

Each kind of source is one row of :data:`SOURCES`: what it is, a predicate that recognises it, the problem it is
solved as, and a converter that builds the instance (or names the file) and says how the problem's solution is
given back in the source's own terms (keyed by the graph's nodes or the model's variables). The first row whose
predicate accepts the source is used; a new kind of source is a new row.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hopsolve.energy import check_allocation
from hopsolve.errors import ParameterError, UserError
from hopsolve.plugins import Registry, default_registry
from hopsolve.problem import Instance
from hopsolve.result import Result
from hopsolve.solving import solve_instance, solve_path
from hopsolve.terminal import CompileNote
from hopsolve.textio import check_exact_sum


def _unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Prepared:
    """A source made ready to solve: the problem (``None``: inferred from the file's suffix), the instance or the
    file to read, and ``present``, which maps the problem's solution value to the one :func:`solve` returns."""

    problem: str | None
    instance: Instance | None = None
    path: Path | None = None
    present: Callable[[Any], Any] = _unchanged


@dataclass(frozen=True)
class SourceKind:
    """One kind of source :func:`solve` takes."""

    description: str
    accepts: Callable[[Any], bool]
    problem: str | None
    """The problem this kind is solved as (``solve(problem=...)`` may only repeat it); ``None``: the source
    says (a file's suffix or ``problem=``, an instance's ``problem``)."""
    convert: Callable[[Any, Registry, str | None], Prepared]
    """``convert(source, registry, problem)``: ``problem`` is what the caller passed to :func:`solve`."""


def _loaded(module: str, cls: str) -> type | None:
    """``module.cls`` if ``module`` is imported already: an object of that type exists only if it is, so a
    predicate never imports networkx or dimod itself."""
    found = sys.modules.get(module)
    return getattr(found, cls, None) if found is not None else None


def _is_a(module: str, cls: str) -> Callable[[Any], bool]:
    def accepts(source: Any) -> bool:
        loaded = _loaded(module, cls)
        return loaded is not None and isinstance(source, loaded)

    return accepts


def _keyed(labels: list[Any], convert: Callable[[Any], Any] = int) -> Callable[[Any], Any]:
    """A presenter: the problem's list of values in variable order → ``{label: value}``. Labels that two
    variables would share once written as JSON keys (``0`` and ``'0'``) are refused: a result's JSON dropped one."""
    written: dict[str, Any] = {}
    for label in labels:
        key = str(label)
        if key in written:
            raise ParameterError(f"variables {written[key]!r} and {label!r} would be written as the same key "
                                 f"{key!r} in a result's JSON (one of them lost): give them distinct labels")
        written[key] = label

    def present(value: Any) -> Any:
        return None if value is None else {label: convert(v) for label, v in zip(labels, value)}

    return present


# ---- converters, one per row -----------------------------------------------------------------------------------
def _from_path(source: str | os.PathLike, registry: Registry, problem: str | None) -> Prepared:
    path = Path(source)
    if not path.exists():
        raise UserError("no such file", path=path)
    return Prepared(problem or registry.problem_for_path(path), path=path)


def _from_instance(source: Instance, registry: Registry, problem: str | None) -> Prepared:
    if problem is not None and problem != source.problem:
        raise ParameterError(f"the instance {source.name!r} is a {source.problem!r} instance, not {problem!r}")
    return Prepared(source.problem, source)


def _from_graph(source: Any, registry: Registry, problem: str | None) -> Prepared:
    instance = registry.problem("maxcut").from_graph(source, name=str(source.name or "graph"))
    return Prepared("maxcut", instance, present=_keyed(instance.meta["nodes"]))


def _from_bqm(source: Any, registry: Registry, problem: str | None) -> Prepared:
    labels = list(source.variables)
    spin = source.vartype.name == "SPIN"
    binary = source.change_vartype("BINARY", inplace=False) if spin else source
    linear, (rows, cols, values), offset = binary.to_numpy_vectors(variable_order=labels)
    n, diagonal = len(labels), np.arange(len(labels))
    q = sp.coo_matrix((np.concatenate([linear, values]).astype(np.float64),
                       (np.concatenate([diagonal, rows]), np.concatenate([diagonal, cols]))), shape=(n, n))
    if spin:  # judged as given: its bits' form quadruples the couplings (2^50 each was refused)
        h, (_, _, j), constant = source.to_numpy_vectors(variable_order=labels)
        with np.errstate(over="ignore"):
            size = float(np.abs(h).sum()) + float(np.abs(j).sum()) + abs(float(constant))
        check_exact_sum(size, None, "a BQM's energy", error=ParameterError)
    instance = registry.problem("qubo").from_qubo(q, float(offset), name="bqm", labels=labels, exact_checked=spin)
    return Prepared("qubo", instance, present=_keyed(labels, (lambda bit: 2 * int(bit) - 1) if spin else int))


def _from_cqm(source: Any, registry: Registry, problem: str | None) -> Prepared:
    build = None
    if "cqm" in registry.problems:  # from_cqm: a method of the problem, else a function of its module
        plugin = registry.problem("cqm")
        build = getattr(plugin, "from_cqm", None) or getattr(sys.modules.get(type(plugin).__module__), "from_cqm",
                                                             None)
    if build is None:
        installed = ", ".join(sorted(registry.problems))
        raise ParameterError("a dimod.ConstrainedQuadraticModel needs the cqm problem plugin (a 'cqm' problem with "
                             f"from_cqm), which is not installed; installed problems: {installed}")
    labels = list(source.variables)  # the answer keyed by the model's own labels, as a BQM's is (the plugin's
    # keys are their text, for JSON; it refuses two labels with one text), so cqm.check_feasible takes it

    def present(value: Any) -> Any:
        return None if value is None else {label: value[str(label)] for label in labels}

    return Prepared("cqm", build(source), present=present)


def _from_qubo_dict(source: Mapping, registry: Registry, problem: str | None) -> Prepared:
    index: dict[Any, int] = {}
    rows, cols, values = [], [], []
    for key, value in source.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ParameterError(f"a QUBO dict maps pairs (i, j) to numbers; its key {key!r} is not a pair")
        try:
            values.append(float(value))
        except (TypeError, ValueError):
            raise ParameterError(f"a QUBO dict maps pairs (i, j) to numbers; {key!r} maps to {value!r}") from None
        except OverflowError:  # an int past float64's range (10**400)
            raise ParameterError(f"a QUBO dict's coefficients must fit a 64-bit float; {key!r} maps to a number "
                                 "too large for one") from None
        for label in key:
            index.setdefault(label, len(index))
        rows.append(index[key[0]])
        cols.append(index[key[1]])
    labels = list(index)
    q = sp.coo_matrix((values, (rows, cols)), shape=(len(labels), len(labels)))
    instance = registry.problem("qubo").from_qubo(q, name="qubo", labels=labels)
    return Prepared("qubo", instance, present=_keyed(labels))


def _from_qubo_matrix(source: Any, registry: Registry, problem: str | None) -> Prepared:
    shape = np.shape(source)
    if len(shape) == 2:  # a sparse matrix of 10⁹ variables and two entries: scipy's conversion met a MemoryError
        check_allocation(8.0 * (float(shape[0]) + 1.0), f"one array over the {shape[0]:,} variables of this QUBO",
                         "solve fewer variables (drop the ones without coefficients)")
    return Prepared("qubo", registry.problem("qubo").from_qubo(source, name="qubo"))


SOURCES: tuple[SourceKind, ...] = (
    SourceKind("a file path (str or pathlib.Path)", lambda s: isinstance(s, (str, os.PathLike)), None, _from_path),
    SourceKind("a hopsolve.Instance", lambda s: isinstance(s, Instance), None, _from_instance),
    SourceKind("a networkx graph (max-cut)", _is_a("networkx", "Graph"), "maxcut", _from_graph),
    SourceKind("a dimod.BinaryQuadraticModel", _is_a("dimod", "BinaryQuadraticModel"), "qubo", _from_bqm),
    SourceKind("a dimod.ConstrainedQuadraticModel", _is_a("dimod", "ConstrainedQuadraticModel"), "cqm", _from_cqm),
    SourceKind("a QUBO dict {(i, j): value}", lambda s: isinstance(s, Mapping) and not sp.issparse(s), "qubo",
               _from_qubo_dict),  # a scipy dok matrix is a dict too: as one, variables without entries vanished
    SourceKind("a square QUBO matrix (numpy array or scipy sparse)",
               lambda s: isinstance(s, np.ndarray) or sp.issparse(s), "qubo", _from_qubo_matrix),
)
"""The kinds of source :func:`solve` takes, in the order they are tried."""


def _kind_of(source: Any) -> SourceKind:
    for kind in SOURCES:
        if kind.accepts(source):
            return kind
    accepted = "; ".join(kind.description for kind in SOURCES)
    raise ParameterError(f"hopsolve.solve cannot take a {type(source).__module__}.{type(source).__qualname__}; "
                         f"it takes {accepted}")


def solve(
    source: Any,
    *,
    problem: str | None = None,
    backend: str | None = None,
    baseline: str | None = None,
    seed: int | None = None,
    time_limit: float | None = None,
    reads: int | None = None,
    params: Mapping[str, Any] | None = None,
    weights: Mapping[str, float] | None = None,
    options: Mapping[str, Any] | None = None,
    repair: bool = False,
    registry: Registry | None = None,
) -> Result:
    """Solve ``source`` in one call and return its scored :class:`Result`.

    Parameters
    ----------
    source
        What to solve; each kind is one row of :data:`SOURCES`:

        - a file path (``str`` or ``pathlib.Path``): read by the problem its suffix names (or ``problem``), as
          ``hopsolve solve PATH`` does; ``solution`` is the problem's own (TSP: the tour, 1-based city ids);
        - an :class:`Instance`: solved as ``instance.problem``; ``solution`` as the problem gives it;
        - a networkx graph: max-cut, edge attribute ``weight`` (default 1); ``solution`` is a dict
          ``{node: side}`` with side +1 or -1 for every node of the graph, ``objective`` the cut weight (of a
          directed graph, every arc counts: arcs ``u→v`` and ``v→u`` both cut add both weights, as in its
          undirected graph with the weights summed);
        - a QUBO dict ``{(i, j): value}`` with any hashable labels (``(i, i)`` is the linear term of ``i``):
          minimise ``Σ value·x_i·x_j``; ``solution`` is a dict ``{label: bit}`` (bits 0/1), ``objective`` and
          ``energy`` are ``xᵀQx``;
        - a square numpy array or scipy sparse matrix ``Q``: minimise ``xᵀQx`` (``Q`` need not be symmetric or
          triangular); ``solution`` is the list of bits in index order;
        - a ``dimod.BinaryQuadraticModel`` (SPIN or BINARY): ``solution`` is a dict ``{variable: value}`` in the
          model's own vartype (±1 or 0/1), ``objective`` and ``energy`` equal ``bqm.energy(solution)``;
        - a ``dimod.ConstrainedQuadraticModel``: solved by the ``cqm`` problem plugin (its ``from_cqm``), where
          one is installed; ``solution`` a dict ``{variable: value}`` keyed by the model's own labels (so
          ``cqm.check_feasible(result.solution)`` takes it), ``feasible`` dimod's check and ``violations`` each
          violated constraint's amount, keyed by its label's text.
    problem
        The problem plugin, for a file whose suffix is ambiguous; for the in-memory kinds it may only repeat the
        problem they are solved as.
    backend, baseline
        One or the other (default: the problem's default backend), as ``--backend``/``--baseline``.
    seed, time_limit, reads, params, weights, options, repair
        As ``hopsolve solve``'s ``--seed``, ``--time-limit``, ``--reads``, ``--param``, ``--weight``,
        ``--option`` and ``--repair``; the seed used is recorded in the result.
    registry
        The plugins to use (default: every installed plugin, each that failed to load a ``UserWarning``).

    A first run on a machine compiles the kernels (tens of seconds, cached afterwards, outside any time limit);
    when preparing takes longer than 1.5 s one line on standard error says so, as the CLI's does.

    Returns
    -------
    Result
        ``status``, ``feasible``, ``objective``, ``reference``, ``gap``, ``energy``, ``violations``,
        ``solution`` (as above) and the rest of ``hopsolve solve --json``'s record (``to_dict()``);
        ``result.plot(ax=None)`` draws the solution where the problem can (TSP).

    Raises
    ------
    ParameterError
        A source of another type (the message lists the accepted kinds), a ``problem`` the source cannot be, a
        malformed QUBO, or a CQM without the cqm plugin; every error is one line.

    Examples
    --------
    >>> import hopsolve
    >>> result = hopsolve.solve({("a", "a"): -1.0, ("a", "b"): 2.0, ("b", "b"): -1.0}, backend="exact")
    >>> result.solution in ({"a": 1, "b": 0}, {"a": 0, "b": 1}), result.objective
    (True, -1.0)
    """
    registry = registry if registry is not None else default_registry()
    kind = _kind_of(source)
    if kind.problem is not None and problem not in (None, kind.problem):
        raise ParameterError(f"{kind.description} is solved as problem {kind.problem!r}, not {problem!r}")
    prepared = kind.convert(source, registry, problem)
    note = CompileNote()  # a first run compiles for tens of seconds: say so on stderr, as the CLI does
    settings = dict(backend=backend, baseline=baseline, seed=seed, time_limit=time_limit, reads=reads,
                    params=params, weights=weights, options=options, repair=repair,
                    callback=None if baseline else note)
    try:
        if prepared.path is not None:
            result, solution, instance = solve_path(registry, prepared.path, problem=prepared.problem, **settings)
        else:
            instance = prepared.instance
            result, solution = solve_instance(registry, prepared.problem, instance, **settings)
    finally:
        note.close()
    result.solution = prepared.present(result.solution)
    result._drawable = (registry.problem(result.problem), instance, solution)
    return result
