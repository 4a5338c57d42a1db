"""Replica exchange inside the feasible set of a permutation energy (QAP, assignment; tours have their own moves,
:mod:`hopsolve.backends._replica_tour`): ``replica``'s moves there.

Each read is a ladder of replicas, each a permutation (the item at each position), at inverse temperatures ``β_k =
β_cold · ratios[k]``. A round: every replica makes n attempts (n the items; an ejection chain's cost,
``chain_length`` × n, where chains are drawn: :func:`round_shape`) of the permutation moves of ``anneal`` (exchanges
of two items, reversals of a block of positions, ejection chains, with ``swap_probability`` and
``chain_probability``; :mod:`hopsolve.backends._perm_kernels`) at its own β, then neighbours on the ladder exchange
temperatures by the Metropolis rule, alternating between even and odd pairs of rungs. A sweep is the rounds that
make n² attempts a replica, as ``anneal``'s sweep of a permutation energy. (A round of a whole sweep let Ctrl-C wait
11–48 s on pr1002 and rl5915, and exchanged n times less often.) Every replica stays a permutation, so every penalty
(each row and column one-hot) is zero throughout, whatever its weight, and every returned state is feasible.

**The ladder.** ``β_min`` and ``β_max`` come from the energy changes of 2,000 random moves from a random
permutation, as ``anneal --param moves=permutation`` sets its range (``schedules.default_beta_range`` of their mean
and 1st percentile: the hot end takes a typical uphill move with probability 1/2, the cold end a small one with
probability 1%); ``R = clip(round(√n · ln(β_max/β_min) / 4), 4, 32)`` temperatures for a fixed ladder, n the items
(1 for ``schedule="anneal"``, whose cold end cools geometrically from ``β_min`` to ``β_max`` over the rounds, the
other rungs in proportion), spaced geometrically.

**Budget.** ``sweeps`` sweeps of rounds (the result's ``work`` counts rounds); with a time limit the run is chunked
as ``anneal``'s (it stops at the limit, or with ``fill_time`` stretches its schedule to spend it), and
``info['replay']`` gives the reads, sweeps and replan that replay it (the replan's positions count rounds;
``info['rounds_done']`` those run). Each ladder returns its best permutation seen at the end of a round
(``keep_best``), else its coldest replica's; with ``final_descent`` the best ones are quenched first
(:func:`_quench`: :data:`QUENCH_SWEEPS` sweeps that take no uphill move; a timed run keeps their time out of its
rounds, or, where they would take over a tenth of the limit, skips them and says so in the replay). The spin-flip
options of ``replica`` (cluster moves, recombination, the cold end's rule and tail, the anytime plan's sweeps;
:data:`SPIN_ONLY_SETTINGS`) do not apply to permutations and are refused where asked for; a tabu phase is skipped
with a note.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from hopsolve.backend import Callback, check_run_size, time_left_phrase
from hopsolve.backends import _kernels as K
from hopsolve.backends import _perm_kernels as PK
from hopsolve.backends.anneal import (
    _no_time_to_fill,
    _permutation_arrays,
    _proven_by_enumeration,
    _run_chunked,
    initial_permutations,
    permutation_move_range,
)
from hopsolve.backends.replan import apply_replan, parse_replan
from hopsolve.backends.schedules import ladder_span
from hopsolve.energy import Energy, PermutationView
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.permutation_rows import inverse_permutations
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import make_rng

OWNER = "backend 'replica'"


@dataclass(frozen=True)
class _Chunking:
    """What :func:`~hopsolve.backends.anneal._run_chunked` reads of a run's parameters."""

    time_limit: float | None
    fill_time: bool
    fit_schedule: bool = True
    trace: bool = False


SPIN_ONLY_SETTINGS = ("cold_tail", "cluster_limit", "cluster_every", "anytime_sweeps", "anytime_sweeps_per_unit",
                      "anytime_reads")
