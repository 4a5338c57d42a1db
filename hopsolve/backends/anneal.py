"""Stochastic annealing: Metropolis or Glauber (heat-bath) dynamics under a β schedule, many reads in parallel."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numba
import numpy as np
import scipy.sparse as sp

from hopsolve.backend import (
    Backend,
    Callback,
    TimedRunParams,
    check_run_size,
    given_states,
    schedule_steps_buildable,
    time_left_phrase,
)
from hopsolve.backends import _group_kernels as GK
from hopsolve.backends import _kernels as K
from hopsolve.backends import _pattern_kernels as PAT
from hopsolve.backends import _perm_kernels as PK
from hopsolve.backends import _tour_kernels as TK
from hopsolve.backends._blas import holds_one_blas_thread
from hopsolve.backends._model import SpinModel, build_deadline, compile_spin_model, from_spins, pattern_part, to_spins
from hopsolve.backends._tour_start import greedy_tour, projected_setup_seconds, space_filling_tour
from hopsolve.backends.replan import Replan, apply_replan, parse_replan
from hopsolve.backends.schedules import beta_schedule, default_beta_range, typical_beta_min
from hopsolve.energy import Energy, OneHotGroups, PermutationView, SlackBlocks, Vartype
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.interrupt import ctrl_c_after_block
from hopsolve.metric import Metric
from hopsolve.params import require
from hopsolve.pattern_term import PatternTerm
from hopsolve.permutation_rows import inverse_permutations
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import auxiliary_state, kernel_states, make_rng, resolve_seed
from hopsolve.warmup import warm_up

CHUNK_SECONDS = 0.1
TOUR_DELTA_SAMPLE = 4000  # tour move deltas sampled to set a tour anneal's temperatures (and time its first sweep)
DEFAULT_NEIGHBOURS = 10
"""Candidate moves per city of a tour anneal (``AnnealParams.neighbours``); more than this, with a time limit,
has its lists' building time projected before they are built."""
PROBE_READS = 8  # reads whose first sweep is timed to project a timed flip anneal's first sweep
PROBE_REPEATS = 3  # timings of that sweep, the least taken (one preempted timing refused runs that fit)
STREAM_PROBE_READS = 64  # reads whose random streams are derived to project all the reads' streams
SETUP_SHARE = 0.85
"""A timed tour anneal builds its candidate lists and greedy start only if their projected seconds
(:func:`~hopsolve.backends._tour_start.projected_setup_seconds`) are within this share of the time left; else its
reads are the space-filling-curve tour. pla85900 at a 1 s limit leaves the backend 0.53–0.74 s after reading; its
set-up takes 0.32–0.39 s and is projected at 0.38–0.44 s, so at 0.85 it gets the greedy start (13.7% above the
optimum) in 5 runs of 6 instead of the space-filling tour's 32.6% (0.75 had refused it whenever the projection,
then timed on 2,048 points, ran high)."""


@dataclass(frozen=True)
class AnnealParams(TimedRunParams):
    """Parameters of the ``anneal`` backend (every field has a default)."""

    reads: int = 10
    """Independent runs, each from its own random (or given) state; they run in parallel."""
    sweeps: int = 1000
    """Sweeps per read. A sweep is one flip attempt per unit (or, with permutation moves, as many move attempts
    as the energy has units)."""
    rule: Literal["metropolis", "glauber"] = "metropolis"
    """Acceptance rule: Metropolis ``min(1, e^{-βΔE})`` or Glauber/heat-bath ``1/(1 + e^{βΔE})``."""
    schedule: Literal["geometric", "linear", "constant"] = "geometric"
    """How β goes from ``beta_min`` to ``beta_max``; ``constant`` runs at fixed ``beta``."""
    beta_min: float | None = None
    """Hot end; derived from the energy's coefficients when not given (see ``hopsolve.backends.schedules``)."""
    beta_max: float | None = None
    """Cold end; derived when not given."""
    hot_end: Literal["worst", "typical"] = "worst"
    """How a derived ``beta_min`` is chosen for flip moves: ``worst``, so that even the largest possible flip is
    accepted with probability ½; ``typical``, ``1/σ`` for σ the spread of a unit's field at a random state (about
    the freezing point; see ``hopsolve.backends.schedules``)."""
    beta: float | None = None
    """Fixed inverse temperature for ``schedule=constant`` (Glauber dynamics at constant temperature)."""
    moves: str = "auto"
    """``flip``: single-unit flips; ``permutation``: exchange two items / reverse a block of positions, staying
    feasible (needs an energy with a permutation view); ``onehot``: change which unit of a one-hot group is on
    (Potts moves: Metropolis over the group with ``rule=metropolis``, heat bath with ``rule=glauber``; needs an
    energy with ``groups``, see :class:`hopsolve.energy.OneHotGroups`; free units get single flips); ``auto``:
    permutation moves where possible, else one-hot moves where the energy has groups, else flips. On tour
    energies (a permutation view over a metric, see :class:`hopsolve.energy.PermutationView`) permutation moves
    are drawn from the tour move table (``hopsolve.backends._tour_kernels.TOUR_MOVES``) by a mix, which may be
    given here as ``name:probability`` pairs, e.g. ``2opt:0.6,oropt:0.3,swap:0.1`` (relative weights, normalised;
    a name alone weighs 1; default
    :data:`DEFAULT_TOUR_MIX`)."""
    neighbours: int = DEFAULT_NEIGHBOURS
    """Tour moves: the candidate list of each city, its k nearest cities."""
    max_reversal: int | None = None
    """Tour moves: the longest block of positions a move may reverse or shift (applying a move costs that
    much); default ``max(1000, n/10)``, every move for n ≤ 10,000."""
    hot_quantile: float = 0.1
    """Tour moves: the derived hot end accepts the ``hot_quantile`` quantile of uphill candidate moves at the
    start tour with probability ½ (a greedy start is kept, not melted)."""
    start: Literal["greedy", "random", "space-filling"] = "greedy"
    """Tour moves: where reads start without initial states, a greedy-edge tour (its length is in
    ``info['start_length']``), a random permutation, or the Hilbert-curve order of the cities
    (:func:`~hopsolve.backends._tour_start.space_filling_tour`; coordinates needed). Under a time limit too short to
    build the greedy tour and the candidate lists (:data:`SETUP_SHARE`), every read is the space-filling tour and no
    sweep runs (``info['start'] = 'space-filling'``; its replay line says so). Another value than the default is
    refused where it would be ignored: with initial states, with ``moves=flip``, and on energies that are not
    tours (:func:`refuse_unused_start`)."""
    swap_probability: float = 0.5
    """With permutation moves: probability of an exchange (else a block reversal)."""
    chain_probability: float = 0.0
    """With permutation moves: probability that a move is an ejection chain instead (see
    ``hopsolve.backends._perm_kernels``); a chain weighs ``n`` exchanges per step and counts as that many
    attempts of its sweep. Linear assignment needs them; TSP and QAP do well on exchanges and reversals alone."""
    chain_length: int = 10
    """Most steps in an ejection chain (the best prefix is kept)."""
    keep_best: bool = True
    """Return each read's best state seen at the end of a sweep (else the final state)."""
    time_limit: float | None = None
    """Stop after this many seconds and return the best so far (checked between chunks of sweeps)."""
    fit_schedule: bool = True
    """With a time limit: when the pace shows the schedule cannot finish in time, resample the rest of it into
    the sweeps that fit, so that the run still ends at ``beta_max`` instead of stopping hot."""
    fill_time: bool = False
    """With a time limit: also *stretch* the schedule to the sweeps that fit, so the whole limit is spent
    annealing (an anytime run; ``hopsolve solve --time-limit`` sets it). Without it a time limit only caps. A run
    with ``trace`` is never stretched (its trace holds ``sweeps`` columns). ``sweeps`` is then only the plan the
    run starts from, cut to what builds within the limit (:func:`hopsolve.backend.schedule_steps_buildable`)."""
    replan: str = ""
    """Changes to the schedule of ``sweeps`` before the run, ``at:total,...``: from sweep ``at`` the rest is
    resampled so that the schedule has ``total`` sweeps (``at:at`` stops there). A timed run records its own in
    ``info['replay']`` with the sweeps it started from, and those two parameters replay it exactly without the
    time limit (see :mod:`hopsolve.backends.replan`)."""
    threads: int | None = None
    """Threads for parallel reads (default: all cores; more than numba has, ``NUMBA_NUM_THREADS``, run as many as
    it has)."""
    trace: bool = False
    """Record each read's energy after every sweep (``info['trace']``, reads × sweeps)."""

    def validate(self) -> None:
        super().validate()
        owner = "backend 'anneal'"
        require(self.sweeps >= 1, owner, f"sweeps must be at least 1, got {self.sweeps}")
        for name in ("beta_min", "beta_max", "beta"):
            value = getattr(self, name)
            require(value is None or (math.isfinite(value) and value > 0), owner, f"{name} must be positive")
        if self.beta_min is not None and self.beta_max is not None:
            require(self.beta_min <= self.beta_max, owner,
                    f"beta_min ({self.beta_min}) must not exceed beta_max ({self.beta_max})")
        require(self.schedule != "constant" or self.beta is not None or self.beta_max is not None, owner,
                "schedule=constant needs beta")
        require(0.0 <= self.swap_probability <= 1.0, owner, "swap_probability must be in [0, 1]")
        require(0.0 <= self.chain_probability <= 1.0, owner, "chain_probability must be in [0, 1]")
        require(self.chain_length >= 1, owner, f"chain_length must be at least 1, got {self.chain_length}")
        require(self.threads is None or self.threads >= 1, owner, "threads must be at least 1")
        require(0.0 < self.hot_quantile <= 1.0, owner, "hot_quantile must be in (0, 1]")
        require(self.max_reversal is None or self.max_reversal >= 1, owner, "max_reversal must be at least 1")
        require(self.neighbours >= 1, owner, f"neighbours must be at least 1, got {self.neighbours}")
        if self.moves not in ("auto", "flip", "permutation", "onehot"):
            tour_mix(self.moves)
        changes = parse_replan(self.replan, owner)
        require(not self.trace or all(total <= self.sweeps for _, total in changes), owner,
                "with trace, a replan may not grow the schedule beyond sweeps")


