"""Recall stored patterns from cues with any backend (or the continuous modern update), and the ``recall`` CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hopsolve import ParameterError, TooLargeError, build_registry, parse_assignments, resolve_seed
from hopsolve_memory.patterns import PatternSet, read_cues, read_patterns
from hopsolve_memory.plugin import MemoryOptions, MemoryProblem, check_options_apply, memory_energy, recall_details
from hopsolve_memory.rules import modern_update

MODERN_MAX_STEPS = 100


@dataclass
class Recall:
    """One cue's recall: the final state, the pattern it matches (1-based) and how it got there."""

    rule: str
    backend: str
    cue: list[int]
    recalled: list[int]
    match: int | None
    nearest: int
    overlap: float
    exact: bool
    kind: str
    steps: int
    energy: float
    trace: list[float] = field(default_factory=list)
    inverted: int | None = None
    """With ``kind == "inverted"``: the pattern (1-based) whose negative was recalled (``nearest`` is the
    pattern of the largest overlap, which for a negated pattern is another one)."""
    seed: int | None = None
    """The seed the dynamics ran with (drawn when none was given), so that a recall can be repeated."""
    outcome: str | None = None
    """How the dynamics ended, as the backend says (``hopfield``'s ``fixed_point``, ``two_cycle`` of synchronous
    updates, ``max_sweeps``; the modern update's ``fixed_point`` or ``max_steps``; ``None`` where the backend does
    not say). Only a ``fixed_point`` is an attractor: the recalled state of a 2-cycle is one of its two halves."""


def _modern(patterns: np.ndarray, cues: np.ndarray, beta: float
            ) -> tuple[np.ndarray, list[int], np.ndarray, list[str]]:
    finals, steps, energies, outcomes = [], [], [], []
    for cue in cues.astype(np.float64):
        state, taken, moving = cue, 0, True
        while moving and taken < MODERN_MAX_STEPS:
            new = modern_update(patterns, state, beta)
            moving = np.max(np.abs(new - state)) >= 1e-9
            state, taken = new, taken + 1
        scores = beta * (patterns @ state)
        top = scores.max()
        energies.append(-(top + np.log(np.exp(scores - top).sum())) / beta + 0.5 * state @ state)
        finals.append(np.where(state >= 0, 1, -1))
        steps.append(taken)
        outcomes.append("max_steps" if moving else "fixed_point")
    return np.array(finals, dtype=np.int8), steps, np.array(energies), outcomes


def recall(patterns: PatternSet, cues: np.ndarray, options: MemoryOptions, backend: str = "hopfield",
           seed: int | None = None, params: Mapping[str, Any] | None = None, registry: Any = None,
           source: str | None = None) -> list[Recall]:
    """Recall every cue (rows of ``cues``); the cue is the initial state of the dynamics. ``source`` (the patterns'
    file) is named when the rule cannot store the patterns."""
    cues = np.atleast_2d(cues).astype(np.int8)
    traces: list[list[float]] = [[] for _ in cues]
    seed = resolve_seed(seed)
    if options.rule == "modern":
        finals, steps, energies, outcomes = _modern(patterns.patterns.astype(np.float64), cues, options.beta)
        backend = "modern"
    else:
        registry = registry or build_registry()
        solver = registry.backend(backend)
        if not solver.starts_from_initial_states:
            raise ParameterError(f"backend {backend!r} does not start from the cues (it ignores initial states), so "
                                 "it cannot recall; choose one that runs dynamics from each cue (hopfield, anneal "
                                 "and tank for every rule; replica and bifurcation for the quadratic rules, hebb, "
                                 "storkey and pinv)")
        try:
            energy = memory_energy(patterns.patterns, options)
        except (ParameterError, TooLargeError) as exc:
            raise type(exc)(exc.message, path=source) from None
        built = solver.params(dict(params or {}))
        samples = solver.solve(energy, built, seed=seed, initial_states=cues)
        finals, energies = samples.states, samples.energies
        per_read = samples.per_read
        steps = list(per_read.get("read_sweeps", [samples.work or 0] * len(cues)))
        outcomes = [str(o) for o in per_read["outcome"]] if "outcome" in per_read else [None] * len(cues)
        if "trace" in per_read:
            traces = [list(map(float, row)) for row in per_read["trace"]]
    results = []
    for k, d in enumerate(recall_details(patterns.patterns, finals)):
        results.append(Recall(options.rule, backend, cues[k].tolist(), finals[k].tolist(), d["match"],
                              d["nearest"], d["overlap"], d["exact"], d["kind"], int(steps[k]), float(energies[k]),
                              traces[k] if k < len(traces) else [], d["inverted"], seed, outcomes[k]))
    return results




