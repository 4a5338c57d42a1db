"""Discrete Hopfield dynamics: deterministic sign updates to a fixed point, asynchronous or synchronous."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numba
import numpy as np

from hopsolve.backend import Backend, Callback, TimedRunParams, check_run_size, given_states
from hopsolve.backends import _group_kernels as GK
from hopsolve.backends import _kernels as K
from hopsolve.backends import _pattern_kernels as PAT
from hopsolve.backends._blas import holds_one_blas_thread
from hopsolve.backends._model import (
    ZERO_FIELD_RTOL,
    build_deadline,
    check_spin_model_size,
    compile_spin_model,
    from_spins,
    pattern_part,
    to_spins,
)
from hopsolve.energy import Energy, OneHotGroups
from hopsolve.errors import ParameterError
from hopsolve.params import require
from hopsolve.pattern_term import PatternTerm
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import kernel_states, make_rng, resolve_seed
from hopsolve.warmup import warm_up

_ZERO_RULES = {"keep": 0, "up": 1, "down": -1}


@dataclass(frozen=True)
class HopfieldParams(TimedRunParams):
    """Parameters of the ``hopfield`` backend (every field has a default)."""

    reads: int = 10
    """Restarts, each from a random state (or from the given initial states)."""
    time_limit: float | None = None
    """Seconds for the run. ``async`` runs reads in batches of about ``min(0.25 s, 2% of the limit)`` and starts
    no batch that its pace says would end late; only the reads that ran are returned, and ``info['replay']``
    gives the ``reads`` that replay the finished ones without the limit.
    On single units (not winner-take-all groups or pattern energies) a batch's descents also run in chunks of
    sweeps of about that time, so one long descent cannot hold the deadline up: reads it cuts keep their partial
    descent (outcome ``timed_out``) and are left out of ``replay``. ``sync`` stops after the sweep that reaches
    the limit (``replay``: ``max_sweeps``)."""
    mode: Literal["async", "sync"] = "async"
    """``async``: one unit at a time (the energy never rises; ends at a local minimum). ``sync``: all units at once
    (may fall into a 2-cycle, which is detected and reported)."""
    order: Literal["random", "fixed"] = "random"
    """Asynchronous visiting order: a fresh random permutation every sweep, or index order."""
    zero_field: Literal["keep", "up", "down"] = "keep"
    """What a unit does when its field is exactly zero: keep its state (default), or go high / low."""
    max_sweeps: int = 1000
    """Give up after this many sweeps without reaching a fixed point (reported per read)."""
    trace: bool = False
    """Record each read's energy after every sweep (``info['trace']``)."""
    units: Literal["auto", "single"] = "auto"
    """``auto``: on an energy with one-hot groups (:class:`hopsolve.energy.OneHotGroups`) each group is one
    winner-take-all unit (its lowest-energy member turns on, the others off; reads start with one unit on per
    group and stay so), in ``async`` mode; ``single``: every unit updates on its own. Reported as
    ``derived['units']``."""

    def validate(self) -> None:
        super().validate()
        require(self.max_sweeps >= 1, "backend 'hopfield'", f"max_sweeps must be at least 1, got {self.max_sweeps}")


def _check_run_size(energy: Energy, params: HopfieldParams, reads: int) -> None:
    """Refuse, before anything is compiled or allocated, a run whose spin model or reads would pass the memory
    limit (``prepare`` and ``solve`` both ask)."""
    check_spin_model_size(energy)
    check_run_size(reads=reads, units=energy.num_variables, steps=params.max_sweeps, trace=params.trace, arrays=3,
                   steps_parameter="max_sweeps")


