"""Run one task in a worker: read the instance, solve it, and always return one Result record (never raise)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hopsolve.bench.grid import Task
from hopsolve.errors import HopsolveError
from hopsolve.plugins import build_registry
from hopsolve.result import to_jsonable
from hopsolve.solving import solve_path

_REGISTRY = None  # one per worker process: loading plugins once per process, not once per task


def _registry():
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = build_registry()
    return _REGISTRY


def error_record(task: Task, status: str, message: str, wall: float) -> dict[str, Any]:
    """The Result record of a task that failed or ran out of time."""
    return {"task": task.key, "config": task.config, "label": task.solver.shown, "problem": task.problem,
            "instance": Path(task.instance).stem, "instance_path": task.instance,
            "solver": task.solver.name, "kind": task.solver.kind, "params": task.solver.params, "seed": task.seed,
            "status": status, "feasible": False, "objective": None, "reference": None, "gap": None,
            "energy": None, "wall_time_s": wall, "violations": {}, "solution": None, "error": message}


def run_task(task: Task, timing: Callable[[], None] | None = None) -> dict[str, Any]:
    """The JSON record of one run (a solver error becomes status ``error`` with its message). ``timing``, where
    given, is called when a backend's kernels are compiled and its timed run begins (a local worker's watchdog
    counts from then: a first compile of 25-30 s had been taken for a run past its limit, and killed)."""
    start = time.perf_counter()
    try:
        # the grid's limit, else a backend's params time_limit (applied by the backend itself, from the params)
        limit_applied = task.effective_time_limit is not None
        if task.solver.kind == "backend" and not _registry().backend(task.solver.name).supports_time_limit():
            limit_applied = False  # a backend without a time_limit parameter (a third party's)
        kwargs: dict[str, Any] = {"seed": task.seed, "time_limit": task.time_limit if limit_applied else None,
                                  "params": task.solver.params}
        if task.solver.kind == "backend":  # encoding options and penalty weights are for backends' energies only
            kwargs.update(options=task.options or None, weights=task.weights or None)
            if timing is not None:
                kwargs["callback"] = lambda update: timing() if update.get("stage") == "solving" else None
        kwargs["backend" if task.solver.kind == "backend" else "baseline"] = task.solver.name
        result, _, instance = solve_path(_registry(), task.instance, problem=task.problem, **kwargs)
    except (HopsolveError, Exception, SystemExit) as exc:  # noqa: BLE001 - every failure is a row, the sweep goes on
        detail = str(exc) if isinstance(exc, HopsolveError) else "".join(
            traceback.format_exception_only(type(exc), exc)).strip()  # a user's error reads as the CLI prints it
        return error_record(task, "error", detail, time.perf_counter() - start)
    record = result.to_dict()
    if not task.trace:
        record.get("info", {}).pop("anytime", None)
    record.update({"task": task.key, "config": task.config, "label": task.solver.shown, "instance": result.instance,
                   "instance_path": task.instance, "time_limit_applied": limit_applied})
    return to_jsonable(record)
