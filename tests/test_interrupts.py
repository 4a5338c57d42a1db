"""Ctrl-C keeps the best answer so far, on every backend and on the OR-Tools baselines.

Backends are interrupted by a progress callback that raises ``KeyboardInterrupt`` (what Ctrl-C does between two
bytecodes); the native-code baselines by ``_thread.interrupt_main`` while they run in :func:`run_stoppably`.
"""

from __future__ import annotations

import _thread
import json
import threading
import time

import numpy as np
import pytest

from hopsolve.backends import exact as exact_module
from hopsolve.backends.exact import ExactBackend
from hopsolve.backends.hopfield import HopfieldBackend, HopfieldParams, _Progress
from hopsolve.backends.tank import TankBackend, TankParams
from hopsolve.interrupt import run_stoppably, stoppable
from hopsolve.testing import brute_force_minimum, is_local_minimum, random_energy

from .conftest import INSTANCES


@pytest.fixture(autouse=True)
def ctrl_c_delivered():
    """Ctrl-C as a terminal delivers it, even when pytest itself was started in the background (a shell then starts
    it, and every process it starts, with SIGINT ignored, and Python keeps an ignored SIGINT ignored)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _default_sigint() -> None:
    """In a child about to run hopsolve: SIGINT back to its default, so Python installs its Ctrl-C handler."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_at(count: int):
    updates: list[dict] = []

    def callback(update: dict) -> None:
        updates.append(update)
        if len(updates) == count:
            raise KeyboardInterrupt

    return callback, updates


def test_hopfield_batches_do_not_change_any_read(monkeypatch):
    energy = random_energy(60, 2)
    params = HopfieldParams(reads=50)
    whole = HopfieldBackend().solve(energy, params, seed=4)
    monkeypatch.setattr(_Progress, "BATCH_SECONDS", 1e-9)  # small batches, from one thread's worth of reads
    batched = HopfieldBackend().solve(energy, params, seed=4, callback=lambda update: None)
    assert np.array_equal(whole.states, batched.states)
    assert np.array_equal(whole.per_read["read_sweeps"], batched.per_read["read_sweeps"])


def test_hopfield_async_keeps_finished_reads_on_ctrl_c(monkeypatch):
    monkeypatch.setattr(_Progress, "BATCH_SECONDS", 1e-9)
    energy = random_energy(40, 3)
    callback, updates = _interrupt_at(2)
    samples = HopfieldBackend().solve(energy, HopfieldParams(reads=64), seed=1, callback=callback)
    outcome = samples.per_read["outcome"]
    assert samples.interrupted and "fixed_point" in outcome and "not_started" not in outcome
    finished = [row for row, o in zip(samples.states, outcome) if o == "fixed_point"]
    assert len(finished) == updates[1]["done"] and all(is_local_minimum(energy, s) for s in finished)
    # the reads never started (their random starts) are not returned: every read returned ran
    assert len(samples.states) < 64 and np.all(samples.per_read["read_sweeps"] > 0)
    assert np.allclose(energy.energies(samples.states), samples.energies)
    assert [u["done"] for u in updates] == sorted(u["done"] for u in updates) and updates[0]["unit"] == "reads"
    assert np.isclose(energy.energy(updates[0]["best_state"]), updates[0]["best_energy"])


def test_hopfield_sync_stops_after_the_interrupted_sweep():
    energy = random_energy(30, 5)
    callback, updates = _interrupt_at(1)
    samples = HopfieldBackend().solve(energy, HopfieldParams(reads=5, mode="sync"), seed=2, callback=callback)
    assert samples.interrupted and samples.work == 1 and updates[0]["unit"] == "sweeps"
    assert np.allclose(energy.energies(samples.states), samples.energies)


def test_tank_rk45_honours_ctrl_c_and_its_time_limit():
    energy = random_energy(12, 1)
    callback, _ = _interrupt_at(1)
    params = TankParams(reads=3, integrator="rk45", max_steps=10**7, settle_tolerance=1e-300)
    samples = TankBackend().solve(energy, params, seed=1, callback=callback)
    assert samples.interrupted and not samples.timed_out and 1000 <= samples.work < 10**7
    assert samples.info["rhs_evaluations"] > 0
    # the deadline is looked at after every step: a limit that has passed by the first step stops it there
    timed = TankBackend().solve(energy, TankParams(reads=3, integrator="rk45", max_steps=10**9,
                                                   settle_tolerance=1e-300, time_limit=1e-6), seed=1)
    # one step, and the integrator's first-step estimate
    assert timed.timed_out and not timed.interrupted and timed.info["rhs_evaluations"] <= 20


