"""A greedy descent of spin states to single-flip local minima: the discrete Hopfield update at zero temperature.

Backends that return states seen at a finite temperature (``replica``'s best states) or read off oscillators
(``bifurcation``'s ``sign(x)``) finish them with it, so that no single flip lowers a returned state's energy. It
never raises an energy, and it keeps one-hot group penalties' bookkeeping (the model's group sums).
"""

from __future__ import annotations

import time

import numba
import numpy as np

from hopsolve.backends import _kernels as K
from hopsolve.backends._model import SpinModel
from hopsolve.backends._timing import fastest_seconds

DESCENT_CHUNK = 4
"""Sweeps of a descent between looks at the clock."""
DESCENT_SWEEPS = 1000
"""The most sweeps a descent runs (states not settled by then are kept as they are: still no worse)."""
DESCENT_RESERVE_SHARE = 0.1
"""A timed run keeps twice the time of a descent of every read from a random start (:func:`descent_seconds`, more
than the final descent from states near local minima takes), at most this share of its limit, out of its dynamics
for the final descent. (Two passes over the couplings timed as ``bifurcation``'s first refresh were too short on
dense ±1 models, whose refresh counts bits: the descent was then skipped at the limit; ``replica`` kept nothing,
and its timed runs on TSP energies ended at the limit with the descent skipped, every read infeasible.)"""


def descend_states(model: SpinModel, states: np.ndarray, deadline: float | None, most_sweeps: int = DESCENT_SWEEPS
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """(descended spins as int8, each state's energy change, units flipped) of a greedy descent of ``states``
    (rows of ±1 spins) with :func:`hopsolve.backends._kernels.hopfield_async` in index order, in chunks of
    :data:`DESCENT_CHUNK` sweeps until every state is a fixed point, ``most_sweeps`` (:data:`DESCENT_SWEEPS`) have run,
    or ``deadline`` (a ``perf_counter`` time) has passed."""
    spins = np.atleast_2d(states).astype(np.int8)
    total = spins.shape[0]
    before = spins.copy()
    fields = model.initial_fields(spins)
    gsum = np.zeros((total, model.group_of.shape[0], model.group_target.shape[1]))
    K.init_group_sums(model.group_of, spins.astype(np.float64), gsum)
    generators = np.zeros(total, dtype=np.uint64)  # index order: never drawn from
    sweeps, settled, change = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=np.bool_), np.zeros(total)
    first = 0
    zero_tol = model.zero_field_tolerance  # computed once (a cached property)
    while not settled.all() and first < most_sweeps and (deadline is None or time.perf_counter() < deadline):
        K.hopfield_async(model.indptr, model.indices, model.data, model.group_of, model.group_target,
                         model.group_scale, spins, fields, gsum, generators, False, 0, zero_tol,
                         first, first + DESCENT_CHUNK,
                         sweeps, settled, change, np.empty((total, 0)))
        first += DESCENT_CHUNK
    return spins, change, int((spins != before).sum())


def descent_seconds(model: SpinModel, spins: np.ndarray, reads: int, budget: float | None = None) -> float:
    """Seconds a descent of ``reads`` states like ``spins[0]`` (a random start: the worst case) should take: its
    descent timed (the fastest of two, the second only when the first was short), times the reads over the
    threads. With a ``budget`` (seconds) a timing stops there, and what it says is at least that: two whole
    descents of a280's TSP energy from random starts (78,400 units, 0.5-0.75 s each) had used a 5 s limit's set-up
    time and the run was refused."""
    if not reads or not model.n:
        return 0.0

    def timed() -> float:
        began = time.perf_counter()
        descend_states(model, spins[:1], None if budget is None else began + budget)
        return time.perf_counter() - began

    seconds = timed()
    if budget is None or seconds < 0.1 * budget:  # a second try only where it is cheap (a busy machine's noise)
        seconds = min(seconds, timed())
    return seconds * reads / min(reads, max(1, numba.get_num_threads()))


def _random_starts(model: SpinModel, count: int) -> np.ndarray:
    return np.random.default_rng(0).choice(np.array([-1, 1], dtype=np.int8), size=(count, model.n))


def descent_reserve(model: SpinModel, reads: int, time_limit: float) -> float:
    """The seconds a timed run keeps for the final descent of ``reads`` states it cannot predict (``bifurcation``'s
    ``sign(x)``, ``replica``'s on one-hot energies): twice a whole descent from a random start
    (:func:`descent_seconds`), at most :data:`DESCENT_RESERVE_SHARE` of the limit; timing it costs at most half
    of that share."""
    if not reads or not model.n:
        return 0.0
    cap = DESCENT_RESERVE_SHARE * time_limit
    return min(cap, 2 * descent_seconds(model, _random_starts(model, 1), reads, budget=cap / 2))


def first_chunk_reserve(model: SpinModel, reads: int, time_limit: float) -> float:
    """The seconds a timed run keeps for the final descent of ``reads`` states seen at a low temperature
    (``replica``'s best states, a few flips from a local minimum): twice the first :data:`DESCENT_CHUNK` sweeps of
    that many random starts, timed as one call (the fields of every state and the threads' start, which dominate
    on sparse graphs, are paid once as in the real descent), at most :data:`DESCENT_RESERVE_SHARE` of the limit.
    A whole descent from random starts (:func:`descent_reserve`) was 40 ms a state on G22, 1.4 s for 40 reads:
    a tenth of every limit, where the real descent took one chunk."""
    if not reads or not model.n:
        return 0.0
    starts = _random_starts(model, reads)
    seconds = fastest_seconds(lambda: descend_states(model, starts, None, most_sweeps=DESCENT_CHUNK), 2)
    return min(DESCENT_RESERVE_SHARE * time_limit, 2 * seconds)


def descend_all_or_none(model: SpinModel, spins: np.ndarray, deadline: float | None
                        ) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(the spins descended, each state's energy change, units flipped) by :func:`descend_states`, every state or
    none: before a ``deadline`` the first state is descended and timed, and the others only if their projected
    time fits what is left; else the spins come back as they were, the changes 0 and the count ``None`` (a descent
    stopped at the deadline part-way would not replay: a replay records ``final_descent=False`` instead). A
    deadline that has passed skips it."""
    spins = np.atleast_2d(spins)
    if deadline is None:
        return descend_states(model, spins, None)
    began = time.perf_counter()
    if began >= deadline:
        return spins, np.zeros(len(spins)), None
    first, first_change, flipped = descend_states(model, spins[:1], None)
    per_state = time.perf_counter() - began
    rest = len(spins) - 1
    if rest and time.perf_counter() + per_state * rest / min(rest, max(1, numba.get_num_threads())) > deadline:
        return spins, np.zeros(len(spins)), None
    if not rest:
        return first, first_change, flipped
    others, others_change, more = descend_states(model, spins[1:], None)
    return np.vstack([first, others]), np.concatenate([first_change, others_change]), flipped + more
