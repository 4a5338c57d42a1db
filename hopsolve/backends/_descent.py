"""A greedy descent of spin states to single-flip local minima: the discrete Hopfield update at zero temperature.

Backends that return states seen at a finite temperature (``replica``'s best states) or read off oscillators
(``bifurcation``'s ``sign(x)``) finish them with it, so that no single flip lowers a returned state's energy. It
never raises an energy, and it keeps one-hot group penalties' bookkeeping (the model's group sums).
"""

from __future__ import annotations

import time

import numpy as np

from hopsolve.backends import _kernels as K
from hopsolve.backends._model import SpinModel

DESCENT_CHUNK = 4
"""Sweeps of a descent between looks at the clock."""
DESCENT_SWEEPS = 1000
"""The most sweeps a descent runs (states not settled by then are kept as they are: still no worse)."""


def descend_states(model: SpinModel, states: np.ndarray, deadline: float | None) -> tuple[np.ndarray, np.ndarray,
                                                                                          int]:
    """(descended spins as int8, each state's energy change, units flipped) of a greedy descent of ``states``
    (rows of ±1 spins) with :func:`hopsolve.backends._kernels.hopfield_async` in index order, in chunks of
    :data:`DESCENT_CHUNK` sweeps until every state is a fixed point, :data:`DESCENT_SWEEPS` have run, or
    ``deadline`` (a ``perf_counter`` time) has passed."""
    spins = np.atleast_2d(states).astype(np.int8)
    total = spins.shape[0]
    before = spins.copy()
    fields = model.initial_fields(spins)
    gsum = np.zeros((total, model.group_of.shape[0], model.group_target.shape[1]))
    K.init_group_sums(model.group_of, spins.astype(np.float64), gsum)
    generators = np.zeros(total, dtype=np.uint64)  # index order: never drawn from
    sweeps, settled, change = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=np.bool_), np.zeros(total)
    first = 0
    while not settled.all() and first < DESCENT_SWEEPS and (deadline is None or time.perf_counter() < deadline):
        K.hopfield_async(model.indptr, model.indices, model.data, model.group_of, model.group_target,
                         model.group_scale, spins, fields, gsum, generators, False, 0, first, first + DESCENT_CHUNK,
                         sweeps, settled, change, np.empty((total, 0)))
        first += DESCENT_CHUNK
    return spins, change, int((spins != before).sum())