def test_exact_enumerates_in_chunks_and_keeps_the_chunks_done_on_ctrl_c(monkeypatch):
    monkeypatch.setattr(exact_module, "CHUNK_BITS", 4)
    energy = random_energy(10, 7, integer=True)
    best, ground = brute_force_minimum(energy)
    samples = ExactBackend().solve(energy)
    assert samples.proven_optimal and np.isclose(samples.best_energy, best) and len(samples) == len(ground)
    callback, updates = _interrupt_at(3)
    cut = ExactBackend().solve(energy, callback=callback)
    assert cut.interrupted and not cut.proven_optimal and cut.work == 3 * 2**4
    assert np.isclose(cut.best_energy, updates[-1]["best_energy"]) and cut.best_energy >= best


def test_a_real_ctrl_c_inside_the_exact_kernel_keeps_the_chunks_done():
    """A signal that lands while numba boxes a kernel's result used to surface as a ``SystemError``; the kernel
    now returns a float only, so the interrupt arrives as ``KeyboardInterrupt`` between chunks. The signal comes
    from another process, as a terminal's does: a Python thread calling ``interrupt_main`` may not get the GIL
    while the kernels run."""
    import os
    import subprocess

    energy = random_energy(26, 2)  # 1024 chunks of 2^16 states: seconds in all
    ExactBackend().prepare(energy, ExactBackend.Params())
    killer = subprocess.Popen(["sh", "-c", f"sleep 0.7; kill -INT {os.getpid()}"])
    try:
        samples = ExactBackend().solve(energy)
    finally:
        killer.wait()
    assert samples.interrupted and not samples.proven_optimal and 0 < samples.work < 2**26
    assert np.allclose(energy.energies(samples.states), samples.energies)


def test_ctrl_c_during_a_warm_up_is_not_swallowed():
    """Backends turn Ctrl-C into an interrupted result; in the untimed warm-up that must stop the run, not let the
    real solve start as if nothing had been pressed."""
    from hopsolve.warmup import warm_up

    class InterruptedOnce(ExactBackend):
        def solve(self, energy, params=None, **kwargs):
            return super().solve(energy, params, callback=_interrupt_at(1)[0], **kwargs)

    with pytest.raises(KeyboardInterrupt):
        warm_up(InterruptedOnce(), random_energy(5, 1), ExactBackend.Params())


def test_run_stoppably_stops_through_the_registered_action():
    stopped = threading.Event()

    def work() -> str:
        with stoppable(stopped.set):
            time.sleep(0.2)
            _thread.interrupt_main()  # Ctrl-C while the work runs
            assert stopped.wait(10)
        return "best so far"

    assert run_stoppably(work) == ("best so far", True)
    assert run_stoppably(lambda: 42) == (42, False)


def test_run_stoppably_stops_work_that_registers_its_action_after_the_ctrl_c():
    """Ctrl-C while a baseline still builds its model: the stop action is called as soon as it is registered and
    the work's own answer comes back (it used to be abandoned, and a C++ solver torn down at exit aborted)."""
    stopped = threading.Event()

    def work() -> str:
        time.sleep(0.2)
        _thread.interrupt_main()  # Ctrl-C before any stop action exists
        time.sleep(0.5)  # still building the model
        with stoppable(stopped.set):
            assert stopped.is_set()  # called at registration
        return "stopped at once"

    assert run_stoppably(work) == ("stopped at once", True)


def test_a_ctrl_c_delivered_twice_at_once_is_one_ctrl_c():
    """``timeout -s INT`` signals the process and its group; the two can arrive apart, and the second used to
    abandon a CP-SAT search that was stopping with its answer."""
    stopped = threading.Event()

    def work() -> str:
        with stoppable(stopped.set):
            time.sleep(0.2)
            _thread.interrupt_main()
            time.sleep(0.1)
            _thread.interrupt_main()
            assert stopped.wait(10)
            time.sleep(0.3)
        return "best so far"

    assert run_stoppably(work) == ("best so far", True)


def test_run_stoppably_abandons_work_that_nothing_can_stop(monkeypatch):
    from hopsolve import interrupt

    monkeypatch.setattr(interrupt, "GRACE_SECONDS", 0.3)
    release = threading.Event()

    def work() -> None:
        time.sleep(0.2)
        _thread.interrupt_main()
        release.wait(10)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_stoppably(work)
    assert time.monotonic() - started < 5 and interrupt.abandoned_work()
    release.set()
    deadline = time.monotonic() + 5
    while interrupt.abandoned_work() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not interrupt.abandoned_work()


