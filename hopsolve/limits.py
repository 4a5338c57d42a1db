"""The largest values hopsolve accepts from a user, where a larger one could only be a mistake or overflow."""

from __future__ import annotations

import math
import numbers

import numpy as np

from hopsolve.errors import ParameterError

MAX_TIME_LIMIT = 1e7
"""Seconds (about 116 days): beyond it a time limit cannot be honoured or converted into sweeps without
overflowing."""


def check_time_limit(time_limit: float | None) -> float | None:
    """A time limit as given, or a one-line error: it must be a positive, finite number up to ``MAX_TIME_LIMIT``."""
    if time_limit is None:
        return None
    # numbers.Real: numpy's float32 and int64 too (np.float64 only passed as a float subclass)
    if isinstance(time_limit, (bool, np.bool_)) or not isinstance(time_limit, numbers.Real):
        raise ParameterError(f"time limit must be positive and finite, at most {MAX_TIME_LIMIT:g} seconds, "
                             f"got {time_limit!r:.40}")
    try:
        if isinstance(time_limit, np.floating) and np.finfo(time_limit.dtype).bits < 64:
            value = float(str(time_limit))  # np.float32(0.1) is the 0.1 its shortest text says, not 0.10000000149
        else:
            value = float(time_limit)
    except OverflowError:  # an integer past float's range (10**400)
        value = math.inf
    if not math.isfinite(value) or not 0 < value <= MAX_TIME_LIMIT:
        raise ParameterError(f"time limit must be positive and finite, at most {MAX_TIME_LIMIT:g} seconds, "
                             f"got {time_limit!r:.40}")
    return value
