"""The ``cqm`` problem: constrained quadratic models from LP files or ``dimod.ConstrainedQuadraticModel`` objects.

Reading and scoring go through dimod (extra ``dimod``): ``dimod.lp.loads`` reads the LP file (a ``Maximize``
objective is minimised as its negation, as dimod reads it, and reported so, with a note that gives the file's own
value), and a solution's
``objective`` is the model's own objective, ``feasible`` is dimod's ``cqm.check_feasible`` rule and
``violations`` are dimod's ``cqm.violations`` of every violated constraint, by its label — computed for linear
constraints by :class:`hopsolve_cqm.encoding.ConstraintTable` (the same rule on a sparse matrix; dimod's own
check takes seconds per sample on models with 10⁴ constraints, and every read is scored).
How the model becomes an energy (one-hot groups,
penalties, slack units, automatic weights) is documented in :mod:`hopsolve_cqm.encoding`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hopsolve import Energy, Instance, ParameterError, ParseError, Problem, Solution, check_input_file
from hopsolve_cqm.encoding import CqmData, compile_cqm, cqm_data, is_finite_model

FEASIBILITY_TOLERANCE = 1e-6
"""Absolute tolerance of dimod's feasibility check (``cqm.check_feasible(..., atol=...)``)."""


def _dimod() -> Any:
    try:
        import dimod
    except ImportError:
        raise ParameterError("the cqm problem needs dimod: pip install 'hopsolve[dimod]'") from None
    return dimod


def from_cqm(cqm: Any, name: str = "cqm", source: str | None = None) -> Instance:
    """An instance of the ``cqm`` problem from a ``dimod.ConstrainedQuadraticModel``."""
    dimod = _dimod()
    if not isinstance(cqm, dimod.ConstrainedQuadraticModel):
        raise ParameterError(f"expected a dimod.ConstrainedQuadraticModel, got {type(cqm).__name__}")
    if not is_finite_model(cqm):
        raise ParameterError("cqm: the model has a non-finite coefficient")
    soft = [label for label, constraint in cqm.constraints.items() if constraint.lhs.is_soft()]
    if soft:  # were solved as hard constraints, their weights ignored
        raise ParameterError(f"cqm: constraint {soft[0]!r} is soft ({len(soft)} of the model's "
                             f"{len(cqm.constraints)} constraints are); hopsolve's cqm problem holds every "
                             "constraint hard, so it takes no soft ones: add it without a weight, or put its penalty "
                             "in the objective")
    for kind, labels in (("variables", cqm.variables), ("constraints", cqm.constraints)):
        written: dict[str, Any] = {}
        for label in labels:  # a solution's and violations' keys are the labels' text (JSON's keys)
            if str(label) in written:  # 0 and "0": one of them was lost from the answer, in silence
                raise ParameterError(f"cqm: {kind} {written[str(label)]!r} and {label!r} would be written as the same "
                                     f"key {str(label)!r} in a solution (one of them lost): give them distinct labels")
            written[str(label)] = label
    return Instance("cqm", name, cqm_data(cqm), source=source)



CROSSING_NOTE = ("some variables are in two `= 1` constraints (an assignment's rows and columns): the moves keep "
                 "one of them and the other only by penalties, and no single move keeps both, so a run can stay at "
                 "its first feasible state; an assignment is solved better as the assignment problem (its costs as "
                 "a matrix file), whose moves exchange two rows")
"""The note of an answer to a model with crossing one-hot constraints (see :func:`_crossing_one_hots`)."""


def _crossing_one_hots(instance: Instance) -> bool:
    """Whether a variable is in two ``Σ x = 1`` constraints of unit coefficients (an assignment written as a CQM):
    anneal then sat at 606 for 10 s where the optimum is 165, the column constraints held only by penalties that
    every move of one row breaks twice. Computed once per instance (kept in ``meta``)."""
    if "crossing_one_hots" not in instance.meta:
        from dimod.sym import Sense

        seen: set = set()
        crossing = False
        for constraint in instance.data.binary.constraints.values():
            lhs = constraint.lhs
            if constraint.sense is Sense.Eq and not len(lhs.quadratic) and \
                    float(constraint.rhs) - float(lhs.offset) == 1.0 and all(b == 1.0 for b in lhs.linear.values()):
                if seen.intersection(lhs.linear):
                    crossing = True
                    break
                seen.update(lhs.linear)
        # an assignment's grid is solved by exchange moves, which keep both (see encoding.permutation_grid)
        instance.meta["crossing_one_hots"] = crossing and instance.data.permutation_grid is None
    return bool(instance.meta["crossing_one_hots"])