def test_run_stoppably_hands_back_the_work_s_exception():
    def work() -> None:
        raise ValueError("from the worker")

    with pytest.raises(ValueError, match="from the worker"):
        run_stoppably(work)


@pytest.mark.slow
@pytest.mark.parametrize("baseline, instance", [("ortools-cpsat", "d198.tsp"), ("ortools-routing", "kroA200.tsp")])
def test_ctrl_c_stops_an_ortools_baseline_and_says_interrupted(registry, baseline, instance, monkeypatch):
    """Ctrl-C a second after the solver registered its stop action, i.e. while it searches. (A fixed delay from
    the start raced the model's build on a busy machine: a Ctrl-C before any stop action is registered is
    re-raised, by design, and took down the test process.)"""
    from hopsolve import interrupt
    from hopsolve.solving import solve_path

    registered, done = threading.Event(), threading.Event()
    on_stop = interrupt.StopRequest.on_stop

    def noting(self, action):
        registered.set()
        return on_stop(self, action)

    monkeypatch.setattr(interrupt.StopRequest, "on_stop", noting)

    def interrupt_while_searching() -> None:
        if registered.wait(60) and not done.wait(1.0):
            _thread.interrupt_main()

    timer = threading.Thread(target=interrupt_while_searching, daemon=True)
    timer.start()
    try:
        result, solution, _ = solve_path(registry, INSTANCES / "tsplib" / instance, baseline=baseline,
                                         time_limit=120, seed=1)
    finally:
        done.set()
        timer.join()
    assert result.status == "interrupted" and result.info["interrupted"]
    assert result.wall_time_s < 100  # stopped, not run to the limit
    if result.objective is not None:
        assert result.feasible and sorted(solution.value) == list(range(1, len(solution.value) + 1))


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2", "dask"])  # dask: a local cluster's processes printed tracebacks
def test_ctrl_c_on_bench_prints_one_line_and_keeps_the_jsonl_valid(tmp_path, jobs):
    import json
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "runs.jsonl"
    command = [sys.executable, "-m", "hopsolve.cli", "bench", "--instances", str(INSTANCES / "tsplib" / "kroA100.tsp"),
               str(INSTANCES / "tsplib" / "kroA150.tsp"), "--solvers", "anneal,ortools-routing", "--seeds", "3",
               *(["--workers", "1"] if jobs == "dask" else ["--jobs", jobs]), "--out", str(out)]
    if jobs == "2":
        command += ["--time-limit", "8"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 1):
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.count("interrupted after") == 1, err
    assert "distributed.nanny" not in err, err  # its processes got the Ctrl-C too, and fought their shutdown
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and all(r["status"] not in ("interrupted", "error") for r in records)


@pytest.mark.slow
def test_a_ctrl_c_delivered_twice_stops_cpsat_with_its_best_cut():
    """``timeout -s INT`` and a terminal's Ctrl-C reach the process and its group: two deliveries of one Ctrl-C.
    CP-SAT stops with its best cut, printed, exit code 130 (it used to be abandoned in about 3 runs of 20, some of
    them aborted by C++ with 134)."""
    import os
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "hopsolve.cli", "solve", str(INSTANCES / "gset" / "G11.txt"), "--baseline",
               "ortools-cpsat", "--time-limit", "60"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=_default_sigint)
    time.sleep(4.0)  # past the model's build (about 2 s): the search runs
    os.killpg(process.pid, signal.SIGINT)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted objective" in out and "terminate called" not in err and "Traceback" not in err, err


def test_an_abandoned_solver_ends_the_process_at_once(monkeypatch):
    """After a second Ctrl-C the CLI ends the process itself (``os._exit(130)``) while an abandoned solver still
    runs in its thread, instead of letting the interpreter's exit tear a C++ solver down."""
    import os

    from hopsolve import cli, interrupt

    release = threading.Event()
    worker = threading.Thread(target=release.wait, name=interrupt.WORKER_NAME, daemon=True)
    worker.start()
    ended: list[int] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    try:
        cli._end_if_abandoned()
    finally:
        release.set()
        worker.join()
    assert ended == [130]
    cli._end_if_abandoned()  # nothing abandoned: nothing ended
    assert ended == [130]


