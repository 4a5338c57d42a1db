"""Exact minimisation by Gray-code enumeration: every ground state of a small energy, for tests and references."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from hopsolve.backend import Backend, Callback
from hopsolve.backends._model import refuse_unscalable
from hopsolve.energy import Energy, Vartype, check_allocation, max_matrix_bytes
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.params import require
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import resolve_seed
from hopsolve.warmup import small_qubo, warm_up

MAX_EXACT_VARIABLES = 26


CHUNK_BITS = 16
"""The enumeration runs in chunks of 2¹⁶ states (the low bits, by Gray code, for one setting of the high bits), so
progress is reported and Ctrl-C and the deadline are seen between chunks (a few milliseconds each at n = 26)."""


@numba.njit(cache=True)
def _gray_code_minimum(w: np.ndarray, b: np.ndarray, start: np.ndarray, bits: int, tolerance: float,
                       found: np.ndarray, count_out: np.ndarray) -> float:
    """Walk the 2^bits spin states that differ from ``start`` in its first ``bits`` units, flipping one spin per
    step; return the minimum, write the states within ``tolerance`` of it to ``found`` (as many as fit), their
    number to ``count_out[0]`` and how many there are in all (kept or not) to ``count_out[1]``.

    The results go to arrays the caller owns and only a float is returned: a Ctrl-C that arrives while numba
    boxes a returned array is raised inside the boxing, and the call then fails with a ``SystemError`` instead of
    a ``KeyboardInterrupt``."""
    n = len(b)
    max_states = found.shape[0]
    s = start.astype(np.float64)
    h = b + w @ s
    e = -0.5 * s @ (w @ s) - b @ s
    best = e
    count = 1
    total = 1
    for j in range(n):
        found[0, j] = np.int8(s[j])
    for k in range(1, 1 << bits):
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
            total = 0
        if e <= best + tolerance:
            total += 1
            if count < max_states:
                for j in range(n):
                    found[count, j] = np.int8(s[j])
                count += 1
    count_out[0] = count
    count_out[1] = total
    return best


def _check_size(energy: Energy) -> None:
    """Refuse an energy of more than :data:`MAX_EXACT_VARIABLES` units, naming its size."""
    n = energy.num_variables
    if n > MAX_EXACT_VARIABLES:
        raise TooLargeError(f"the exact backend enumerates 2^n states and refuses n = {n} > "
                            f"{MAX_EXACT_VARIABLES} variables; choose another backend")


FINISH_SCORINGS = 4.0
"""What finishing a run costs, in scorings of the ground states kept (joined, ordered, scored by the energy, and
converted by a sampler): counted in a time limit before the next chunk is started."""


class _GroundStates:
    """The ground states kept so far (at most ``limit``), as the chunks' parts: appended, not copied each chunk (a
    merge that concatenated and re-scored every kept state took n = 24 with every state a ground state past 120 s)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[np.ndarray] = []
        self.energies: list[np.ndarray] = []
        self.count = 0
        self.ceiling = np.inf  # the energy every kept state is at most

    def clear(self) -> None:
        self.parts, self.energies, self.count, self.ceiling = [], [], 0, np.inf

    def add(self, found: np.ndarray, energies: np.ndarray, ceiling: float) -> None:
        """Keep ``found`` states with energies at most ``ceiling``, in order, up to the limit; those kept before are
        filtered again only where the ceiling came down (within the tolerance of the minimum)."""
        if ceiling < self.ceiling:
            for k, (part, part_energies) in enumerate(zip(self.parts, self.energies)):
                keep = part_energies <= ceiling
                if not keep.all():
                    self.parts[k], self.energies[k] = part[keep], part_energies[keep]
            self.count = sum(len(part) for part in self.parts)
        self.ceiling = min(self.ceiling, ceiling)
        keep = energies <= ceiling
        room = self.limit - self.count
        self.parts.append(found[keep][:room])
        self.energies.append(energies[keep][:room])
        self.count += len(self.parts[-1])

    def first(self) -> np.ndarray:
        return next(part[0] for part in self.parts if len(part))

    def joined(self, n: int) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros((0, n), np.int8)