MAX_STRETCHED_SWEEPS = 10_000_000
"""A schedule stretched to fill a time limit stops growing here (its β array is 80 MB); a run that fast ends
early instead."""

DEFAULT_TOUR_MIX = "2opt:0.55,oropt:0.4,swap:0.05"


def tour_mix(text: str) -> np.ndarray:
    """Probabilities over ``TOUR_MOVES`` from ``name:p,name:p``, relative weights normalised to sum to 1
    (``2opt:3,or:1`` is 3 to 1); unknown names and a move named twice (its weights were summed) are errors."""
    weights = np.zeros(len(TK.MOVE_NAMES))
    named: set[str] = set()
    for part in text.split(","):
        name, sep, value = part.partition(":")
        name = name.strip()
        if name not in TK.MOVE_NAMES:
            raise ParameterError(f"backend 'anneal': moves: unknown move {name!r} (choose auto, flip, permutation, "
                                 f"onehot or a mix of {', '.join(TK.MOVE_NAMES)} as name:probability pairs)")
        try:
            weight = float(value) if sep else 1.0
        except ValueError:
            raise ParameterError(f"backend 'anneal': moves: {part.strip()!r} needs a number after ':'") from None
        if not math.isfinite(weight) or weight < 0:
            raise ParameterError(f"backend 'anneal': moves: the probability of {name} must be finite and >= 0")
        if name in named:
            raise ParameterError(f"backend 'anneal': moves: {name} is named twice; give each move once")
        named.add(name)
        weights[TK.MOVE_NAMES.index(name)] += weight
    if weights.sum() <= 0:
        raise ParameterError("backend 'anneal': moves: the mix needs a positive probability")
    return weights / weights.sum()


@dataclass
class _Progress:
    """How far a chunked run got, and whether its schedule was squeezed to fit the time limit."""

    done: int
    timed_out: bool = False
    compressed: bool = False
    stretched: bool = False
    interrupted: bool = False
    replan: Replan = field(default_factory=Replan)