def test_an_interrupted_run_decodes_only_its_best_reads(registry, monkeypatch):
    """Ctrl-C wants an answer now: 3,000 reads of G81 had taken 5.5 s to decode after the backend stopped."""
    from hopsolve import solving
    from hopsolve.backends import hopfield
    from hopsolve.backends.hopfield import _Progress as HopfieldProgress

    monkeypatch.setattr(HopfieldProgress, "BATCH_SECONDS", 1e-9)  # a batch per thread's worth of reads
    monkeypatch.setattr(hopfield, "GROWTH", 1)  # (batches would grow past a call's fixed cost)
    progress: list[dict] = []

    def callback(update: dict) -> None:  # Ctrl-C at the backend's twelfth progress report
        if "done" in update:
            progress.append(update)
            if len(progress) == 12:
                raise KeyboardInterrupt
    result, solution, _ = solving.solve_path(registry, INSTANCES / "gset" / "G11.txt", backend="hopfield",
                                             params={"reads": 64}, seed=3, callback=callback)
    # the reads that ran (those never started are not returned), more than are decoded
    assert result.status == "interrupted" and solving.INTERRUPTED_DECODED_READS < result.reads < 64
    assert result.info["decoded_reads"] == solving.INTERRUPTED_DECODED_READS
    assert result.feasible_reads <= solving.INTERRUPTED_DECODED_READS and solution.feasible


def test_a_ctrl_c_while_decoding_keeps_the_finished_run_s_best_decoded_read(registry, monkeypatch):
    """The run is finished work: a Ctrl-C while its reads are decoded (lowest energy first) answers with the best
    read decoded so far, status interrupted; before any read is decoded it is a plain Ctrl-C. Undisturbed, the
    energy order picks the read row order did (the best objective, the lowest energy among ties)."""
    from hopsolve import solving

    problem = registry.problem("maxcut")
    instance = problem.read(INSTANCES / "gset" / "G11.txt")
    whole, _ = solving.solve_instance(registry, "maxcut", instance, backend="hopfield", params={"reads": 12},
                                      seed=3)
    better = solving._better  # called once a decoded read, by the decoding loop only
    for fail_at in (3, 1):
        calls = []

        def judging(*args, fail_at=fail_at, calls=calls):
            calls.append(1)
            if len(calls) == fail_at:
                raise KeyboardInterrupt
            return better(*args)

        monkeypatch.setattr(solving, "_better", judging)
        if fail_at == 1:
            with pytest.raises(KeyboardInterrupt):
                solving.solve_instance(registry, "maxcut", instance, backend="hopfield", params={"reads": 12}, seed=3)
            continue
        result, solution = solving.solve_instance(registry, "maxcut", instance, backend="hopfield",
                                                  params={"reads": 12}, seed=3)
        assert result.status == "interrupted" and result.info["interrupted"] and result.info["decoded_reads"] == 2
        assert result.reads == 12 and result.energy <= whole.energy  # the two lowest energies were decoded
        assert solution.feasible and result.objective is not None
    monkeypatch.setattr(solving, "_better", better)
    again, _ = solving.solve_instance(registry, "maxcut", instance, backend="hopfield", params={"reads": 12}, seed=3)
    assert (again.status, again.objective, again.energy) == (whole.status, whole.objective, whole.energy)


def test_ctrl_c_in_the_replica_pilot_keeps_the_pilot_s_best(registry, monkeypatch):
    """A timed max-cut run spends its first second or so in a pilot; a Ctrl-C there ended with a bare line."""
    import sys

    from hopsolve.backends import replica
    from hopsolve.solving import solve_path

    advance = replica._Run.advance

    def interrupted_after_one_round(self, *args, **kwargs):
        advance(self, *args, **kwargs)
        if sys._getframe(1).f_code.co_name == "_pilot":  # Ctrl-C in the pilot, not in the warm-up or the run
            raise KeyboardInterrupt

    monkeypatch.setattr(replica._Run, "advance", interrupted_after_one_round)
    result, solution, _ = solve_path(registry, INSTANCES / "gset" / "G11.txt", time_limit=10, seed=1)
    assert result.status == "interrupted" and solution.feasible and result.objective > 0
    assert result.info["wall_time_s"] < 5


def _chunk_every_sweep(monkeypatch) -> None:
    import hopsolve.backends.anneal as anneal
    import hopsolve.backends.replica as replica

    monkeypatch.setattr(anneal, "CHUNK_SECONDS", 1e-12)
    monkeypatch.setattr(replica, "CHUNK_SECONDS", 1e-12)