OBJECTIVE_KEYWORDS = {"minimize": "min", "minimum": "min", "min": "min", "maximize": "max", "maximum": "max",
                      "max": "max"}
"""The objective section's keywords the LP reader (HiGHS, through dimod) knows, any case, and the sense of each."""

SECTION_KEYWORDS = {"subject", "such", "st", "s.t.", "st.", "bounds", "bound", "binary", "binaries", "bin",
                    "general", "generals", "gen", "semi-continuous", "semis", "semi", "sos", "sos1", "sos2", "end"}
"""The other sections' first words, any of which may open a file that has no objective (a feasibility model)."""

BRITISH_KEYWORDS = {"minimise": "Minimize", "maximise": "Maximize"}
"""Spellings the reader does not know and read as an empty objective (a silent wrong answer): written as it knows
them before the file is read."""


def _first_section(text: str) -> tuple[str, int, int, list[tuple[str, int]]] | None:
    """The file's first section keyword (an objective's, a British one among them, or another section's), its line,
    its offset in ``text``, and the words before it with their lines. As the reader (HiGHS, through dimod) reads
    a file: ``\\`` starts a comment to the end of its line, and words before the first section are skipped
    (a title line is harmless; an objective there is lost). ``None`` for a file without a section keyword."""
    before: list[tuple[str, int]] = []
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        code = line.split("\\", 1)[0]
        at = 0
        for token in code.split():
            at = code.index(token, at)
            word = token.lower().rstrip(":")
            if word in OBJECTIVE_KEYWORDS or word in BRITISH_KEYWORDS or word in SECTION_KEYWORDS:
                return token, number, offset + at, before
            before.append((token, number))
            at += len(token)
        offset += len(line)
    return None


def _checked_objective_keyword(text: str, path: Path) -> str:
    """``text`` with a British objective keyword written as the reader knows it, or a one-line refusal of a file
    whose objective the reader would skip: words that look like an objective (``Mimimize``, ``maximize.``, then
    ``obj: 3 x``) before a first section that is not an objective's. The reader took either for an empty
    objective, and every solver then called the first feasible state optimal."""
    found = _first_section(text)
    if found is None:
        return text
    token, _, at, before = found
    word = token.lower().rstrip(":")
    if word in BRITISH_KEYWORDS:
        return text[:at] + BRITISH_KEYWORDS[word] + token[len(word):] + text[at + len(token):]
    expression = [(t, n) for t, n in before if re.search(r"[:+\-\d]", t)]
    if word not in OBJECTIVE_KEYWORDS and expression:
        first, line = before[0]
        raise ParseError(f"{first!r} is not an objective keyword the LP reader knows, and what follows it up to "
                         f"{token!r} would be skipped (an empty objective): write Minimize or Maximize", path, line)
    return text


def _maximises(text: str) -> bool:
    """Whether the LP file's objective section is a ``Maximize`` one (its first section's keyword)."""
    found = _first_section(text)
    return found is not None and OBJECTIVE_KEYWORDS.get(found[0].lower().rstrip(":")) == "max"


HEXADECIMAL = re.compile(r"(?<![\w.])0[xX][0-9a-fA-F]+(?![\w.])")


def _refuse_hexadecimal_numbers(text: str, path: Path) -> None:
    """Refuse a number written in hexadecimal (``0x1f``), which HiGHS's LP reader takes as 31 where every other
    reader of hopsolve refuses it (no LP name starts with a digit, so such a token can only be that number)."""
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("\\", 1)[0]  # a backslash starts an LP comment
        found = HEXADECIMAL.search(code)
        if found:
            raise ParseError(f"{found.group()!r} is not a plain decimal number", path, number)


