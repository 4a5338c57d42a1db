"""Ctrl-C for solvers that run in native code: stop them politely and keep their best answer.

Python delivers Ctrl-C (``KeyboardInterrupt``) only between bytecodes of the main thread, so a solver busy in C++
(OR-Tools CP-SAT or routing) either never sees it or sees it inside one of its Python callbacks, where it is lost.
:func:`run_stoppably` therefore runs such a solve in a worker thread while the main thread waits; on Ctrl-C it
calls the stop actions the solver registered with :func:`stoppable` (``CpSolver.StopSearch``, a routing search
limit), waits for the solver to return its best solution so far, and reports the run as interrupted. A solver still
building its model is stopped as soon as it registers its action. Work that registers none within a grace period
cannot be stopped politely: the ``KeyboardInterrupt`` is re-raised (the CLI then prints one line and exits 130),
and so it is on a second Ctrl-C.

Outside the main thread (a Dask worker, a bench worker) nothing can deliver Ctrl-C, so the work runs directly.

Compiling is the other place where Ctrl-C cannot simply be raised: numba's compiler calls back into Python from
LLVM through ctypes, and a ``KeyboardInterrupt`` raised inside such a callback is only printed ("Exception ignored
on calling ctypes callback function") while the compile goes on, sometimes leaving the kernel unusable in that
process ("no compiled object yet"). :func:`ctrl_c_deferred` holds Ctrl-C while kernels compile and raises it
once they have.
"""

from __future__ import annotations

import contextlib
import contextvars
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

T = TypeVar("T")

_request: contextvars.ContextVar[StopRequest | None] = contextvars.ContextVar("hopsolve_stop_request", default=None)


class StopRequest:
    """The stop actions of one running solve, and whether a stop was requested."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], Any]] = []
        self._lock = threading.Lock()
        self.requested = False
        self.acted = False
        """Whether a stop action has been called (at the request, or when registered after it)."""

    @contextmanager
    def on_stop(self, action: Callable[[], Any]) -> Iterator[None]:
        """Call ``action`` if a stop is requested while the block runs (at once if it already was)."""
        with self._lock:
            self._actions.append(action)
            already = self.requested
        if already:
            action()
            self.acted = True
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
        self.acted = self.acted or bool(actions)
        return bool(actions)


@contextmanager
def stoppable(action: Callable[[], Any]) -> Iterator[None]:
    """Inside a :func:`run_stoppably` solve, call ``action`` on Ctrl-C (elsewhere: nothing happens). It may be
    called more than once, so it must be idempotent (``CpSolver.StopSearch``, ``Event.set``)."""
    request = _request.get()
    if request is None:
        yield
        return
    with request.on_stop(action):
        yield


GRACE_SECONDS = 2.0
"""After a Ctrl-C, how long :func:`run_stoppably` waits for work that has registered no stop action yet (a baseline
still building its model) to register one or to finish, before it abandons the work."""

REPEAT_SECONDS = 0.5
"""A Ctrl-C this soon after the first is taken as the same one: ``timeout -s INT`` signals both the process and its
group, and the two deliveries can arrive apart."""

WORKER_NAME = "hopsolve-solve"
"""The name of :func:`run_stoppably`'s worker threads (how :func:`abandoned_work` finds them)."""


class DeadlinePassed(Exception):
    """:func:`run_stoppably`'s work was still running at its ``deadline``: stopped there (see :func:`_stop_thread`),
    or, where it could not be, left unfinished in its thread."""


class _StoppedAtDeadline(BaseException):
    """Raised inside the work's thread at its deadline (a ``BaseException``, so that a library's ``except
    Exception`` does not swallow it)."""


STOP_WAIT_SECONDS = 0.5
"""How long :func:`run_stoppably` tries to stop the work's thread at its deadline (:func:`_stop_thread`, every poll)
before abandoning it."""

_UNSAFE_TO_STOP = ("<frozen importlib", "importlib/__init__.py")
"""Code inside which an exception raised from outside could leave a module half-imported for the rest of the
process (a networkx baseline stopped during ``import networkx`` in a fresh bench worker broke every later
networkx call there)."""