"""``replica`` settings that act only on spin energies, refused on a permutation energy where set to anything but
their default (they were accepted and ignored). ``plan_reads`` is not among them: ``solve`` sets it wherever a user
gives ``--reads`` with a time limit."""


def refuse_spin_options(params: Any, module: str = "hopsolve.backends._replica_permutation") -> None:
    """Refuse the options that act on single spins, asked for on a permutation energy (they were ignored); the tabu
    phase is skipped with a note, as on the spin path's energies with one-hot groups. ``module`` documents the moves
    of the energy at hand (the tour path's, or this one's)."""
    defaults = {f.name: f.default for f in dataclasses.fields(params)}
    asked = [name for name, on in (("cluster_moves=houdayer", params.cluster_moves == "houdayer"),
                                   ("recombine=on", params.recombine == "on"),
                                   (f"cold_end={params.cold_end}", params.cold_end != "auto")) if on]
    asked += [f"{name}={getattr(params, name)}" for name in SPIN_ONLY_SETTINGS
              if getattr(params, name) != defaults[name]]
    if asked:
        raise ParameterError(f"{OWNER}: {', '.join(asked)} act{'s' if len(asked) == 1 else ''} on single spins; on "
                             f"a permutation energy the replicas move inside the permutations (see {module})")


def permutation_ladder(derived: tuple[float, float], items: int, params: Any) -> tuple[float, float, np.ndarray]:
    """``(β_min, β_max, ratios)`` from the β range of the moves (:func:`~hopsolve.backends.anneal.
    permutation_move_range`) and the parameters (see the module docstring)."""
    beta_min, beta_max, count = ladder_span(derived[0], derived[1], items, params.beta_min, params.beta_max,
                                            params.replicas, params.schedule, OWNER)
    ratios = np.ones(1) if count == 1 else np.geomspace(beta_min / beta_max, 1.0, count)
    return beta_min, beta_max, ratios


@dataclass(frozen=True)
class LadderBooks:
    """A run's ladders as the tempering kernels keep them: each replica's and each ladder's exchange stream, which
    replica sits at each rung of each ladder (coldest last), and the exchanges tried and accepted between each pair
    of neighbouring rungs. Shared by the permutation and the tour paths."""

    generators: np.ndarray
    exchange: np.ndarray
    replica_at: np.ndarray
    tried: np.ndarray
    accepted: np.ndarray

    @classmethod
    def start(cls, kernel_streams: np.ndarray, ladders: int, temps: int) -> LadderBooks:
        """Replica r at rung r mod temps of ladder r // temps, from ``kernel_streams`` (the replicas' streams,
        then one exchange stream a ladder)."""
        total = ladders * temps
        tried = np.zeros((ladders, max(temps - 1, 1)), dtype=np.int64)
        return cls(kernel_streams[:total].copy(), kernel_streams[total: total + ladders].copy(),
                   np.arange(total, dtype=np.int64).reshape(ladders, temps), tried, np.zeros_like(tried))

    def exchange_rates(self) -> list[float]:
        """The share of tried exchanges accepted between each pair of neighbouring rungs, over every ladder."""
        rates = self.accepted.sum(axis=0) / np.maximum(self.tried.sum(axis=0), 1)
        return [float(x) for x in rates[: self.replica_at.shape[1] - 1]]


def cold_end_schedule(params: Any, beta_min: float, beta_max: float, rounds: int) -> np.ndarray:
    """The cold end's β for each of ``rounds`` rounds: ``beta_max`` throughout for a fixed ladder, else cooling
    geometrically from ``beta_min``; then the replan's changes."""
    if params.schedule == "fixed":
        cold_end = np.full(rounds, beta_max)
    else:
        cold_end = np.geomspace(beta_min, beta_max, rounds) if rounds > 1 else np.array([beta_max])
    return apply_replan(cold_end, parse_replan(params.replan, OWNER), OWNER)