READER_WHITESPACE = frozenset(" \t\r\n")
"""The whitespace the LP reader (HiGHS) takes as such everywhere in a line."""


def _refuse_unusual_whitespace(text: str, path: Path) -> None:
    """Refuse whitespace the reader does not take as a space (outside comments): a non-breaking space pasted
    from a document before ``Maximize`` made the objective empty, and one after ``obj:`` made ``3`` part of a
    variable's name (``'\\xa03'``), each a silent wrong answer; a vertical tab or form feed before the keyword did
    the same. Python's ``split`` takes them all for spaces, so the other checks here would not see it."""
    for number, line in enumerate(text.split("\n"), 1):
        code = line.split("\\", 1)[0]  # a backslash starts an LP comment
        for char in code:
            if char.isspace() and char not in READER_WHITESPACE:
                raise ParseError(f"a character U+{ord(char):04X} that looks like a space is not one the LP reader "
                                 "knows (it would become part of a name or hide a keyword): write a plain space",
                                 path, number)


@contextlib.contextmanager
def _native_output_silenced() -> Iterator[None]:
    """Standard output and error sent to the null device at the file-descriptor level for the block (what a C
    library prints directly), then restored."""
    saved = []
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            saved.append((fd, os.dup(fd)))
            os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError):  # no real descriptors (an embedding host): print as it will
        pass
    try:
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)

