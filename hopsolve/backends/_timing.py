"""Timing a short piece of work to project a longer one: the fastest of a few tries."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


def fastest_seconds(work: Callable[[], object], tries: int) -> float:
    """Seconds the fastest of ``tries`` calls of ``work`` took.

    Set-up checks project a timing of a few milliseconds to a whole run (tens or thousands of times longer), so a
    context switch of a busy machine caught in one timing would be multiplied; it is unlikely to catch every one of
    a few, and the work's own cost does not vary between calls."""
    fastest = math.inf
    for _ in range(tries):
        began = time.perf_counter()
        work()
        fastest = min(fastest, time.perf_counter() - began)
    return fastest
