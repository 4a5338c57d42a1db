"""Exact minimisation by Gray-code enumeration: every ground state of a small energy, for tests and references."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np

from hopsolve.backend import Backend, Callback
from hopsolve.energy import Energy, Vartype
from hopsolve.errors import TooLargeError
from hopsolve.params import require
from hopsolve.sampleset import SampleSet

MAX_EXACT_VARIABLES = 26


@numba.njit(cache=True)
def _gray_code_minimum(w: np.ndarray, b: np.ndarray, tolerance: float, max_states: int):
    """Walk all 2ⁿ spin states flipping one spin per step; keep every state within ``tolerance`` of the minimum."""
    n = len(b)
    s = -np.ones(n)
    h = b - w.sum(axis=1)
    e = 0.5 * w.sum() + b.sum()  # E(all -1) = -½ 1ᵀW1 + bᵀ1 with s = -1
    best = e
    found = np.zeros((max_states, n), dtype=np.int8)
    count = 1
    found[0, :] = -1
    for k in range(1, 1 << n):
        i = 0
        while not (k >> i) & 1:
            i += 1
        e += 2.0 * s[i] * h[i]
        s[i] = -s[i]
        for j in range(n):
            h[j] += 2.0 * s[i] * w[j, i]
        if e < best - tolerance:
            best = e
            count = 0
        if e <= best + tolerance and count < max_states:
            for j in range(n):
                found[count, j] = np.int8(s[j])
            count += 1
    return best, found[:count]


class ExactBackend(Backend):
    """Enumerate every state (Gray code, O(2ⁿ·n)); returns all ground states. Refuses more than 26 variables."""

    name = "exact"
    description = "exact enumeration of all 2^n states (n ≤ 26); returns every ground state"

    @dataclass(frozen=True)
    class Params:
        """Parameters of the exact backend."""

        max_states: int = 1024
        """Keep at most this many degenerate ground states."""
        tolerance: float = 1e-9
        """States within this (relative to the largest coefficient) of the minimum count as ground states."""

        def validate(self) -> None:
            require(self.max_states >= 1, "backend 'exact'", "max_states must be at least 1")
            require(self.tolerance >= 0, "backend 'exact'", "tolerance must be non-negative")

    def solve(self, energy: Energy, params=None, *, seed=None, initial_states=None,
              callback: Callback | None = None) -> SampleSet:
        params = params or self.Params()
        n = energy.num_variables
        if n > MAX_EXACT_VARIABLES:
            raise TooLargeError(f"the exact backend enumerates 2^n states and refuses n = {n} > "
                                f"{MAX_EXACT_VARIABLES} variables; choose another backend")
        start = time.perf_counter()
        spin = energy.to_spin()
        if n == 0:
            return SampleSet(np.zeros((1, 0), np.int8), spin.energies(np.zeros((1, 0))), energy.vartype,
                             {"proven_optimal": True, "work": 1, "work_unit": "states"})
        w, b, _ = spin.to_hopfield()
        dense = w.toarray()
        scale = max(1.0, float(np.abs(dense).max(initial=0.0)), float(np.abs(b).max(initial=0.0)))
        _, states = _gray_code_minimum(dense, b, params.tolerance * scale, params.max_states)
        if energy.vartype is Vartype.BINARY:
            states = ((states + 1) // 2).astype(np.int8)
        order = np.lexsort(states.T[::-1])
        return SampleSet.from_states(energy, states[order], proven_optimal=True, ground_states=len(states),
                                     work=2**n, work_unit="states", wall_time_s=time.perf_counter() - start)