@pytest.mark.parametrize("backend", ["anneal", "replica", "bifurcation"])
@pytest.mark.parametrize("kind", ["qubo", "tsp", "assignment"])
def test_chunks_change_no_read(registry, backend, kind, monkeypatch):
    """A run is stepped in chunks (so that Ctrl-C can stop it between them) with or without a callback; a chunk a
    sweep gives every read what one call gives, on flip, tour and exchange moves."""
    from hopsolve.permutation import permutation_energy

    rng = np.random.default_rng(3)
    points = rng.random((12, 2))
    energy = {"qubo": lambda: random_energy(60, 2, density=0.3),
              "tsp": lambda: permutation_energy(np.linalg.norm(points[:, None] - points[None], axis=2),
                                                np.roll(np.eye(12), 1, 1)),
              "assignment": lambda: permutation_energy(np.zeros((8, 8)), np.zeros((8, 8)), rng.random((8, 8)))}[kind]()
    solver = registry.backend(backend)
    params = solver.Params(**{"anneal": {"sweeps": 3000}, "replica": {"sweeps": 800}, "bifurcation": {"steps": 300}}[
        backend])
    whole = solver.solve(energy, params, seed=5)
    _chunk_every_sweep(monkeypatch)
    updates = []
    chunked = solver.solve(energy, params, seed=5, callback=updates.append)
    assert len(updates) >= 300
    assert np.array_equal(whole.states, chunked.states) and np.array_equal(whole.energies, chunked.energies)


@pytest.mark.parametrize("backend", ["anneal", "replica", "bifurcation"])
def test_ctrl_c_stops_a_solve_without_a_time_limit_or_a_callback(registry, backend):
    """A dimod sampler or a direct ``solve`` passes neither a time limit nor a callback: Ctrl-C used to wait for
    the whole run (76 s in a review) and then lose it. Now the run stops at the chunk it interrupts with every
    read's best so far."""
    energy = random_energy(300, 4, density=0.2)
    solver = registry.backend(backend)
    params = solver.Params(**{"anneal": {"sweeps": 10**6, "reads": 2}, "replica": {"sweeps": 10**6},
                              "bifurcation": {"steps": 10**6, "reads": 2}}[backend])  # minutes, unstopped
    solver.prepare(energy, params)
    threading.Timer(0.5, _thread.interrupt_main).start()
    began = time.perf_counter()
    samples = solver.solve(energy, params, seed=1)
    assert samples.interrupted and time.perf_counter() - began < 30
    assert len(samples.states) and np.allclose(energy.energies(samples.states), samples.energies)


def test_run_stoppably_abandons_work_still_running_at_its_deadline():
    """Work that cannot stop by itself is left in its thread when the deadline passes (DeadlinePassed at once,
    not when the work ends), and abandoned_work says so until it ends."""
    from hopsolve.interrupt import DeadlinePassed, abandoned_work

    release = threading.Event()
    began = time.perf_counter()
    with pytest.raises(DeadlinePassed):
        run_stoppably(lambda: release.wait(30.0), deadline=began + 0.2)
    assert 0.2 <= time.perf_counter() - began < 1.5 and abandoned_work()  # blocked in a lock: not stoppable
    release.set()
    for _ in range(100):
        if not abandoned_work():
            break
        time.sleep(0.02)
    assert not abandoned_work()
    assert run_stoppably(lambda: 7, deadline=time.perf_counter() + 5.0) == (7, False)  # done in time: its value


def _python_loop(seconds: float) -> int:
    """Pure-Python work, as networkx's heuristics are: stoppable between bytecodes."""
    ends, count = time.perf_counter() + seconds, 0
    while time.perf_counter() < ends:
        count += 1
    return count


def _stopped_after(where: str, work, seconds: float, passed: type) -> dict:
    """Run ``work`` under ``run_stoppably`` with a deadline ``seconds`` away, on the main thread or another one;
    ``{"stopped after": s}`` when the deadline stopped it."""
    outcome = {}

    def call() -> None:
        began = time.perf_counter()
        try:
            run_stoppably(work, deadline=began + seconds)
        except passed:
            outcome["stopped after"] = time.perf_counter() - began

    if where == "main thread":
        call()
    else:
        thread = threading.Thread(target=call)
        thread.start()
        thread.join(10.0)
    return outcome