def configure(parser: Any) -> None:
    parser.add_argument("patterns", help="stored patterns: text grids (#/.) or a .npy array (P × N)")
    parser.add_argument("cue", help="cue(s): the same formats; a .npy of many cues recalls them all")
    parser.add_argument("--rule", default="hebb", help="hebb | storkey | pinv | dense | rectified | exp | modern")
    parser.add_argument("--degree", type=int, help="n of the dense and rectified energies F(x) = x^n (default 3)")
    parser.add_argument("--beta", type=float, help="β of the exp energy and the modern update (default 1)")
    parser.add_argument("--backend", help="backend for the discrete dynamics (default hopfield; not with --rule "
                                          "modern, which runs its own continuous update)")
    parser.add_argument("--param", action="append", metavar="KEY=VALUE",
                        help="backend parameter (repeatable; not reads: one read per cue)")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--json", action="store_true", help="print JSON (an object, or a list for many cues)")


def run(args: Any, registry: Any = None) -> int:
    """The ``recall`` command; ``registry`` is the one the CLI already built (else one is built)."""
    stored = read_patterns(args.patterns)
    cues = read_cues(args.cue, stored.size, stored.shape)
    given = {name: value for name, value in (("degree", args.degree), ("beta", args.beta)) if value is not None}
    check_options_apply(MemoryProblem().options({"rule": args.rule}).rule, given, flag="--")
    options = MemoryProblem().options({"rule": args.rule, **given})
    params = parse_assignments(args.param, "--param")
    if options.rule == "modern" and (args.backend is not None or params):
        raise ParameterError(f"{'--backend' if args.backend is not None else '--param'} does not apply to --rule "
                             "modern: it runs its own continuous update, not a backend")
    if "reads" in params:
        raise ParameterError("--param reads: recall runs one read per cue (give more cues for more reads)")
    results = recall(stored, cues, options, args.backend or "hopfield", args.seed, params, registry=registry,
                     source=args.patterns)
    if args.json:
        rows = [{k: v for k, v in asdict(r).items() if k != "trace" or v} for r in results]
        print(json.dumps(rows[0] if len(rows) == 1 else rows))
        return 0
    for k, result in enumerate(results):
        if len(results) > 1:  # blocks apart, each named
            print(f"{'' if k == 0 else chr(10)}cue {k + 1} of {len(results)}")
        print(_side_by_side(stored, result))
    return 0


UNSETTLED = {
    "two_cycle": "synchronous updates ended in a 2-cycle, and the state shown is one of its halves",
    "max_sweeps": "the dynamics still moved when max_sweeps ran out (--param max_sweeps=N gives more)",
    "max_steps": "the modern update still moved after its most steps",
    "timed_out": "the time limit stopped the dynamics",
}
"""The outcomes of a recall that did not reach a fixed point, and what to say of each."""


def _side_by_side(stored: PatternSet, result: Recall) -> str:
    left = stored.picture(np.array(result.cue))
    right = stored.picture(np.array(result.recalled))
    width = max(len(row) for row in left)
    lines = [f"{'cue'.ljust(width)}   recalled"] + [f"{a.ljust(width)}   {b}" for a, b in zip(left, right)]
    if result.exact:
        what = f"pattern {result.match}; overlap {result.overlap:.3f}"
    elif result.inverted is not None:
        what = f"inverted pattern {result.inverted} (overlap -1 with it)"
    else:
        what = f"{result.kind} state (nearest: pattern {result.nearest}); overlap {result.overlap:.3f}"
    lines.append(f"{what}; steps {result.steps}; energy {result.energy:.4g}; rule {result.rule}, {result.backend}, "
                 f"seed {result.seed}")
    if result.outcome in UNSETTLED:  # "spurious state" reads as an attractor: this is none
        lines.append(f"not a fixed point: {UNSETTLED[result.outcome]}")
    return "\n".join(lines)
