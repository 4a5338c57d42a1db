"""One place where seeds become random generators, so every stochastic function is reproducible."""

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


def resolve_seed(seed: int | None) -> int:
    """The seed to record in a result: the given one, or a fresh one drawn so the run can be repeated."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def read_seeds(seed: int, reads: int) -> np.ndarray:
    """Independent 64-bit seeds for each read, derived from one seed (same seed → same reads on any executor)."""
    return np.random.SeedSequence(seed).generate_state(reads, dtype=np.uint64).astype(np.int64) & ((1 << 62) - 1)
