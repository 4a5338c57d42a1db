"""The ``memory`` problem: store patterns with a learning rule, recall them from cues with any backend."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hopsolve import (
    Energy,
    Instance,
    ParameterError,
    PatternTerm,
    Problem,
    QuadraticTerm,
    Solution,
    TooLargeError,
    Vartype,
    check_matrix_size,
    require,
)
from hopsolve_memory.patterns import PatternSet, read_cues, read_patterns
from hopsolve_memory.rules import QUADRATIC_RULES

Rule = Literal["hebb", "storkey", "pinv", "dense", "rectified", "exp", "modern"]
MIXTURE_OVERLAP = 0.25  # a 3-pattern mixture overlaps each of its patterns by about ½: only those are tried
MIXTURE_CANDIDATES = 12
"""At most this many patterns, those of largest |overlap| with the state, are tried as a mixture's three (220
trios): with 3,000 stored patterns of 36 units, 409 passed MIXTURE_OVERLAP, 11 million trios, and labelling one
recalled state did not end (``solve`` and ``recall`` ignored their time limits)."""


@dataclass(frozen=True)
class MemoryOptions:
    """How the patterns are stored and which cue starts the recall."""

    rule: Rule = "hebb"
    """Learning rule: ``hebb``, ``storkey``, ``pinv`` (quadratic), ``dense`` (F(x) = xⁿ), ``rectified``
    (F(x) = max(x, 0)ⁿ), ``exp`` (F(x) = e^{βx}); ``modern`` stores like ``exp`` for the discrete backends and
    the ``recall`` command runs the continuous update ξ ← X softmax(β Xᵀ ξ)."""
    degree: int = 3
    """n of the dense energies."""
    beta: float = 1.0
    """β of the exponential and modern energies."""
    cue: str | None = None
    """A file with the cue(s) the dynamics start from (same formats as the patterns)."""

    def validate(self) -> None:
        require(self.degree >= 1, "problem 'memory'", "degree must be at least 1")
        require(0 < self.beta <= MAX_BETA, "problem 'memory'", f"beta must be in (0, {MAX_BETA:g}], got {self.beta}")


DEGREE_RULES = frozenset({"dense", "rectified"})
"""The rules whose energy has a degree n (option ``degree``, ``recall --degree``)."""

BETA_RULES = frozenset({"exp", "modern"})
"""The rules whose energy or update has a β (option ``beta``, ``recall --beta``)."""


def check_options_apply(rule: str, given: Mapping[str, Any], flag: str = "option ") -> None:
    """Refuse a ``degree`` or ``beta`` given for a rule that has none (it was taken and ignored without a word)."""
    for name, rules in (("degree", DEGREE_RULES), ("beta", BETA_RULES)):
        if name in given and rule not in rules:
            where = "--rule " if flag.startswith("--") else "rule "
            raise ParameterError(f"{flag}{name} does not apply to {where}{rule}: it is for "
                                 f"{' and '.join(sorted(rules))}")


MAX_BETA = 1e6
"""β times an overlap (at most N) must stay far from float overflow in the exponential and modern energies."""


def memory_energy(patterns: np.ndarray, options: MemoryOptions) -> Energy:
    """The spin energy that stores ``patterns`` under ``options.rule``."""
    n = patterns.shape[1]
    if options.rule in QUADRATIC_RULES:  # an N × N matrix: refused before it is built where it would not fit
        check_matrix_size(n * n, f"the {options.rule} rule's {n:,}×{n:,} couplings")
        w = QUADRATIC_RULES[options.rule](patterns)
        return Energy(Vartype.SPIN, (QuadraticTerm.build("objective", w, np.zeros(n)),))
    kind = {"dense": "power", "rectified": "rectified", "exp": "exp", "modern": "exp"}[options.rule]
    term = PatternTerm.build("objective", patterns, kind, options.degree, options.beta)
    return Energy(Vartype.SPIN, (term,))


def classify_many(patterns: np.ndarray, states: np.ndarray) -> list[tuple[str, int | None]]:
    """For each state: ``stored`` (with its 1-based index), ``inverted`` (index of the pattern it negates),
    ``mixture`` (of three patterns) or ``spurious``. One matrix product finds the exact and inverted matches."""
    xi = patterns.astype(np.float64)
    s = np.atleast_2d(states).astype(np.float64)
    n = xi.shape[1]
    overlaps = s @ xi.T / n
    found: list[tuple[str, int | None]] = []
    for row, state in zip(overlaps, s):
        top, bottom = int(np.argmax(row)), int(np.argmin(row))
        if row[top] == 1.0:
            found.append(("stored", top + 1))
        elif row[bottom] == -1.0:
            found.append(("inverted", bottom + 1))
        else:
            found.append((_mixture_or_spurious(patterns, state, row), None))
    return found


def _mixture_or_spurious(patterns: np.ndarray, state: np.ndarray, overlaps: np.ndarray) -> str:
    candidates = np.flatnonzero(np.abs(overlaps) >= MIXTURE_OVERLAP)
    if len(candidates) > MIXTURE_CANDIDATES:  # a mixture's own three overlap it most (stably: ties by index)
        candidates = np.sort(candidates[np.argsort(-np.abs(overlaps[candidates]), kind="stable")[:MIXTURE_CANDIDATES]])
    for trio in itertools.combinations(candidates, 3):
        signs = np.sign(overlaps[list(trio)])
        mixture = np.sign(sum(sign * patterns[k].astype(np.int64) for sign, k in zip(signs, trio)))
        if np.array_equal(mixture, state):
            return "mixture"
    return "spurious"


def classify(patterns: np.ndarray, state: np.ndarray) -> tuple[str, int | None]:
    """:func:`classify_many` for one state."""
    return classify_many(patterns, state)[0]


def recall_details(patterns: np.ndarray, states: np.ndarray) -> list[dict[str, Any]]:
    """Overlap with the nearest pattern, its index, the match, the kind of every state and, for an inverted
    state, the pattern it negates."""
    states = np.atleast_2d(states)
    overlaps = states.astype(np.float64) @ patterns.astype(np.float64).T / patterns.shape[1]
    kinds = classify_many(patterns, states)
    details = []
    for row, (kind, index) in zip(overlaps, kinds):
        nearest = int(np.argmax(row))
        details.append({"match": index if kind == "stored" else None, "nearest": nearest + 1, "kind": kind,
                        "exact": kind == "stored", "overlap": float(row[nearest]), "overlaps": row.tolist(),
                        "inverted": index if kind == "inverted" else None})
    return details


class MemoryProblem(Problem):
    """Associative memory: the solution is the recalled state (±1 per unit); the objective is its overlap
    ``m = ξ·s/N`` with the nearest stored pattern."""

    name = "memory"
    data_type = PatternSet
    description = "associative memory: store patterns (Hebb, Storkey, pseudo-inverse, dense, exp), recall cues"
    suffixes = (".patterns",)
    sense = "max"
    energy_is_objective = False  # the overlap with the nearest pattern: a ground state can be a spurious state
    default_backend = "hopfield"
    Options = MemoryOptions
    file_options = ("cue",)

    def read(self, path: str | Path) -> Instance:
        path = Path(path)
        data = read_patterns(path)
        return Instance("memory", path.stem, data, reference=1.0, source=str(path))

    @staticmethod
    def from_patterns(patterns: Any, shape: tuple[int, int] | None = None, name: str = "patterns") -> Instance:
        """An instance of stored patterns (P × N, ±1) from Python; ``shape`` (rows, cols), where given, draws each
        pattern as a picture and must hold its N units exactly."""
        xi = np.asarray(patterns)
        if xi.ndim != 2 or not np.isin(xi, (-1, 1)).all():
            raise ParameterError("patterns must be a P × N array of ±1")
        if xi.shape[0] == 0 or xi.shape[1] == 0:  # argmax of an empty sequence, or an objective of NaN, later
            raise ParameterError(f"patterns must hold at least one pattern of at least one unit, got shape {xi.shape}")
        if shape is not None:
            rows, cols = (int(v) for v in shape) if len(shape) == 2 else (0, 0)
            if rows < 1 or cols < 1 or rows * cols != xi.shape[1]:  # pictures cut short, or refused later by a cue
                raise ParameterError(f"shape {tuple(shape)} does not hold the patterns' {xi.shape[1]} units "
                                     "(rows × cols must equal N)")
            shape = (rows, cols)
        return Instance("memory", name, PatternSet(xi.astype(np.int8), shape), reference=1.0)

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None,
               options: MemoryOptions | None = None) -> Energy:
        try:
            energy = memory_energy(instance.data.patterns, options or MemoryOptions())
        except (ParameterError, TooLargeError) as exc:  # a rule that cannot store these patterns: say which file
            raise type(exc)(exc.message, path=instance.source) from None
        return energy.reweighted(**weights) if weights else energy

    def options(self, values: Mapping[str, Any] | None = None) -> Any:
        """The options, refusing a ``degree`` or ``beta`` its rule does not have (:func:`check_options_apply`)."""
        options = super().options(values)
        check_options_apply(options.rule, values or {})
        return options

    def initial_states(self, instance: Instance, energy: Energy, options: MemoryOptions | None) -> np.ndarray | None:
        if options is None or options.cue is None:
            return None
        return read_cues(options.cue, instance.data.size, instance.data.shape)

    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> np.ndarray:
        s = np.asarray(state)
        return s if energy.vartype is Vartype.SPIN else 2 * s - 1

    def score(self, instance: Instance, candidate: Any) -> Solution:
        s = np.asarray(candidate, dtype=np.int64)
        xi = instance.data.patterns.astype(np.int64)
        if s.shape != (instance.data.size,) or not np.isin(s, (-1, 1)).all():
            raise ParameterError(f"a recalled state has {instance.data.size} units of ±1")
        [details] = recall_details(xi, s)
        return Solution([int(v) for v in s], details.pop("overlap"), True, details=details)

    def write_solution(self, instance: Instance, solution: Solution, path: str | Path) -> None:
        """The recalled state as a picture in the patterns' own text format (``#`` on, ``.`` off, the stored
        pictures' rows; one row for patterns without a grid), so that it reads back as a cue or a pattern."""
        if solution.value is None:
            raise ParameterError("no solution to write")
        Path(path).write_text("\n".join(instance.data.picture(np.asarray(solution.value))) + "\n")

    def state_of(self, instance: Instance, energy: Energy, candidate: Any) -> np.ndarray:
        s = np.asarray(candidate, dtype=np.int8)
        return s if energy.vartype is Vartype.SPIN else ((s + 1) // 2).astype(np.int8)
