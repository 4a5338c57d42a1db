"""Compiled annealing of tours: the Hopfield permutation energy of a TSP restricted to its feasible set.

A read's state is ``tour[a]`` (the city at position a) and ``pos[c]`` (the position of city c); the energy is
``unit · length(tour) + offset`` with distances from :func:`hopsolve.metric.distance`, computed on the fly, so
memory is O(n·k). Every move proposes an O(1) energy change and a *plan* of at most three primitive operations
(reverse the cyclic block of positions i..j, or exchange positions i and j), which :func:`apply_plan` carries
out when the move is accepted.

The moves live in one table, :data:`TOUR_MOVES`: a new move is one proposal kernel (delta + plan) and one row.
The dispatch is compiled from the table (:func:`_dispatch`), so nothing else changes.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np
from numba import prange

from hopsolve.backends._kernels import accept, xorshift_uniform
from hopsolve.backends._replica_kernels import exchange_rungs
from hopsolve.metric import MetricArrays, distance

TourProblem = namedtuple("TourProblem", ["metric", "neighbours", "max_reversal"])
"""What every move reads: the metric arrays, the n × k candidate lists (k nearest cities, nearest first), and the
longest block a move may reverse or shift (an array tour pays O(length) to apply one: moves beyond it are
declined, which keeps a sweep of an 85,900-city tour from costing O(n²))."""

TourRun = namedtuple("TourRun", ["betas", "attempts", "mix", "rule", "unit"])
"""One chunk of a run: β per sweep, move attempts per sweep, the move mix as a cumulative distribution over
:data:`TOUR_MOVES`, the acceptance rule, and ``unit`` (energy per unit of length)."""

TourReads = namedtuple("TourReads", ["tours", "positions", "lengths", "best_tours", "best", "rng", "trace",
                                     "trace_offset"])
"""Every read's state: tours and positions (reads × n), current and best lengths, best tours, xorshift states,
and the energy trace (reads × sweeps, or reads × 0) written from column ``trace_offset``."""

NONE, REVERSE, EXCHANGE = 0, 1, 2
PLAN_STEPS = 3


@numba.njit(cache=True, inline="always")
def _d(problem, a, b):
    return distance(problem.metric, a, b)


@numba.njit(cache=True, inline="always")
def _draw(x_rng, count):
    x_rng, u = xorshift_uniform(x_rng)
    return x_rng, int(u * count)


@numba.njit(cache=True, inline="always")
def _two_positions(x_rng, n):
    """(generator state, i, j): two different positions drawn uniformly."""
    x_rng, i = _draw(x_rng, n)
    x_rng, j = _draw(x_rng, n - 1)
    if j >= i:
        j += 1
    return x_rng, i, j


@numba.njit(cache=True, inline="always")
def _set(plan, step, op, i, j):
    plan[step, 0] = op
    plan[step, 1] = i
    plan[step, 2] = j


@numba.njit(cache=True, inline="always")
def _reverse_shorter(plan, step, n, i, j, longest):
    """Plan the reversal of positions i..j (cyclic) or, the same tour read backwards, of its complement;
    False (nothing planned) when both are longer than ``longest``."""
    length = (j - i) % n + 1
    if min(length, n - length) > longest:
        return False
    if 2 * length <= n:
        _set(plan, step, REVERSE, i, j)
    else:
        _set(plan, step, REVERSE, (j + 1) % n, (i - 1) % n)
    return True


@numba.njit(cache=True)
def two_opt(problem, tour, pos, x_rng, plan):
    """2-opt on the candidate lists: a random city a, one of its k nearest c, and a direction; the edges (a, b)
    and (c, d) of a's and c's successors (or predecessors) become (a, c) and (b, d)."""
    n = len(tour)
    x_rng, a = _draw(x_rng, n)
    x_rng, k = _draw(x_rng, problem.neighbours.shape[1])
    c = problem.neighbours[a, k]
    x_rng, forward = _draw(x_rng, 2)
    step = 1 if forward else -1
    b = tour[(pos[a] + step) % n]
    d = tour[(pos[c] + step) % n]
    if c == b or d == a:
        return False, 0.0, x_rng
    if forward:
        valid = _reverse_shorter(plan, 0, n, pos[b], pos[c], problem.max_reversal)
    else:
        valid = _reverse_shorter(plan, 0, n, pos[c], pos[b], problem.max_reversal)
    if not valid:
        return False, 0.0, x_rng
    delta = _d(problem, a, c) + _d(problem, b, d) - _d(problem, a, b) - _d(problem, c, d)
    return True, delta, x_rng


@numba.njit(cache=True)
def or_opt(problem, tour, pos, x_rng, plan):
    """Or-opt: a segment of 1–3 cities that starts or ends at a random city a moves between a neighbour x of a
    and x's successor or predecessor, in whichever orientation puts a next to x."""
    n = len(tour)
    x_rng, a = _draw(x_rng, n)
    x_rng, extra = _draw(x_rng, 3)
    length = min(1 + extra, n - 3)
    if length < 1:
        return False, 0.0, x_rng
    x_rng, ends_at_a = _draw(x_rng, 2)
    i = (pos[a] - (length - 1) * ends_at_a) % n  # the segment's first position
    first = tour[i]
    last = tour[(i + length - 1) % n]
    p = tour[(i - 1) % n]
    q = tour[(i + length) % n]
    x_rng, k = _draw(x_rng, problem.neighbours.shape[1])
    x = problem.neighbours[a, k]
    if (pos[x] - i) % n < length:
        return False, 0.0, x_rng
    x_rng, x_is_c = _draw(x_rng, 2)
    if x_is_c:
        c = x
        d = tour[(pos[x] + 1) % n]
        if x == p:
            return False, 0.0, x_rng
        plain = not ends_at_a
    else:
        d = x
        c = tour[(pos[x] - 1) % n]
        if x == q:
            return False, 0.0, x_rng
        plain = bool(ends_at_a)
    j = pos[c]
    between_after = (j - (i + length)) % n + 1  # cities q..c, which the segment jumps forwards
    between_before = n - length - between_after  # cities d..p, which it jumps backwards
    if min(between_after, between_before) > problem.max_reversal:
        return False, 0.0, x_rng
    added = _d(problem, c, first) + _d(problem, last, d) if plain else _d(problem, c, last) + _d(problem, first, d)
    delta = (_d(problem, p, q) + added - _d(problem, p, first) - _d(problem, last, q) - _d(problem, c, d))
    if between_after <= between_before:
        end = (i + length + between_after - 1) % n
        _set(plan, 0, REVERSE, i, end)
        _set(plan, 1, REVERSE, i, (i + between_after - 1) % n)
        if plain:
            _set(plan, 2, REVERSE, (i + between_after) % n, end)
    else:
        start = pos[d]
        end = (i + length - 1) % n
        _set(plan, 0, REVERSE, start, end)
        _set(plan, 1, REVERSE, (start + length) % n, end)
        if plain:
            _set(plan, 2, REVERSE, start, (start + length - 1) % n)
    return True, delta, x_rng


