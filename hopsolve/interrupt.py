"""Ctrl-C for solvers that run in native code: stop them politely and keep their best answer.

Python delivers Ctrl-C (``KeyboardInterrupt``) only between bytecodes of the main thread, so a solver busy in C++
(OR-Tools CP-SAT or routing) either never sees it or sees it inside one of its Python callbacks, where it is lost.
:func:`run_stoppably` therefore runs such a solve in a worker thread while the main thread waits; on Ctrl-C it
calls the stop actions the solver registered with :func:`stoppable` (``CpSolver.StopSearch``, a routing search
limit), waits for the solver to return its best solution so far, and reports the run as interrupted. A solver that
registered no stop action cannot be stopped politely: the ``KeyboardInterrupt`` is re-raised at once (the CLI then
prints one line and exits 130), and so is a second Ctrl-C.

Outside the main thread (a Dask worker, a bench worker) nothing can deliver Ctrl-C, so the work runs directly.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_request: contextvars.ContextVar[StopRequest | None] = contextvars.ContextVar("hopsolve_stop_request", default=None)


class StopRequest:
    """The stop actions of one running solve, and whether a stop was requested."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], Any]] = []
        self._lock = threading.Lock()
        self.requested = False

    @contextmanager
    def on_stop(self, action: Callable[[], Any]) -> Iterator[None]:
        """Call ``action`` if a stop is requested while the block runs (at once if it already was)."""
        with self._lock:
            self._actions.append(action)
            already = self.requested
        if already:
            action()
        try:
            yield
        finally:
            with self._lock:
                self._actions.remove(action)

    def request(self) -> bool:
        """Ask the solve to stop; False when it registered no way to be stopped."""
        with self._lock:
            self.requested = True
            actions = list(self._actions)
        for action in actions:
            action()
        return bool(actions)


@contextmanager
def stoppable(action: Callable[[], Any]) -> Iterator[None]:
    """Inside a :func:`run_stoppably` solve, call ``action`` on Ctrl-C (elsewhere: nothing happens)."""
    request = _request.get()
    if request is None:
        yield
        return
    with request.on_stop(action):
        yield


def run_stoppably(work: Callable[[], T], poll_seconds: float = 0.05) -> tuple[T, bool]:
    """Run ``work()`` so that Ctrl-C stops it through its :func:`stoppable` actions; returns its value and whether
    it was interrupted. Exceptions from ``work`` are re-raised in the caller."""
    if threading.current_thread() is not threading.main_thread():
        return work(), False
    request = StopRequest()
    context = contextvars.copy_context()
    context.run(_request.set, request)
    box: dict[str, Any] = {}
    finished = threading.Event()  # not Thread.join: a join interrupted by Ctrl-C can misreport the thread as ended

    def target() -> None:
        try:
            box["value"] = context.run(work)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=target, name="hopsolve-solve", daemon=True)
    while not finished.is_set():
        try:
            if thread.ident is None:
                thread.start()
            finished.wait(poll_seconds)
        except KeyboardInterrupt:
            if request.requested or not request.request():
                raise
    if "error" in box:
        raise box["error"]
    return box["value"], request.requested