PROBE_SECONDS = 0.005
"""The timing probe of a round (:func:`_round_seconds`) runs tenfold more rounds until they take this much longer
than one round does, so that a kernel call's own cost (8 ms a call seen on this machine) is measured apart from a
round's: taken as a round's, it made a280's quench look 30 times dearer than it was and skipped it."""


def _single_rungs(arrays: PK.PermutationArrays, run: PK.PermutationRun, item_at: np.ndarray, current: np.ndarray,
                  best_item_at: np.ndarray, best: np.ndarray, rngs: np.ndarray, first_round: int) -> None:
    """``run`` on each row of ``item_at`` as a ladder of one replica (nothing to exchange): the round probe's and
    the quench's call of the tempering kernel."""
    count = len(item_at)
    PK.permutation_tempering(arrays, run, np.ones(1), PK.PermutationReads(
        item_at, current, best_item_at, best, rngs, np.zeros((count, 0)), 0),
        np.arange(count, dtype=np.int64).reshape(count, 1), np.ones(count, dtype=np.uint64),
        np.zeros((count, 1), dtype=np.int64), np.zeros((count, 1), dtype=np.int64), first_round)


def _round_seconds(arrays: PK.PermutationArrays, scale: float, beta: float, attempts: int, params: Any, rule: int,
                   start: np.ndarray, energy: float, ladders: int, temps: int) -> tuple[float, float, float]:
    """``(round, replica round, call)``: seconds one round of every replica should take, one round of one replica,
    and a kernel call's own cost, from rounds of a copy of one replica at the cold end (a round of ejection chains
    spends its whole budget on one chain, so rounds are timed, not attempts)."""
    def timed(rounds: int) -> float:
        item_at = start[None, :].copy()
        run = PK.PermutationRun(scale, np.full(rounds, beta), attempts, params.swap_probability,
                                params.chain_probability, params.chain_length, rule)
        began = time.perf_counter()
        _single_rungs(arrays, run, item_at, np.array([energy]), item_at.copy(), np.array([energy]),
                      np.array([1], dtype=np.uint64), 0)
        return time.perf_counter() - began

    timed(1)  # loads the kernel
    one = min(timed(1), timed(1))
    rounds = 10
    while True:
        spent = timed(rounds)
        if spent - one >= PROBE_SECONDS or rounds >= 100_000:
            break
        rounds *= 10
    per_round = max(spent - one, 0.0) / (rounds - 1) if spent > one else spent / rounds
    call = max(one - per_round, 0.0)
    return per_round * temps * _batches(ladders), per_round, call