def _safe_to_stop(thread: threading.Thread) -> bool:
    """Whether ``thread`` is outside any import and not inside the ``threading`` module's own code (a lock's
    bookkeeping), so that an exception raised in it now unwinds only the work."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is not None and frame.f_code.co_filename.endswith("threading.py"):
        return False
    while frame is not None:
        if frame.f_code.co_filename.startswith(_UNSAFE_TO_STOP[0]) or frame.f_code.co_filename.endswith(
                _UNSAFE_TO_STOP[1]):
            return False
        frame = frame.f_back
    return True


def _stop_thread(thread: threading.Thread) -> None:
    """Raise :class:`_StoppedAtDeadline` in ``thread`` at its next Python bytecode (CPython's
    ``PyThreadState_SetAsyncExc``), where :func:`_safe_to_stop` allows it. Pure-Python work (networkx's heuristics)
    stops within microseconds; a thread inside one long native call stops only when the call returns."""
    import ctypes

    if thread.ident is not None and thread.is_alive() and _safe_to_stop(thread):
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_StoppedAtDeadline))


def _stop_at_deadline(thread: threading.Thread, finished: Callable[[], bool], poll_seconds: float) -> None:
    """Try to stop ``thread`` for :data:`STOP_WAIT_SECONDS`, again at every poll (a stop held off while it imports,
    or lost in a ``__del__``, is sent again), until ``finished()``. Sleeps, never waits on a lock (see
    :func:`run_stoppably`)."""
    stop_by = time.perf_counter() + STOP_WAIT_SECONDS
    while not finished() and thread.is_alive() and time.perf_counter() < stop_by:
        _stop_thread(thread)
        with suppress(KeyboardInterrupt):
            time.sleep(poll_seconds / 5)


def _finished_or_passed(box: dict[str, Any]) -> Any:
    """The work's value if it came in after all (it ended as the deadline passed), else :class:`DeadlinePassed`;
    the work's own error is raised as it is."""
    if "value" in box:
        return box["value"]
    if "error" in box and not isinstance(box["error"], _StoppedAtDeadline):
        raise box["error"]
    raise DeadlinePassed


def _run_until(work: Callable[[], T], deadline: float, poll_seconds: float) -> T:
    """Off the main thread (a Dask worker's task thread, a bench worker): ``work()`` in a thread of its own, stopped
    at ``deadline`` (:func:`_stop_at_deadline`), so that a solver that cannot stop by itself does not run on for
    minutes past its limit there (a networkx baseline on a Dask worker ran 10 minutes past a 1 s limit)."""
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = context.run(work)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name=WORKER_NAME, daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.perf_counter()))
    if thread.is_alive():
        _stop_at_deadline(thread, lambda: "value" in box or "error" in box, poll_seconds)
    return _finished_or_passed(box)


def run_stoppably(work: Callable[[], T], poll_seconds: float = 0.05, deadline: float | None = None
                  ) -> tuple[T, bool]:
    """Run ``work()`` so that Ctrl-C stops it through its :func:`stoppable` actions; returns its value and whether
    it was interrupted. Exceptions from ``work`` are re-raised in the caller. With a ``deadline``
    (``time.perf_counter()``), work still running then is stopped by an exception raised in its thread
    (:func:`_stop_thread`; where it is inside a long native call, abandoned after :data:`STOP_WAIT_SECONDS`), and
    :class:`DeadlinePassed` is raised: work that cannot stop by itself at a time limit (see
    ``Baseline.stops_at_time_limit``). Outside the main thread nothing can deliver Ctrl-C: the work runs directly,
    or, with a deadline, in a thread stopped at it (:func:`_run_until`).

    On Ctrl-C every stop action is called, and so is any the work registers later (a solver still building its
    model is stopped as soon as it starts searching); they are called again at every poll until the work ends, as
    CP-SAT ignores a stop that comes before its search has begun. The work's own value, its best so far, is then
    returned. Work that has no stop action after :data:`GRACE_SECONDS`, and any work on a second Ctrl-C (at least
    :data:`REPEAT_SECONDS` after the first), is abandoned: the ``KeyboardInterrupt`` is raised, the worker thread
    is left running, and :func:`abandoned_work` says so (the CLI then ends the process at once: a C++ solver torn
    down by the interpreter's exit would abort it).

    While the work runs, Python's Ctrl-C handler is replaced by one that only notes the time, and the main thread
    sleeps between polls: a ``KeyboardInterrupt`` raised inside ``Event.wait`` (a lock's wait), as a Ctrl-C
    delivered twice did, broke the lock ("RuntimeError: release unlocked lock", an internal error)."""
    if threading.current_thread() is not threading.main_thread():
        return (work() if deadline is None else _run_until(work, deadline, poll_seconds)), False
    request = StopRequest()
    context = contextvars.copy_context()
    context.run(_request.set, request)
    box: dict[str, Any] = {}
    finished = threading.Event()  # polled, never waited on (see below)

    def target() -> None:
        try:
            box["value"] = context.run(work)
        except BaseException as exc:  # handed to the caller's thread below
            if isinstance(exc, MemoryError):  # its frames' locals (what filled memory) go now, not with the error:
                traceback.clear_frames(exc.__traceback__)  # kept, setting the event below failed too (a hang)
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=target, name=WORKER_NAME, daemon=True)
    presses: list[float] = []  # when each Ctrl-C came (time.monotonic)
    previous = signal.getsignal(signal.SIGINT)
    noted = previous is signal.default_int_handler  # else SIGINT is ignored, or someone else's to handle
    if noted:  # Ctrl-C noted, not raised: an exception inside a lock's wait can leave the lock broken
        signal.signal(signal.SIGINT, lambda signum, frame: presses.append(time.monotonic()))
    try:
        thread.start()
        while not finished.is_set() and thread.is_alive():  # a thread that died unfinished is not waited for
            try:
                time.sleep(poll_seconds)
            except KeyboardInterrupt:  # where SIGINT has a handler of its own that raises it
                presses.append(time.monotonic())
            if deadline is not None and not finished.is_set() and thread.is_alive() and time.perf_counter() >= deadline:
                _stop_at_deadline(thread, finished.is_set, poll_seconds)
                if "value" in box:  # it ended as the deadline passed: its answer stands
                    break
                raise DeadlinePassed
            if not presses:
                continue
            if presses[-1] - presses[0] >= REPEAT_SECONDS:  # a second Ctrl-C, not the first one delivered twice
                raise KeyboardInterrupt
            request.request()  # again at every poll: a stop called just before a search begins may be lost
            if not request.acted and time.monotonic() - presses[0] > GRACE_SECONDS:
                raise KeyboardInterrupt  # nothing could stop the work politely
    finally:
        if noted:
            signal.signal(signal.SIGINT, previous)
    if "error" in box:
        raise box["error"]
    if "value" not in box:  # the worker died before it could hand anything over: out of memory in its handler
        raise MemoryError("the solver's thread ended without an answer (out of memory)")
    return box["value"], request.requested


