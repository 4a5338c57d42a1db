"""Replica exchange over tours (a TSP energy: a permutation view over a metric): ``replica``'s moves there.

Each read is a ladder of replicas, each a tour, at inverse temperatures ``β_k = β_cold · ratios[k]``. A round:
every replica makes ``min(n, ROUND_MOVES)`` moves (a sweep, n moves, for tours of up to :data:`ROUND_MOVES` cities;
a larger tour's sweep is several rounds) of ``anneal``'s tour move table (:data:`~hopsolve.backends.anneal.
DEFAULT_TOUR_MIX`: 2-opt and Or-opt between a city and its 10 nearest, a few exchanges; O(1) deltas from the
metric, :mod:`hopsolve.backends._tour_kernels`) at its own β, then neighbours on the ladder exchange temperatures
by the spin ladders' Metropolis rule, alternating between even and odd pairs of rungs. Every replica stays a tour,
so the penalties are zero throughout and every returned state is feasible; memory is O(replicas · n), no n × n
matrix (the other permutation energies' path, :mod:`hopsolve.backends._replica_permutation`, builds one: it refused
TSPs past about 20,000 cities and annealed a280 3.8% above its optimum at 10 s, its moves at random positions).

**Starts.** Every replica of a ladder starts from the ladder's tour: the greedy-edge tour (``start``, as
``anneal``'s: or a random or the space-filling-curve tour), or a given initial state (one ladder each). Under a time
limit too short to build the candidate lists and the greedy tour (``anneal``'s
:data:`~hopsolve.backends.anneal.SETUP_SHARE` rule), every ladder returns the space-filling-curve tour and no round
runs (``info['start'] = 'space-filling'``); too short for one round after them (projected from the move sample's
pace, :data:`SAMPLE_PACE_FACTOR`), every ladder returns its start tour. Either is ``timed_out``, and its replay
gives the same tours back.

**The ladder.** ``β_min`` and ``β_max`` are ``anneal``'s tour temperatures, from 4,000 moves of the mix at the
start tour: the hot end takes the 10% quantile of their uphill changes with probability 1/2, the cold end the 1st
percentile with probability 1% (``schedules.default_beta_range``); ``R = clip(round(√n · ln(β_max/β_min) / 4), 4,
32)`` temperatures spaced geometrically for a fixed ladder, 1 for ``schedule="anneal"`` (its cold end cools
geometrically from ``β_min`` to ``β_max`` over the rounds).

**Budget.** ``sweeps`` sweeps of rounds (the result's ``work`` counts rounds); with a time limit the run is
chunked as ``anneal``'s (it stops at the limit, or with ``fill_time`` stretches its schedule to spend it);
``info['replay']`` gives the reads, sweeps and replan that replay it (the replan's positions count rounds;
``info['rounds_done']`` those run). Each ladder returns its best tour seen at the end of a round (``keep_best``),
else its coldest replica's; with ``final_descent`` the best ones are quenched first (:data:`QUENCH_SWEEPS` sweeps
that take no uphill move; a timed run keeps their time out of its rounds). The options of the other permutation
moves (``swap_probability``, ``chain_probability``, ``chain_length``) and the spin-flip options
(:func:`~hopsolve.backends._replica_permutation.refuse_spin_options`) are refused where asked for: they do not act
on tours; a tabu phase is skipped with a note.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hopsolve.backend import Callback, check_run_size
from hopsolve.backends import _kernels as K
from hopsolve.backends import _tour_kernels as TK
from hopsolve.backends._replica_permutation import (
    LadderBooks,
    _batches,
    _Chunking,
    cold_end_schedule,
    refuse_spin_options,
)
from hopsolve.backends._tour_start import projected_setup_seconds
from hopsolve.backends.anneal import (
    DEFAULT_NEIGHBOURS,
    DEFAULT_TOUR_MIX,
    SETUP_SHARE,
    _no_time_to_fill,
    _Progress,
    _proven_by_enumeration,
    _run_chunked,
    _space_filling,
    tour_mix,
    tour_start,
)
from hopsolve.backends.replan import parse_replan
from hopsolve.backends.schedules import ladder_span
from hopsolve.energy import Energy, PermutationView
from hopsolve.errors import ParameterError
from hopsolve.permutation_rows import inverse_permutations
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import auxiliary_state, make_rng

OWNER = "backend 'replica'"
HOT_QUANTILE = 0.1
"""The hot end's quantile of the sampled uphill moves (``anneal``'s ``hot_quantile`` default)."""
ROUND_MOVES = 10_000
"""The most moves a replica makes in a round (n where n is smaller): a sweep of a larger tour is several rounds,
exchanges after each. A round of pla85900's 128 replicas was a whole sweep, 1.5–3.8 s on two cores: a 10 s limit
ended at 10.55 s (rounds slow down as the hot replicas' tours lose their locality), and Ctrl-C waited as long."""
QUENCH_SWEEPS = 20
"""Sweeps (n moves) of the final quench of each ladder's best tour, at zero temperature."""
SAMPLE_PACE_FACTOR = 3.0
"""A timed run projects its first round and reserves the quench's time from the move sample's pace times this:
the sample times proposals on one tour, not moves applied to many (pla85900's quench took 2.5 times and a round
3.2 times what the sample projected; its 3 s runs ended at 4.9–5.4 s). After the rounds their own pace decides,
and a quench that would end past the limit is skipped (the replay says so)."""
QUENCH_CALL_SECONDS = 0.01
"""What the quench's one parallel kernel call costs beside its moves (8 ms seen on a loaded machine)."""
PERMUTATION_OPTIONS = ("swap_probability", "chain_probability", "chain_length")


def refuse_permutation_options(params: Any) -> None:
    """Refuse the other permutation moves' options, set on a tour energy (its moves are the tour move table)."""
    defaults = {f.name: f.default for f in dataclasses.fields(params)}
    asked = [f"{name}={getattr(params, name)}" for name in PERMUTATION_OPTIONS
             if getattr(params, name) != defaults[name]]
    if asked:
        raise ParameterError(f"{OWNER}: {', '.join(asked)} set{'s' if len(asked) == 1 else ''} the moves of QAP "
                             "and assignment energies; a tour's replicas move by anneal's tour moves (2-opt and "
                             "Or-opt from the nearest cities; see hopsolve.backends._replica_tour)")


def _unannealed(energy: Energy, params: Any, seed: int, started: float, tours: np.ndarray, start: str,
                start_length: float | None, why: str | None = None) -> SampleSet:
    """``tours`` (one a ladder) returned as they are, no round run (``timed_out``): a time limit too short for the
    candidate lists and the greedy start (every ladder the space-filling-curve tour, as ``anneal``'s), or for one
    round after them (the start tours). The replay gives back the same tours: no round, no quench."""
    view: PermutationView = energy.permutation
    progress = _Progress(0, timed_out=True)
    progress.replan.stop(np.zeros(params.sweeps), 0)
    ladders = len(tours)
    info = {"derived": {"reads": ladders, "sweeps": params.sweeps, "moves": "tour", "seed": seed},
            "sweeps_done": 0, "rounds_done": 0, "timed_out": True, "interrupted": False, "work": 0,
            "work_unit": "rounds", "work_planned": params.sweeps * _rounds_a_sweep(view.metric.size),
            "wall_time_s": time.perf_counter() - started, "updates": 0, "final_descent": False,
            "replay": {"reads": ladders, "sweeps": params.sweeps,
                       "replan": progress.replan.text(parse_replan(params.replan, OWNER)),
                       **({"start": start} if start != "given" else {}), "final_descent": False},
            "start": start}
    if start_length is not None:
        info["start_length"] = start_length
    if why is not None:  # (the CLI's note said the limit stopped it "after 0 of its rounds: fewer reads")
        info["no_round_note"] = why
    return SampleSet.from_tours(energy, tours, **info)


def _rounds_a_sweep(n: int) -> int:
    """Rounds of ``min(n, ROUND_MOVES)`` moves that make a sweep of n."""
    return -(-n // max(1, min(n, ROUND_MOVES)))


def _quench(problem: TK.TourProblem, unit: float, beta: float, tours: np.ndarray, lengths: np.ndarray,
            generators: np.ndarray) -> tuple[np.ndarray, bool]:
    """``tours`` after :data:`QUENCH_SWEEPS` sweeps that take no uphill move (and whether a Ctrl-C cut it short):
    a tour seen at the cold end of a ladder still carries that temperature's excitations; a descent never
    lengthens it. One kernel call (a call a sweep cost 8 ms each on a loaded machine: 0.16 s of a 0.5 s limit);
    a Ctrl-C during it keeps the tours it started from."""
    reads = TK.TourReads(tours.copy(), inverse_permutations(tours), lengths.copy(), tours.copy(), lengths.copy(),
                         generators.copy(), np.zeros((len(tours), 0)), 0)
    run = TK.TourRun(np.full(QUENCH_SWEEPS, beta * 1e9), tours.shape[1], tour_mix(DEFAULT_TOUR_MIX), K.METROPOLIS,
                     unit)
    try:
        TK.tour_anneal(problem, run, reads)
    except KeyboardInterrupt:
        return tours, True
    return reads.best_tours, False


def solve_tour(energy: Energy, params: Any, seed: int, initial_states: np.ndarray | None,
               callback: Callback | None, streams: Callable[[int, int, int], np.ndarray],
               started: float) -> SampleSet:
    """Replica exchange over ``energy``'s tours (see the module docstring). ``streams(seed, replicas, ladders)``
    gives the kernel streams: the replicas' first, then one exchange stream a ladder."""
    refuse_spin_options(params, "hopsolve.backends._replica_tour")
    refuse_permutation_options(params)
    view: PermutationView = energy.permutation
    n = view.metric.size  # the cities of a tour (a pinned tour's first one too)
    params = _no_time_to_fill(params, n)
    ladders = params.reads if initial_states is None else len(initial_states)
    check_run_size(reads=ladders, units=n, arrays=3)  # the ladders' start tours, before the ladder is known
    begins = "given" if initial_states is not None else params.start
    if (params.time_limit is not None and begins == "greedy"
            and projected_setup_seconds(view.metric, DEFAULT_NEIGHBOURS)
            > SETUP_SHARE * (params.time_limit - (time.perf_counter() - started))):
        tour = _space_filling(view, OWNER)
        return _unannealed(energy, params, seed, started, np.tile(tour, (ladders, 1)), "space-filling",
                           view.metric.tour_length(tour))
    mix = tour_mix(DEFAULT_TOUR_MIX)
    begun = tour_start(energy, initial_states, reads=ladders, start=params.start, neighbours=DEFAULT_NEIGHBOURS,
                       max_reversal=max(1000, n // 10), mix=mix, rng=make_rng(seed),
                       first_stream=np.uint64(auxiliary_state(seed)), owner=OWNER)
    problem, unit = begun.problem, begun.unit
    derived = begun.beta_range(HOT_QUANTILE)
    beta_min, beta_max, temps = ladder_span(derived[0], derived[1], n, params.beta_min, params.beta_max,
                                            params.replicas, params.schedule, OWNER)
    ratios = np.ones(1) if temps == 1 else np.geomspace(beta_min / beta_max, 1.0, temps)
    total = ladders * temps
    attempts = min(n, ROUND_MOVES)
    per_sweep = _rounds_a_sweep(n)
    rounds = params.sweeps * per_sweep
    check_run_size(reads=ladders, replicas=temps, units=n, arrays=3, steps=params.sweeps, entries_per_step=per_sweep,
                   time_limit=params.time_limit)  # (the schedule holds a β a round: advised in sweeps)
    # a round's cost before any pace is known: the move sample's pace, times SAMPLE_PACE_FACTOR
    round_s = SAMPLE_PACE_FACTOR * begun.move_seconds * attempts * temps * _batches(ladders)

    def quench_seconds(move_seconds: float) -> float:
        return move_seconds * n * QUENCH_SWEEPS * _batches(ladders) + QUENCH_CALL_SECONDS

    quench_s = quench_seconds(SAMPLE_PACE_FACTOR * begun.move_seconds)
    quenching = params.keep_best and params.final_descent and n >= 4
    chunking = _Chunking(params.time_limit, params.fill_time)
    if params.time_limit is not None and n >= 4:
        quenching = quenching and quench_s <= 0.1 * params.time_limit  # (else skipped, and the replay says so)
        if quenching:  # its time is kept out of the run's
            chunking = _Chunking(params.time_limit - quench_s, params.fill_time)
        if round_s > chunking.time_limit - (time.perf_counter() - started):  # no round fits: the start tours
            # (a refusal here came after the limit, the greedy tour built: pla85900 at 1 s)
            return _unannealed(energy, params, seed, started, begun.tours, begins, begun.start_length,
                               f"one round of {ladders:,} ladder{'' if ladders == 1 else 's'} of {temps:,} "
                               f"replica{'' if temps == 1 else 's'} ({attempts:,} moves each) was projected at "
                               f"{round_s:.2g} s, more than the time limit left after the set-up, so these are "
                               f"the {begins} start tours, not tempered; a longer limit, fewer reads or fewer "
                               "replicas gives a tempered run")
    tours = np.repeat(begun.tours, temps, axis=0)
    lengths = np.repeat(begun.lengths, temps)
    books = LadderBooks.start(streams(seed, total, ladders), ladders, temps)
    generators, exchange, replica_at, tried, accepted = (books.generators, books.exchange, books.replica_at,
                                                         books.tried, books.accepted)
    reads = TK.TourReads(tours, inverse_permutations(tours), lengths, tours.copy(), lengths.copy(), generators,
                         np.zeros((total, 0)), 0)
    rule = K.METROPOLIS if params.rule == "metropolis" else K.GLAUBER
    cold_end = cold_end_schedule(params, beta_min, beta_max, rounds)

    paced = [0.0, 0]  # seconds of the rounds, and their moves a thread

    def step(start: int, stop: int, chunk: np.ndarray) -> None:
        began = time.perf_counter()
        if n >= 4:  # (no tour move changes a tour of 3 cities)
            TK.tour_tempering(problem, TK.TourRun(np.ascontiguousarray(chunk), attempts, mix, rule, unit), ratios,
                              reads, replica_at, exchange, tried, accepted, start)
            paced[0] += time.perf_counter() - began
            paced[1] += attempts * (stop - start) * temps * _batches(ladders)

    def report() -> dict[str, Any]:
        row = int(np.argmin(reads.best))
        return {"best_energy": float(unit * reads.best[row] + begun.constant), "best_length": float(reads.best[row]),
                "best_positions": view.positions_of_tours(reads.best_tours[row:row + 1])[0]}

    if params.time_limit is not None and n >= 4:  # load both kernels now, not inside the first round and the quench
        none = TK.TourRun(np.zeros(0), attempts, mix, rule, unit)  # (a direct solve without prepare: 0.66 s of 0.5)
        TK.tour_tempering(problem, none, ratios, reads, replica_at, exchange.copy(), tried, accepted, 0)
        TK.tour_anneal(problem, none, reads._replace(rng=generators.copy()))
    progress = _run_chunked(cold_end, step, chunking, callback, report, started=started,
                            first_sweep=round_s if params.time_limit is not None else 0.0, unit="rounds")
    quenched = quenching and not progress.interrupted  # (skipped after Ctrl-C: the answer now)
    if quenched and params.time_limit is not None and paced[1]:  # the rounds' own pace says whether it still fits
        quenched = time.perf_counter() - started + quench_seconds(paced[0] / paced[1]) <= params.time_limit
    if params.keep_best:
        rows = np.array([replica_at[k][np.argmin(reads.best[replica_at[k]])] for k in range(ladders)], dtype=np.int64)
        final = reads.best_tours[rows]
        if quenched:
            final, cut = _quench(problem, unit, beta_max, final, reads.best[rows], generators[rows])
            progress.interrupted = progress.interrupted or cut
            quenched = not cut
    else:
        final = reads.tours[replica_at[:, -1]]
    elapsed = time.perf_counter() - started
    move_mix = ",".join(f"{name}:{p:g}" for name, p in zip(TK.MOVE_NAMES, mix) if p > 0)
    info = {
        "derived": {"reads": ladders, "sweeps": params.sweeps, "replicas": temps, "beta_min": beta_min,
                    "beta_max": beta_max, "ladder": [float(beta_max * r) for r in ratios], "moves": "tour",
                    "move_mix": move_mix, "neighbours": int(problem.neighbours.shape[1]), "cluster_moves": "none",
                    "seed": seed},
        "sweeps_done": progress.done / per_sweep, "rounds_done": progress.done, "timed_out": progress.timed_out,
        "interrupted": progress.interrupted, "schedule_compressed": progress.compressed,
        "schedule_stretched": progress.stretched, "work": progress.done, "work_unit": "rounds",
        "work_planned": rounds, "wall_time_s": elapsed, "updates": attempts * progress.done * total,
        "replay": {"reads": ladders, "sweeps": params.sweeps,
                   "replan": progress.replan.text(parse_replan(params.replan, OWNER)),
                   **({} if quenched or not params.final_descent or not params.keep_best or n < 4
                      else {"final_descent": False})},
        "final_descent": quenched,
        "exchange_rates": books.exchange_rates(),
        "start": begins,
    }
    if begun.start_length is not None:
        info["start_length"] = begun.start_length
    if params.tabu_moves or params.tabu_share:  # said, not recorded as applied (as on grouped spin energies)
        info["tabu_note"] = ("no tabu phase ran: its walks flip single units, and the replicas of a tour energy "
                             "move inside the tours")
    return _proven_by_enumeration(SampleSet.from_tours(energy, final, **info), energy, progress)
