"""Solve one instance with one backend or baseline and score it: the flow behind ``hopsolve solve`` and
``hopsolve.solve`` (:mod:`hopsolve.sources`)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata as metadata
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from hopsolve.anytime import AnytimeTrace
from hopsolve.backend import Callback
from hopsolve.baseline import BASELINE_STATUSES, BaselineOutcome
from hopsolve.energy import OBJECTIVE, Energy, Vartype, miniature_sizes
from hopsolve.errors import MemoryLimitError, ParameterError, PluginFailure, TooLargeError, UserError
from hopsolve.interrupt import DeadlinePassed, abandoned_work, ctrl_c_deferred, run_stoppably
from hopsolve.limits import check_time_limit
from hopsolve.params import params_dict, same_value
from hopsolve.plugin_calls import check_samples, describe_plugin, finite_number, plugin_call
from hopsolve.plugins import Registry
from hopsolve.problem import Instance, Problem, Solution
from hopsolve.result import Result, absolute_gap, relative_gap
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import resolve_seed

INTERRUPTED_DECODED_READS = 16
"""An interrupted run decodes only its lowest-energy reads, this many, so that Ctrl-C is answered at once (3,000
reads of G81 took 5.5 s to decode); ``feasible_reads`` then counts among them (``info['decoded_reads']``). A Ctrl-C
while a finished run's reads are decoded (lowest energy first) ends the decoding with the best read so far."""
DECODE_RESERVE_S = 0.05  # held back from the backend's share of a time limit for decoding and scoring,
DECODE_RESERVE_SHARE = 0.1  # or this share of the limit where that is less (0.05 s of a 0.05 s limit left the
# backend its 5% minimum: a280 ran 0 sweeps, berlin52 under 0.25 s was refused)
MIN_BACKEND_SHARE = 0.05  # the backend always gets at least this fraction of the limit
MIN_BACKEND_S = 0.005  # and a limit that leaves it less than this is refused: fixed costs alone overrun it
SOLVE_BLAS_THREADS = 1
"""BLAS threads while a backend solves and its reads are decoded. The compiled kernels use the cores; the BLAS
products beside them (energies of the reads, a permutation energy's fields, the radius's Lanczos steps) are small,
and on a busy machine waking a second BLAS thread whose core another process holds stalled each one ~15 ms: scoring
ten kroA100 reads after a bifurcation run took 0.15 s, past a 2 s limit. A threaded product also leaves OpenBLAS's
threads spinning for a while after it, on the cores the kernels' threads need. The dimod samplers hold the same
limit, and the compiled backends (``anneal``, ``replica``, ``hopfield``, ``bifurcation``) hold it themselves
(called directly too). ``tank``'s ``blas_threads`` sets its own."""


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("hopsolve", "numpy", "scipy", "numba", "ortools"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def _field_names(params_cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(params_cls)}


CLOCK_PARAMS = ("time_limit", "fill_time")
"""Parameters about the clock, which a replay without the time limit leaves out."""


def _solver_values(params_cls: type, owner: str, values: Mapping[str, Any] | None, reads: int | None,
                   time_limit: float | None, explicit_time_limit: bool) -> dict[str, Any]:
    merged = dict(values or {})
    names = _field_names(params_cls)
    if reads is not None:
        if "reads" not in names:
            raise ParameterError(f"{owner} has no 'reads' parameter")
        if "reads" in merged and not same_value(str(merged["reads"]).strip(), str(reads)):  # --reads 3, reads=4
            raise ParameterError(f"reads is given twice with two values (--reads {reads} and --param "
                                 f"reads={merged['reads']}); give it once")
        merged.setdefault("reads", reads)
    if time_limit is not None:
        if "time_limit" in names:
            if "time_limit" in merged and explicit_time_limit and not same_value(str(merged["time_limit"]).strip(),
                                                                                 str(time_limit)):
                # the run took the parameter's and was judged a timeout against the other
                raise ParameterError(f"time_limit is given twice with two values (--time-limit {time_limit:g} and "
                                     f"--param time_limit={merged['time_limit']}); give it once")
            merged.setdefault("time_limit", time_limit)
        elif explicit_time_limit:
            raise ParameterError(f"{owner} takes no time limit")
    return merged


BEATEN_REFERENCE_NOTE = ("the answer beats the reference {reference:.12g} (gap {gap:.2%}), the optimum or best-known "
                         "value of an instance of this name and size: this file is probably not that instance (an "
                         "edited copy its fingerprint could not tell apart), or the value is not optimal")


def _where_the_limit_went(time_limit: float, spent: float, decoding: float, reads: int, reserve: float) -> str:
    """What took a time limit's share from the backend, in words (two significant digits: under a tiny limit
    ".1f" printed "took 0.0 s")."""
    uses = [f"reading and encoding the instance took {spent:.2g} s"] if spent >= 0.1 * time_limit else []
    if decoding >= 0.1 * time_limit:  # an anytime backend may run fewer reads than its default: the most it takes
        uses.append(f"decoding up to {reads:,} {'read' if reads == 1 else 'reads'} should take {decoding:.2g} s")
    uses.append(f"{reserve:.2g} s is held back for scoring the reads")
    return ", ".join(uses[:-1]) + " and " + uses[-1] if len(uses) > 1 else uses[0]


def _weights_note(names: list[str], why: str) -> str:
    """The note for weights a run cannot feel: their names, and ``why``."""
    one = len(names) == 1
    return f"the weight{'' if one else 's'} of {', '.join(names)} {'does' if one else 'do'} not change this run: {why}"


def _add_note(info: dict[str, Any], text: str) -> None:
    """Add ``text`` to ``info['note']`` (the line the CLI prints under a result), after any note there."""
    info["note"] = f"{info['note']}; {text}" if isinstance(info.get("note"), str) else text


def _note_a_beaten_reference(result: Result) -> Result:
    """A gap below zero is an answer better than the optimum or best-known value the tables give: far likelier a
    file that is not the table's instance than a new record, so the result says so (``info['reference_note']``)
    instead of reporting it silently."""
    if result.gap is not None and result.gap < -1e-9:
        result.info["reference_note"] = BEATEN_REFERENCE_NOTE.format(reference=result.reference, gap=result.gap)
    return result


OVERRUN_SHARE = 0.05
"""A run whose wall time passes its time limit by more than this share of it, plus :data:`OVERRUN_SLACK_S`, is
recorded as a ``timeout``: the limit is kept within 5%, and a solver that ignores it (a third party's backend
slept 6 s on a 1 s limit and was recorded ``feasible``) must not be compared as if it had kept it."""
OVERRUN_SLACK_S = 0.01
"""Seconds of fixed costs forgiven on top of :data:`OVERRUN_SHARE` (a 0.1 s limit's 5% is 5 ms; hopsolve's own
runs end within a few ms of a sub-second limit, not within 5 ms: RESULTS §12)."""


def _note_an_overrun(result: Result, time_limit: float | None) -> Result:
    """``result`` recorded as a ``timeout``, its answer kept, with ``info['overrun']`` saying by how much, when
    its wall time passed ``time_limit`` (the user's) by more than :data:`OVERRUN_SHARE` and :data:`OVERRUN_SLACK_S`
    (an interrupted run is left as it is)."""
    if time_limit is None or result.status == "interrupted":
        return result
    if result.wall_time_s > time_limit * (1 + OVERRUN_SHARE) + OVERRUN_SLACK_S:
        result.info["overrun"] = (f"the run took {result.wall_time_s:.3g} s, past its {time_limit:g} s limit by "
                                  f"{(result.wall_time_s / time_limit - 1) * 100:.0f}%: recorded as a timeout")
        result.status = "timeout"
        result.info["timed_out"] = True
    return result


def _better(problem: Problem, a: Solution, b: Solution | None) -> bool:
    """Whether decoded read ``a`` beats ``b`` (the decoding loop's judge, called once a decoded read)."""
    return _beats(problem, a, b)


def _beats(problem: Problem, a: Solution, b: Solution | None) -> bool:
    """Feasible beats infeasible, then the better objective (a missing one loses)."""
    if b is None:
        return True
    if a.feasible != b.feasible:
        return a.feasible
    if a.objective is None or b.objective is None:
        return b.objective is None and a.objective is not None
    return a.objective < b.objective if problem.sense == "min" else a.objective > b.objective


def solve_instance(
    registry: Registry,
    problem_name: str,
    instance: Instance,
    *,
    backend: str | None = None,
    baseline: str | None = None,
    params: Mapping[str, Any] | None = None,
    weights: Mapping[str, float] | None = None,
    seed: int | None = None,
    time_limit: float | None = None,
    reads: int | None = None,
    repair: bool = False,
    options: Mapping[str, Any] | None = None,
    callback: Callback | None = None,
    clock_started: float | None = None,
) -> tuple[Result, Solution]:
    """Run one solver on ``instance`` and return the scored :class:`Result` and the best :class:`Solution`.

    With several reads, the reported one is the best feasible read (by objective), else the lowest energy.

    ``callback`` receives the backend's progress updates and, before and after the kernels are compiled or loaded,
    ``{"stage": "preparing"}`` and ``{"stage": "solving"}``.

    The time limit covers everything from ``clock_started`` (a ``time.perf_counter()`` reading; default: now),
    reading and encoding included, except compiling: the backend's kernels are compiled or loaded by
    :meth:`Backend.prepare` first, and that time is reported as ``info['compile_s']``, outside ``wall_time_s``.
    """
    if not isinstance(instance, Instance):
        raise ParameterError(f"instance must be a hopsolve.Instance, got {type(instance).__name__}")
    if instance.problem != problem_name and instance.problem in registry.problems and problem_name in \
            registry.problems and not issubclass(registry.problems[problem_name].cls,
                                                 registry.problems[instance.problem].cls):
        # its data is another problem's (an AttributeError deep in the plugin); a subclass's problem reads its
        # parent's instances (a third party's TSP variant whose read returns "tsp" instances)
        raise ParameterError(f"the instance is a {instance.problem!r} instance, not a {problem_name!r} one")
    if not isinstance(repair, (bool, np.bool_)):  # "no" was taken as true
        raise ParameterError(f"repair must be true or false, got {repair!r}")
    problem_compile_s = 0.0
    if clock_started is None:
        problem_compile_s = prepare_problem(registry.problem(problem_name))
    clock = time.perf_counter() if clock_started is None else clock_started
    if backend and baseline:
        raise ParameterError("choose either a backend or a baseline, not both")
    if baseline and options:
        raise ParameterError("encoding options (--option) apply to backends, not baselines")
    if baseline and weights:  # a baseline solves the instance, not its energy: a weight would be ignored
        raise ParameterError("penalty weights (--weight) apply to backends' energies, not baselines")
    if baseline and repair:  # a baseline's answer is a candidate, never an invalid state to mend
        raise ParameterError("--repair mends a backend's invalid final state; a baseline answers candidates")
    problem: Problem = registry.problem(problem_name)
    if not isinstance(instance.data, problem.data_type):
        expected = problem.data_type if isinstance(problem.data_type, tuple) else (problem.data_type,)
        makers = [f"{type(problem).__name__}.{name}" for name in
                  ("read", *sorted(name for name in dir(type(problem)) if name.startswith("from_")))]
        raise ParameterError(f"the {problem_name} instance's data is a {type(instance.data).__name__}, not "
                             f"{' or '.join(t.__name__ for t in expected)}: make instances with {' or '.join(makers)}")
    if repair and type(problem).repair is Problem.repair:  # it would do nothing, without a word
        raise ParameterError(f"--repair: the {problem_name} problem has no repair (its invalid states stay invalid, "
                             "reported with their violations)")
    time_limit = check_time_limit(time_limit)
    explicit_time_limit = time_limit is not None
    seed = resolve_seed(seed)
    reference = problem_reference(problem, instance)
    if baseline:  # a baseline that needs a limit (OR-Tools routing) gets the problem's default one
        limit = time_limit if explicit_time_limit else getattr(problem, "default_time_limit", None)
        return _run_baseline(registry, problem, instance, baseline, params, seed, limit, reads,
                             explicit_time_limit, reference)
    # a backend without an explicit limit runs the budget its parameters give (sweeps chosen from the instance):
    # the same seed gives the same answer on any machine, however busy
    backend_name = backend or problem.default_backend
    solver = registry.backend(backend_name)
    owner = f"backend {backend_name!r}"
    values = _solver_values(solver.Params, owner, params, reads, time_limit, explicit_time_limit)
    suggested = plugin_call("problem", problem, "default_params",
                            lambda: dict(problem.default_params(backend_name, instance)))
    if suggested:  # a plugin's suggestion the backend refuses is the plugin's fault, not the user's: it was
        try:  # reported as "backend 'anneal': sweeps must be at least 1, got -5", as if the user had typed it
            solver.params(dict(suggested))
        except ParameterError as refused:
            raise PluginFailure(f"{describe_plugin('problem', problem)}: default_params suggested parameters the "
                                f"backend refuses: {refused}") from None
    if explicit_time_limit and problem.anytime and "fill_time" in _field_names(solver.Params) \
            and "sweeps" not in values:  # sweeps the user gives run as given: the limit only caps them
        suggested["fill_time"] = True  # a limit the user gives is a budget to spend (see Problem.anytime)
        if "reads" in values and "plan_reads" in _field_names(solver.Params):
            suggested["plan_reads"] = False  # reads the user gives are kept: only their sweeps are planned
    built = solver.params({**suggested, **values})
    encoding_options = plugin_call("problem", problem, "options", lambda: problem.options(options))
    start = time.perf_counter()
    energy = encode_with_options(problem, instance, weights, encoding_options)
    encode_s = time.perf_counter() - start
    starts = plugin_call("problem", problem, "initial_states",
                         lambda: problem.initial_states(instance, energy, encoding_options))
    ignored_starts = starts is not None and not solver.starts_from_initial_states
    if ignored_starts:  # exact enumerates every state: the problem's starts (memory's cues) mean nothing to it
        starts = None
    given_reads = values.get("reads")
    if starts is not None and given_reads is not None and int(given_reads) != len(np.atleast_2d(starts)):
        raise ParameterError(f"reads: the {problem.name} problem starts one read from each of its "
                             f"{len(np.atleast_2d(starts))} start states (its cues), not {given_reads}")
    if callback is not None:
        callback({"stage": "preparing"})
    with ctrl_c_deferred():  # a Ctrl-C inside numba's compiler could be lost, or leave a kernel unusable
        backend_compile_s = _prepared_seconds("backend", solver, plugin_call(
            "backend", solver, "prepare", lambda: solver.prepare(energy, built)))
    if callback is not None:
        callback({"stage": "solving"})
    anytime = AnytimeTrace(problem.sense)
    solve_started = time.perf_counter()
    decoded_at: list[float | None] = [None]
    # the best feasible answer an update carried, its energy and state
    reported: list[tuple[Solution, Any, Any] | None] = [None]

    def observe(update: dict[str, Any]) -> None:
        """Record the anytime curve from the backend's best state, then pass the update on."""
        seconds = time.perf_counter() - solve_started
        if ("best_positions" in update or "best_state" in update) and anytime.due(seconds, decoded_at[0]):
            decoded_at[0] = seconds
            found = _decode_update(problem, instance, energy, update)
            if found is not None and found.feasible:
                anytime.record(seconds, found.objective)
                if _beats(problem, found, reported[0][0] if reported[0] else None):
                    reported[0] = (found, update.get("best_energy"), update.get("best_state"))
        if callback is not None:
            callback({k: v for k, v in update.items() if k not in ("best_positions", "best_state")})

    compile_s = backend_compile_s + problem_compile_s
    owns_budget = time_limit is not None and "time_limit" not in (params or {}) and "time_limit" in _field_names(
        solver.Params)
    spent, squeezed = 0.0, False
    if owns_budget:  # what reading and encoding used, and what decoding the reads will take, come out of it
        reads_expected = len(np.atleast_2d(starts)) if starts is not None else max(
            int(getattr(built, "reads", 1) or 1), 1)
        decoding = reads_expected * _decode_seconds(problem, instance, energy, starts, repair)
        spent = time.perf_counter() - clock - backend_compile_s
        if spent >= time_limit:  # nothing is left to run in: refused now, not run past the limit
            raise TooLargeError(f"reading and encoding the instance took {spent:.2g} s, all of the {time_limit:g} s "
                                "limit; give a longer limit")
        reserve = min(DECODE_RESERVE_S, DECODE_RESERVE_SHARE * time_limit)
        left = time_limit - spent - reserve - decoding
        squeezed = left < MIN_BACKEND_SHARE * time_limit
        built = dataclasses.replace(built, time_limit=max(left, MIN_BACKEND_SHARE * time_limit))
        if built.time_limit < MIN_BACKEND_S:  # a run's fixed costs alone overran it (berlin52 at 0.01 s: 0.013 s)
            raise TooLargeError(f"the {time_limit:g} s limit leaves the backend {built.time_limit:.2g} s ("
                                f"{_where_the_limit_went(time_limit, spent, decoding, reads_expected, reserve)}), "
                                f"less than the {MIN_BACKEND_S:g} s a run needs for its fixed costs; give a longer "
                                "limit")
    best: Solution | None = None
    best_row = 0
    feasible_reads = 0
    decode_interrupted = False
    with threadpool_limits(limits=SOLVE_BLAS_THREADS, user_api="blas"):
        try:
            samples = plugin_call("backend", solver, "solve", lambda: solver.solve(
                energy, built, seed=seed, initial_states=starts, callback=observe), returns=SampleSet)
            check_samples(solver, samples, energy)
        except TooLargeError as refused:  # say where the limit went when reading or decoding squeezed the backend
            if not squeezed or isinstance(refused, MemoryLimitError):
                raise
            said = _where_the_limit_went(time_limit, spent, decoding, reads_expected, reserve)
            raise TooLargeError(f"{refused} (of the {time_limit:g} s limit, {said}, leaving the backend "
                                f"{built.time_limit:.2g} s)") from None
        # lowest energy first (stable: the same best as in row order), so that a Ctrl-C while decoding keeps the
        # best reads decoded so far: the run itself is finished work
        rows = np.argsort(samples.energies, kind="stable")
        if samples.interrupted:  # Ctrl-C during the run: an answer now, not all reads
            rows = rows[:INTERRUPTED_DECODED_READS]
        decoded, decode_cut = 0, False
        # a timed run's decoding ends at the limit (lowest energy first, so with the best reads): 1,000 reads of
        # rl5915 at a 1 s limit spent 1.2 s decoding; a read equal to one already decoded is not decoded again
        # (they were 1,000 copies of one start)
        deadline = None if time_limit is None else clock + backend_compile_s + time_limit
        reads_of = samples.permutations if samples.permutations is not None else samples.states
        seen: dict[bytes, list[tuple[int, bool]]] = {}  # a read's digest: (row, feasible) of each read decoded
        try:
            for row in rows:
                if deadline is not None and decoded and time.perf_counter() > deadline:
                    decode_cut = True
                    break
                read = np.ascontiguousarray(reads_of[row])
                key = hashlib.blake2b(memoryview(read)).digest()  # no copy of the read
                twin = next((f for r, f in seen.get(key, ()) if np.array_equal(reads_of[r], read)), None)
                if twin is not None:  # the same state, energy and solution: it cannot replace the best
                    decoded += 1
                    feasible_reads += twin
                    continue
                if samples.permutations is not None:  # (a third party's decode may fail, or return a bad
                    solution = plugin_call("problem", problem, "decode_permutation",  # solution: named, exit 2)
                                           lambda read=read: problem.decode_permutation(instance, energy, read),
                                           returns=Solution)
                else:
                    solution = plugin_call("problem", problem, "decode",
                                           lambda read=read: problem.decode(instance, energy, read, repair=repair),
                                           returns=Solution)
                seen.setdefault(key, []).append((int(row), bool(solution.feasible)))
                if _better(problem, solution, best) or (
                    best is not None and solution.feasible == best.feasible and solution.objective == best.objective
                    and samples.energies[row] < samples.energies[best_row]
                ):
                    best, best_row = solution, row
                decoded += 1
                feasible_reads += solution.feasible
        except KeyboardInterrupt:
            if best is None:  # not one read decoded: nothing to answer with
                raise
            decode_interrupted = True
        rows = rows[:decoded]
    wall = time.perf_counter() - clock - backend_compile_s  # what the time limit covers: reading included
    assert best is not None
    interrupted = samples.interrupted or decode_interrupted
    if interrupted:
        status = "interrupted"
    elif best.feasible:
        # a ground state is an optimum only where the objective weighs something: at weight 0 every feasible
        # state is a ground state (exact called a cover of 7 optimal where 1 is)
        proven = samples.proven_optimal and getattr(problem, "energy_is_objective", True) and \
            (OBJECTIVE not in energy.weights or energy.weights[OBJECTIVE] > 0)
        status = "optimal" if proven else "feasible"
    else:  # reads left undecoded at the limit may hold a feasible one: a timeout, not infeasible
        status = "timeout" if samples.timed_out or decode_cut else "infeasible"
    # per-read arrays (traces, trajectories, graded outputs) stay in the SampleSet: a result is one small record
    info = {**samples.info, "timed_out": samples.timed_out or decode_cut, "interrupted": interrupted,
            "work": samples.work, "work_unit": samples.work_unit}
    if ignored_starts:
        _add_note(info, f"{backend_name} does not start from the problem's start states (its cues): it searches "
                        "every state")
    asked = [key for key in ("trace", "trajectory") if key in samples.per_read]
    if asked:  # asked for, and nowhere in what the caller gets
        _add_note(info, f"{' and '.join(asked)} {'is' if len(asked) == 1 else 'are'} recorded per read in the "
                        f"sample set, which a result does not keep: call the backend's solve "
                        f"(hopsolve.build_registry().backend({backend_name!r}).solve) for "
                        f"{'it' if len(asked) == 1 else 'them'}")
    if explicit_time_limit:  # params.time_limit is what the backend had once reading and encoding had taken theirs
        info["time_limit_given"] = time_limit
    if isinstance(info.get("replay"), dict):  # whole: what the caller gave (reads, params) and what the run did
        given = {key: value for key, value in values.items() if key not in CLOCK_PARAMS}
        info["replay"] = {**given, **info["replay"]}
    best_energy = float(samples.energies[best_row])
    if reported[0] is not None and getattr(problem, "energy_is_objective", True) \
            and _beats(problem, reported[0][0], best):
        # the final states hold nothing as good as a state the run reported on its way (bifurcation's lowest
        # energies, their slack units unset, were infeasible where it had reported feasible ones): that one answers.
        # Not where the objective is not the energy: a recall's answer is where the network went (a state it only
        # passed through, nearer a pattern, was reported as the recalled one)
        best, given_energy, state = reported[0]
        best_energy = (float(energy.energies(np.atleast_2d(state))[0]) if state is not None
                       else float(given_energy) if finite_number(given_energy) else None)
        status = "interrupted" if interrupted else "feasible"  # a Ctrl-C keeps the best answer the run reported
        info["answer_from_progress"] = ("the run's final states held no answer as good as one it reported while "
                                        "running: that one is the answer")
    if best.feasible:
        anytime.record(time.perf_counter() - solve_started, best.objective)
    info["anytime"] = anytime.points
    if len(rows) < len(samples):
        info["decoded_reads"] = len(rows)
    info["encode_time_s"] = encode_s
    info["compile_s"] = compile_s
    unused = sorted(set(info.get("penalties_held", ())) & set(weights or {}))
    if unused:  # a weight the user gave that cannot change this run: say so, not nothing
        info["weights_note"] = _weights_note(unused, f"{backend_name}'s moves keep "
                                             f"{'that penalty' if len(unused) == 1 else 'those penalties'} at zero "
                                             "throughout")
    if weights and isinstance(info.get("weights_unused"), str):  # the backend reads no weight at all
        info["weights_note"] = _weights_note(sorted(weights), info["weights_unused"])
    _keep_solution_note(info, best)
    result = Result(
        problem=problem.name, instance=instance.name, solver=backend_name, kind="backend",
        params={**params_dict(built), **samples.derived,
                **({"reads": len(np.atleast_2d(starts))} if starts is not None and hasattr(built, "reads") else {}),
                **({"options": params_dict(encoding_options)} if encoding_options is not None else {})},
        seed=seed, status=status,
        feasible=best.feasible, objective=best.objective, reference=reference,
        gap=relative_gap(best.objective, reference, problem.sense) if best.feasible else None,
        energy=best_energy, wall_time_s=wall, violations=best.violations,
        solution=best.value, repaired=best.repaired, weights=dict(energy.weights), reads=len(samples),
        feasible_reads=feasible_reads, info=info, versions=_versions(),
        absolute_gap=absolute_gap(best.objective, reference, problem.sense) if best.feasible else None,
    )
    return _note_an_overrun(_note_a_beaten_reference(result), time_limit if explicit_time_limit else None), best


ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
"""A terminal escape sequence (ANSI colours, cursor moves)."""


def one_line(text: str) -> str:
    """A plugin's note as one line of printable text: its escape sequences removed, other unprintable characters
    and runs of whitespace made one space (a note's newline and ANSI colours reached the terminal)."""
    text = ESCAPE_SEQUENCE.sub("", text)
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _keep_solution_note(info: dict[str, Any], solution: Solution) -> None:
    """The problem's word on its answer (``Solution.details["note"]``, text), as ``info["solution_note"]``, one
    line (:func:`one_line`)."""
    note = solution.details.get("note") if isinstance(solution.details, dict) else None
    shown = one_line(note) if isinstance(note, str) else ""
    if shown:
        info["solution_note"] = shown


def read_instance(problem: Problem, path: str | Path) -> Instance:
    """``problem.read(path)``, through :func:`~hopsolve.plugin_calls.plugin_call` (a failure names the plugin)."""
    return plugin_call("problem", problem, "read", lambda: problem.read(path), returns=Instance)


def encode_with_options(problem: Problem, instance: Instance, weights: Mapping[str, float] | None,
                        encoding_options: Any) -> Any:
    """``problem.encode``, given its parsed options only where it has some (a third party's ``encode`` may take no
    options argument), with the ``weights`` given as its energy's (applied where the plugin did not)."""
    energy = plugin_call("problem", problem, "encode", lambda: (
        problem.encode(instance, weights, encoding_options) if encoding_options is not None
        else problem.encode(instance, weights)), returns=Energy)
    if weights:  # the weights the user gave are the energy's, whatever the plugin did with them (an encode that
        # ignored its argument ran every --weight, one naming no term too, as if it had not been given); an unknown
        # name or a bad value is refused here, naming the terms
        energy = energy.reweighted(**dict(weights))
    return energy


def _decode_seconds(problem: Problem, instance: Instance, energy: Any, starts: Any, repair: bool) -> float:
    """Seconds one read's decoding takes, timed on a state like the backend's: the identity permutation on a
    permutation energy, else the first start state or a random one. At 640,000 units (assign800) it is ~10 ms a
    read, which ten reads cannot fit in a fixed reserve. The lesser of two timings (one is at the mercy of a busy
    machine); the probes' own time counts as spent. A decoder that fails here fails again, reported, after the
    solve."""
    if energy.permutation is not None:
        def decode() -> Any:
            return problem.decode_permutation(instance, energy, np.arange(energy.permutation.layout.size))
    else:
        if starts is not None and len(starts):
            state = np.asarray(starts)[0]
        else:
            bits = np.random.default_rng(0).integers(0, 2, energy.num_variables)
            state = bits if energy.vartype is Vartype.BINARY else 2 * bits - 1

        def decode() -> Any:
            return problem.decode(instance, energy, state, repair=repair)
    timings = []
    for _ in range(2):  # the lesser of two: one stall of 37 ms, times 40 reads, refused a run of G11 at 1.5 s
        began = time.perf_counter()
        try:
            decode()
        except Exception:  # noqa: BLE001 - only an estimate; the real decode reports its own failure
            return 0.0
        timings.append(time.perf_counter() - began)
    return min(timings)


def _final_point(anytime: AnytimeTrace, wall: float, solution: Solution) -> list[list[float]]:
    if solution.feasible:
        anytime.record(wall, solution.objective)
    return anytime.points


def _decode_update(problem: Problem, instance: Instance, energy: Any, update: dict[str, Any]) -> Solution | None:
    """The solution a backend's progress update carries (its best permutation or state), if any."""
    if "best_positions" in update:
        return plugin_call("problem", problem, "decode_permutation",
                           lambda: problem.decode_permutation(instance, energy, update["best_positions"]),
                           returns=Solution)
    if "best_state" in update:
        return plugin_call("problem", problem, "decode", lambda: problem.decode(instance, energy, update["best_state"]),
                           returns=Solution)
    return None


def _run_baseline(registry: Registry, problem: Problem, instance: Instance, name: str,
                  params: Mapping[str, Any] | None, seed: int, time_limit: float | None, reads: int | None,
                  explicit_time_limit: bool, reference: float | None) -> tuple[Result, Solution]:
    solver = registry.baseline(problem.name, name)
    owner = f"baseline {name!r}"
    built = solver.params(_solver_values(solver.Params, owner, params, reads, None, False))
    compile_s = _prepared_seconds("baseline", solver, plugin_call("baseline", solver, "prepare", solver.prepare))
    start = time.perf_counter()
    # a baseline that cannot stop at a limit is stopped when it passes, by an exception raised in its thread, in
    # the CLI, a bench worker or a Dask worker alike (in a Dask worker it had run 10 minutes past a 1 s limit)
    abandon = explicit_time_limit and not solver.stops_at_time_limit
    try:
        outcome, interrupted = plugin_call("baseline", solver, "solve", lambda: run_stoppably(
            lambda: solver.solve(instance, built, seed=seed, time_limit=time_limit),
            deadline=start + time_limit if abandon else None), passing=(DeadlinePassed,))
        if not isinstance(outcome, BaselineOutcome):
            raise PluginFailure(f"{describe_plugin('baseline', solver)}: solve returned a value of type "
                                f"{type(outcome).__name__}, not a hopsolve.BaselineOutcome")
        if outcome.status not in BASELINE_STATUSES or (outcome.status in ("optimal", "feasible")
                                                       and outcome.candidate is None):
            # a status of its own ("great") reached the result as it was; "optimal" without an answer too, and
            # "feasible" without one was reported as a claim of infeasibility the solver never made
            said = f"{outcome.status!r} without a candidate" if outcome.status in BASELINE_STATUSES else \
                f"the status {outcome.status!r}, not one of {', '.join(BASELINE_STATUSES)}"
            raise PluginFailure(f"{describe_plugin('baseline', solver)}: solve returned {said}")
    except UserError as refused:  # the instance's fault (coefficients CP-SAT cannot take): name its file
        if refused.path is None and instance.source:
            raise dataclasses.replace(refused, path=instance.source) from None
        raise
    except DeadlinePassed:
        how = ("left running in its thread (inside a native call that cannot be interrupted)" if abandoned_work()
               else "stopped")
        outcome, interrupted = BaselineOutcome(None, "timeout", info={"abandoned": (
            f"{name} cannot stop at a time limit: it was {how} at {time_limit:g} s, without an answer "
            "(run it without --time-limit for its answer)")}), False
    wall = time.perf_counter() - start
    anytime = AnytimeTrace(problem.sense)
    for seconds, objective in outcome.info.get("anytime", []):
        anytime.record(seconds, objective)
    if outcome.candidate is None:
        solution = Solution(None, None, False)
        status = "interrupted" if interrupted else outcome.status if outcome.status != "feasible" else "infeasible"
    else:
        solution = plugin_call("problem", problem, "score", lambda: problem.score(instance, outcome.candidate),
                               returns=Solution)
        if outcome.status == "infeasible" and solution.feasible:  # reported "infeasible" beside a feasible answer
            raise PluginFailure(f"{describe_plugin('baseline', solver)}: solve returned 'infeasible' with a "
                                "candidate the problem scores feasible")
        status = ("interrupted" if interrupted else outcome.status) if solution.feasible else "infeasible"
    result = Result(
        problem=problem.name, instance=instance.name, solver=name, kind="baseline",
        params={**params_dict(built), "time_limit": time_limit}, seed=seed, status=status,
        feasible=solution.feasible, objective=solution.objective, reference=reference,
        gap=relative_gap(solution.objective, reference, problem.sense) if solution.feasible else None,
        energy=None, wall_time_s=wall,
        violations=solution.violations, solution=solution.value,
        info={"bound": outcome.bound, **outcome.info, "interrupted": interrupted,
              "anytime": _final_point(anytime, wall, solution), "compile_s": compile_s,
              **({"time_limit_given": time_limit} if explicit_time_limit else {})},
        versions=_versions(),
        absolute_gap=absolute_gap(solution.objective, reference, problem.sense) if solution.feasible else None,
    )
    _keep_solution_note(result.info, solution)
    if isinstance(result.info.get("note"), str):  # a baseline's word on its answer: one line too
        result.info["note"] = one_line(result.info["note"])
    if not explicit_time_limit and time_limit is not None and wall >= 0.5 * time_limit:  # routing ran 10 s
        default = (f"no time limit was given: the {problem.name} problem's default of {time_limit:g} s applied "
                   "(--time-limit sets another)")  # without a word of why
        _add_note(result.info, default)
    return _note_an_overrun(_note_a_beaten_reference(result), time_limit if explicit_time_limit else None), solution


def prepare_problem(problem: Problem) -> float:
    """:meth:`Problem.prepare`, with Ctrl-C held until its kernels are compiled (see :mod:`hopsolve.interrupt`)
    and without the memory limit: it sees no instance, only its own miniatures (a limit set below them is for the
    user's instance, refused by name when it is read)."""
    with ctrl_c_deferred(), miniature_sizes():
        return _prepared_seconds("problem", problem, plugin_call("problem", problem, "prepare", problem.prepare))


def _prepared_seconds(kind: str, owner: Any, seconds: Any) -> float:
    """A plugin's ``prepare`` result, the seconds it spent, or a failure naming the plugin ("fast" ended in an
    internal error, float() of it)."""
    if not finite_number(seconds) or seconds < 0:
        raise PluginFailure(f"{describe_plugin(kind, owner)}: prepare returned {seconds!r:.40}, not the seconds "
                            "it spent")
    return float(seconds)


def problem_reference(problem: Problem, instance: Instance) -> float | None:
    """``problem.reference(instance)``, through :func:`~hopsolve.plugin_calls.plugin_call`: ``None`` or a finite
    number (not a bool), else a failure naming the plugin (a string reference ended in an internal error, a NaN
    printed "gap nan%" beside a JSON ``null``)."""
    value = plugin_call("problem", problem, "reference", lambda: problem.reference(instance))
    if value is None:
        return None
    if not finite_number(value):
        raise PluginFailure(f"{describe_plugin('problem', problem)}: reference returned {value!r}, not a finite "
                            "number or None")
    return float(value)


def solve_path(registry: Registry, path: str | Path, problem: str | None = None,
               check_instance: Callable[[Instance], None] | None = None, **kwargs: Any
               ) -> tuple[Result, Solution, Instance]:
    """Read ``path`` (problem inferred from the suffix unless named) and solve it; ``check_instance``, where
    given, sees the instance first (to refuse what could not be done with the answer before a run is spent)."""
    name = problem or registry.problem_for_path(path)
    problem_compile_s = prepare_problem(registry.problem(name))
    clock = time.perf_counter()
    instance = read_instance(registry.problem(name), path)
    read_s = time.perf_counter() - clock
    if check_instance is not None:
        check_instance(instance)
    result, solution = solve_instance(registry, name, instance, clock_started=clock, **kwargs)
    result.info["read_time_s"] = read_s
    result.info["compile_s"] = result.info.get("compile_s", 0.0) + problem_compile_s
    return result, solution, instance