def abandoned_work() -> bool:
    """Whether work that :func:`run_stoppably` abandoned (on Ctrl-C or at its deadline) is still running in its
    thread."""
    return any(t.name == WORKER_NAME and t.is_alive() for t in threading.enumerate())


def ctrl_c_raises_here() -> bool:
    """Whether a Ctrl-C would raise ``KeyboardInterrupt`` in this thread: the main thread, with Python's own
    handler installed (not ignored, as in a bench worker, nor someone else's, as the CLI's while it prepares)."""
    return threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler


DEFERRED_NOTE = ("hopsolve: Ctrl-C: stopping once the kernels being compiled are ready (a compile cut short could "
                 "leave them unusable in this process)")


@contextmanager
def _held(first_press: Callable[[], None] | None) -> Iterator[None]:
    """Hold Ctrl-C while the block runs and raise it as ``KeyboardInterrupt`` when the block ends, calling
    ``first_press`` at the first press; in the main thread with Python's own handler installed only, elsewhere the
    block runs as it is."""
    if not ctrl_c_raises_here():
        yield
        return
    presses: list[float] = []

    def hold(signum: int, frame: Any) -> None:
        if not presses and first_press is not None:
            first_press()
        presses.append(time.monotonic())

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if presses:
        raise KeyboardInterrupt


def ctrl_c_deferred(note: str = DEFERRED_NOTE) -> contextlib.AbstractContextManager[None]:
    """Hold Ctrl-C while the block runs (it compiles kernels: see the module docstring), then raise it as
    ``KeyboardInterrupt`` when the block ends. The first Ctrl-C prints ``note`` on standard error; later ones are
    held too: raised at once, a second press could land inside the compiler's callbacks as the first would have.
    Only in the main thread with Python's own handler installed (the CLI's ``solve`` installs one of its own that
    ends the process at once); elsewhere the block runs as it is."""
    def say() -> None:
        with suppress(OSError, ValueError):  # nobody reads standard error any more
            print(note, file=sys.stderr, flush=True)

    return _held(say)


def ctrl_c_after_block() -> contextlib.AbstractContextManager[None]:
    """Hold Ctrl-C until the block ends, then raise it as ``KeyboardInterrupt``: for a kernel call and the
    bookkeeping of the work it did. Ctrl-C pressed during a compiled call is raised by Python at the first
    bytecode after it returns, before the call's work is counted: the work was in the states, not in the count, so
    the replay of an interrupted run missed a chunk (pr1002 interrupted at round 192 gave 274196, its replay
    274211). A compiled call cannot be interrupted anyway, so holding the press costs nothing. Only in the main
    thread with Python's own handler installed; elsewhere the block runs as it is."""
    return _held(None)
