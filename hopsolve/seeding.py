"""One place where seeds become random generators, so every stochastic function is reproducible.

A seed is normalised once by :func:`resolve_seed` (``None`` draws a fresh one, recorded in the result; anything
but an integer from 0 to 2⁶³ − 1 is refused). Every stream of a run is then derived from it by
``numpy.random.SeedSequence.spawn``, one tree per seed::

    SeedSequence(seed)
     ├─ spawn 0: the run's numpy Generator (random initial states, start points)   make_rng(seed)
     ├─ spawn 1: an auxiliary compiled-kernel stream (sampling moves to set β)     auxiliary_state(seed)
     └─ spawn 2: the reads' parent
          └─ spawn i: read i's compiled-kernel (xorshift64*) stream               kernel_states(seed, reads)[i]

A read's stream depends only on the seed and the read's index — not on how many reads there are, the executor, or
the number of threads — and the streams are statistically independent (that is what ``spawn`` guarantees).
Deriving a read's stream costs about 20 µs, so 10⁵ reads take about two seconds.
"""

from __future__ import annotations

import numpy as np

from hopsolve.errors import ParameterError

SeedLike = int | np.random.Generator | None

MAX_SEED = 2**63 - 1

_RUN_GENERATOR, _AUXILIARY, _READS = range(3)


def resolve_seed(seed: int | None) -> int:
    """The seed to record in a result: the given one, or a fresh one drawn so the run can be repeated."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    return int(seed)


def _branch(seed: int, index: int) -> np.random.SeedSequence:
    """Child ``index`` of the seed's SeedSequence (what ``SeedSequence(seed).spawn(3)[index]`` returns)."""
    return np.random.SeedSequence(resolve_seed(seed)).spawn(3)[index]


def make_rng(seed: SeedLike) -> np.random.Generator:
    """The run's numpy Generator: from an int (its spawn-0 stream), an existing Generator, or None (fresh)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(_branch(seed, _RUN_GENERATOR))


def read_sequences(seed: int, reads: int) -> list[np.random.SeedSequence]:
    """Each read's SeedSequence: the children of the seed's read branch, spawned once per read."""
    return _branch(seed, _READS).spawn(int(reads))


def kernel_states(seed: int, reads: int, first: int = 0) -> np.ndarray:
    """Each read's xorshift64* state (uint64, never zero) for the compiled kernels, one per spawned read stream:
    reads ``first`` to ``first + reads - 1`` (a batch's states are made when it starts; read i's child of the read
    branch is ``SeedSequence(entropy, spawn_key + (i,))``, exactly what ``spawn`` gives)."""
    parent = _branch(seed, _READS)
    states = np.empty(int(reads), dtype=np.uint64)
    for index in range(int(reads)):
        child = np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, first + index),
                                       pool_size=parent.pool_size)
        states[index] = child.generate_state(1, dtype=np.uint64)[0]
    return states | np.uint64(1)


def auxiliary_state(seed: int) -> np.uint64:
    """A xorshift64* state for work outside the reads (sampling moves to choose a β range)."""
    return np.uint64(_branch(seed, _AUXILIARY).generate_state(1, dtype=np.uint64)[0] | np.uint64(1))
