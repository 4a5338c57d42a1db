"""Compiled tabu search with perturbations (a breakout local search) over a spin model's CSR couplings.

The model is ``E(s) = -½ sᵀWs - bᵀs + const`` (:class:`~hopsolve.backends._model.SpinModel` without group
penalties); ``h = Ws + b`` are the fields, and flipping ``i`` changes the energy by ``Δ_i = 2 s_i h_i``. A move
flips the unit of least ``Δ`` among those not tabu (a unit flipped at iteration ``t`` is tabu until
``t + tenure``, tenure drawn in ``[tenure_min, tenure_min + tenure_span]``), or a tabu one whose flip beats the
walk's best energy (aspiration). The scan for the best move is O(n) per move and works for any weights; the
fields are updated in O(degree) after each flip, and the energy by ``Δ``.

When the walk's best has not improved for ``stall`` moves it *breaks out* (Benlic & Hao, "Breakout local
search for the max-cut problem", Eng. Appl. Artif. Intell. 26, 1162 (2013), simplified): it returns to its best
state and flips ``jump`` random units, ``jump`` growing by one each time the walk comes back without improving
(from ``jump_min`` up to ``jump_max``) and reset to ``jump_min`` after an improvement.

Each walk owns its arrays and a xorshift64* stream, and its iteration counter and tabu list persist between
calls, so a walk gives the same states for any split of its moves into chunks and any number of threads.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from numba import prange

from hopsolve.backends._kernels import xorshift_uniform

Walks = namedtuple("Walks", ["states", "fields", "energies", "best_states", "best", "tabu_until", "iteration",
                             "last_improved", "jump", "rng"])
"""The state of W walks: spins and fields (W × n, float64), running and best energies (W), best states
(W × n), the iteration until which each unit is tabu (W × n, int64), each walk's move counter, the move of its
last improvement and its current jump size (W, int64), and its generator (W, uint64)."""


@numba.njit(cache=True, inline="always")
def _flip(indptr, indices, data, s, h, i):
    twice = -2.0 * s[i]
    s[i] = -s[i]
    for q in range(indptr[i], indptr[i + 1]):
        h[indices[q]] += twice * data[q]


@numba.njit(cache=True)
def _walk(indptr, indices, data, s, h, energy, best_state, best, tabu_until, iteration, last_improved, jump, rng,
          moves, tenure_min, tenure_span, stall, jump_min, jump_max):
    """``moves`` iterations of one walk; returns (energy, best, iteration, last_improved, jump, rng)."""
    n = len(s)
    x_rng = rng
    unsaved = False  # the current state is the best one but best_state does not hold it yet
    for _ in range(moves):
        if iteration - last_improved > stall:
            if unsaved:
                best_state[:] = s
                unsaved = False
            for i in range(n):  # back to the walk's best state
                if s[i] != best_state[i]:
                    _flip(indptr, indices, data, s, h, i)
            energy = best
            for _k in range(jump):
                x_rng, u = xorshift_uniform(x_rng)
                i = int(u * n)
                energy += 2.0 * s[i] * h[i]
                _flip(indptr, indices, data, s, h, i)
                tabu_until[i] = iteration + tenure_min
            jump = min(jump + 1, jump_max)
            last_improved = iteration
        x_rng, u = xorshift_uniform(x_rng)
        start = int(u * n)
        chosen = -1
        chosen_delta = np.inf
        for k in range(n):
            i = start + k
            if i >= n:
                i -= n
            delta = 2.0 * s[i] * h[i]
            if delta < chosen_delta and (tabu_until[i] <= iteration or energy + delta < best - 1e-9):
                chosen = i
                chosen_delta = delta
        iteration += 1
        if chosen < 0:
            continue
        if chosen_delta > 0.0 and unsaved:
            best_state[:] = s
            unsaved = False
        _flip(indptr, indices, data, s, h, chosen)
        energy += chosen_delta
        x_rng, u = xorshift_uniform(x_rng)
        tabu_until[chosen] = iteration + tenure_min + int(u * (tenure_span + 1))
        if energy < best - 1e-9:
            best = energy
            unsaved = True
            last_improved = iteration
            jump = jump_min
    if unsaved:
        best_state[:] = s
    return energy, best, iteration, last_improved, jump, x_rng


@numba.njit(cache=True, parallel=True)
def _run_walks(indptr, indices, data, states, fields, energies, best_states, best, tabu_until, iteration,
               last_improved, jump, rng, moves, tenure_min, tenure_span, stall, jump_min, jump_max):
    for w in prange(states.shape[0]):
        e, b, it, last, size, x = _walk(indptr, indices, data, states[w], fields[w], energies[w], best_states[w],
                                        best[w], tabu_until[w], iteration[w], last_improved[w], jump[w], rng[w],
                                        moves, tenure_min, tenure_span, stall, jump_min, jump_max)
        energies[w] = e
        best[w] = b
        iteration[w] = it
        last_improved[w] = last
        jump[w] = size
        rng[w] = x


def run_walks(indptr, indices, data, walks: Walks, moves: int, tenure_min: int, tenure_span: int, stall: int,
              jump_min: int, jump_max: int) -> None:
    """``moves`` iterations of every walk, in parallel over the walks (the arrays of ``walks`` are updated)."""
    _run_walks(indptr, indices, data, *walks, moves, tenure_min, tenure_span, stall, jump_min, jump_max)


def new_walks(states: np.ndarray, fields: np.ndarray, energies: np.ndarray, streams: np.ndarray,
              jump_min: int) -> Walks:
    """Walks starting at ``states`` (W × n spins as float64) with their fields and energies."""
    count, n = states.shape
    return Walks(states=np.ascontiguousarray(states, dtype=np.float64),
                 fields=np.ascontiguousarray(fields, dtype=np.float64),
                 energies=np.asarray(energies, dtype=np.float64).copy(),
                 best_states=np.ascontiguousarray(states, dtype=np.float64).copy(),
                 best=np.asarray(energies, dtype=np.float64).copy(), tabu_until=np.zeros((count, n), np.int64),
                 iteration=np.zeros(count, np.int64), last_improved=np.zeros(count, np.int64),
                 jump=np.full(count, jump_min, np.int64), rng=np.asarray(streams, dtype=np.uint64).copy())


def compile_kernels() -> None:
    """Compile (or load) the walk kernels on two units, with the types of a solve's model (about 7 s with an empty
    numba cache)."""
    walks = new_walks(np.array([[1.0, -1.0]]), np.zeros((1, 2)), np.zeros(1), np.ones(1, np.uint64), 1)
    run_walks(np.array([0, 1, 2], np.int64), np.array([1, 0], np.int32), np.ones(2), walks, 2, 1, 1, 1, 1, 2)
