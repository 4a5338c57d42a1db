"""BLAS held at one thread while a compiled backend solves.

The compiled kernels use the cores. The BLAS products beside them (the constant's energy, a dense model's set-up,
the scoring of the reads) are small, and a threaded one leaves OpenBLAS's threads spinning for a while after it
returns, on the cores the kernels' threads need: K800 dSB solves spent 29% of their samples in OpenBLAS's
``blas_thread_server`` (RESULTS §9.0). ``solve_instance`` and the dimod samplers hold BLAS at one thread around a
solve; a backend called directly holds it itself with :func:`holds_one_blas_thread`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from threadpoolctl import threadpool_limits

F = TypeVar("F", bound=Callable[..., object])


def holds_one_blas_thread(solve: F) -> F:
    """``solve`` with BLAS at one thread for its whole run (restored after it, exceptions included)."""
    @functools.wraps(solve)
    def holding(*args: object, **kwargs: object) -> object:
        with threadpool_limits(limits=1, user_api="blas"):
            return solve(*args, **kwargs)

    return holding  # type: ignore[return-value]