class HopfieldBackend(Backend):
    """``s_i ← sign(Σ_j W_ij s_j + b_i)`` until nothing changes; every asynchronous read is a local minimum of its
    moves (single flips; with one-hot groups and ``units=auto``, a group's winner moving, so a single flip may still
    lower the energy: ``units=single`` gives single-flip minima)."""

    name = "hopfield"
    description = "deterministic Hopfield sign updates (async random/fixed order, or sync with 2-cycle check)"
    Params = HopfieldParams

    def prepare(self, energy: Energy, params: Any) -> float:
        """Refuse a run past the memory limit, then compile (or load) the kernels this energy's solve calls, on a
        miniature of it (untimed)."""
        params = params or HopfieldParams()
        _check_run_size(energy, params, params.reads)
        return warm_up(self, energy, params)

    @holds_one_blas_thread  # called directly too, not only through solve_instance (see backends._blas)
    def solve(self, energy: Energy, params: HopfieldParams | None = None, *, seed: int | None = None,
              initial_states: np.ndarray | None = None, callback: Callback | None = None) -> SampleSet:
        params = self.checked_params(energy, params)
        seed = resolve_seed(seed)
        started = time.perf_counter()
        n = energy.num_variables
        if initial_states is not None:
            initial_states = given_states(energy, initial_states, "backend 'hopfield'")
        reads = params.reads if initial_states is None else len(initial_states)
        _check_run_size(energy, params, reads)
        groups = energy.groups if params.units == "auto" and params.mode == "async" else None
        if groups is not None and any(isinstance(t, PatternTerm) for t in energy.terms):
            groups = None  # dense associative memories have kernels of their own, unit by unit
        fill = None
        if initial_states is None:
            if groups is not None:
                spins = to_spins(groups.random_states(make_rng(seed), params.reads, energy.vartype, n),
                                 energy.vartype)
            else:  # drawn as their batches start (the same stream, row after row, as one draw of them all)
                spins, fill = _lazy_starts(make_rng(seed), params.reads, n)
        else:
            given = np.atleast_2d(initial_states)
            spins = to_spins(given, energy.vartype).copy()
            if spins.shape[1] != n:
                raise ParameterError(f"initial states must have {n} columns, got {spins.shape[1]}")
            if groups is not None and not all(groups.satisfied(row) for row in given):
                raise ParameterError("backend 'hopfield': initial states need exactly one unit on in every one-hot "
                                     "group (or units=single)")
        progress = _Progress(energy, callback, None if params.time_limit is None else started + params.time_limit)
        if params.mode == "async":
            spins, sweeps, outcome, trace = self._run_async(energy, params, seed, spins, progress, groups, fill)
        else:
            if fill is not None:
                fill(len(spins))
            spins, sweeps, outcome, trace = self._run_sync(energy, params, spins, progress)
        if params.mode == "async" and (progress.timed_out or progress.interrupted):
            # only the reads that ran are returned: a read never started is its random start, not an answer (a
            # Ctrl-C keeps the reads it caught in mid-descent too)
            ran = np.arange(progress.finished) if progress.timed_out else np.flatnonzero(
                (np.arange(len(sweeps)) < progress.finished) | (sweeps > 0))
            spins, sweeps = spins[ran], sweeps[ran]
            outcome = [outcome[r] for r in ran]
            trace = [trace[r] for r in ran] if params.trace else trace
        info = {
            "derived": {"seed": seed, "units": "winner-take-all" if groups is not None else "single"},
            "read_sweeps": sweeps, "outcome": outcome,
            "work": int(np.max(sweeps, initial=0)), "work_unit": "sweeps", "interrupted": progress.interrupted,
            "timed_out": progress.timed_out,
            "fixed_points": int(sum(o == "fixed_point" for o in outcome)), "wall_time_s": time.perf_counter() - started,
        }
        if params.trace:
            info["trace"] = trace
        if params.time_limit is not None:
            replayable = progress.finished if progress.cut_from is None else progress.cut_from
            info["replay"] = ({"reads": replayable} if params.mode == "async"
                              else {"max_sweeps": int(np.max(sweeps, initial=0))})
        return SampleSet.from_states(energy, from_spins(spins, energy.vartype), **info)

    @staticmethod
    def _run_async(energy: Energy, params: HopfieldParams, seed: int, spins: np.ndarray, progress: _Progress,
                   groups: OneHotGroups | None, fill: Callable[[int], None] | None = None):
        """Reads run in batches of about ``BATCH_SECONDS`` each (a read's result does not depend on its batch), so
        progress and the anytime curve advance, and Ctrl-C keeps every finished read and those it caught in
        mid-descent (outcome ``interrupted``); :meth:`solve` leaves out the reads never started. ``fill(b)``, where
        given, draws the random starts of the reads before ``b`` (see :func:`_lazy_starts`): a batch draws its own
        as it starts, so a time limit that ends the run early did not first draw them all (100,000 reads of 800
        units: 2.1 s, against a 0.2 s limit)."""
        model = compile_spin_model(energy, build_deadline(progress.started, params.time_limit))
        reads = len(spins)
        patterns = pattern_part(energy, model)
        if fill is not None and (patterns is not None or len(model.group_of) or params.trace):
            fill(reads)  # these set up every read at once: group sums, overlaps, start energies
            fill = None
        hq = np.zeros((reads, model.n))  # each batch's fields are computed when it starts (reads × couplings)
        gsum = np.zeros((reads, model.group_of.shape[0], model.group_target.shape[1]))
        K.init_group_sums(model.group_of, spins, gsum)
        start_energy = energy.to_spin().energies(spins) if model.n and params.trace else np.zeros(reads)
        generators = np.zeros(reads, dtype=np.uint64)  # each batch's streams are made when it starts
        sweeps = np.zeros(reads, dtype=np.int64)
        trace = np.zeros((reads, params.max_sweeps if params.trace else 0))
        random_order, zero_rule = params.order == "random", _ZERO_RULES[params.zero_field]
        zero_tol = model.zero_field_tolerance
        cut = np.zeros(reads, dtype=bool)
        if patterns is not None:
            floats = spins.astype(np.float64)
            overlaps = patterns.overlaps(spins)

            def run(a: int, b: int) -> None:
                PAT.pattern_hopfield(model.indptr, model.indices, model.data, patterns.patterns, patterns.kind,
                                     patterns.degree, patterns.beta, patterns.scale, floats[a:b], hq[a:b],
                                     overlaps[a:b], generators[a:b], random_order, zero_rule, zero_tol,
                                     params.max_sweeps,
                                     sweeps[a:b], trace[a:b], np.zeros(b - a))
                spins[a:b] = floats[a:b].astype(np.int8)
        elif groups is not None:
            floats = spins.astype(np.float64)
            free = groups.free_units(model.n)

            def run(a: int, b: int) -> None:
                GK.group_hopfield(model.indptr, model.indices, model.data, model.group_of, model.group_target,
                                  model.group_scale, groups.members, groups.offsets, free, floats[a:b], hq[a:b],
                                  gsum[a:b], generators[a:b], random_order, zero_rule, zero_tol, params.max_sweeps,
                                  sweeps[a:b], trace[a:b])
                spins[a:b] = floats[a:b].astype(np.int8)
        else:
            settled, energy_acc = np.zeros(reads, dtype=np.bool_), np.zeros(reads)

            def run(a: int, b: int) -> None:
                """The batch's descents in chunks of sweeps of about the batch time, the deadline looked at between
                chunks: one that would end late is not started, and the batch's unsettled reads are then cut."""
                first, chunk = 0, 1
                while first < params.max_sweeps and not settled[a:b].all():
                    stop = min(params.max_sweeps, first + chunk)
                    began = time.perf_counter()
                    K.hopfield_async(model.indptr, model.indices, model.data, model.group_of, model.group_target,
                                     model.group_scale, spins[a:b], hq[a:b], gsum[a:b], generators[a:b],
                                     random_order, zero_rule, zero_tol, first, stop, sweeps[a:b], settled[a:b],
                                     energy_acc[a:b], trace[a:b])
                    per_sweep = (time.perf_counter() - began) / (stop - first)
                    first, chunk = stop, max(1, int(progress.batch_seconds / max(per_sweep, 1e-9)))
                    if first < params.max_sweeps and not settled[a:b].all() and progress.past_deadline(per_sweep):
                        cut[a:b] = ~settled[a:b]
                        progress.cut_from = a
                        return

        def batch(a: int, b: int) -> None:
            if fill is not None:
                fill(b)
            hq[a:b] = model.initial_fields(spins[a:b])
            generators[a:b] = kernel_states(seed, b - a, first=a)
            run(a, b)

        finished = progress.run_batches(reads, batch, lambda a, b: spins[a:b])
        unfinished = "interrupted" if progress.interrupted else "not_started"
        # the reads never started in bulk: a loop over all of them took 0.3 s for 800,000 reads, after the deadline
        outcome = ["timed_out" if cut[r] else
                   "fixed_point" if s < params.max_sweeps or _is_fixed(energy, row, params, zero_tol)
                   else "max_sweeps"
                   for r, (s, row) in enumerate(zip(sweeps[:finished], spins[:finished]))]
        outcome += [unfinished] * (reads - finished)
        traces = [(start_energy[r] + trace[r, : sweeps[r]]).tolist() for r in range(reads)] if params.trace else []
        return spins, sweeps, outcome, traces

    @staticmethod
    def _run_sync(energy: Energy, params: HopfieldParams, spins: np.ndarray, progress: _Progress):
        """All units at once, sweep by sweep in numpy; Ctrl-C stops after the sweep it interrupts."""
        spin_energy = energy.to_spin().multilinear()  # discrete states feel the single-flip fields
        # as the asynchronous kernels judge a zero field, from each unit's bound (compiling the spin model for it
        # took a280's Hopfield-Tank energy 2.9 s and 0.9 GB)
        # (capped at a quarter: an integral model's fields are half-integers, and a bound of 10¹⁰ had hidden a
        # field of 1, where the asynchronous kernels' tolerance is 0 on such a model)
        zero_tol = np.minimum(ZERO_FIELD_RTOL * energy.to_spin().field_bounds(), 0.25)
        reads = len(spins)
        previous = np.zeros_like(spins)
        sweeps = np.zeros(reads, dtype=np.int64)
        outcome = ["max_sweeps"] * reads
        active = np.ones(reads, dtype=bool)
        traces: list[list[float]] = [[] for _ in range(reads)]
        try:
            for sweep in range(1, params.max_sweeps + 1):
                rows = np.flatnonzero(active)
                if not len(rows):
                    break
                fields = spin_energy.fields(spins[rows])
                new = np.where(fields > zero_tol, 1, np.where(fields < -zero_tol, -1,
                                                              _zero_target(spins[rows], params)))
                new = new.astype(np.int8)
                for k, r in enumerate(rows):
                    sweeps[r] = sweep
                    if np.array_equal(new[k], spins[r]):
                        outcome[r] = "fixed_point"
                        active[r] = False
                    elif sweep > 1 and np.array_equal(new[k], previous[r]):
                        outcome[r] = "two_cycle"
                        active[r] = False
                        halves = spin_energy.energies(np.stack([spins[r], new[k]]).astype(np.float64))
                        if halves[0] <= halves[1]:  # the cycle's lower half; on a tie the later one, which the
                            new[k] = spins[r]  # run reported (the earlier one, the cue, was returned before: a
                            # state other than the answer reported; the later one alone was a280's far worse half)
                previous[rows] = spins[rows]
                spins[rows] = new
                energies = spin_energy.energies(spins[rows]) if spins.shape[1] else np.zeros(len(rows))
                if params.trace:
                    for r, e in zip(rows, energies):
                        traces[r].append(float(e))
                progress.improve(spins[rows], energies, sweep, params.max_sweeps, "sweeps")
                if progress.past_deadline():
                    break
        except KeyboardInterrupt:
            progress.interrupted = True
            outcome = ["interrupted" if active[r] else o for r, o in enumerate(outcome)]
        return spins, sweeps, outcome, traces


