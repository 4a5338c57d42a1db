"""Where tasks run: local worker processes (each task watched against its time limit) or a Dask cluster."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from hopsolve.bench.grid import Task
from hopsolve.bench.runner import error_record, run_task
from hopsolve.errors import ParameterError, UserError
from hopsolve.interrupt import abandoned_work
from hopsolve.switches import switched_on

SCHEDULER_TIMEOUT_S = 10  # seconds to wait for an existing Dask scheduler to answer
GRACE_SECONDS = 30.0  # beyond its time limit, a task gets this long (plus 50%) before its worker is killed
COMPILE_GRACE_S = 600.0
"""How long a backend task may take to read its instance and compile its kernels before its timed run begins
(the watchdog's deadline counts from then): two first compiles at once on 2 cores passed 31.5 s, and the tasks
were killed as timeouts before they had run."""


def _share_cores(threads: int) -> None:
    """Hold this worker's compiled kernels (numba) and BLAS to ``threads`` threads, so that ``jobs`` workers share
    the cores instead of each starting a thread per core (on 2 cores, 2 workers × 2 threads: a woken BLAS thread
    whose core another worker holds stalls ~15 ms, ``benchmarks/blas_threads.py``). Results do not depend on the
    number of threads (each read has its own random stream)."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    threadpool_limits(limits=threads, user_api="blas")


def _worker(tasks: Any, results: Any, threads: int | None = None) -> None:
    """Take tasks until told to stop; say when each one starts ("started": its deadline counts from then, not from
    the worker's imports) and, for a backend, when its kernels are compiled ("timing": its deadline counts from
    then, compiling being outside the limit; until then it has :data:`COMPILE_GRACE_S`). Exit, after the task in
    hand, if the parent died.

    Ctrl-C reaches the whole process group; a worker ignores it (no traceback from each of them) and the parent,
    which handles it, stops the workers and records nothing of the unfinished tasks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads is not None:
        _share_cores(threads)
    parent = mp.parent_process()
    while True:
        try:
            item = tasks.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if item is None:
            return
        index, task = item
        results.put((index, "started"))
        record = run_task(task, lambda index=index: results.put((index, "timing")))  # once compiled
        if abandoned_work():  # a native call left running past its limit: this process goes, with it, after the
            results.put((index, "retire"))  # record (its thread would slow every later task here)
            results.put((index, record))
            results.close()
            results.join_thread()  # both messages are out before the process is
            os._exit(0)  # at once: a native solver torn down by the interpreter's exit could abort it
        results.put((index, record))


def _deadline(task: Task, grace: float) -> float | None:
    """Seconds the watchdog gives ``task`` from the start of its timed run: 1.5 × the limit it is held to (the
    grid's, else a backend's params ``time_limit``: :attr:`Task.effective_time_limit`) + ``grace``; None: no
    limit, unwatched."""
    limit = task.effective_time_limit
    return None if limit is None else 1.5 * limit + grace


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system reports one (``taskset``, a
    container's cpuset), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def run_local(tasks: list[Task], jobs: int, on_result: Callable[[dict[str, Any]], None],
              grace: float = GRACE_SECONDS) -> None:
    """Run ``tasks`` on ``jobs`` worker processes; a task past its deadline is recorded as ``timeout`` and its
    worker replaced. ``on_result`` is called in this process as each task finishes."""
    if jobs == 1 and all(t.effective_time_limit is None for t in tasks):  # nothing to watch: in this process
        for task in tasks:
            record = run_task(task)
            if record.get("status") == "interrupted":  # Ctrl-C reached the solver: the task is not finished
                raise KeyboardInterrupt
            on_result(record)
        return
    context = mp.get_context("spawn")
    results = context.Queue()
    pending = list(enumerate(tasks))[::-1]
    threads = max(1, usable_cores() // max(jobs, 1)) if jobs > 1 else None  # the cores, shared out
    workers: dict[int, dict[str, Any]] = {}

    def start_worker(slot: int) -> None:
        inbox = context.Queue()
        process = context.Process(target=_worker, args=(inbox, results, threads), daemon=True)
        process.start()
        workers[slot] = {"process": process, "inbox": inbox, "task": None, "since": 0.0}

    def feed(slot: int) -> None:
        if pending:
            index, task = pending.pop()
            workers[slot].update(task=(index, task), since=time.monotonic(), compiling=False)
            workers[slot]["inbox"].put((index, task))
        else:
            workers[slot]["task"] = None

    try:
        for slot in range(min(jobs, len(tasks))):
            start_worker(slot)
            feed(slot)
        while any(w["task"] is not None for w in workers.values()):
            try:
                index, record = results.get(timeout=0.5)
            except queue.Empty:
                index = None
            if index is not None:
                slot = next((s for s, w in workers.items() if w["task"] and w["task"][0] == index), None)
                if slot is not None and record in ("started", "timing"):
                    workers[slot]["since"] = time.monotonic()  # a backend compiles between the two (not timed)
                    workers[slot]["compiling"] = record == "started" and workers[slot]["task"][1].solver.kind == \
                        "backend"
                elif slot is not None and record == "retire":
                    workers[slot]["retiring"] = True
                elif slot is not None:
                    on_result(record)
                    if workers[slot].get("retiring"):  # it exits after this record: a new worker takes the next task
                        workers[slot]["process"].join(timeout=5)
                        if workers[slot]["process"].is_alive():
                            workers[slot]["process"].kill()
                        start_worker(slot)
                    feed(slot)
            for slot, worker in list(workers.items()):
                if worker["task"] is None:
                    continue
                _, task = worker["task"]
                limit = COMPILE_GRACE_S if worker.get("compiling") else _deadline(task, grace)
                overdue = limit is not None and time.monotonic() - worker["since"] > limit
                # a retiring worker has exited on purpose, its record on the way
                if overdue or (not worker["process"].is_alive() and not worker.get("retiring")):
                    worker["process"].kill()
                    status = "timeout" if overdue else "error"
                    message = "exceeded its time limit; worker stopped" if overdue else "worker process died"
                    on_result(error_record(task, status, message, time.monotonic() - worker["since"]))
                    start_worker(slot)
                    feed(slot)
    finally:
        for worker in workers.values():
            if worker["process"].is_alive():
                worker["inbox"].put(None)
        for worker in workers.values():
            worker["process"].join(timeout=2)
            if worker["process"].is_alive():
                worker["process"].kill()


def run_dask(tasks: list[Task], on_result: Callable[[dict[str, Any]], None], scheduler: str | None,
             workers: int | None) -> None:
    """Run ``tasks`` on Dask distributed: an existing scheduler, or a local cluster of ``workers`` processes
    (default: the usable cores; never more than the tasks). ``hopsolve bench`` holds ``workers`` to the cores."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ParameterError("--executor dask needs the optional dependency: pip install 'hopsolve[dask]'") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler!r}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}") from None
        known = client.scheduler_info().get("workers") or {}
        if not known:  # else the bench waits without a word
            print(f"hopsolve bench: the Dask scheduler at {scheduler} has no workers yet; the tasks wait until one "
                  "connects (Ctrl-C to stop)", file=sys.stderr, flush=True)
        shared = sorted({int(w.get("nthreads", 1)) for w in known.values()} - {1})
        # timed runs (a grid's limit or a backend's params') then share a core, and the GIL
        if shared and any(t.effective_time_limit is not None for t in tasks):
            print(f"hopsolve bench: workers of the Dask scheduler at {scheduler} run {shared[-1]} tasks at once "
                  "each: timed tasks will share their cores and do less work, or fail to fit their limits; start "
                  "workers with --nthreads 1", file=sys.stderr, flush=True)
        watching = threading.Event()
        threading.Thread(target=watch_workers, args=(client, scheduler, watching), daemon=True).start()
    else:
        # Ctrl-C is the bench's to handle (each worker printed Dask's tracebacks): ignored while the cluster starts,
        # its processes start ignoring it, as the local workers do. A Ctrl-C in those seconds is lost (blocking it
        # instead did not reach the workers, which unblock it). Only the main thread sets signals (a call from
        # another thread keeps the default)
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            # no more workers than tasks, as run_local starts no more processes than tasks. No dashboard, and its
            # HTTP server (started all the same) on a port the system picks, on this machine only: the default
            # 8787, held by another cluster's dashboard, printed distributed's 4-line "Port 8787 is already in use"
            cluster = LocalCluster(n_workers=min(workers or usable_cores(), len(tasks)), threads_per_worker=1,
                                   processes=True, dashboard_address="127.0.0.1:0",
                                   scheduler_kwargs={"dashboard": False})
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        client = Client(cluster)
        watching = None  # a local cluster's own workers: started here, stopped here
    quiet = _quiet_client_logs(client if cluster is not None else None)
    try:
        futures = {client.submit(run_task, task, pure=False): task for task in tasks}
        for recorded, future in enumerate(as_completed(futures)):
            if future.status != "finished" and _scheduler_lost(client, future):
                # the tasks the cluster never ran are not recorded (as after a Ctrl-C): 25 error records of
                # 0 s were written, the report counted them, and distributed printed its tracebacks (counted by
                # what was recorded: a lost client no longer marks the futures it had collected as finished)
                left = len(futures) - recorded
                raise UserError(f"lost the Dask scheduler{f' at {scheduler}' if scheduler else ''}: {left} task"
                                f"{'' if left == 1 else 's'} not run (the finished ones are in the results file); "
                                "rerun the same command to resume")
            on_result(_dask_record(future, futures[future]))
    finally:
        if watching is not None:
            watching.set()
        try:
            client.close()
        finally:
            quiet()
        if cluster is not None:
            _close_quietly(cluster)