@numba.njit(cache=True)
def exchange(problem, tour, pos, x_rng, plan):
    """Exchange the cities at two random positions (the permutation view's swap)."""
    n = len(tour)
    x_rng, i, j = _two_positions(x_rng, n)
    if (j - i) % n == n - 1:  # j just before i: let i come first
        i, j = j, i
    u = tour[i]
    v = tour[j]
    pu = tour[(i - 1) % n]
    nv = tour[(j + 1) % n]
    if (j - i) % n == 1:
        delta = _d(problem, pu, v) + _d(problem, u, nv) - _d(problem, pu, u) - _d(problem, v, nv)
    else:
        nu = tour[(i + 1) % n]
        pv = tour[(j - 1) % n]
        delta = (_d(problem, pu, v) + _d(problem, v, nu) + _d(problem, pv, u) + _d(problem, u, nv)
                 - _d(problem, pu, u) - _d(problem, u, nu) - _d(problem, pv, v) - _d(problem, v, nv))
    _set(plan, 0, EXCHANGE, i, j)
    return True, delta, x_rng


@numba.njit(cache=True)
def reversal(problem, tour, pos, x_rng, plan):
    """Reverse a random block of positions (the permutation view's block reversal: 2-opt without candidates)."""
    n = len(tour)
    x_rng, i, j = _two_positions(x_rng, n)
    length = (j - i) % n + 1
    if length >= n - 1:
        return False, 0.0, x_rng
    if not _reverse_shorter(plan, 0, n, i, j, problem.max_reversal):
        return False, 0.0, x_rng
    p = tour[(i - 1) % n]
    q = tour[(j + 1) % n]
    delta = _d(problem, p, tour[j]) + _d(problem, tour[i], q) - _d(problem, p, tour[i]) - _d(problem, tour[j], q)
    return True, delta, x_rng


