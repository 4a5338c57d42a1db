"""The clean-up of graded outputs on a permutation layout: each broken read becomes the nearest permutation.

Continuous backends (``tank``'s networks, ``bifurcation``'s oscillators) end with one graded value per unit. On a
permutation energy (TSP, assignment, QAP) a read whose thresholded state is not a permutation matrix is replaced by
the permutation of largest total output, a linear assignment on its ``items × positions`` outputs: the usual
clean-up of mean-field and softassign networks, and the same state wherever the read was already a permutation.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from hopsolve.energy import Energy


def nearest_permutations(v: np.ndarray, states: np.ndarray, energy: Energy) -> tuple[np.ndarray, int]:
    """``states`` with every read that is not a permutation of ``energy.layout`` replaced by the permutation of
    largest total output ``Σ_i V[i, p(i)]`` (scipy's linear assignment); returns them and how many were replaced."""
    index = energy.layout.indices()
    states = states.copy()
    on = states[:, index] == 1  # reads × items × positions
    broken = np.flatnonzero(~((on.sum(axis=1) == 1).all(axis=1) & (on.sum(axis=2) == 1).all(axis=1)))
    for r in broken:
        items, positions = linear_sum_assignment(v[r][index], maximize=True)
        states[r, index] = energy.vartype.low
        states[r, index[items, positions]] = 1
    return states, len(broken)


def assignment_seconds(energy: Energy) -> float:
    """Seconds one read's clean-up may take: one linear assignment on the layout's ``m × m`` outputs, timed on
    random ones (at m = 600 it is a sizeable share of a short limit)."""
    m = energy.layout.size
    began = time.perf_counter()
    linear_sum_assignment(np.random.default_rng(0).random((m, m)), maximize=True)
    return time.perf_counter() - began