def _scheduler_lost(client: Any, future: Any) -> bool:
    """Whether ``future`` ended because the client lost its scheduler (not a task of its own that failed)."""
    if getattr(client, "status", "running") not in ("running", "newly-created"):
        return True
    try:
        reason = repr(future.exception(timeout=0))
    except Exception as exc:  # noqa: BLE001 - a cancelled future raises its cancellation here
        reason = repr(exc)
    return "scheduler-connection-lost" in reason


QUIET_LOGGERS = ("distributed.client", "distributed.core", "distributed.comm")
"""distributed's loggers that :func:`_quiet_client_logs` holds to their critical messages in this process."""

QUIET_WORKER_LOGGERS = ("distributed.worker", "distributed.worker.state_machine", "distributed.core",
                        "distributed.comm")
"""The same in a local cluster's worker processes, which print to the bench's terminal: a Ctrl-C printed
``distributed.worker.state_machine - WARNING - Async instruction ... ended with CancelledError`` for each task
the workers had in hand."""


def _quiet_client_logs(local_client: Any = None) -> Callable[[], None]:
    """Keep distributed's client and connection loggers to their critical messages while the bench runs (a lost
    scheduler printed two tracebacks among the bench's lines; the bench says what happened in one), unless
    ``HOPSOLVE_DEBUG`` is set; returns what restores them. ``local_client`` is the client of a local cluster
    started by the bench: its workers' loggers (:data:`QUIET_WORKER_LOGGERS`) are quieted too, in every worker,
    one started later included (a worker plugin; they end with the cluster, so nothing is restored there). An
    existing scheduler's workers are left as they are: they print to their own terminals."""
    if switched_on("HOPSOLVE_DEBUG"):
        return lambda: None
    if local_client is not None:
        local_client.register_plugin(_quiet_worker_plugin(), name="hopsolve-quiet-worker-logs")
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)

    def restore() -> None:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)

    return restore