@dataclass(frozen=True)
class TourMove:
    """One row of the move table: a name (as in ``--param moves=2opt:0.6,...``), its proposal kernel
    ``(problem, tour, pos, x_rng, plan) -> (valid, delta, x_rng)``, and what it does."""

    name: str
    kernel: object
    description: str


TOUR_MOVES = (
    TourMove("2opt", two_opt, "2-opt between a city and one of its k nearest neighbours"),
    TourMove("oropt", or_opt, "move a segment of 1-3 cities next to a near neighbour, either orientation"),
    TourMove("swap", exchange, "exchange the cities at two random positions"),
    TourMove("reverse", reversal, "reverse a random block of positions"),
)
MOVE_NAMES = tuple(m.name for m in TOUR_MOVES)


def _dispatch(kernels: tuple) -> object:
    """A compiled ``propose(kind, ...)`` that calls ``kernels[kind]``, built as a chain of static calls (no function
    pointers). The chain's links are inlined; the moves are not: each is compiled once and called (inlined into
    the read kernel and the delta sample, numba's IR copies of all four made pr1002's sweeps 1.4 times slower and
    a first run's compile 7 s longer)."""
    head = kernels[0]
    if len(kernels) == 1:
        @numba.njit(cache=True, inline="always")
        def last(kind, problem, tour, pos, x_rng, plan):
            return head(problem, tour, pos, x_rng, plan)
        return last
    rest = _dispatch(kernels[1:])

    @numba.njit(cache=True, inline="always")
    def chain(kind, problem, tour, pos, x_rng, plan):
        if kind == 0:
            return head(problem, tour, pos, x_rng, plan)
        return rest(kind - 1, problem, tour, pos, x_rng, plan)
    return chain


propose = _dispatch(tuple(m.kernel for m in TOUR_MOVES))


@numba.njit(cache=True, inline="always")
def _exchange(tour, pos, a, b):
    """Exchange the cities at positions a and b, keeping ``pos`` the inverse of ``tour``."""
    x = tour[a]
    y = tour[b]
    tour[a] = y
    tour[b] = x
    pos[y] = a
    pos[x] = b