@pytest.mark.parametrize("where", ["main thread", "another thread"])
def test_pure_python_work_is_stopped_at_its_deadline_not_left_running(where):
    """At the deadline an exception is raised in the work's thread, so pure-Python work ends there instead of
    running on (a networkx baseline on a Dask worker, whose task thread is not the main one, ran 10 minutes past
    a 1 s limit; in a bench worker 30 s). Off the main thread the deadline used to be ignored."""
    from hopsolve.interrupt import DeadlinePassed, abandoned_work

    outcome = _stopped_after(where, lambda: _python_loop(30.0), 0.3, DeadlinePassed)
    assert 0.3 <= outcome["stopped after"] < 1.0, outcome
    assert not abandoned_work()  # the loop's thread has ended
    done = threading.Thread(target=lambda: outcome.update(value=run_stoppably(lambda: 7, deadline=time.perf_counter()
                                                                              + 5.0)))
    done.start()
    done.join(5.0)
    assert outcome["value"] == (7, False)  # off the main thread, done in time: its value


@pytest.mark.parametrize("where", ["main thread", "another thread"])
def test_work_is_not_stopped_inside_an_import(where, tmp_path, monkeypatch):
    """A stop raised while the work imports a module would leave it half-imported for the rest of the process (a
    networkx baseline stopped during ``import networkx`` in a fresh bench worker broke every later networkx call
    there): the stop waits until the import is done."""
    import importlib
    import sys

    from hopsolve.interrupt import DeadlinePassed

    (tmp_path / "slow_to_import.py").write_text("import time\nends = time.perf_counter() + 0.3\n"
                                                "while time.perf_counter() < ends:\n    pass\nDONE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("slow_to_import", None)
    outcome = _stopped_after(where, lambda: (importlib.import_module("slow_to_import"), _python_loop(30.0)), 0.05,
                             DeadlinePassed)
    assert "stopped after" in outcome and sys.modules["slow_to_import"].DONE
    sys.modules.pop("slow_to_import", None)


def test_a_baseline_that_cannot_stop_is_left_unfinished_at_the_time_limit(registry, tmp_path, monkeypatch):
    """networkx's one-exchange ignores any limit (G1 ran past 120 s under --time-limit 5): at the limit the solve
    answers timeout, without an answer and with a note, instead of running on; without a limit it runs to its
    answer."""
    from hopsolve import solving
    from hopsolve.interrupt import abandoned_work

    from .conftest import small_maxcut

    _, instance = small_maxcut(tmp_path)
    baseline = type(registry.baseline("maxcut", "networkx-one-exchange"))
    assert not baseline.stops_at_time_limit
    release = threading.Event()
    solve = baseline.solve

    def slow(self, *args, **kwargs):
        release.wait(30.0)  # a long library call
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(baseline, "solve", slow)
    began = time.perf_counter()
    result, solution = solving.solve_instance(registry, "maxcut", instance, baseline="networkx-one-exchange",
                                              time_limit=0.3, seed=1)
    assert time.perf_counter() - began < 2.0 and abandoned_work()
    assert result.status == "timeout" and result.objective is None and not solution.feasible
    assert "cannot stop at a time limit" in result.info["abandoned"]
    release.set()
    result, solution = solving.solve_instance(registry, "maxcut", instance, baseline="networkx-one-exchange", seed=1)
    assert result.status != "timeout" and solution.feasible and "abandoned" not in result.info


PRESS_WHILE_COMPILING = ("import ctypes, os, signal, time\n"
                         "from hopsolve.backends.anneal import AnnealBackend\n"
                         "def inside():\n"
                         "    os.kill(os.getpid(), signal.SIGINT)\n"
                         "    time.sleep(0.5)\n"
                         "callback = ctypes.CFUNCTYPE(None)(inside)\n"
                         "def preparing(self, *args, **kwargs):\n"
                         "    callback()\n"
                         "    time.sleep({seconds})\n"
                         "    print('prepared', flush=True)\n"
                         "    return 0.0\n"
                         "AnnealBackend.prepare = preparing\n")
"""The start of a script whose ``anneal`` preparation (where kernels compile) gets SIGINT inside a ctypes
callback, as from LLVM's, and then goes on for ``seconds``."""


def test_a_ctrl_c_while_kernels_compile_ends_the_solve_at_once_in_one_line():
    """A Ctrl-C during a first compile could land in one of LLVM's ctypes callbacks, where Python only prints it:
    the CLI then ended in an internal error ("no compiled object yet for <Library 'recombine_into'>", exit 1) or
    ran its whole time limit. Until the backend starts solving, Ctrl-C now ends the CLI at once, one line, 130.
    Here a backend's preparation (where kernels compile) gets SIGINT inside a ctypes callback, as from LLVM's,
    and goes on for 20 s (on the old code: "Exception ignored", then the whole solve, exit 0)."""
    import subprocess
    import sys

    script = (PRESS_WHILE_COMPILING.format(seconds=20) +
              "from hopsolve.cli import main\n"
              f"raise SystemExit(main(['solve', {str(INSTANCES / 'tsplib' / 'burma14.tsp')!r}]))\n")
    began = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         preexec_fn=_default_sigint)
    assert run.returncode == 130 and time.perf_counter() - began < 15, run.stderr
    assert run.stderr.strip() == "hopsolve: interrupted before the run had an answer: nothing to keep"
    assert run.stdout == ""