def round_shape(n: int, params: Any) -> tuple[int, int]:
    """``(attempts, rounds)``: a round's move attempts a replica and the rounds of a sweep, which holds n² attempts
    a replica as ``anneal``'s does. A round is n attempts, or an ejection chain's cost (``chain_length`` × n) where
    chains are drawn: a chain overspends a smaller round (assignments' sweeps took 10 times the work, and the
    round probe was 5–13 times short)."""
    attempts = max(1, n)
    if params.chain_probability > 0:
        attempts = max(attempts, min(params.chain_length, max(n - 1, 1)) * n)
    return attempts, max(1, (n * n) // attempts)


def _batches(ladders: int) -> int:
    """How many ladders each thread runs in turn."""
    return math.ceil(ladders / max(1, min(ladders, numba.get_num_threads())))


QUENCH_SWEEPS = 2
"""Sweeps (n² attempts) of the final quench of each ladder's best permutation, at zero temperature."""


def _quench(arrays: PK.PermutationArrays, scale: float, beta: float, params: Any, rule: int, states: np.ndarray,
            energies: np.ndarray, generators: np.ndarray, attempts: int, per_sweep: int) -> tuple[np.ndarray, bool]:
    """``states`` after :data:`QUENCH_SWEEPS` sweeps that take no uphill move (and whether a Ctrl-C cut it short):
    a state seen at the cold end of a ladder still carries that temperature's excitations, which a descent removes;
    it never raises an energy. Run a chunk of rounds at a time, so that a Ctrl-C stops it at the next chunk and keeps
    the states as far as they got (it was one call, outside the run's chunks: a Ctrl-C there lost every answer)."""
    item_at, current = states.copy(), energies.copy()
    best_item_at, best = states.copy(), energies.copy()
    rngs = generators.copy()
    rounds, done, chunk = QUENCH_SWEEPS * per_sweep, 0, 1
    try:
        while done < rounds:
            size = min(chunk, rounds - done)
            run = PK.PermutationRun(scale, np.full(size, beta * 1e9), attempts, params.swap_probability,
                                    params.chain_probability, params.chain_length, rule)
            began = time.perf_counter()
            _single_rungs(arrays, run, item_at, current, best_item_at, best, rngs, done)
            done += size
            chunk = max(1, int(size * 0.05 / max(time.perf_counter() - began, 1e-6)))  # about 50 ms a call
    except KeyboardInterrupt:
        return best_item_at, True
    return best_item_at, False


def solve_permutation(energy: Energy, params: Any, seed: int, initial_states: np.ndarray | None,
                      callback: Callback | None, streams: Callable[[int, int, int], np.ndarray],
                      started: float) -> SampleSet:
    """Replica exchange over ``energy``'s permutations (see the module docstring). ``streams(seed, replicas,
    ladders)`` gives the kernel streams: the replicas' first, then one exchange stream a ladder."""
    refuse_spin_options(params)
    view: PermutationView = energy.permutation
    n = view.size
    params = _no_time_to_fill(params, n)  # a 3-city tour spent its whole limit, and was never called optimal
    scale = energy.weights[view.term]
    ladders = params.reads
    starts = None
    if initial_states is not None:  # one ladder per state, every replica of it starting there
        starts = initial_permutations(view, initial_states, OWNER)
        ladders = len(starts)
    arrays = _permutation_arrays(view)  # the flow matrix n × n, refused past the memory limit
    rng = make_rng(seed)
    probe = starts[0] if starts is not None else rng.permutation(n)
    beta_min, beta_max, ratios = permutation_ladder(
        permutation_move_range(arrays, probe, scale, params.swap_probability, seed), n, params)
    temps = len(ratios)
    total = ladders * temps
    attempts, per_sweep = round_shape(n, params)
    rounds = params.sweeps * per_sweep
    check_run_size(reads=ladders, replicas=temps, units=n, steps=params.sweeps, entries_per_step=per_sweep,
                   time_limit=params.time_limit)  # (the schedule holds a β a round: sized in rounds, advised in sweeps)
    if starts is None:  # ladder by ladder, so the first k ladders are those of a run of k
        item_at = np.array([rng.permutation(n) for _ in range(total)], dtype=np.int64).reshape(total, n)
    else:
        item_at = np.repeat(np.array(starts, dtype=np.int64), temps, axis=0)
    current = np.array([view.energy(p, scale) for p in inverse_permutations(item_at)]) if n else np.zeros(total)
    best, best_item_at = current.copy(), item_at.copy()
    books = LadderBooks.start(streams(seed, total, ladders), ladders, temps)
    generators, exchange, replica_at, tried, accepted = (books.generators, books.exchange, books.replica_at,
                                                         books.tried, books.accepted)
    rule = K.METROPOLIS if params.rule == "metropolis" else K.GLAUBER
    cold_end = cold_end_schedule(params, beta_min, beta_max, rounds)

    def step(start: int, stop: int, chunk: np.ndarray) -> None:
        if n >= 2:
            run = PK.PermutationRun(scale, np.ascontiguousarray(chunk), attempts, params.swap_probability,
                                    params.chain_probability, params.chain_length, rule)
            PK.permutation_tempering(arrays, run, ratios, PK.PermutationReads(item_at, current, best_item_at, best,
                                                                              generators, np.zeros((total, 0)), 0),
                                     replica_at, exchange, tried, accepted, start)

    def report() -> dict[str, Any]:
        row = int(np.argmin(best))
        return {"best_energy": float(best[row]), "best_positions": inverse_permutations(best_item_at[row:row + 1])[0]}

    round_s, call_s, quenching = 0.0, 0.0, params.keep_best and params.final_descent and n >= 2
    chunking = _Chunking(params.time_limit, params.fill_time)
    if params.time_limit is not None and n >= 2:
        round_s, replica_round_s, call_s = _round_seconds(arrays, scale, beta_max, attempts, params, rule,
                                                          item_at[0], current[0], ladders, temps)
        # a ladder's quench: one replica's QUENCH_SWEEPS sweeps, in chunks of about 50 ms
        quench_s = replica_round_s * QUENCH_SWEEPS * per_sweep * _batches(ladders) * (1.0 + 20 * call_s)
        quenching = quenching and quench_s <= 0.1 * params.time_limit  # (else skipped, and the replay says so)
        if quenching:  # its time is kept out of the run's
            chunking = _Chunking(params.time_limit - quench_s, params.fill_time)
        left = chunking.time_limit - (time.perf_counter() - started)
        if round_s > left:  # the first round would end past the limit (pr1002's four ladders: 7.3 s of 5)
            raise TooLargeError(f"{OWNER}: one round of {ladders:,} ladder{'' if ladders == 1 else 's'} of "
                                f"{temps} replica{'' if temps == 1 else 's'} over {n:,} items ({attempts:,} move "
                                f"attempts a replica) takes about {round_s:.2g} s, "
                                f"{time_left_phrase(left, chunking.time_limit, 'setting the replicas up')}; give a "
                                "longer limit" + (", fewer reads or replicas" if ladders * temps > 1 else "")
                                + ", or use anneal")
    progress = _run_chunked(cold_end, step, chunking, callback, report, started=started,
                            call_overhead=call_s if params.time_limit is not None and n >= 2 else 0.0,
                            first_sweep=round_s, unit="rounds")
    quenched = quenching and not progress.interrupted  # (skipped after Ctrl-C: the answer now)
    if params.keep_best:
        rows = np.array([replica_at[k][np.argmin(best[replica_at[k]])] for k in range(ladders)], dtype=np.int64)
        final = best_item_at[rows]
        if quenched:
            final, cut = _quench(arrays, scale, beta_max, params, rule, final, best[rows], generators[rows], attempts,
                                 per_sweep)
            progress.interrupted = progress.interrupted or cut
            quenched = not cut
    else:
        final = item_at[replica_at[:, -1]]
    elapsed = time.perf_counter() - started
    info = {
        "derived": {"reads": ladders, "sweeps": params.sweeps, "replicas": temps, "beta_min": beta_min,
                    "beta_max": beta_max, "ladder": [float(beta_max * r) for r in ratios], "moves": "permutation",
                    "cluster_moves": "none", "seed": seed},
        "sweeps_done": progress.done / per_sweep, "rounds_done": progress.done, "timed_out": progress.timed_out,
        "interrupted": progress.interrupted,
        "schedule_compressed": progress.compressed, "schedule_stretched": progress.stretched,
        "work": progress.done, "work_unit": "rounds", "work_planned": rounds, "wall_time_s": elapsed,
        "updates": attempts * progress.done * total,
        "replay": {"reads": ladders, "sweeps": params.sweeps,
                   "replan": progress.replan.text(parse_replan(params.replan, OWNER)),
                   **({} if quenched or not params.final_descent or not params.keep_best or n < 2
                      else {"final_descent": False})},
        "final_descent": quenched,
        "exchange_rates": books.exchange_rates(),
    }
    if params.tabu_moves or params.tabu_share:  # said, not recorded as applied (as on grouped spin energies)
        info["tabu_note"] = ("no tabu phase ran: its walks flip single units, and the replicas of a permutation "
                             "energy move inside the permutations")
    return _proven_by_enumeration(SampleSet.from_permutations(energy, inverse_permutations(final), **info), energy,
                                  progress)