def _quiet_worker_plugin() -> Any:
    """A Dask worker plugin that holds :data:`QUIET_WORKER_LOGGERS` to their critical messages in the worker's
    process (made here: ``distributed`` is an optional dependency, and its ``WorkerPlugin`` is the base class)."""
    from distributed import WorkerPlugin

    class QuietWorkerLogs(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            for name in QUIET_WORKER_LOGGERS:
                logging.getLogger(name).setLevel(logging.CRITICAL)

    return QuietWorkerLogs()


def _close_quietly(cluster: Any) -> None:
    """Close a local cluster without its nannies' warning (they run in this process) that a worker busy with a
    task cut short by Ctrl-C is killed after 4 s: expected then, and a line beside bench's own."""
    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)
    try:
        cluster.close()
    finally:
        nanny.setLevel(level)


WORKER_CHECK_S = 10.0
"""How often a bench on an existing Dask scheduler asks it how many workers it has (see :func:`watch_workers`)."""


def watch_workers(client: Any, scheduler: str, stop: threading.Event, every: float = WORKER_CHECK_S) -> None:
    """Until ``stop``: say when the scheduler's workers are all gone (the bench then waits for one, and waited
    without a word when a cluster's workers were stopped mid-run), and when workers are back."""
    had_workers = True
    while not stop.wait(every):
        try:
            count = len(client.scheduler_info().get("workers") or {})
        except Exception:  # noqa: BLE001 - the client closing under it, a lost scheduler: the bench will say
            return
        if count == 0 and had_workers:
            print(f"hopsolve bench: the Dask scheduler at {scheduler} has no workers left; the tasks not yet done "
                  "wait until one connects (Ctrl-C to stop, keeping what is done)", file=sys.stderr, flush=True)
        elif count and not had_workers:
            print(f"hopsolve bench: {count} worker{'s' if count != 1 else ''} back on the Dask scheduler",
                  file=sys.stderr, flush=True)
        had_workers = count > 0


def _dask_record(future: Any, task: Task) -> dict[str, Any]:
    """A finished Dask future's record; a task the cluster could not run (its workers kept dying: ``KilledWorker``,
    or it was cancelled) is recorded as an error, as the local executor records a worker that died, and the sweep
    goes on (the ``KilledWorker`` ended the whole bench as an internal error, recording nothing). ``run_task``
    itself turns every solver error into a record, so what reaches here is the cluster's."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - distributed's KilledWorker, CancelledError, a lost scheduler...
        try:
            message = (str(exc).splitlines() or [""])[0]
        except Exception:  # noqa: BLE001 - an exception whose str() fails is still named
            message = ""
        return error_record(task, "error", f"the Dask cluster could not run it: {type(exc).__name__}"
                            + (f": {message}" if message else ""), 0.0)


def execute(tasks: Iterable[Task], on_result: Callable[[dict[str, Any]], None], *, executor: str = "local",
            jobs: int | None = None, scheduler: str | None = None, workers: int | None = None) -> None:
    tasks = list(tasks)
    if not tasks:
        return
    if executor == "local":
        run_local(tasks, jobs or usable_cores(), on_result)
    elif executor == "dask":
        run_dask(tasks, on_result, scheduler, workers)
    else:
        raise ParameterError(f"unknown executor {executor!r}: choose local or dask")
