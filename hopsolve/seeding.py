"""One place where seeds become random generators, so every stochastic function is reproducible.

A seed is normalised by :func:`resolve_seed` (``None`` draws a fresh one, recorded in the result; anything but a
non-negative integer below 2⁶³ is refused); numpy generators come from :func:`make_rng`; the compiled kernels'
per-read xorshift states from :func:`kernel_states` (one ``numpy.random.SeedSequence`` per run, so the same seed
gives the same reads on any executor and any number of threads) and an auxiliary stream, independent of the
reads', from :func:`auxiliary_state`.
"""

from __future__ import annotations

import numpy as np

from hopsolve.errors import ParameterError

SeedLike = int | np.random.Generator | None


def make_rng(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator from an int, an existing Generator, or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(seed)


MAX_SEED = 2**63 - 1


def resolve_seed(seed: int | None) -> int:
    """The seed to record in a result: the given one, or a fresh one drawn so the run can be repeated."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    return int(seed)


def kernel_states(seed: int, reads: int) -> np.ndarray:
    """Each read's xorshift64* state (uint64, never zero) for the compiled kernels, from :func:`read_seeds`."""
    return read_seeds(seed, reads).astype(np.uint64) | np.uint64(1)


def auxiliary_state(seed: int) -> np.uint64:
    """A xorshift64* state for work outside the reads (sampling moves to choose a β range)."""
    return np.uint64(resolve_seed(seed) | 1)


def read_seeds(seed: int, reads: int) -> np.ndarray:
    """Independent 64-bit seeds for each read, derived from one seed (same seed → same reads on any executor)."""
    return np.random.SeedSequence(seed).generate_state(reads, dtype=np.uint64).astype(np.int64) & ((1 << 62) - 1)