def test_a_ctrl_c_while_kernels_compile_under_the_python_api_is_raised_once_they_are_ready():
    """Through ``hopsolve.solve`` (no CLI to end the process), a Ctrl-C that lands inside one of LLVM's ctypes
    callbacks during a compile would be lost (Python only prints it), and the kernel could be left unusable in the
    process. It is now held until the backend's preparation ends, then raised as ``KeyboardInterrupt``, with one
    note saying so; the solve itself never starts (on the old code: "Exception ignored ...", then a whole solve)."""
    import subprocess
    import sys

    script = (PRESS_WHILE_COMPILING.format(seconds=0.5) +
              "import hopsolve\n"
              "def solving(self, *args, **kwargs):\n"
              "    print('solved', flush=True)\n"
              "    raise SystemExit(3)\n"
              "AnnealBackend.solve = solving\n"
              "try:\n"
              f"    hopsolve.solve({str(INSTANCES / 'tsplib' / 'burma14.tsp')!r})\n"
              "except KeyboardInterrupt:\n"
              "    print('interrupted', flush=True)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         preexec_fn=_default_sigint)
    assert run.returncode == 0 and run.stdout.split() == ["prepared", "interrupted"], (run.stdout, run.stderr)
    assert run.stderr.count("hopsolve: Ctrl-C: stopping once the kernels") == 1 and "Exception ignored" not in \
        run.stderr, run.stderr


def test_ctrl_c_deferred_raises_after_the_block_however_many_presses(capsys):
    """The hold itself: presses inside the block (one or several: a second one raised at once could land inside
    the compiler as the first would have) are raised once when it ends, with one note; outside the main thread
    nothing is held."""
    import signal
    import threading

    from hopsolve import interrupt

    for presses in (1, 3):
        reached = []
        with pytest.raises(KeyboardInterrupt), interrupt.ctrl_c_deferred(note="held"):
            for _ in range(presses):
                signal.raise_signal(signal.SIGINT)
            reached.append("after the presses")
        assert reached == ["after the presses"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert capsys.readouterr().err == "held\n"
    outside: list[object] = []
    worker = threading.Thread(target=lambda: outside.append(interrupt.ctrl_c_deferred(note="x").__enter__()))
    worker.start()
    worker.join()
    assert outside == [None]


def test_warmup_stops_between_two_compiles_on_ctrl_c():
    """``hopsolve warmup`` holds a Ctrl-C until the compile it lands in has finished, then stops: the next
    plugin's kernels are not compiled."""
    import ctypes
    import signal
    import types

    from hopsolve.warmup import warm_everything

    prepared: list[str] = []
    press = ctypes.CFUNCTYPE(None)(lambda: signal.raise_signal(signal.SIGINT))  # as from inside LLVM

    def problem(name: str) -> types.SimpleNamespace:
        def prepare() -> float:
            if name == "first":
                press()
            prepared.append(name)
            return 0.0
        return types.SimpleNamespace(prepare=prepare)

    registry = types.SimpleNamespace(problems={"first": None, "second": None}, backends={}, problem=problem)
    with pytest.raises(KeyboardInterrupt):
        warm_everything(registry)
    assert prepared == ["first"]


def test_work_out_of_memory_is_reported_not_waited_for_forever(monkeypatch):
    """networkx-greedy under ``ulimit -v`` hung: its MemoryError kept the frames (and the graph that filled memory)
    alive, so the worker's ``finished.set()`` failed too and the main thread polled for ever. The frames' locals
    are now released with the error, and a worker that dies without an answer ends the wait."""
    import weakref

    class Filling:
        pass

    held = []

    def out_of_memory():
        graph = Filling()
        held.append(weakref.ref(graph))
        raise MemoryError

    with pytest.raises(MemoryError):
        run_stoppably(out_of_memory)
    assert held[0]() is None  # the local that filled memory is gone with the frames' locals

    real_set = threading.Event.set
    worked = []

    def failing_after_the_work(event):
        if worked and threading.current_thread() is not threading.main_thread():
            raise MemoryError  # as setting the event did when nothing was freed
        real_set(event)

    def work_then_fail():
        worked.append(True)
        raise MemoryError

    monkeypatch.setattr(threading.Event, "set", failing_after_the_work)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the worker's own death is expected here
    with pytest.raises(MemoryError):  # a deadline, so that a regression fails (DeadlinePassed) instead of hanging
        run_stoppably(work_then_fail, deadline=time.perf_counter() + 30)


def test_a_ctrl_c_while_the_answer_is_written_lets_it_be_written_whole(cli, monkeypatch):
    """After a first Ctrl-C the process printed the run's JSON (600 KB on pla85900) for up to a second; a second
    Ctrl-C then cut it off mid-number, invalid JSON on stdout. The answer in hand is now written whole, then the
    Ctrl-C ends the process (exit 130)."""
    import os
    import signal

    import hopsolve.cli as cli_module
    from hopsolve.result import Result

    real = Result.to_json

    def interrupted_while_printing(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the answer is being written
        return real(self, *args, **kwargs) + " " * 1000

    monkeypatch.setattr(Result, "to_json", interrupted_while_printing)
    assert cli_module.ctrl_c_raises_here()
    run = cli("solve", INSTANCES / "tsplib" / "burma14.tsp", "--seed", "1", "--json", "--param", "sweeps=50")
    assert run.code == 130 and json.loads(run.out)["instance"] == "burma14"
    assert "writing the answer in hand first" in run.err


def test_a_ctrl_c_while_the_command_imports_hopsolve_is_one_line(monkeypatch, capsys):
    """The console script's entry (``hopsolve_command``) imports hopsolve only when it runs, so a Ctrl-C during
    that import (half a second of numpy, scipy, numba and the plugins) is answered as one line and 130."""
    import sys
    from importlib.metadata import entry_points

    import hopsolve_command

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "hopsolve"]
    assert script.value == "hopsolve_command:main"

    class InterruptedImport:
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "hopsolve.cli", InterruptedImport())
    assert hopsolve_command.main() == 130
    assert capsys.readouterr().err == "hopsolve: interrupted\n"


def test_a_real_ctrl_c_right_after_the_command_starts_prints_no_traceback():
    """A terminal's Ctrl-C 50 ms after the script starts: while it imports (or, on a fast machine, just after),
    never Python's traceback."""
    import signal
    import subprocess
    import sys

    starter = "import sys; print('ready', flush=True); import hopsolve_command; sys.exit(hopsolve_command.main())"
    process = subprocess.Popen([sys.executable, "-c", starter, "solve", str(INSTANCES / "tsplib" / "berlin52.tsp"),
                                "--time-limit", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=_default_sigint)
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err, err


def test_a_ctrl_c_during_a_kernel_call_is_raised_once_its_chunk_is_counted():
    """Ctrl-C pressed inside a compiled call reaches Python at the first bytecode after it returns, which was
    before the chunk's work was counted: the states held the chunk, the count and so the replay did not (pr1002
    interrupted at round 192 gave 274196 and its replay 274211). The press is now held until the chunk is
    counted."""
    import signal

    from hopsolve.backends.anneal import AnnealParams, _run_chunked

    calls = []

    def step(start: int, stop: int, chunk: np.ndarray) -> None:
        calls.append((start, stop))  # the chunk's work, done
        time.sleep(0.02)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)  # as a press during the compiled call would arrive

    progress = _run_chunked(np.ones(1000), step, AnnealParams(), None, dict)
    assert progress.interrupted and len(calls) == 3 and progress.done == calls[-1][1]


def test_a_ctrl_c_during_a_replica_kernel_call_is_raised_once_its_chunk_is_counted():
    """replica's spin path (max-cut's default) had the same gap: an interrupted G1 run gave 11252 and its replay
    11198."""
    import signal

    from hopsolve.backends.replica import ReplicaParams, _run_chunked

    calls = []

    def advance(first_round: int, cold: np.ndarray) -> None:
        calls.append((first_round, first_round + len(cold)))
        time.sleep(0.02)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)

    progress = _run_chunked(np.ones(1000), 1.0, advance, ReplicaParams(), None, dict, time.perf_counter())
    assert progress.interrupted and len(calls) == 3 and progress.done == calls[-1][1]