@numba.njit(cache=True)
def _reverse(tour, pos, i, j):
    n = len(tour)
    length = (j - i) % n + 1
    for k in range(length // 2):
        _exchange(tour, pos, (i + k) % n, (j - k) % n)


@numba.njit(cache=True)
def apply_plan(tour, pos, plan):
    """Carry out a move's plan in order."""
    for step in range(plan.shape[0]):
        op = plan[step, 0]
        if op == REVERSE:
            _reverse(tour, pos, plan[step, 1], plan[step, 2])
        elif op == EXCHANGE:
            _exchange(tour, pos, plan[step, 1], plan[step, 2])


@numba.njit(cache=True, inline="always")
def _pick(mix, x_rng):
    x_rng, u = xorshift_uniform(x_rng)
    kind = 0
    while kind < len(mix) - 1 and u >= mix[kind]:
        kind += 1
    return kind, x_rng


@numba.njit(cache=True)
def _anneal_read(problem, run, tour, pos, length, best, best_tour, x_rng, trace_row, trace_offset):
    """One read for ``len(run.betas)`` sweeps; returns (length, best length, generator state)."""
    plan = np.zeros((PLAN_STEPS, 3), dtype=np.int64)
    record = len(trace_row) > 0
    for k in range(len(run.betas)):
        beta = run.betas[k] * run.unit
        for _ in range(run.attempts):
            kind, x_rng = _pick(run.mix, x_rng)
            plan[:, 0] = NONE
            valid, delta, x_rng = propose(kind, problem, tour, pos, x_rng, plan)
            if not valid:
                continue
            ok, x_rng = accept(delta, beta, run.rule, x_rng)
            if ok:
                apply_plan(tour, pos, plan)
                length += delta
        if length < best - 1e-9:  # the best tour is kept at the end of a sweep (one O(n) copy at most)
            best = length
            best_tour[:] = tour
        if record:
            trace_row[trace_offset + k] = length
    return length, best, x_rng


@numba.njit(cache=True, parallel=True)
def _anneal_parallel(kind, coords, matrix, neighbours, max_reversal, betas, attempts, mix, rule, unit, tours,
                     positions, lengths, best_tours, best, rng, trace, trace_offset):
    # parallel loops take arrays and scalars only: the structures are rebuilt inside
    for r in prange(tours.shape[0]):
        problem = TourProblem(MetricArrays(kind, coords, matrix), neighbours, max_reversal)
        run = TourRun(betas, attempts, mix, rule, unit)
        lengths[r], best[r], rng[r] = _anneal_read(problem, run, tours[r], positions[r], lengths[r], best[r],
                                                   best_tours[r], rng[r], trace[r], trace_offset)


def tour_anneal(problem: TourProblem, run: TourRun, reads: TourReads) -> None:
    """Anneal every read (in parallel) for ``len(run.betas)`` sweeps of ``run.attempts`` moves each; lengths are
    kept in distance units and accepted by ``run.rule`` at ``β · unit``; each read keeps its best tour."""
    m = problem.metric
    _anneal_parallel(m.kind, m.coords, m.matrix, problem.neighbours, problem.max_reversal, run.betas, run.attempts,
                     run.mix, run.rule, run.unit, reads.tours, reads.positions, reads.lengths, reads.best_tours,
                     reads.best, reads.rng, reads.trace, reads.trace_offset)


@numba.njit(cache=True)
def _tempering_ladder(problem, cold_betas, ratios, attempts, mix, rule, unit, tours, positions, lengths, best_tours,
                      best, rng, replica_at, exchange_rng, tried, accepted, first_round):
    """One ladder of tours (the rows ``replica_at``, coldest last) for ``len(cold_betas)`` rounds: each replica
    makes ``attempts`` moves of the mix at its β (the round's cold end times its ratio, per unit of energy), then
    neighbours at rungs of one parity (alternating by round, counted from the run's first, so chunks change
    nothing) exchange temperatures by the spin ladders' rule
    (:func:`~hopsolve.backends._replica_kernels.exchange_rungs`) on their energies ``unit · length``. Returns the
    exchange stream's state."""
    temps = len(ratios)
    no_trace = cold_betas[:0]
    one = cold_betas[:1].copy()
    for k in range(len(cold_betas)):
        for t in range(temps):
            row = replica_at[t]
            one[0] = cold_betas[k] * ratios[t]
            run = TourRun(one, attempts, mix, rule, unit)
            lengths[row], best[row], rng[row] = _anneal_read(problem, run, tours[row], positions[row], lengths[row],
                                                             best[row], best_tours[row], rng[row], no_trace, 0)
        exchange_rng = exchange_rungs(cold_betas[k], ratios, unit, lengths, replica_at, (first_round + k) % 2,
                                      exchange_rng, tried, accepted)
    return exchange_rng


@numba.njit(cache=True, parallel=True)
def _tempering_parallel(kind, coords, matrix, neighbours, max_reversal, cold_betas, ratios, attempts, mix, rule,
                        unit, tours, positions, lengths, best_tours, best, rng, replica_at, exchange_rng, tried,
                        accepted, first_round):
    for ladder in prange(replica_at.shape[0]):
        problem = TourProblem(MetricArrays(kind, coords, matrix), neighbours, max_reversal)
        exchange_rng[ladder] = _tempering_ladder(problem, cold_betas, ratios, attempts, mix, rule, unit, tours,
                                                 positions, lengths, best_tours, best, rng, replica_at[ladder],
                                                 exchange_rng[ladder], tried[ladder], accepted[ladder], first_round)


def tour_tempering(problem: TourProblem, run: TourRun, ratios: np.ndarray, reads: TourReads, replica_at: np.ndarray,
                   exchange_rng: np.ndarray, tried: np.ndarray, accepted: np.ndarray, first_round: int) -> None:
    """Replica exchange over tours: every ladder (a row of ``replica_at``, in parallel) for ``len(run.betas)``
    rounds from round ``first_round``, ``run.betas`` the cold end of each round (see :func:`_tempering_ladder`);
    ``reads`` holds every replica (its trace is not written)."""
    m = problem.metric
    _tempering_parallel(m.kind, m.coords, m.matrix, problem.neighbours, problem.max_reversal, run.betas, ratios,
                        run.attempts, run.mix, run.rule, run.unit, reads.tours, reads.positions, reads.lengths,
                        reads.best_tours, reads.best, reads.rng, replica_at, exchange_rng, tried, accepted,
                        first_round)


@numba.njit(cache=True)
def sample_deltas(problem, tour, pos, mix, count, x_rng):
    """|Δ length| of ``count`` moves drawn from the mix at ``tour`` (for the default β range); nothing changes."""
    out = np.zeros(count)
    plan = np.zeros((PLAN_STEPS, 3), dtype=np.int64)
    for c in range(count):
        kind, x_rng = _pick(mix, x_rng)
        valid, delta, x_rng = propose(kind, problem, tour, pos, x_rng, plan)
        if valid:
            out[c] = abs(delta)
    return out