def _run_chunked(betas: np.ndarray, step: Callable[[int, int, np.ndarray], None], params: AnnealParams,
                 callback: Callback | None, report: Callable[[], dict[str, Any]],
                 started: float | None = None, call_overhead: float = 0.0, first_sweep: float = 0.0,
                 unit: str = "sweeps") -> _Progress:
    """Run ``step(start, stop, betas[start:stop])`` over the schedule in chunks of about 0.1 s.

    With a time limit and ``fit_schedule``, once the pace is known a schedule that would not finish in time is
    resampled into the sweeps that fit, so the run still ends cold; otherwise it stops at the limit. The limit
    counts from ``started`` (the backend's own set-up included; default: now); ``call_overhead`` is what each call
    of ``step`` costs besides its sweeps, so no call is made
    that would end past the limit; ``first_sweep`` bounds the first sweep's cost before any pace is known (the
    first call is not made unless it fits too); ``unit`` names a schedule entry in the progress updates (replica's
    permutation rounds). A ``KeyboardInterrupt`` (Ctrl-C) ends the run at the chunk it
    interrupts: every read keeps its best state so far and ``interrupted`` is set. Runs are chunked even without a
    time limit or a callback (a dimod sampler's, a direct ``solve``), so Ctrl-C stops them within a chunk; the
    chunks do not change a read's arithmetic (each carries its state and random stream across calls).
    """
    time_limit = params.time_limit
    start = time.perf_counter() if started is None else started
    progress, chunk = _Progress(0), 1
    planned = len(betas)
    if time_limit is not None and time.perf_counter() - start + call_overhead + first_sweep >= time_limit and len(
            betas):
        progress.timed_out = True  # the set-up spent the limit: not one sweep more (the start states stand)
        progress.replan.stop(betas, 0)
        return progress
    filling = params.fill_time and time_limit is not None and not params.trace
    try:  # Ctrl-C between chunks ends the run with the best states so far
        while progress.done < len(betas):
            if filling and progress.done == 1:  # the pace after the first sweep (which also loads the kernels):
                chunk = min(chunk, max(1, (len(betas) - 1) // 2))  # a chunk that cannot end the schedule, so the
            stop = min(len(betas), progress.done + chunk)  # stretch is decided on a measured pace (a fast model's
            # second chunk covered the whole schedule: Petersen ended in 0.03 s of a 5 s limit, G11 in 0.03 of 1)
            done_before = progress.done
            with ctrl_c_after_block():  # a Ctrl-C during the call is raised once its chunk is counted
                began = time.perf_counter()
                step(progress.done, stop, betas[progress.done:stop])
                elapsed = time.perf_counter() - began
                progress.done = stop
            chunk = max(1, int((stop - done_before) * CHUNK_SECONDS / max(elapsed, 1e-6)))
            if callback is not None:  # progress in one unit with a fixed total: seconds of the limit, else sweeps
                if time_limit is not None:
                    where = {"done": min(time.perf_counter() - start, time_limit), "total": time_limit, "unit": "s"}
                else:
                    where = {"done": progress.done, "total": len(betas), "unit": unit}
                callback({**where, f"{unit}_done": progress.done, **report()})
            if time_limit is None or progress.done >= len(betas):
                continue
            spent = time.perf_counter() - start
            if spent >= time_limit:
                progress.timed_out = True
                break
            # the pace of the latest chunk: the first one also loads or compiles the kernels
            pace = max(elapsed - call_overhead, 0.1 * elapsed) / (stop - done_before)
            if time_limit - spent < call_overhead + pace:  # not even one more sweep would end in time
                progress.timed_out = True
                break
            chunk = min(chunk, max(1, int((time_limit - spent - call_overhead) / pace)))  # none that would end late
            needed = pace * (len(betas) - progress.done)
            fits = min(MAX_STRETCHED_SWEEPS, schedule_steps_buildable(time_limit - spent),
                       max(1, int(0.9 * (time_limit - spent) / pace)))  # a resample that builds in time
            # a schedule squeezed on a slow chunk (a busy machine) grows back to its own length when the pace
            # recovers; with fill_time it grows to fill the limit
            shortened = len(betas) < planned
            if (params.fill_time or shortened) and not params.trace and done_before > 0 \
                    and needed < 0.8 * (time_limit - spent):
                if not params.fill_time:
                    fits = min(fits, planned - progress.done)
                if fits > len(betas) - progress.done:
                    betas = progress.replan.resample(betas, progress.done, fits)
                    progress.stretched = params.fill_time
            elif params.fit_schedule and done_before > 0 and needed > 0.95 * (time_limit - spent):
                betas = progress.replan.resample(betas, progress.done, fits)
                progress.compressed = True
    except KeyboardInterrupt:
        progress.interrupted = True
    progress.replan.stop(betas, progress.done)
    return progress


def _state_report(best: np.ndarray, best_states: np.ndarray, vartype: Vartype) -> Callable[[], dict[str, Any]]:
    """The progress report of a run over unit states: the best read's energy and state so far."""
    def report() -> dict[str, Any]:
        row = int(np.argmin(best))
        return {"best_energy": float(best[row]), "best_state": from_spins(best_states[row].astype(np.int8), vartype)}
    return report


def _group_move_scales(energy: Energy, groups: OneHotGroups, free: np.ndarray, slack: tuple, start: np.ndarray | None,
                       seed: int) -> tuple[float, float]:
    """(hot, cold) energy changes for the β range of group moves: the mean and the 1% quantile of the positive
    changes of 2000 random moves at the first start state, measured on the objective alone where the energy has
    one that moves (the penalties are hard constraints: their scale, far above the objective's, would otherwise
    make the whole schedule too hot to see the objective), else on the whole energy; where an ``equality`` penalty
    (an equality that is not one-hot, held by no move) weighs something, the hot end is the whole energy's when
    larger, so that the walk can cross it."""
    if start is None:
        return 1.0, 1.0
    scales = _measured_group_move_scales(energy, groups, free, slack, start, seed)
    unheld = [name for name in energy.penalty_names if name == "equality" and energy.weights[name] > 0]
    if unheld and "objective" in energy.term_names:
        # an equality that is not one-hot is held by no move: every move that keeps it changes two units, so the
        # walk must cross its penalty; measured on the objective alone the run was too cold to leave its first
        # basin, infeasible (a 4-variable model: 0 of 10 reads feasible on 2 seeds of 6, 100,000 sweeps too)
        whole = _measured_group_move_scales(energy, groups, free, slack, start, seed, objective_only=False)
        return max(scales[0], whole[0]), scales[1]
    return scales


def _measured_group_move_scales(energy: Energy, groups: OneHotGroups, free: np.ndarray, slack: tuple,
                                start: np.ndarray, seed: int, objective_only: bool = True) -> tuple[float, float]:
    """(mean, 1% quantile) of the positive changes of 2000 random moves at ``start``, on the objective alone where
    ``objective_only`` and the energy has one that moves, else on the whole energy."""
    candidates = [energy]
    if objective_only and "objective" in energy.term_names and energy.penalty_names:
        candidates.insert(0, energy.reweighted(**{name: 0.0 for name in energy.penalty_names}))
    for measured in candidates:
        model = compile_spin_model(measured)
        spins = (2.0 * start - 1.0)[None, :].astype(np.float64)
        hq = model.initial_fields(spins)
        gsum = np.zeros((1, model.group_of.shape[0], model.group_target.shape[1]))
        K.init_group_sums(model.group_of, spins, gsum)
        residual = energy.slacks.residuals(start)[0] if energy.slacks is not None else np.zeros(0)
        sample = GK.sample_group_deltas(model.indptr, model.indices, model.data, model.group_of, model.group_target,
                                        model.group_scale, groups.members, groups.offsets, free, *slack, spins[0],
                                        hq[0], gsum[0], residual, 2000, auxiliary_state(seed))
        positive = sample[sample > 1e-12]
        if len(positive):
            return float(positive.mean()), float(np.percentile(positive, 1))
    return 1.0, 1.0


def _slack_arrays(slacks: SlackBlocks | None, n: int) -> tuple[np.ndarray, ...]:
    """The kernels' view of slack blocks: unit → (block, coefficient) in CSR form, and each block's slack units
    and digits (empty arrays when there are none)."""
    if slacks is None:
        return (np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(1, np.int64),
                np.zeros(0, np.int64), np.zeros(0))
    owner = np.repeat(np.arange(slacks.count), np.diff(slacks.unit_offsets))
    order = np.argsort(slacks.units, kind="stable")
    unit_ptr = np.concatenate([[0], np.cumsum(np.bincount(slacks.units, minlength=n))]).astype(np.int64)
    return (unit_ptr, owner[order].astype(np.int64), slacks.coefficients[order], slacks.slack_offsets,
            slacks.slack_units, slacks.slack_coefficients)


def _holding_penalties(samples: SampleSet, energy: Energy) -> SampleSet:
    """Mark a run whose moves keep every state a permutation (tour or permutation moves): its penalty terms, all
    of them permutation constraints, are zero throughout, so their weights change nothing
    (``info['penalties_held']``, the terms' names; ``hopsolve solve --weight`` says so)."""
    samples.info["penalties_held"] = list(energy.penalty_names)
    return samples


def refuse_unused_start(start: str, energy: Energy, initial_states: np.ndarray | None, owner: str, what: str,
                        tour_moves: bool = True) -> None:
    """Refuse a ``start`` other than the default where it would be ignored, naming why: the run does not move on
    tours (``tour_moves`` false: moves=flip, or an energy without a tour view), or initial states are given (every
    read starts from its own). Shared by ``anneal`` and ``replica``, whose ``what`` (reads, ladders) it names."""
    if start == "greedy":
        return
    view = energy.permutation
    if initial_states is not None:
        why = f"these {what} start from the initial states given"
    elif view is None:
        why = ("this energy has no tour view (a TSP's has one unless an encoding option makes a tour's penalties "
               "nonzero, such as active ≠ the number of cities)")
    elif not view.is_tour:
        why = "this energy's permutations are not tours (a QAP's or an assignment's)"
    elif not tour_moves:
        why = "moves=flip does not start from a tour"
    else:
        return
    raise ParameterError(f"{owner}: start={start} chooses where a tour's {what} start without initial states; {why}")


def initial_permutations(view: PermutationView, initial_states: np.ndarray, owner: str) -> np.ndarray:
    """The item at each position of every initial state (reads × n), refused in one line naming ``owner`` where a
    state is not a permutation matrix (one unit on in every row and column). Shared by ``anneal``'s and
    ``replica``'s permutation and tour runs."""
    states = np.atleast_2d(initial_states)
    item_at = np.empty((len(states), view.size), dtype=np.int64)
    for r, state in enumerate(states):
        positions = view.layout.positions(state)
        if positions is None:
            raise ParameterError(f"{owner}: initial states of a permutation energy must be permutation matrices "
                                 "(one unit on in every row and column)")
        item_at[r, positions] = np.arange(view.size)
    return item_at


def _check_neighbours_in_time(metric: Metric, k: int, left: float) -> None:
    """Refuse a user's ``neighbours`` whose candidate lists alone are projected past :data:`SETUP_SHARE` of the
    time left (neighbours=5914 on rl5915 spent 15 s of a 1 s limit); the default's lists, where they do not fit, give
    way to the space-filling tour instead."""
    lists = projected_setup_seconds(metric, k, greedy=False)
    if lists > SETUP_SHARE * left:
        raise TooLargeError(f"backend 'anneal': candidate lists of {min(k, metric.size - 1):,} neighbours for "
                            f"{metric.size:,} cities should take about {lists:.2g} s to build, more than "
                            f"{SETUP_SHARE:.0%} of the {max(left, 0.0):.2g} s the time limit leaves; give fewer "
                            f"neighbours (neighbours, default {DEFAULT_NEIGHBOURS}) or a longer limit")


class _Threads:
    """Use ``count`` numba threads inside the block."""

    def __init__(self, count: int | None) -> None:
        self.count = count
        self.saved = numba.get_num_threads()

    def __enter__(self) -> None:
        if self.count is not None:
            numba.set_num_threads(min(self.count, numba.config.NUMBA_NUM_THREADS))

    def __exit__(self, *exc: object) -> None:
        numba.set_num_threads(self.saved)


ENUMERATED_ITEMS = 3
"""Permutation energies of at most this many items (at most 3! = 6 permutations) are not worth a time limit's
budget: a run of them ignores ``fill_time`` (a 3-city tour spent all of ``--time-limit 5``), and its answer is
checked against every permutation and reported ``proven_optimal`` when no permutation is lower."""


def _no_time_to_fill(params: AnnealParams, items: int) -> AnnealParams:
    """``params`` without ``fill_time`` for a permutation energy of :data:`ENUMERATED_ITEMS` items or fewer."""
    return replace(params, fill_time=False) if items <= ENUMERATED_ITEMS and params.fill_time else params


def _proven_by_enumeration(samples: SampleSet, energy: Energy, progress: _Progress) -> SampleSet:
    """``samples``, marked ``proven_optimal`` where ``energy``'s permutation view has :data:`ENUMERATED_ITEMS`
    items or fewer and no permutation of them is lower than the best read (the run not cut short by Ctrl-C)."""
    view: PermutationView = energy.permutation
    if view.size > ENUMERATED_ITEMS or progress.interrupted or not len(samples):
        return samples
    every = [float(energy.energy(view.layout.state(np.array(p), energy.vartype, energy.num_variables)))
             for p in itertools.permutations(range(view.size))]  # the energy itself, every penalty included
    floor = min(every)
    # float rounding relative to the energies' own size (an absolute floor of 1e-9 proved anything on a model in
    # units of 1e-12)
    if samples.best_energy <= floor + 1e-9 * max(abs(e) for e in every):
        return dataclasses.replace(samples, proven_optimal=True)
    return samples


class AnnealBackend(Backend):
    """Simulated annealing with single flips or, on permutation energies, moves that stay feasible."""

    name = "anneal"
    description = "simulated annealing (Metropolis/Glauber, geometric/linear/constant β), parallel reads"
    Params = AnnealParams

    def prepare(self, energy: Energy, params: Any) -> float:
        """Compile (or load) the kernels this energy's solve calls, on a miniature of it (untimed)."""
        return warm_up(self, energy, params)

    @holds_one_blas_thread  # called directly too, not only through solve_instance (see backends._blas)
    def solve(self, energy: Energy, params: AnnealParams | None = None, *, seed: int | None = None,
              initial_states: np.ndarray | None = None, callback: Callback | None = None) -> SampleSet:
        params = self.checked_params(energy, params)
        seed = resolve_seed(seed)
        if initial_states is not None:
            initial_states = given_states(energy, initial_states, "backend 'anneal'")
        reads = params.reads if initial_states is None else len(initial_states)
        units = energy.permutation.size if energy.permutation is not None else energy.num_variables
        if params.fill_time and params.time_limit is not None and not params.replan:
            # the planned sweeps are a start the run stretches or squeezes: one that would not build within the
            # limit starts at what does (berlin52's 384,615 default sweeps were refused under 0.25 s, with
            # advice to give fewer sweeps, which the user had not given)
            # (not the 50,000-step floor a given schedule may always build: 5 ms of a 5 ms limit)
            params = replace(params, sweeps=min(params.sweeps, schedule_steps_buildable(params.time_limit)))
        longest = max([params.sweeps, *(total for _, total in parse_replan(params.replan, "backend 'anneal'"))])
        check_run_size(reads=reads, units=units, steps=longest, trace=params.trace, time_limit=params.time_limit)
        moves = params.moves
        if moves == "auto" and not (energy.permutation is not None and energy.permutation.is_tour):
            moves = ("permutation" if energy.permutation is not None else
                     "onehot" if energy.groups is not None or energy.slacks is not None else "flip")
        mixed = moves not in ("flip", "permutation", "onehot")
        if moves != "flip" and energy.permutation is not None and energy.permutation.is_tour:
            refuse_unused_start(params.start, energy, initial_states, "backend 'anneal'", "reads")
            with _Threads(params.threads):
                return _holding_penalties(self._solve_tour(energy, params, seed, initial_states, callback), energy)
        if mixed:
            raise ParameterError(f"backend 'anneal': moves={moves} needs a tour energy (a TSP)")
        refuse_unused_start(params.start, energy, initial_states, "backend 'anneal'", "reads", tour_moves=False)
        if moves == "permutation" and energy.permutation is None:
            raise ParameterError("backend 'anneal': moves=permutation needs an energy with a permutation view")
        if moves == "onehot" and energy.groups is None and energy.slacks is None:
            raise ParameterError("backend 'anneal': moves=onehot needs an energy with one-hot groups or slack blocks")
        with _Threads(params.threads):
            if moves == "permutation":
                return _holding_penalties(self._solve_permutation(energy, params, seed, reads, initial_states,
                                                                  callback), energy)
            if moves == "onehot":
                return self._solve_groups(energy, params, seed, reads, initial_states, callback)
            return self._solve_flips(energy, params, seed, reads, initial_states, callback)

    @staticmethod
    def _betas(params: AnnealParams, derived: tuple[float, float]) -> tuple[np.ndarray, float, float]:
        beta_min = params.beta_min if params.beta_min is not None else derived[0]
        beta_max = params.beta_max if params.beta_max is not None else max(derived[1], beta_min)
        if params.schedule == "constant":
            beta_max = beta_min = params.beta if params.beta is not None else beta_max
        if beta_min > beta_max:
            raise ParameterError(f"backend 'anneal': beta_min ({beta_min:g}) exceeds beta_max ({beta_max:g})")
        betas = beta_schedule(params.schedule, beta_min, beta_max, params.sweeps)
        betas = apply_replan(betas, parse_replan(params.replan, "backend 'anneal'"), "backend 'anneal'")
        return betas, beta_min, beta_max

    def _solve_flips(self, energy: Energy, params: AnnealParams, seed: int, reads: int,
                     initial_states: np.ndarray | None, callback: Callback | None) -> SampleSet:
        started = time.perf_counter()
        model: SpinModel = compile_spin_model(energy, build_deadline(started, params.time_limit))
        n = model.n
        largest, smallest = model.coefficient_scales()
        if any(isinstance(t, PatternTerm) for t in energy.terms):
            largest = max(largest, 2.0 * float(energy.field_bounds().max(initial=0.0)))
        derived = default_beta_range(largest, smallest)
        if params.hot_end == "typical":
            typical = typical_beta_min(model.typical_field(), derived[1])
            derived = (typical, derived[1]) if typical is not None else derived
        betas, beta_min, beta_max = self._betas(params, derived)
        if (params.time_limit is not None and initial_states is None and reads > PROBE_READS and n and len(betas)
                and not any(isinstance(t, PatternTerm) for t in energy.terms)):
            self._refuse_reads_that_cannot_start(model, energy, params, betas[0], seed, reads, started)
        rng = make_rng(seed)
        if initial_states is None:
            states = rng.choice(np.array([-1, 1], dtype=np.int8), size=(reads, n))
        else:
            states = to_spins(np.atleast_2d(initial_states), energy.vartype).copy()
            if states.shape != (reads, n):
                raise ParameterError(f"initial states must be (reads, {n}), got {states.shape}")
        spin_energy = energy.to_spin()
        current = spin_energy.energies(states) if n else np.zeros(reads)
        states = states.astype(np.float64)  # the kernel's spins: no int8 conversions in the inner loop
        hq = model.initial_fields(states)
        gsum = np.zeros((reads, model.group_of.shape[0], model.group_target.shape[1]))
        K.init_group_sums(model.group_of, states, gsum)
        best = current.copy()
        best_states = states.copy()
        generators = kernel_states(seed, reads)
        trace = np.zeros((reads, params.sweeps if params.trace else 0))
        rule = K.METROPOLIS if params.rule == "metropolis" else K.GLAUBER
        dense = model.dense_coupling if model.is_dense else np.zeros((0, 0))
        table_size = model.integer_delta_bound()
        patterns = pattern_part(energy, model)
        overlaps = patterns.overlaps(states) if patterns is not None else None

        sweep_s = 0.0
        if params.time_limit is not None and patterns is None and n and len(betas):
            sweep_s = self._probe_sweep(model, dense, betas[0], rule, table_size, states, hq, gsum, current,
                                        generators)
            left = params.time_limit - (time.perf_counter() - started)
            if sweep_s > left and sweep_s >= 0.5 * params.time_limit:  # a refusal rests on two timings, the
                sweep_s = min(sweep_s, self._probe_sweep(model, dense, betas[0], rule, table_size, states, hq,  # least:
                                                         gsum, current, generators))  # one preempted sweep of 2 units
                left = params.time_limit - (time.perf_counter() - started)  # (0.031 s, a loaded machine) refused
            if sweep_s > left and sweep_s >= 0.5 * params.time_limit:  # not a run that could do anything useful
                room = time_left_phrase(left, params.time_limit, "setting the reads up")
                raise TooLargeError(f"backend 'anneal': one sweep of {reads:,} reads of {n:,} units takes about "
                                    f"{sweep_s:.2g} s, {room}; give fewer reads or a longer limit")

        def step(start: int, stop: int, chunk: np.ndarray) -> None:
            if patterns is not None:
                PAT.pattern_anneal(model.indptr, model.indices, model.data, patterns.patterns, patterns.kind,
                                   patterns.degree, patterns.beta, patterns.scale, chunk, rule, states, hq,
                                   overlaps, current, best_states, best, generators, trace, start)
                return
            K.anneal_sweeps(model.indptr, model.indices, model.data, dense, model.group_of, model.group_target,
                            model.group_scale, chunk, rule, table_size, states, hq, gsum, current, best_states,
                            best, generators, trace, start)

        progress = _run_chunked(betas, step, params, callback, _state_report(best, best_states, energy.vartype),
                                started, first_sweep=sweep_s)  # no first sweep that would end past the limit
        final = (best_states if params.keep_best else states).astype(np.int8)
        info = self._info(params, seed, beta_min, beta_max, "flip", progress, started, n * progress.done * reads,
                          trace[:, : progress.done] if params.trace else None)
        return SampleSet.from_states(energy, from_spins(final, energy.vartype), **info)

    def _refuse_reads_that_cannot_start(self, model: SpinModel, energy: Energy, params: AnnealParams, beta: float,
                                        seed: int, reads: int, started: float) -> None:
        """Before the reads are set up: set up the first :data:`PROBE_READS` (the same starts and streams) and
        sweep them once, and refuse the run where the projected set-up and first sweep of all ``reads`` take twice
        what the limit leaves and the sweep alone half of it (20,000 reads of 800 units under a 0.2 s limit were
        refused after 1.2 s of setting them up); closer calls are the later check's."""
        k = PROBE_READS
        spin_energy = energy.to_spin()
        probe = make_rng(seed).choice(np.array([-1, 1], dtype=np.int8), size=(k, model.n))
        floats = probe.astype(np.float64)
        # once untimed: a fresh energy's first evaluation builds what later ones reuse (12 ms for the energies and
        # 21 ms for the fields of a 2,000-unit dense QUBO), which projected to every read refused runs that fit
        spin_energy.energies(probe[:1])
        model.initial_fields(floats[:1])
        began = time.perf_counter()
        current = spin_energy.energies(probe)
        hq = model.initial_fields(floats)
        gsum = np.zeros((k, model.group_of.shape[0], model.group_target.shape[1]))
        K.init_group_sums(model.group_of, floats, gsum)
        setup_s = (time.perf_counter() - began) * reads / k
        # and every read's random stream, derived in Python (200,000 reads: 2 s, unprojected, of a 0.5 s limit);
        # timed on STREAM_PROBE_READS, where the seed's own derivation weighs little
        began = time.perf_counter()
        kernel_states(seed, STREAM_PROBE_READS)
        streams_s = (time.perf_counter() - began) * reads / STREAM_PROBE_READS
        setup_s += streams_s
        dense = model.dense_coupling if model.is_dense else np.zeros((0, 0))
        rule = K.METROPOLIS if params.rule == "metropolis" else K.GLAUBER
        sweep_s = self._probe_sweep(model, dense, beta, rule, model.integer_delta_bound(), floats, hq, gsum, current,
                                    kernel_states(seed, k)) * reads / k
        left = params.time_limit - (time.perf_counter() - started)
        # only where it is clear: 8 reads projected to hundreds overstate a batched set-up (one BLAS product for
        # all of them), so a close call is left to the check after the set-up, which times the reads themselves
        # or where the streams alone (a loop a read: no batching to overstate) would take all the limit leaves
        if (setup_s + sweep_s > 2 * left and sweep_s >= 0.5 * params.time_limit) or streams_s > left:
            raise TooLargeError(f"backend 'anneal': setting up {reads:,} reads of {model.n:,} units and sweeping them "
                                f"once would take about {setup_s + sweep_s:.2g} s, "
                                f"{time_left_phrase(left, params.time_limit, 'timing them')}; give fewer reads or a "
                                "longer limit")

    @staticmethod
    def _probe_sweep(model: SpinModel, dense: np.ndarray, beta: float, rule: int, table_size: int,
                     states: np.ndarray, hq: np.ndarray, gsum: np.ndarray, current: np.ndarray,
                     generators: np.ndarray) -> float:
        """Seconds one sweep of every read should take, timed on copies of the first :data:`PROBE_READS` reads at
        the hot end (most moves accepted: the dearest sweep), scaled by the reads and shared among the run's
        threads; the reads themselves are left as they were. 3,000 reads of G81 had spent 7.5 s on their first
        sweep under a 2 s limit. Timed on one thread, the least of :data:`PROBE_REPEATS`: waking numba's threads
        for a call this small cost about 20 ms on a busy machine, which 20,000 reads of a 20-unit QUBO projected
        to a 16 s sweep (the run takes 0.85 s) and refused about every other time."""
        k = min(len(states), PROBE_READS)
        threads = max(1, min(numba.get_num_threads(), len(states)))
        least = math.inf
        with _Threads(1):
            for _ in range(PROBE_REPEATS):
                copies = [np.ascontiguousarray(a[:k]).copy() for a in (states, hq, gsum, current)]
                began = time.perf_counter()
                K.anneal_sweeps(model.indptr, model.indices, model.data, dense, model.group_of, model.group_target,
                                model.group_scale, np.array([beta]), rule, table_size, copies[0], copies[1],
                                copies[2], copies[3], copies[0].copy(), copies[3].copy(), generators[:k].copy(),
                                np.zeros((k, 0)), 0)
                least = min(least, time.perf_counter() - began)
        return least * len(states) / k / threads

    def _solve_groups(self, energy: Energy, params: AnnealParams, seed: int, reads: int,
                      initial_states: np.ndarray | None, callback: Callback | None) -> SampleSet:
        """Anneal with moves inside the one-hot groups (and single flips of the free units): every read stays in
        the set where each group has exactly one unit on. The β range comes from the energy changes of random
        such moves (see :func:`_group_move_scales`)."""
        started = time.perf_counter()
        if any(isinstance(t, PatternTerm) for t in energy.terms):
            raise ParameterError("backend 'anneal': moves=onehot needs a quadratic energy (no pattern terms)")
        groups = energy.groups if energy.groups is not None else OneHotGroups(np.zeros(0), np.zeros(1))
        model: SpinModel = compile_spin_model(energy, build_deadline(started, params.time_limit))
        n = model.n
        rng = make_rng(seed)
        if initial_states is None:
            bits = groups.random_states(rng, reads, Vartype.BINARY, n)
        else:
            given = np.atleast_2d(initial_states)
            if given.shape != (reads, n) or not all(groups.satisfied(row) for row in given):
                raise ParameterError("backend 'anneal': moves=onehot needs initial states of width "
                                     f"{n} with exactly one unit on in every group")
            bits = (given + 1) // 2 if energy.vartype is Vartype.SPIN else given.copy()
        slack = _slack_arrays(energy.slacks, n)
        if energy.slacks is not None:  # every slack at its best value (given states included)
            bits = energy.slacks.slack_bits(bits)
        states = (2 * bits.astype(np.int8) - 1).astype(np.int8)
        free = np.setdiff1d(groups.free_units(n), slack[4])
        current = energy.to_spin().energies(states) if n else np.zeros(reads)
        states = states.astype(np.float64)
        hq = model.initial_fields(states)
        gsum = np.zeros((reads, model.group_of.shape[0], model.group_target.shape[1]))
        K.init_group_sums(model.group_of, states, gsum)
        residuals = (energy.slacks.residuals(bits) if energy.slacks is not None else np.zeros((reads, 0)))
        residuals = np.ascontiguousarray(residuals)
        arrays = (model.indptr, model.indices, model.data, model.group_of, model.group_target, model.group_scale,
                  groups.members, groups.offsets, free, *slack)
        hot, cold = _group_move_scales(energy, groups, free, slack, bits[0] if reads else None, seed)
        betas, beta_min, beta_max = self._betas(params, default_beta_range(hot, cold))
        best = current.copy()
        best_states = states.copy()
        generators = kernel_states(seed, reads)
        trace = np.zeros((reads, params.sweeps if params.trace else 0))
        rule = K.METROPOLIS if params.rule == "metropolis" else K.GLAUBER

        def step(start: int, stop: int, chunk: np.ndarray) -> None:
            GK.group_anneal_sweeps(*arrays, np.ascontiguousarray(chunk), rule, states, hq, gsum, residuals, current,
                                   best_states, best, generators, trace, start)

        progress = _run_chunked(betas, step, params, callback, _state_report(best, best_states, energy.vartype))
        final = (best_states if params.keep_best else states).astype(np.int8)
        moves_per_sweep = groups.count + len(free)
        info = self._info(params, seed, beta_min, beta_max, "onehot", progress, started,
                          moves_per_sweep * progress.done * reads, trace[:, : progress.done] if params.trace else None)
        info["derived"]["group_rule"] = "metropolis" if params.rule == "metropolis" else "heat-bath"
        info["derived"]["slack"] = "set after every move" if energy.slacks is not None else "none"
        return SampleSet.from_states(energy, from_spins(final, energy.vartype), **info)

    def _solve_permutation(self, energy: Energy, params: AnnealParams, seed: int, reads: int,
                           initial_states: np.ndarray | None, callback: Callback | None) -> SampleSet:
        started = time.perf_counter()
        view: PermutationView = energy.permutation
        n = view.size
        params = _no_time_to_fill(params, n)
        rng = make_rng(seed)
        arrays = _permutation_arrays(view)
        scale = energy.weights[view.term]
        if initial_states is None:
            item_at = np.array([rng.permutation(n) for _ in range(reads)], dtype=np.int64).reshape(reads, n)
        else:
            item_at = initial_permutations(view, initial_states, "backend 'anneal'")
        betas, beta_min, beta_max = self._betas(params, permutation_move_range(arrays, item_at[0], scale,
                                                                               params.swap_probability, seed))
        positions_of = inverse_permutations(item_at)
        current = np.array([view.energy(p, scale) for p in positions_of])
        best = current.copy()
        best_item_at = item_at.copy()
        generators = kernel_states(seed, reads)
        trace = np.zeros((reads, params.sweeps if params.trace else 0))
        rule = K.METROPOLIS if params.rule == "metropolis" else K.GLAUBER
        attempts = max(1, energy.num_variables)

        def step(start: int, stop: int, chunk: np.ndarray) -> None:
            if n >= 2:
                run = PK.PermutationRun(scale, np.ascontiguousarray(chunk), attempts, params.swap_probability,
                                        params.chain_probability, params.chain_length, rule)
                PK.permutation_anneal(arrays, run, PK.PermutationReads(item_at, current, best_item_at, best,
                                                                       generators, trace, start))

        def report() -> dict[str, Any]:
            row = int(np.argmin(best))
            return {"best_energy": float(best[row]),
                    "best_positions": inverse_permutations(best_item_at[row:row + 1])[0]}

        progress = _run_chunked(betas, step, params, callback, report)
        final = best_item_at if params.keep_best else item_at
        states = np.stack([view.layout.state(row, energy.vartype, energy.num_variables)
                           for row in inverse_permutations(final)])
        info = self._info(params, seed, beta_min, beta_max, "permutation", progress, started,
                          attempts * progress.done * reads, trace[:, : progress.done] if params.trace else None)
        return _proven_by_enumeration(SampleSet.from_states(energy, states, **info), energy, progress)

    def _solve_tour(self, energy: Energy, params: AnnealParams, seed: int, initial_states: np.ndarray | None,
                    callback: Callback | None) -> SampleSet:
        """Anneal a tour energy with the tour move table: O(1) deltas from the metric, O(n·k) memory."""
        started = time.perf_counter()
        view: PermutationView = energy.permutation
        n = view.metric.size  # the cities of a tour (a pinned tour's first one too)
        params = _no_time_to_fill(params, n)
        mix = tour_mix(DEFAULT_TOUR_MIX if params.moves in ("auto", "permutation") else params.moves)
        longest = params.max_reversal if params.max_reversal is not None else max(1000, n // 10)
        if params.time_limit is not None and min(params.neighbours, n - 1) > DEFAULT_NEIGHBOURS:
            left = params.time_limit - (time.perf_counter() - started)
            _check_neighbours_in_time(view.metric, params.neighbours, left)
        if (params.time_limit is not None and initial_states is None and params.start == "greedy"
                and projected_setup_seconds(view.metric, params.neighbours)
                > SETUP_SHARE * (params.time_limit - (time.perf_counter() - started))):
            return self._space_filling_only(energy, params, seed, started)
        generators = kernel_states(seed, params.reads if initial_states is None else len(initial_states))
        begun = tour_start(energy, initial_states, reads=params.reads, start=params.start,
                           neighbours=params.neighbours, max_reversal=int(longest), mix=mix, rng=make_rng(seed),
                           first_stream=generators[0], owner="backend 'anneal'")
        problem, unit, constant, tours, start_length = (begun.problem, begun.unit, begun.constant, begun.tours,
                                                        begun.start_length)
        reads, positions, lengths = len(tours), begun.positions, begun.lengths
        # the first sweep's cost before any pace is known, from the sample's pace (a move is about a delta): 1,000
        # reads of rl5915 swept once past a 1 s limit
        threads = min(params.threads or numba.get_num_threads(), max(reads, 1))
        first_sweep = begun.move_seconds * n * reads / threads
        betas, beta_min, beta_max = self._betas(params, begun.beta_range(params.hot_quantile))
        trace = np.zeros((reads, params.sweeps if params.trace else 0))
        state = TK.TourReads(tours, positions, lengths, tours.copy(), lengths.copy(), generators, trace, 0)
        rule = K.METROPOLIS if params.rule == "metropolis" else K.GLAUBER

        def step(start: int, stop: int, chunk: np.ndarray) -> None:
            run = TK.TourRun(np.ascontiguousarray(chunk), n, mix, rule, unit)
            TK.tour_anneal(problem, run, state._replace(trace_offset=start))

        def report() -> dict[str, Any]:
            row = int(np.argmin(state.best))
            return {"best_energy": float(unit * state.best[row] + constant), "best_length": float(state.best[row]),
                    "best_positions": view.positions_of_tours(state.best_tours[row:row + 1])[0]}

        progress = _run_chunked(betas, step, params, callback, report, started, first_sweep=first_sweep)
        final = state.best_tours if params.keep_best else state.tours
        # the mix is what ``moves`` records: a value that gives the same run back (it recorded "tour", refused)
        move_mix = ",".join(f"{name}:{p:g}" for name, p in zip(TK.MOVE_NAMES, mix) if p > 0)
        info = self._info(params, seed, beta_min, beta_max, move_mix, progress, started, n * progress.done * reads,
                          unit * trace[:, : progress.done] + constant if params.trace else None)
        info["derived"]["move_mix"] = move_mix
        info["derived"]["neighbours"] = int(problem.neighbours.shape[1])
        info["start"] = "given" if initial_states is not None else params.start
        if start_length is not None:
            info["start_length"] = start_length
        samples = SampleSet.from_tours(energy, final, **info)
        return _proven_by_enumeration(samples, energy, progress)

    def _space_filling_only(self, energy: Energy, params: AnnealParams, seed: int, started: float) -> SampleSet:
        """The space-filling-curve tour as every read, no sweep: what a time limit too short for the candidate lists
        and the greedy start leaves (``info['start'] = 'space-filling'``; ``timed_out``)."""
        view: PermutationView = energy.permutation
        tour = _space_filling(view)
        progress = _Progress(0, timed_out=True)
        progress.replan.stop(np.zeros(params.sweeps), 0)
        info = self._info(params, seed, 0.0, 0.0, "permutation", progress, started, 0, None)
        info.update(start="space-filling", start_length=view.metric.tour_length(tour))
        info["replay"]["start"] = "space-filling"
        return SampleSet.from_tours(energy, np.tile(tour, (params.reads, 1)), **info)

    @staticmethod
    def _info(params: AnnealParams, seed: int, beta_min: float, beta_max: float, moves: str, progress: _Progress,
              started: float, updates: int, trace: np.ndarray | None) -> dict[str, Any]:
        elapsed = time.perf_counter() - started
        info: dict[str, Any] = {
            # sweeps: the plan the run started from (a timed run's default cut to what builds in its limit)
            "derived": {"beta_min": beta_min, "beta_max": beta_max, "moves": moves, "seed": seed,
                        "sweeps": params.sweeps},
            "sweeps_done": progress.done, "timed_out": progress.timed_out,
            "schedule_compressed": progress.compressed, "schedule_stretched": progress.stretched,
            "interrupted": progress.interrupted, "work": progress.done, "work_unit": "sweeps",
            "replay": {"sweeps": params.sweeps, "replan": progress.replan.text(parse_replan(params.replan, ""))},
            "wall_time_s": elapsed, "updates": updates,
            "updates_per_second": updates / elapsed if elapsed > 0 else None,
        }
        if trace is not None:
            info["trace"] = trace
        return info


@dataclass(frozen=True)
class TourStart:
    """Where a run over tours starts (``anneal``'s tour moves and ``replica``'s tour ladders): the kernels' problem,
    the energy of a unit of length (``unit``) and of a tour of length 0 (``constant``), the start tours (the city at
    each position), their positions and lengths, the greedy or space-filling start's length (None for random or
    given starts), ``deltas``, the |Δ length| of :data:`TOUR_DELTA_SAMPLE` moves of the mix from the first tour
    (what the temperatures are derived from), and the seconds that sample took a move (a first sweep's pace)."""

    problem: TK.TourProblem
    unit: float
    constant: float
    tours: np.ndarray
    positions: np.ndarray
    lengths: np.ndarray
    start_length: float | None
    deltas: np.ndarray
    move_seconds: float

    def beta_range(self, hot_quantile: float) -> tuple[float, float]:
        """``(β_min, β_max)`` of a run from this start (:func:`~hopsolve.backends.schedules.default_beta_range`):
        the hot end takes the ``hot_quantile`` quantile of the sample's uphill energy changes with probability 1/2,
        the cold end their 1st percentile with probability 1%."""
        positive = self.unit * self.deltas[self.deltas > 1e-12]
        hot = float(np.quantile(positive, hot_quantile)) if len(positive) else 0.0
        cold = float(np.percentile(positive, 1)) if len(positive) else 0.0
        return default_beta_range(hot, cold)


def tour_start(energy: Energy, initial_states: np.ndarray | None, *, reads: int, start: str, neighbours: int,
               max_reversal: int, mix: np.ndarray, rng: np.random.Generator, first_stream: np.uint64,
               owner: str) -> TourStart:
    """The candidate lists, the start tours (one per initial state, else ``reads`` copies of the greedy or
    space-filling tour, or random ones) and the move sample of a tour energy (see :class:`TourStart`); the sample
    draws from its own stream, derived from ``first_stream`` (the first read's), which it leaves as it was."""
    view: PermutationView = energy.permutation
    n = view.metric.size  # the cities of a tour (a pinned tour's first one too)
    problem = TK.TourProblem(view.metric.arrays, view.metric.neighbours(neighbours), int(max_reversal))
    unit = energy.weights[view.term] * 2.0 * view.tour_weight / view.metric_scale  # energy per unit length
    constant = energy.weights[view.term] * view.offset
    start_length = None
    if initial_states is not None:
        tours = view.tours_of_items(initial_permutations(view, initial_states, owner))
    elif start in ("greedy", "space-filling"):
        first = (greedy_tour(problem.metric, problem.neighbours) if start == "greedy"
                 else _space_filling(view, owner))
        start_length = view.metric.tour_length(first)
        tours = np.tile(first, (reads, 1))
    else:
        tours = np.array([rng.permutation(n) for _ in range(reads)], dtype=np.int64).reshape(reads, n)
    positions = inverse_permutations(tours)
    # one start shared by every read is measured once (1,000 reads of rl5915 spent 0.35 s on 1,000 equal sums)
    lengths = (np.full(len(tours), float(start_length)) if start_length is not None
               else np.array([float(view.metric.tour_length(t)) for t in tours]))
    sample_stream = np.uint64(first_stream ^ np.uint64(0x9E3779B97F4A7C15) | np.uint64(1))
    # one move first, untimed, so that the timing below is the kernel's pace and not its compilation (a solve
    # called without prepare, in a fresh process, compiles or loads the kernel here: seconds, which would
    # project a first sweep too long for any limit); it draws from its own copy of the stream, so the sample
    # is the same either way
    TK.sample_deltas(problem, tours[0].copy(), positions[0].copy(), mix, 1, sample_stream)
    sampled_at = time.perf_counter()
    deltas = TK.sample_deltas(problem, tours[0].copy(), positions[0].copy(), mix, TOUR_DELTA_SAMPLE, sample_stream)
    return TourStart(problem, float(unit), float(constant), tours, positions, lengths, start_length, deltas,
                     (time.perf_counter() - sampled_at) / TOUR_DELTA_SAMPLE)


def _space_filling(view: PermutationView, owner: str = "backend 'anneal'") -> np.ndarray:
    """:func:`space_filling_tour` of the view's cities; an explicit matrix has no coordinates to order."""
    if view.metric.kind == "EXPLICIT":
        raise ParameterError(f"{owner}: start=space-filling needs city coordinates; this instance is an "
                             "explicit matrix (use start=greedy)")
    return space_filling_tour(view.metric.points)


def permutation_move_range(arrays: PK.PermutationArrays, start: np.ndarray, scale: float, swap_probability: float,
                           seed: int) -> tuple[float, float]:
    """``(β_min, β_max)`` of permutation moves (:func:`~hopsolve.backends.schedules.default_beta_range`): from the
    mean and the 1st percentile of the positive energy changes of 2,000 random moves from ``start`` (left as it
    is), drawn from the seed's auxiliary stream. Shared by ``anneal``'s and ``replica``'s permutation runs."""
    n = len(start)
    deltas = scale * PK.sample_move_deltas(arrays, np.asarray(start, dtype=np.int64).copy(), 2000, swap_probability,
                                           np.array([auxiliary_state(seed)], dtype=np.uint64)) if n >= 2 \
        else np.zeros(0)
    positive = deltas[deltas > 1e-12]
    hot = float(positive.mean()) if len(positive) else 0.0
    cold = float(np.percentile(positive, 1)) if len(positive) else 0.0
    return default_beta_range(hot, cold)


def _permutation_arrays(view: PermutationView) -> PK.PermutationArrays:
    """The view's matrices in kernel form: A, B and Bᵀ as CSR triples, C, and the 2-opt cycle weight."""
    b = sp.csr_matrix(view.adjacency, dtype=np.float64)
    b.sort_indices()
    bt = sp.csr_matrix(b.T)
    bt.sort_indices()
    given = view.linear_matrix()
    has_linear = given is not None and bool(np.any(given))
    linear = np.ascontiguousarray(given, dtype=np.float64) if has_linear else np.zeros((1, 1))
    flow = np.ascontiguousarray(view.flow_matrix(), dtype=np.float64)
    return PK.PermutationArrays(flow, b.indptr.astype(np.int64), b.indices.astype(np.int64), b.data,
                                bt.indptr.astype(np.int64), bt.indices.astype(np.int64), bt.data, linear, has_linear,
                                float(view.cyclic_weight or 0.0))
