"""Shared by the reader benchmarks: read one file with a reader's numpy fast path and again with it swapped out."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def read_fast_and_slow(module: ModuleType, fast_path: str, reader: Callable[[Path], Any],
                       path: Path) -> tuple[Any, Any]:
    """``reader(path)`` with ``module``'s fast path ``fast_path`` in place, then with it swapped for one that always
    steps aside (the line-by-line reader), each timed and printed; returns both results."""
    began = time.perf_counter()
    fast = reader(path)
    print(f"fast path: {time.perf_counter() - began:.1f} s", flush=True)
    original = getattr(module, fast_path)
    setattr(module, fast_path, lambda *_: None)
    try:
        began = time.perf_counter()
        slow = reader(path)
        print(f"line by line: {time.perf_counter() - began:.1f} s", flush=True)
    finally:
        setattr(module, fast_path, original)
    return fast, slow