class CqmProblem(Problem):
    """Minimise a constrained quadratic model over binary and spin variables, and integers bounded within [0, 1]
    (LP files, dimod CQMs)."""

    name = "cqm"
    data_type = CqmData
    description = "constrained quadratic models (LP files, dimod CQMs): one-hot groups, penalties, auto weights"
    suffixes = (".lp",)
    sense = "min"
    default_backend = "anneal"
    default_time_limit = 10.0
    anytime = True

    from_cqm = staticmethod(from_cqm)

    def prepare(self) -> float:
        """Import dimod and its LP reader before the clock starts (0.16-0.27 s on a first read: a 0.1 s limit ended
        at 0.175 s); where dimod is missing, ``read`` says so."""
        started = time.perf_counter()
        with contextlib.suppress(ImportError):
            import dimod.lp  # noqa: F401
        return time.perf_counter() - started

    def read(self, path: str | Path) -> Instance:
        dimod = _dimod()
        path = Path(path)
        check_input_file(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ParseError(f"cannot read the LP file: {exc}", path) from None
        _refuse_hexadecimal_numbers(text, path)
        _refuse_unusual_whitespace(text, path)
        text = _checked_objective_keyword(text, path)
        try:
            with _native_output_silenced():  # HiGHS prints its own complaints from C, a second line beside ours
                cqm = dimod.lp.loads(text)
        except Exception as exc:  # noqa: BLE001 - dimod's LP reader raises many kinds; all mean a malformed file
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "not existent or illegal file format" in message:  # HiGHS's one word for every syntax error, of a
                message = ("the LP reader (HiGHS) found a syntax error and names no line: check the section "  # file
                           "keywords (Minimize, Subject To, Bounds, Binary, End) and each constraint's form")  # there
            raise ParseError(f"not a readable LP file: {message}", path) from None
        if not len(cqm.variables):
            raise ParseError("the LP file defines no variables (dimod reads anything it cannot parse as empty)", path)
        try:
            instance = from_cqm(cqm, path.stem, str(path))
        except ParameterError as exc:
            raise ParseError(str(exc), path) from None
        if _maximises(text):  # dimod keeps no sense: the objective it gives is the negation of the file's
            instance.meta["maximize"] = True
        return instance

    def encode(self, instance: Instance, weights: Mapping[str, float] | None = None, options: Any = None) -> Energy:
        try:
            return compile_cqm(instance.data, dict(weights or {}))
        except ParameterError as refused:  # the model's own fault (a quadratic constraint, one that can never hold):
            if refused.message.startswith("cqm:") and refused.path is None and instance.source \
                    and Path(instance.source).is_file():  # name the file it came from, as every file error does
                raise ParameterError(refused.message, path=instance.source) from None
            raise

    solution_suffixes = (".json",)

    def write_solution(self, instance: Instance, solution: Solution, path: str | Path) -> None:
        """The assignment as one JSON object, ``{"variable": value}`` in the model's variable order (it was
        written as a Python dict's repr, neither JSON nor any solution format)."""
        Path(path).write_text(json.dumps({str(k): v for k, v in solution.value.items()}, indent=1) + "\n")

    def default_params(self, backend: str, instance: Instance) -> dict[str, Any]:
        """For ``anneal`` and ``replica`` on an assignment written as a model (``encoding.permutation_grid``): the
        assignment problem's moves, exchanges and ejection chains (exchanges and block reversals, the generic mix,
        reached 179 at 3 s on a 30 × 30 assignment whose optimum is 168)."""
        if backend in ("anneal", "replica") and instance.data.permutation_grid is not None:
            return {"swap_probability": 1.0, "chain_probability": 1.0}
        return {}

    def candidate(self, instance: Instance, energy: Energy, state: np.ndarray) -> dict:
        data: CqmData = instance.data
        bits = np.asarray(state)[: len(data.variables)]
        if energy.vartype.value == "spin":
            bits = (bits + 1) // 2
        return {v: (2 * int(b) - 1 if v in data.spins else int(b)) for v, b in zip(data.variables, bits)}

    def score(self, instance: Instance, candidate: Any) -> Solution:
        data: CqmData = instance.data
        cqm = data.original
        if not isinstance(candidate, Mapping) or set(candidate) != set(cqm.variables):
            raise ParameterError("a cqm solution must assign every variable of the model")
        sample = {v: int(candidate[v]) for v in cqm.variables}
        table = data.table
        if table is None:  # a quadratic constraint: dimod checks it
            violations = cqm.violations(sample, skip_satisfied=True)
            feasible = bool(cqm.check_feasible(sample, atol=FEASIBILITY_TOLERANCE))
        else:  # the same rule as dimod's, on all constraints at once (about 1000× faster on large models)
            amounts = table.violations(np.array([sample[v] for v in data.variables]))
            violations = {label: amounts[k] for k, label in enumerate(table.labels) if amounts[k] > 0}
            feasible = bool((amounts <= FEASIBILITY_TOLERANCE).all())
        # dimod's energy of an empty sample is 0, whatever the offset: a model without variables is its offset
        objective = float(cqm.objective.energy(sample)) if sample else float(cqm.objective.offset)
        details = {}
        if instance.meta.get("maximize"):  # the objective shown is minimised: say what the file's is
            details["note"] = (f"the LP file maximises its objective, which is {-objective + 0.0:.12g} here; "
                               f"hopsolve minimises its negation, the objective {objective:.12g} shown")
        return Solution({str(v): value for v, value in sample.items()}, objective, feasible,
                        {str(label): float(amount) for label, amount in violations.items()}, details=details)

    def decode(self, instance: Instance, energy: Energy, state: np.ndarray, *, repair: bool = False) -> Solution:
        """The assignment of the model's variables (slack units dropped), scored by dimod: a feasible assignment
        is feasible whatever its slack units say; the penalty terms' values are in ``details``."""
        solution = self.score(instance, self.candidate(instance, energy, state))
        details = {**solution.details, "penalties": energy.violations(np.asarray(state))}
        if _crossing_one_hots(instance) and "note" not in details:
            details["note"] = CROSSING_NOTE
        return Solution(solution.value, solution.objective, solution.feasible, solution.violations, False, details)

    def state_of(self, instance: Instance, energy: Energy, candidate: Any) -> np.ndarray:
        """The state of a feasible assignment, with the slack units set so every penalty is zero."""
        data: CqmData = instance.data
        bits = np.zeros(energy.num_variables, dtype=np.int8)
        for k, v in enumerate(data.variables):
            value = int(candidate[v])
            bits[k] = (value + 1) // 2 if v in data.spins else value
        if energy.slacks is not None:
            bits = energy.slacks.slack_bits(bits)
        return bits if energy.vartype.value == "binary" else (2 * bits - 1).astype(np.int8)