class ExactBackend(Backend):
    """Enumerate every state (Gray code, O(2ⁿ·n)); returns all ground states. Refuses more than 26 variables."""

    name = "exact"
    starts_from_initial_states = False  # it enumerates every state
    description = "exact enumeration of all 2^n states (n ≤ 26); returns every ground state"

    def prepare(self, energy: Energy, params: Any) -> float:
        """Refuse an energy too large to enumerate, then compile (or load) the enumeration kernel (untimed).

        The kernel is warmed on a three-unit energy, not on :func:`hopsolve.warmup.miniature`: a small energy is
        its own miniature there, and enumerating it in the warm-up would do the whole solve twice, untimed."""
        _check_size(energy)
        return warm_up(self, small_qubo(energy.vartype), params)

    @dataclass(frozen=True)
    class Params:
        """Parameters of the exact backend (no ``reads``: one enumeration returns every ground state)."""

        max_states: int = 1024
        """Keep at most this many degenerate ground states (``info['ground_states']`` counts them all, and
        ``info['ground_states_truncated']`` says whether some were left out)."""
        tolerance: float = 1e-9
        """States within this (relative to the largest coefficient) of the minimum count as ground states."""
        time_limit: float | None = None
        """Stop before a chunk of 2¹⁶ states that the pace says would end past the limit; the best states of the
        chunks done are returned, not proven optimal (``timed_out``)."""

        def validate(self) -> None:
            require(self.time_limit is None or (math.isfinite(self.time_limit) and self.time_limit > 0),
                    "backend 'exact'", "time_limit must be a positive number of seconds")
            require(self.max_states >= 1, "backend 'exact'", "max_states must be at least 1")
            require(self.tolerance >= 0, "backend 'exact'", "tolerance must be non-negative")

    def solve(self, energy: Energy, params=None, *, seed=None, initial_states=None,
              callback: Callback | None = None) -> SampleSet:
        params = self.checked_params(energy, params)
        if initial_states is not None:  # taken and ignored in silence, however malformed
            raise ParameterError("backend 'exact': it enumerates every state, so initial states mean nothing to it; "
                                 "leave them out")
        resolve_seed(seed)  # no randomness, but a seed no other backend takes is refused here too
        n = energy.num_variables
        _check_size(energy)
        start = time.perf_counter()
        spin = energy.to_spin()
        if n == 0:
            return SampleSet(np.zeros((1, 0), np.int8), spin.energies(np.zeros((1, 0))), energy.vartype,
                             {"proven_optimal": True, "work": 1, "work_unit": "states"})
        w, b, offset = spin.to_hopfield()
        refuse_unscalable(w.data, b)
        dense = w.toarray()
        # relative to the coefficients, with no floor: an absolute 1e-9 made every state of a model in units of
        # 1e-12 a ground state, and the first one enumerated was called optimal
        scale = max(float(np.abs(dense).max(initial=0.0)), float(np.abs(b).max(initial=0.0)))
        tolerance = params.tolerance * scale
        bits = min(n, CHUNK_BITS)
        chunks = 1 << (n - bits)
        kept = min(params.max_states, 1 << n)
        limit = max_matrix_bytes()  # (no limit: infinite)
        # at the peak a kept state is held as a part with its energy, joined, converted to bits, packed, ordered,
        # reordered and scored: about 6n + 40 bytes (a count of 2n + 8 was half the peak measured)
        per_state, buffer = 6.0 * n + 40.0, min(params.max_states, 1 << bits) * float(n)
        fits = int(limit // (per_state + n)) if math.isfinite(limit) else 0  # (its buffer then as small)
        check_allocation(per_state * kept + buffer, f"keeping up to {kept:,} ground states of {n} units (max_states)",
                         f"give max_states at most {max(fits, 0):,}" if math.isfinite(limit) else "")
        best, interrupted, done = np.inf, False, 0
        grounds = _GroundStates(params.max_states)
        deadline = None if params.time_limit is None else start + params.time_limit
        timed_out = False
        found_buffer, count = np.zeros((min(params.max_states, 1 << bits), n), np.int8), np.zeros(2, np.int64)
        ground = 0  # every ground state found so far, kept or not
        scoring = [0.0, 0]  # seconds spent scoring found states, and how many: the pace of the finish
        try:  # Ctrl-C between chunks keeps the best states of the chunks done
            for chunk in range(chunks):
                start_state = -np.ones(n)
                high = (chunk >> np.arange(n - bits)) & 1
                start_state[bits:] = 2.0 * high - 1.0
                chunk_best = _gray_code_minimum(dense, b, start_state, bits, tolerance, found_buffer, count)
                if chunk_best <= best + tolerance:
                    ground = ground + int(count[1]) if chunk_best >= best - tolerance else int(count[1])
                    if chunk_best < best - tolerance:  # a lower level: what was kept is not a ground state
                        grounds.clear()
                    best = min(best, chunk_best)
                    found = found_buffer[: count[0]].copy()
                    began = time.perf_counter()
                    grounds.add(found, spin.energies(found), best + offset + tolerance)
                    scoring[0] += time.perf_counter() - began
                    scoring[1] += len(found)
                done = chunk + 1
                if callback is not None:
                    first = grounds.first()
                    best_state = first if energy.vartype is Vartype.SPIN else (first + 1) // 2
                    callback({"done": done, "total": chunks, "unit": "chunks", "best_energy": float(best + offset),
                              "best_state": best_state.astype(np.int8)})
                now = time.perf_counter()
                # the finish (joining, ordering and scoring the kept states, and a sampler's conversion) costs
                # about FINISH_SCORINGS scorings of them: 2,162,688 ground states of 23 units ended a 2 s limit at
                # 3.58 s
                finish = FINISH_SCORINGS * grounds.count * scoring[0] / max(scoring[1], 1)
                if deadline is not None and done < chunks and now + (now - start) / done + finish > deadline:
                    timed_out = True
                    break
        except KeyboardInterrupt:
            interrupted = True
        states = grounds.joined(n)
        if not len(states):
            states = -np.ones((1, n), dtype=np.int8)
        if energy.vartype is Vartype.BINARY:
            states = ((states + 1) // 2).astype(np.int8)
        # the states in lexicographic order, by one key a state: its bits packed, first unit highest (n ≤ 26 bits
        # fit 4 bytes; a lexsort of 23 keys, or an int64 copy of every bit, took about a second for 3 million)
        packed = np.zeros((len(states), 4), dtype=np.uint8)
        packed[:, 4 - (n + 7) // 8:] = np.packbits(states > 0, axis=1)
        order = np.argsort(packed.view(">u4").ravel(), kind="stable")
        complete = done == chunks
        return SampleSet.from_states(energy, states[order], proven_optimal=complete, interrupted=interrupted,
                                     timed_out=timed_out,
                                     ground_states=max(ground, len(states)),
                                     ground_states_truncated=ground > len(states), work=done << bits,
                                     work_unit="states", work_planned=chunks << bits,
                                     wall_time_s=time.perf_counter() - start)