def _lazy_starts(rng: np.random.Generator, reads: int, n: int) -> tuple[np.ndarray, Callable[[int], None]]:
    """(an uninitialised reads × n array of spins, ``fill(b)``, which draws rows up to ``b`` from ``rng``): rows
    drawn in consecutive pieces are the rows one draw of them all gives (numpy's generator continues its stream),
    so a read's start depends on the seed and its index only, as before."""
    spins = np.empty((reads, n), dtype=np.int8)
    filled = [0]

    def fill(upto: int) -> None:
        if upto > filled[0]:
            spins[filled[0]:upto] = rng.choice(np.array([-1, 1], dtype=np.int8), size=(upto - filled[0], n))
            filled[0] = upto

    return spins, fill


class _Progress:
    """Best state so far, progress callbacks, and Ctrl-C for one hopfield run."""

    BATCH_SECONDS = 0.25

    DEADLINE_SHARE = 0.02
    """With a time limit, batches aim at this share of it (if shorter than ``BATCH_SECONDS``)."""

    def __init__(self, energy: Energy, callback: Callback | None, deadline: float | None = None) -> None:
        self.spin_energy = energy.to_spin()
        self.vartype = energy.vartype
        self.callback = callback
        self.best_energy = np.inf
        self.interrupted = False
        self.timed_out = False
        self.finished = 0
        self.cut_from: int | None = None
        """The first read of a batch whose descents the deadline cut (those reads are not in ``replay``)."""
        self.deadline = deadline
        self.started = time.perf_counter()
        self.batch_seconds = self.BATCH_SECONDS if deadline is None else min(
            self.BATCH_SECONDS, self.DEADLINE_SHARE * max(deadline - time.perf_counter(), 0.0))

    def past_deadline(self, upcoming: float = 0.0) -> bool:
        """Whether the time limit has passed, or would be by the end of ``upcoming`` more seconds (then the run
        is marked timed out)."""
        if self.deadline is not None and time.perf_counter() + upcoming > self.deadline:
            self.timed_out = True
        return self.timed_out

    def improve(self, spins: np.ndarray, energies: np.ndarray, done: int, total: int, unit: str) -> None:
        """Report progress ``done``/``total``, with the best of these states if it beats the best so far."""
        if self.callback is None:
            return
        update: dict = {"done": done, "total": total, "unit": unit}
        if len(energies) and energies.min() < self.best_energy:
            best = int(np.argmin(energies))
            self.best_energy = float(energies[best])
            update.update(best_energy=self.best_energy, best_state=from_spins(spins[best:best + 1], self.vartype)[0])
        self.callback(update)

    def run_batches(self, reads: int, run: Callable[[int, int], None],
                    states_of: Callable[[int, int], np.ndarray]) -> int:
        """Call ``run(a, b)`` on consecutive batches of reads sized to take about ``BATCH_SECONDS`` (at least one
        read per thread); returns how many reads finished (all of them unless Ctrl-C came first).

        A batch's time is a cost per call plus a cost per read (:func:`_batch_pace`, from the two latest batches of
        different sizes; the second batch is twice the first to measure it): the call's own cost, waking numba's
        threads, was 10-20 ms on a busy machine, and counted as the reads' it kept every batch at one read a
        thread (74 reads in a 1 s limit, where the reads take microseconds). Where that cost passes the target,
        a batch is made long enough that it is half of it. With a time limit the next batch is cut to what the
        limit leaves."""
        threads = max(1, numba.get_num_threads())
        finished, batch = 0, min(reads, threads)
        history: list[tuple[int, float]] = []
        scoring = 0.0  # seconds spent scoring the finished reads: the run's finish (its outcomes, its sample set
        try:  # scored again) costs about FINISH_SCORINGS times that, counted before the deadline
            while finished < reads:
                end = min(reads, finished + batch)
                began = time.perf_counter()
                run(finished, end)
                took = time.perf_counter() - began
                states = states_of(finished, end)
                scored = time.perf_counter()
                energies = self.spin_energy.energies(states) if states.shape[1] else np.zeros(len(states))
                scoring += time.perf_counter() - scored
                finished = end
                self.finished = finished
                self.improve(states, energies, finished, reads, "reads")
                history.append((len(states), took))
                per_read, per_call = _batch_pace(history)
                if len(history) == 1:
                    target = max(self.batch_seconds / per_read, 2.0 * len(states))
                elif per_call < 0.5 * self.batch_seconds:
                    target = (self.batch_seconds - per_call) / per_read
                else:
                    target = per_call / per_read
                # at most GROWTH times the last batch: two batches' line is noisy, and one step past it is small
                batch = int(np.clip(min(target, GROWTH * len(states)), threads, max(threads, reads)))
                batch = max(threads, batch - batch % threads)
                if finished < reads and self.deadline is not None:
                    # the last batch's time a read, its call included (the most a read can cost, as a deadline
                    # wants), and wall time, its threads included (it was divided by them again, and a 1 s limit
                    # ended at 1.10-1.19 s)
                    finish = FINISH_SCORINGS * scoring / finished  # a read's share of the finish
                    fits = int((self.deadline - time.perf_counter() - finish * finished)
                               / max(took / len(states) + finish, 1e-9))
                    fits -= fits % threads
                    if fits < threads:  # not one read a thread would end in time
                        self.timed_out = True
                        break
                    batch = min(batch, fits)
        except KeyboardInterrupt:
            self.interrupted = True
        return finished


GROWTH = 4
"""The most a hopfield batch grows over the one before it."""

FINISH_SCORINGS = 2.0
"""A timed run's finish after its last batch (each read's outcome, the sample set's energies), in scorings of the
finished reads: 50,000 reads of 100 units ended 65 ms after a 0.9 s deadline when it was not counted."""


def _batch_pace(history: list[tuple[int, float]]) -> tuple[float, float]:
    """``(seconds a read, seconds a call)`` from the batches run, ``(reads, seconds)`` each: the line through the
    two latest of different sizes (each part at least 0, the read's at least 1 ns), else every second the
    read's."""
    reads, took = history[-1]
    for earlier, earlier_took in reversed(history[:-1]):
        if earlier != reads:
            per_read = max((took - earlier_took) / (reads - earlier), 1e-9)
            per_call = min(max(took - per_read * reads, 0.0), took)
            return per_read, per_call
    return max(took / max(reads, 1), 1e-9), 0.0


def _zero_target(spins: np.ndarray, params: HopfieldParams) -> np.ndarray:
    rule = _ZERO_RULES[params.zero_field]
    return spins if rule == 0 else np.full_like(spins, rule)


def _is_fixed(energy: Energy, spins: np.ndarray, params: HopfieldParams, zero_tol: np.ndarray) -> bool:
    """True when no unit would change: the read stopped at a fixed point on its last allowed sweep."""
    fields = energy.to_spin().discrete_fields(spins.astype(float))[0]
    target = np.where(fields > zero_tol, 1, np.where(fields < -zero_tol, -1, _zero_target(spins, params)))
    return bool(np.array_equal(target, spins))
