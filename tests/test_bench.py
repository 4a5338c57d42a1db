"""The benchmark harness: resumable JSONL, failures recorded, kill and resume, Dask, reports, bad grids."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hopsolve import build_registry
from hopsolve.bench.executors import run_local
from hopsolve.bench.grid import build_grid

from .conftest import INSTANCES, ROOT

TSP = INSTANCES / "tsplib"
THIRD_PARTY = Path(__file__).resolve().parent / "third_party"
GRID = ["--instances", str(TSP / "burma14.tsp"), str(TSP / "ulysses16.tsp"), "--solvers",
        "anneal,networkx-greedy", "--param", "anneal.sweeps=300", "--seeds", "2"]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_small_grid_writes_six_lines_and_rerun_adds_none(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    run = cli("bench", *GRID, "--out", out, "--jobs", "2")
    assert run.code == 0, run.err
    records = lines(out)
    # 2 instances × (anneal × 2 seeds + networkx-greedy, deterministic, once)
    assert len(records) == 6 and len({r["task"] for r in records}) == 6
    assert sorted(r["seed"] for r in records if r["solver"] == "networkx-greedy") == [1, 1]
    assert all(r["status"] in ("feasible", "optimal") and r["gap"] is not None for r in records)
    rerun = cli("bench", *GRID, "--out", out)
    assert rerun.code == 0 and "0 to run" in rerun.err and len(lines(out)) == 6
    report = cli("report", out)
    assert report.code == 0 and "| anneal | backend | 2 | 4 |" in report.out
    png = tmp_path / "r.png"
    table = cli("report", out, "--format", "csv", "--plot", png).out
    assert table.startswith("table,instance,file,solver,kind,runs")  # both tables (the per-solver one was left out)
    kinds = [row["table"] for row in csv.DictReader(io.StringIO(table))]
    assert "instance" in kinds and "solver" in kinds
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_killed_run_resumes_without_duplicates(tmp_path):
    out = tmp_path / "r.jsonl"
    command = [sys.executable, "-m", "hopsolve.cli", "bench", "--instances", str(TSP / "burma14.tsp"),
               str(TSP / "ulysses16.tsp"), "--solvers", "anneal,networkx-greedy", "--param", "anneal.sweeps=40000",
               "--seeds", "2", "--jobs", "1", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(lines(out))
    assert 1 <= done < 6
    with out.open("a") as handle:
        handle.write('{"task": "torn')  # what a kill in mid-write would leave behind
    resumed = subprocess.run(command, check=True, capture_output=True, text=True)
    assert "removed a torn last line (14 bytes" in resumed.stderr  # it was dropped without a word
    records = lines(out)
    assert len(records) == 6 and len({r["task"] for r in records}) == 6


def test_failing_solver_is_an_error_row_and_others_complete(tmp_path):
    out = tmp_path / "r.jsonl"
    env = {**os.environ, "HOPSOLVE_PLUGINS": "misbehaving_backends",
           "PYTHONPATH": f"{THIRD_PARTY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "hopsolve.cli", "bench", "--instances", str(TSP / "burma14.tsp"),
               "--solvers", "anneal,broken,exact", "--param", "anneal.sweeps=200", "--out", str(out), "--jobs", "2"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "2 of 3 tasks ended in error" in proc.stderr, proc.stderr
    by_solver = {r["solver"]: r for r in lines(out)}
    assert by_solver["anneal"]["status"] == "feasible"
    assert by_solver["broken"]["status"] == "error" and "always fails" in by_solver["broken"]["error"]
    assert by_solver["exact"]["status"] == "error" and "refuses" in by_solver["exact"]["error"]
    assert not by_solver["exact"]["error"].startswith("hopsolve.")  # a user's error as the CLI words it
    again = subprocess.run(command, env=env, capture_output=True, text=True)  # errors count as done, and are
    assert again.returncode == 1 and "0 to run" in again.stderr  # named (the rerun said nothing and exited 0)
    assert "2 tasks in" in again.stderr and "ended in error in an earlier run" in again.stderr
    retried = subprocess.run([*command, "--retry-errors"], env=env, capture_output=True, text=True)  # ...unless
    assert retried.returncode == 1 and "2 to run" in retried.stderr and len(lines(out)) == 5


def test_a_malformed_instance_is_refused_before_any_task(cli, tmp_path):
    bad = tmp_path / "bad.tsp"
    bad.write_text("NAME: bad\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n"
                   "2 x 1\n")
    out = tmp_path / "r.jsonl"
    run = cli("bench", "--instances", TSP / "burma14.tsp", bad, "--solvers", "anneal", "--out", out)
    lines_ = run.err.strip().splitlines()
    assert run.code == 2 and len(lines_) == 1 and f"{bad}:5:" in lines_[0] and "Error" not in lines_[0]
    assert not out.exists() or out.read_text() == ""


def test_task_past_its_deadline_is_a_timeout(monkeypatch):
    monkeypatch.setenv("HOPSOLVE_PLUGINS", "misbehaving_backends")
    monkeypatch.setenv("PYTHONPATH", f"{THIRD_PARTY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.syspath_prepend(str(THIRD_PARTY))
    grid = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")],
                      solvers=[{"name": "sleepy"}, {"name": "anneal", "params": {"sweeps": 100}}], seeds=1)
    sleepy, anneal = grid.tasks()
    records = []  # only the sleepy task has a deadline (0.5 s + 50% + 1 s grace), however slow a cold start is
    run_local([replace(sleepy, time_limit=0.5), anneal], 2, records.append, grace=1.0)
    statuses = {r["solver"]: r["status"] for r in records}
    assert statuses == {"sleepy": "timeout", "anneal": "feasible"}


def test_the_local_watchdog_does_not_count_a_backend_s_compile(monkeypatch):
    """Two first compiles at once on 2 cores passed the watchdog's 1.5 × limit + 30 s, counted from when a task
    was picked up, and the tasks were killed as timeouts before they had run (here: a 3 s compile, a 0.2 s limit
    and a 1 s grace)."""
    monkeypatch.setenv("HOPSOLVE_PLUGINS", "misbehaving_backends")
    monkeypatch.setenv("PYTHONPATH", f"{THIRD_PARTY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.syspath_prepend(str(THIRD_PARTY))
    grid = build_grid(build_registry(), instances=[str(TSP.parent / "gset" / "G11.txt")],
                      solvers=[{"name": "slow-to-compile"}], seeds=1, time_limit=0.2)
    records = []
    run_local(grid.tasks(), 2, records.append, grace=1.0)
    [record] = records
    assert record["status"] == "feasible" and record["info"]["compile_s"] >= 3.0, record


def test_a_params_time_limit_without_a_grid_limit_is_applied_and_watched(monkeypatch):
    """A backend's params ``time_limit`` with no grid limit bounds the run: its record said
    ``time_limit_applied: false``, and the local watchdog left it unwatched (with one job, in the bench's own
    process), so a backend that ignored it ran on; now it is recorded as applied and watched as a grid limit is
    (here: 0.3 s + 50% + a 1 s grace, where the backend sleeps 8 s)."""
    from hopsolve.bench.runner import run_task

    monkeypatch.setenv("HOPSOLVE_PLUGINS", "misbehaving_backends")
    monkeypatch.setenv("PYTHONPATH", f"{THIRD_PARTY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.syspath_prepend(str(THIRD_PARTY))
    grid = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], seeds=1,
                      solvers=[{"name": "anneal", "label": "timed", "params": {"time_limit": 0.5}},
                               {"name": "anneal", "label": "untimed", "params": {"sweeps": 100}},
                               {"name": "sleepy", "params": {"time_limit": 0.3, "seconds": 8}}])
    timed, untimed, sleepy = grid.tasks()
    record = run_task(timed)
    assert record["status"] == "feasible" and record["params"]["time_limit"] == 0.5
    assert record["time_limit_applied"] is True
    assert run_task(untimed)["time_limit_applied"] is False  # no limit anywhere: none applied
    records = []
    run_local([sleepy], 1, records.append, grace=1.0)
    [stopped] = records  # stopped by the watchdog (it answered, as feasible, after its 8 s)
    assert stopped["status"] == "timeout" and "exceeded its time limit" in stopped["error"], stopped


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_objectives(cli, tmp_path):
    local, distributed = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    assert cli("bench", *GRID, "--out", local, "--jobs", "2").code == 0
    run = cli("bench", *GRID, "--out", distributed, "--executor", "dask", "--workers", "2")
    assert run.code == 0, run.err
    key = lambda r: (r["task"], r["objective"], tuple(r["solution"]))  # noqa: E731
    assert sorted(map(key, lines(local))) == sorted(map(key, lines(distributed)))


def test_bad_grids_fail_before_any_task(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("instances = [\n")
    cases = [
        (["--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal,gurobi"], "unknown solver 'gurobi'"),
        (["--instances", str(tmp_path / "missing.tsp"), "--solvers", "anneal"], "no such instance"),
        (["--config", str(bad_toml)], "bad TOML"),
        (["--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--param", "anneal.sweeps=-1"], "sweeps"),
        (["--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--param", "tank.u0=1"], "not in"),
    ]
    for args, message in cases:
        run = cli("bench", *args, "--out", out)
        assert run.code == 2 and message in run.err and len(run.err.strip().splitlines()) == 1, run.err
        assert not out.exists()


def test_shipped_suites_are_valid():
    registry = build_registry()
    from hopsolve.bench.grid import grid_from_toml

    suites = sorted((ROOT / "benchmarks" / "suites").glob("*.toml"))
    assert len(suites) >= 4
    for suite in suites:
        assert grid_from_toml(registry, suite).tasks()


def test_per_solver_time_limits_and_backends_without_one(cli, tmp_path, monkeypatch):
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
instances = ["{TSP / 'burma14.tsp'}"]
time_limit = 2
[[solver]]
name = "anneal"
params = {{ sweeps = 300 }}
time_limit = 1.5
[[solver]]
name = "hopfield"
[[solver]]
name = "networkx-greedy"
""")
    out = tmp_path / "r.jsonl"
    run = cli("bench", "--config", suite, "--out", out, "--jobs", "1", "--weight", "row=4", "--option",
              "form=lucas")
    assert run.code == 0, run.err
    by_solver = {r["solver"]: r for r in lines(out)}
    assert by_solver["anneal"]["params"]["time_limit"] < 1.5 and by_solver["anneal"]["time_limit_applied"]
    assert by_solver["hopfield"]["status"] != "error" and by_solver["hopfield"]["time_limit_applied"]
    assert by_solver["hopfield"]["params"]["time_limit"] <= 2
    assert by_solver["anneal"]["weights"]["row"] == 4 and by_solver["anneal"]["params"]["options"]["form"] == "lucas"
    assert by_solver["networkx-greedy"]["status"] == "feasible"  # the sweep's weights and options are not its
    # a backend without a time_limit parameter (a third party's, say) runs unlimited and says so
    from hopsolve.backends.hopfield import HopfieldBackend
    from hopsolve.bench.grid import SolverSpec, Task
    from hopsolve.bench.runner import run_task

    monkeypatch.setattr(HopfieldBackend, "supports_time_limit", classmethod(lambda cls: False))
    record = run_task(Task(str(TSP / "burma14.tsp"), None, SolverSpec("hopfield", "backend"), 1, 2.0))
    assert record["time_limit_applied"] is False and record["params"]["time_limit"] is None
    suite.write_text(suite.read_text().replace("time_limit = 1.5", "time_limit = -1"))
    bad = cli("bench", "--config", suite, "--out", tmp_path / "bad.jsonl")
    assert bad.code == 2 and "time_limit must be a positive" in bad.err


def test_unreachable_scheduler_is_one_line_user_error(cli, tmp_path, monkeypatch):
    from hopsolve.bench import executors

    monkeypatch.setattr(executors, "SCHEDULER_TIMEOUT_S", 2)  # nothing listens on port 9: no need to wait 10 s
    run = cli("bench", "--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--out", tmp_path / "r.jsonl",
              "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert run.code == 2 and "cannot reach the Dask scheduler" in run.err
    assert len(run.err.strip().splitlines()) == 2  # the "N tasks" line, then the error


@pytest.mark.slow
def test_real_dask_cluster_started_elsewhere_gives_the_local_results(tmp_path):
    """A separate scheduler and two worker processes started in another directory, as on a cluster; the user runs
    bench from a third directory with relative instance paths."""
    dask = Path(sys.executable).with_name("dask")
    cluster_dir, user_dir = tmp_path / "cluster", tmp_path / "user"
    (user_dir / "data").mkdir(parents=True)
    cluster_dir.mkdir()
    for name in ("burma14.tsp", "ulysses16.tsp"):
        (user_dir / "data" / name).write_bytes((TSP / name).read_bytes())
    scheduler_file = cluster_dir / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": cluster_dir}
    processes = [subprocess.Popen([str(dask), "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                                   "--no-dashboard"], **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            processes.append(subprocess.Popen([str(dask), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                               "--no-dashboard"], **quiet))
        grid = ["--instances", "data/burma14.tsp", "data/ulysses16.tsp", "--solvers", "anneal,networkx-greedy",
                "--param", "anneal.sweeps=300", "--seeds", "2"]
        bench = [sys.executable, "-m", "hopsolve.cli", "bench", *grid]
        remote = subprocess.run([*bench, "--out", "dask.jsonl", "--executor", "dask", "--scheduler", address],
                                cwd=user_dir, capture_output=True, text=True, timeout=600)
        assert remote.returncode == 0, remote.stderr
        local = subprocess.run([*bench, "--out", "local.jsonl", "--jobs", "1"], cwd=user_dir, capture_output=True,
                               text=True, timeout=600)
        assert local.returncode == 0, local.stderr
        # a baseline that cannot stop by itself, on a worker's task thread: stopped at its limit (it ran 10 minutes
        # past a 1 s limit there, and the bench waited)
        (user_dir / "data" / "G1.txt").write_bytes((TSP.parent / "gset" / "G1.txt").read_bytes())
        began = time.monotonic()
        stopped = subprocess.run([sys.executable, "-m", "hopsolve.cli", "bench", "--instances", "data/G1.txt",
                                  "--solvers", "networkx-one-exchange", "--time-limit", "1", "--out", "nx.jsonl",
                                  "--executor", "dask", "--scheduler", address], cwd=user_dir, capture_output=True,
                                 text=True, timeout=120)
        assert stopped.returncode == 0 and time.monotonic() - began < 60, stopped.stderr
        [record] = lines(user_dir / "nx.jsonl")
        assert record["status"] == "timeout" and record["wall_time_s"] < 3, record
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    key = lambda r: (r["task"], r["status"], r["objective"], tuple(r["solution"]))  # noqa: E731
    remote_records, local_records = lines(user_dir / "dask.jsonl"), lines(user_dir / "local.jsonl")
    assert len(remote_records) == 6 and all(r["status"] == "feasible" for r in remote_records)
    assert sorted(map(key, remote_records)) == sorted(map(key, local_records))


def test_a_task_the_dask_cluster_could_not_run_is_recorded_and_the_sweep_goes_on():
    """Workers that kept dying under a task (``KilledWorker``) ended the whole bench as an internal error and
    nothing was recorded; the task is now an error record, as a dead local worker is."""
    from types import SimpleNamespace

    from distributed import KilledWorker

    from hopsolve.bench.executors import _dask_record
    from hopsolve.bench.grid import SolverSpec, Task

    class Lost:
        def result(self):
            raise KilledWorker("run_task-1", SimpleNamespace(address="tcp://127.0.0.1:1"), 4)

    class Done:
        def result(self):
            return {"status": "feasible"}

    task = Task(str(TSP / "burma14.tsp"), "tsp", SolverSpec("anneal", "backend"), 1, None)
    record = _dask_record(Lost(), task)
    assert record["status"] == "error" and record["task"] == task.key and "KilledWorker" in record["error"]
    assert _dask_record(Done(), task) == {"status": "feasible"}


@pytest.mark.parametrize(("address", "said"), [("", "an empty address"), ("tcp://127.0.0.1:99999", "65535"),
                                               ("tcp://host:x", "65535")])
def test_a_scheduler_address_that_cannot_be_one_is_refused_at_once(cli, tmp_path, address, said):
    """An empty --scheduler ran the bench locally; a port past 65535 waited out the 10 s connection timeout."""
    run = cli("bench", "--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--scheduler", address,
              "--out", tmp_path / "r.jsonl")
    assert run.code == 2 and said in run.err and len(run.err.strip().splitlines()) == 1, run.err
    assert not (tmp_path / "r.jsonl").exists()


def test_a_bench_worker_left_with_a_running_solver_thread_is_replaced(monkeypatch):
    """A baseline stuck in native code past its limit is left running in its thread; the worker that holds it
    now retires after recording the timeout, so the next task runs in a fresh process, not beside that thread."""
    monkeypatch.setenv("HOPSOLVE_PLUGINS", "misbehaving_backends")
    monkeypatch.setenv("PYTHONPATH", f"{THIRD_PARTY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.syspath_prepend(str(THIRD_PARTY))
    grid = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")],
                      solvers=[{"name": "stuck-in-native-code"}, {"name": "which-process"}], seeds=1)
    stuck, which = grid.tasks()
    records = []
    run_local([replace(stuck, time_limit=0.3), replace(which, time_limit=5.0)], 1, records.append, grace=5.0)
    by_solver = {r["solver"]: r for r in records}
    assert by_solver["stuck-in-native-code"]["status"] == "timeout"
    assert "left running" in by_solver["stuck-in-native-code"]["info"]["abandoned"]
    assert by_solver["which-process"]["status"] == "feasible"
    assert by_solver["which-process"]["info"]["abandoned_work_here"] is False


def test_report_reads_several_files_and_draws_anytime_curves_and_profiles(cli, tmp_path):
    from matplotlib.figure import Figure

    from hopsolve.bench.report import _references, anytime_gaps, gap_profile, load_records, summarise, time_profile

    grid = ["--instances", str(TSP / "eil51.tsp"), str(TSP / "st70.tsp"), "--time-limit", "1.5", "--trace",
            "--jobs", "1"]
    first, second = tmp_path / "anneal.jsonl", tmp_path / "routing.jsonl"
    assert cli("bench", *grid, "--solvers", "anneal", "--out", first).code == 0
    assert cli("bench", *grid, "--solvers", "ortools-routing", "--out", second).code == 0
    records = load_records(first) + load_records(second)
    assert all(len(r["info"]["anytime"]) >= 1 for r in records)
    for r in records:  # each curve improves and ends at the run's own result
        values = [v for _, v in r["info"]["anytime"]]
        assert values == sorted(values, reverse=True) and values[-1] == r["objective"]
    png = tmp_path / "report.png"
    run = cli("report", first, second, "--plot", png)
    assert run.code == 0 and "| anneal |" in run.out and "| ortools-routing |" in run.out
    assert png.read_bytes()[:4] == b"\x89PNG" and (tmp_path / "report-instances.png").exists()
    senses = {"tsp": "min"}
    rows, _ = summarise(records, senses)
    taus, profile = time_profile(records, senses, 0.05)
    for values in profile.values():
        assert np.all(np.diff(values) >= 0) and values[0] >= 0 and values[-1] <= 1
    gap_taus, gaps = gap_profile(rows, _references(records, senses))
    assert set(gaps) == {"anneal", "ortools-routing"} and all(v[-1] == 1.0 for v in gaps.values())
    curves = anytime_gaps(records, senses, np.geomspace(0.01, 10, 50))
    files = {name: str((TSP / f"{name}.tsp").resolve()) for name in ("eil51", "st70")}  # keyed by file
    assert set(curves["anneal"]) == set(files.values())
    final = curves["anneal"][files["eil51"]][-1]
    eil51 = next(r for r in records if r["solver"] == "anneal" and r["instance"] == "eil51")
    assert np.isclose(final, eil51["gap"])
    ax = Figure().subplots()
    ax.step(taus, profile["anneal"])
    assert len(ax.get_lines()[0].get_xdata()) == len(taus)
    untraced = tmp_path / "plain.jsonl"
    assert cli("bench", *[a for a in grid if a != "--trace"], "--solvers", "anneal", "--out", untraced).code == 0
    assert all("anytime" not in r["info"] for r in load_records(untraced))


@pytest.mark.slow
def test_same_seed_gives_the_same_answers_on_any_number_of_jobs(cli, tmp_path):
    """Without a time limit a run's budget is sweeps, not seconds: one worker or two, in-process or not, the same
    seeds give the same solutions, objectives, energies and work."""
    instances = [str(INSTANCES / "tsplib" / name) for name in ("eil51.tsp", "burma14.tsp")]
    runs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.jsonl"
        run = cli("bench", "--instances", *instances, "--solvers", "anneal", "--seeds", "2", "--jobs", jobs,
                  "--param", "anneal.sweeps=20000", "--out", out)
        assert run.code == 0, run.err
        records = [json.loads(line) for line in out.read_text().splitlines()]
        runs[jobs] = {r["task"]: (r["solution"], r["objective"], r["energy"], r["info"].get("work"))
                      for r in records}
    assert runs["1"] == runs["2"] and len(runs["1"]) == 4


def test_encoding_options_reach_backend_tasks_only(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    run = cli("bench", "--instances", INSTANCES / "tsplib" / "burma14.tsp", "--solvers", "anneal,networkx-greedy",
              "--option", "form=lucas", "--param", "anneal.sweeps=50", "--out", out)
    assert run.code == 0, run.err
    records = {r["solver"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["anneal"]["params"]["options"]["form"] == "lucas"
    assert records["networkx-greedy"]["status"] != "error"


def test_a_closed_progress_pipe_does_not_end_the_sweep(tmp_path):
    """``hopsolve bench ... 2>&1 | head -1``: the progress lines lost their reader. The sweep used to stop at the
    next line it wrote, silently, with exit code 0; it goes on to the last task now. Here nobody ever reads (``2>&1
    | true``), so every line bench writes, its first included, meets a closed pipe."""
    out = tmp_path / "r.jsonl"
    command = [sys.executable, "-m", "hopsolve.cli", "bench", *GRID, "--jobs", "1", "--out", str(out)]
    reader, writer = os.pipe()
    os.close(reader)
    proc = subprocess.Popen(command, stdout=writer, stderr=writer)
    os.close(writer)
    assert proc.wait(timeout=300) == 0
    assert len(lines(out)) == 6


def test_progress_falls_silent_where_its_stream_is_gone():
    from hopsolve.bench.progress import Progress

    class Gone:
        writes = 0

        def write(self, text: str) -> None:
            Gone.writes += 1
            raise BrokenPipeError

        def flush(self) -> None:
            pass

    progress = Progress(3, stream=Gone())
    for _ in range(3):
        progress.update({"instance": "G1", "label": "anneal", "seed": 1, "status": "feasible"})
    assert progress.done == 3 and progress.silent and Gone.writes == 1


def test_executor_options_are_never_silently_ignored(cli, tmp_path, monkeypatch):
    """``--scheduler`` without ``--executor dask`` used to run every task locally, and ``--workers`` with
    ``--scheduler`` was dropped: each now implies Dask or is refused in one line."""
    import hopsolve.bench.executors as executors

    used = []
    monkeypatch.setattr(executors, "run_dask", lambda tasks, on_result, scheduler, workers: used.append(
        (scheduler, workers)))
    out = tmp_path / "r.jsonl"
    assert cli("bench", *GRID, "--out", out, "--scheduler", "tcp://127.0.0.1:9").code == 0
    assert cli("bench", *GRID, "--out", out, "--workers", "2").code == 0
    assert used == [("tcp://127.0.0.1:9", None), (None, 2)]
    for refused, words in ((["--executor", "local", "--scheduler", "tcp://127.0.0.1:9"], "--scheduler is for"),
                           (["--executor", "local", "--workers", "2"], "--workers is for"),
                           (["--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], "--workers sizes"),
                           (["--executor", "dask", "--jobs", "2"], "--jobs is for"),
                           (["--workers", "0"], "--workers must be")):
        run = cli("bench", *GRID, "--out", out, *refused)
        assert run.code == 2 and words in run.err and len(run.err.strip().splitlines()) == 1, run.err
    assert used == [("tcp://127.0.0.1:9", None), (None, 2)]


def test_more_jobs_than_cores_run_as_many_as_there_are_cores(cli, tmp_path, monkeypatch):
    """``--jobs 1000`` on two cores started a worker per task: timed anneal runs did 3–6 times fewer sweeps,
    without a word. It now runs as many at a time as there are cores, and says so."""

    from hopsolve.bench import executors

    asked: list[int | None] = []

    def recording(tasks, on_result, *, jobs=None, **kwargs):
        asked.append(jobs)
        for task in tasks:
            on_result(executors.run_task(task))

    monkeypatch.setattr(executors, "execute", recording)
    out = tmp_path / "j.jsonl"
    run = cli("bench", "--instances", INSTANCES / "tsplib" / "burma14.tsp", "--solvers", "anneal", "--param",
              "anneal.sweeps=100", "--seeds", "2", "--jobs", "1000", "--out", out)
    cores = executors.usable_cores()
    assert run.code == 0 and asked == [cores] and len(out.read_text().splitlines()) == 2
    assert f"--jobs 1000 is more than this machine's {cores} cores; running {cores} at a time" in run.err
    assert "hopsolve bench: 2 tasks, 0 already in" in run.err
    again = cli("bench", "--instances", INSTANCES / "tsplib" / "burma14.tsp", "--solvers", "anneal", "--param",
                "anneal.sweeps=100", "--out", tmp_path / "one.jsonl")
    assert again.code == 0 and "hopsolve bench: 1 task, 0 already in" in again.err


def test_report_counts_each_task_once_and_says_what_it_left_out(cli, tmp_path):
    """A rerun appends a task's new record after its old one (``--retry-errors``), and both were counted (4 runs,
    75% feasible, for 3 tasks all feasible); a file given twice doubled every count; two configurations under one
    label were merged without a word."""
    out = tmp_path / "r.jsonl"
    grid = ["--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--seeds", "2", "--out", out]
    assert cli("bench", *grid, "--param", "anneal.sweeps=100").code == 0
    first = lines(out)[0]
    with out.open("a") as handle:  # an older record of the first task, superseded by a later one
        handle.write(json.dumps({**first, "status": "error", "feasible": False, "objective": None}) + "\n")
        handle.write(json.dumps(first) + "\n")
    run = cli("report", out, out)
    assert run.code == 0, run.err
    assert "| anneal | backend | 1 | 2 | 100% |" in run.out, run.out
    assert "given twice is read once" in run.err and "2 records of tasks that have a later record" in run.err
    assert "covers" not in run.err
    assert cli("bench", *grid, "--param", "anneal.sweeps=200").code == 0  # a second configuration, same label
    run = cli("report", out)
    assert "| anneal | backend | 1 | 4 | 100% |" in run.out and "label 'anneal' covers 2 configurations" in run.err


def test_bench_refuses_before_any_task_what_every_task_would_fail_on(cli, tmp_path):
    """An unknown --weight or --option ran every task into the same error, each a row of the results; a file of
    another program's JSON lines was appended to, and report then refused it; an instance named twice ran twice."""
    out = tmp_path / "r.jsonl"
    base = ["--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--out", out]
    for extra, said in ((["--weight", "bogus=1"], "unknown weight 'bogus'"),
                        (["--option", "bogus=1"], "bogus")):
        run = cli("bench", *base, *extra)
        assert run.code == 2 and said in run.err and not out.exists(), run.err
    out.write_text('{"a": 1}\n')
    run = cli("bench", *base)
    assert run.code == 2 and "not a hopsolve result record" in run.err and out.read_text() == '{"a": 1}\n'
    twice = tmp_path / "twice.jsonl"
    run = cli("bench", "--instances", str(TSP / "burma14.tsp"), str(TSP / ".." / "tsplib" / "burma14.tsp"),
              "--solvers", "anneal", "--param", "anneal.sweeps=100", "--out", twice)
    assert run.code == 0 and len(lines(twice)) == 1, run.err


def test_report_plot_without_traces_says_so_instead_of_drawing_flat_curves(cli, tmp_path):
    """Without bench --trace each record keeps only its final point; the anytime panel drew flat lines over a few
    milliseconds and the per-instance file more of them, and nothing said why."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.jsonl"
    assert cli("bench", "--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--param",
               "anneal.sweeps=100", "--out", out).code == 0
    png = tmp_path / "p.png"
    run = cli("report", out, "--plot", png)
    assert run.code == 0 and png.exists() and "no anytime curves" in run.err, run.err
    assert not (tmp_path / "p-instances.png").exists()


@pytest.mark.parametrize(("solver", "said"), [('name = "tank"\nparams = { dt = -1 }', "dt must be positive"),
                                              ('name = "anneal"\nparms = { sweeps = 1 }', "got parms")])
def test_a_suite_s_bad_solver_entry_is_refused_naming_the_suite(cli, tmp_path, solver, said):
    """A [[solver]] entry's unknown key or bad parameter was refused without naming the TOML file."""
    suite = tmp_path / "suite.toml"
    suite.write_text(f'instances = ["{TSP / "burma14.tsp"}"]\n[[solver]]\n{solver}\n')
    run = cli("bench", "--config", suite, "--out", tmp_path / "r.jsonl")
    assert run.code == 2 and f"{suite}: " in run.err and said in run.err, run.err
    suite.write_text('instances = ["missing.tsp"]\n[[solver]]\nname = "anneal"\n')
    run = cli("bench", "--config", suite, "--out", tmp_path / "r.jsonl")
    assert run.code == 2 and f"{suite}: instance" in run.err and "missing.tsp" in run.err, run.err


def test_task_keys_are_those_of_earlier_results_files():
    """A task's key names its record in a results file, so resuming needs it unchanged across versions: this one
    was computed by the code that wrote the files before the ``config`` digest was split out of it."""
    from hopsolve.bench.grid import SolverSpec, Task

    task = Task("/a/b.tsp", "tsp", SolverSpec("anneal", "backend", {"sweeps": 3}), 2, 1.5, {"x": 1}, {"row": 2.0})
    assert task.key == "d0471de5000f7c1c"
    other_problem = Task("/a/b.tsp", "qap", task.solver, 2, 1.5, {"x": 1}, {"row": 2.0})
    assert other_problem.config == task.config and other_problem.key != task.key


def test_a_bench_on_a_scheduler_says_when_its_workers_are_gone_and_back(capsys):
    """A cluster whose workers were all stopped mid-run left the bench waiting without a word."""
    import threading

    from hopsolve.bench.executors import watch_workers

    answers = iter([{"workers": {"a": {}}}, {"workers": {}}, {"workers": {}}, {"workers": {"b": {}, "c": {}}}])
    stop = threading.Event()

    class Client:
        def scheduler_info(self):
            try:
                return next(answers)
            except StopIteration:
                stop.set()
                return {"workers": {"b": {}, "c": {}}}

    watch_workers(Client(), "tcp://host:8786", stop, every=0.001)
    said = capsys.readouterr().err.splitlines()
    assert said == ["hopsolve bench: the Dask scheduler at tcp://host:8786 has no workers left; the tasks not yet "
                    "done wait until one connects (Ctrl-C to stop, keeping what is done)",
                    "hopsolve bench: 2 workers back on the Dask scheduler"]


def test_the_profile_of_best_gaps_measures_instances_without_a_known_optimum_against_the_best_run():
    """Without a reference every row's gap is None, which the profile read as 'never within τ' and drew every
    solver flat at 0 (every third-party, QUBO and CQM instance); it now measures from the best objective any run
    reached, as the time profile does."""
    from hopsolve.bench.report import _references, gap_profile, summarise

    def record(solver, instance, objective, reference=None, feasible=True):
        return {"problem": "qubo", "instance": instance, "solver": solver, "label": solver, "kind": "backend",
                "feasible": feasible, "objective": objective, "reference": reference, "gap": None,
                "wall_time_s": 1.0, "status": "feasible" if feasible else "infeasible"}

    records = [record("a", "x", -10.0), record("b", "x", -8.0), record("a", "y", -5.0), record("b", "y", -5.0),
               record("b", "z", None, feasible=False), record("a", "z", -1.0)]
    senses = {"qubo": "min"}
    rows, _ = summarise(records, senses)
    taus, profile = gap_profile(rows, _references(records, senses))
    assert profile["a"][0] == 1.0  # best on all three instances: within 0%
    assert np.isclose(profile["b"][0], 1 / 3)  # y only; x is 20% behind, z never feasible
    assert np.isclose(profile["b"][np.searchsorted(taus, 20.0 + 1e-9)], 2 / 3)
    assert np.isclose(profile["b"][-1], 2 / 3)


def test_a_suite_refuses_the_flags_it_would_ignore_and_resolves_its_option_files_from_anywhere(cli, tmp_path,
                                                                                                 monkeypatch):
    """``--config`` ran the suite and ignored ``--instances``, ``--solvers`` and ``--param`` without a word; and
    memory.toml's cue (an option naming a file) was read relative to the working directory: run from another
    folder every task failed."""
    suite = ROOT / "benchmarks" / "suites" / "memory.toml"
    run = cli("bench", "--config", suite, "--instances", INSTANCES / "tsplib" / "burma14.tsp", "--out",
              tmp_path / "x.jsonl")
    assert run.code == 2 and "--instances cannot be combined with --config" in run.err
    monkeypatch.chdir(tmp_path)
    run = cli("bench", "--config", suite, "--seeds", "1", "--out", tmp_path / "m.jsonl")
    assert run.code == 0, run.err
    records = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["status"] != "error" for r in records)


def test_only_file_options_are_made_paths_and_given_options_merge_into_a_suite_s(registry, tmp_path, monkeypatch):
    """``form=lucas`` beside a file named ``lucas`` was rewritten into a path; ``--option rule=hebb`` replaced a
    suite's whole options table, dropping its cue without a word."""
    from hopsolve.bench.grid import build_grid, grid_from_toml

    from .conftest import ROOT

    monkeypatch.chdir(tmp_path)
    (tmp_path / "lucas").write_text("")
    grid = build_grid(registry, instances=[str(INSTANCES / "tsplib" / "burma14.tsp")], solvers=[{"name": "anneal"}],
                      seeds=1, options={"form": "lucas"})
    assert grid.tasks()[0].options == {"form": "lucas"}
    suite = grid_from_toml(registry, ROOT / "benchmarks" / "suites" / "memory.toml", {"options": {"rule": "hebb"}})
    options = suite.tasks()[0].options
    assert options["rule"] == "hebb" and options["cue"] == str(INSTANCES / "memory" / "cross_near.cue")


def test_report_takes_an_instance_s_problem_and_reference_from_a_record_that_has_them():
    """An error record (no problem, kind or reference: written before the instance was read) coming first blanked
    the instance's reference in the table, and made a max-cut's best cut the smallest."""
    from hopsolve.bench.report import summarise

    error = {"instance": "G1", "solver": "anneal", "status": "error", "feasible": False, "objective": None,
             "problem": None, "kind": None, "reference": None, "wall_time_s": 0.0}
    runs = [{"instance": "G1", "solver": "anneal", "status": "feasible", "feasible": True, "objective": cut,
             "problem": "maxcut", "kind": "backend", "reference": 11624.0, "gap": (11624 - cut) / 11624,
             "wall_time_s": 1.0} for cut in (11620.0, 11624.0)]
    [row], _ = summarise([error, *runs], {"maxcut": "max"})
    assert row["reference"] == 11624.0 and row["best_objective"] == 11624.0 and row["kind"] == "backend"
    assert row["runs"] == 3 and row["errors"] == 1


def test_one_configuration_is_one_task_key_however_it_is_written(tmp_path):
    """``--param anneal.sweeps=300000`` (a string) and a suite's ``sweeps = 300000`` were two configurations, so a
    resume ran every task again and report counted 8 runs for 4 tasks; a baseline's key held the grid's options and
    weights, which it ignores, so adding ``--weight`` ran every baseline again."""
    from hopsolve.bench.grid import grid_from_toml, solvers_from_cli

    registry = build_registry()
    berlin = str(TSP / "berlin52.tsp")
    typed = build_grid(registry, instances=[berlin], seeds=1,
                       solvers=[{"name": "anneal", "params": {"sweeps": 300000}}, {"name": "networkx-greedy"}])
    texts = build_grid(registry, instances=[berlin], seeds=1, weights={"row": 5.0},
                       solvers=solvers_from_cli("anneal,networkx-greedy", ["anneal.sweeps=300000"]))
    anneal, greedy = typed.tasks()
    assert texts.tasks()[0].solver.params == {"sweeps": 300000}
    assert texts.tasks()[0].key != anneal.key  # the weight is the backend's: another configuration
    assert texts.tasks()[1].key == greedy.key and texts.tasks()[1].weights == {}
    suite = tmp_path / "suite.toml"
    suite.write_text(f'instances = ["{berlin}"]\ntime_limit = 1\n[[solver]]\nname = "anneal"\n'
                     'params = { sweeps = 300000 }\ntime_limit = 2\n')
    from_cli = build_grid(registry, instances=[berlin], seeds=1, time_limit=0.5,
                          solvers=solvers_from_cli("anneal", ["anneal.sweeps=300000"]))
    from_suite = grid_from_toml(registry, suite, {"time_limit": 0.5})  # --time-limit: the solver's own 2 s too
    assert [t.key for t in from_suite.tasks()] == [t.key for t in from_cli.tasks()]
    assert from_suite.tasks()[0].time_limit == 0.5


@pytest.mark.parametrize("solver, seeds, message", [
    ({"name": "anneal", "time_limit": 1e9}, 1, "time_limit must be a positive number of seconds, at most"),
    ({"name": "anneal", "time_limit": float("inf")}, 1, "time_limit must be a positive number of seconds"),
    ({"name": "anneal"}, 10**8, "over 1 instance and 1 solver make 100,000,000 tasks, more than 1,000,000; give"),
    ({"name": "anneal", "params": "sweeps=5"}, 1, "params must be a table"),  # was an internal error
])
def test_a_grid_refuses_before_any_task_what_no_task_could_run(solver, seeds, message):
    """A solver's own time_limit of 1e9 was an error record in every task (the grid's own was checked), and
    --seeds 100000000 built the grid in memory for 31 s before running out of it."""
    from hopsolve.errors import ParameterError

    with pytest.raises(ParameterError, match=message):
        build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], solvers=[solver], seeds=seeds)


def test_a_deterministic_baseline_counts_once_towards_the_task_limit_and_time_limits_are_replaced(tmp_path):
    """600,000 seeds of anneal beside networkx-greedy (run once) are 600,001 tasks, not 1,200,000; --time-limit
    replaced a suite solver's own limit but not one in its params (a 3 s run judged against 0.5 s)."""
    from hopsolve.bench.grid import grid_from_toml

    grid = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], seeds=600_000,
                      solvers=[{"name": "anneal"}, {"name": "networkx-greedy"}])
    assert len(grid.seeds) == 600_000
    suite = tmp_path / "s.toml"
    suite.write_text(f'instances = ["{TSP / "burma14.tsp"}"]\ntime_limit = 5\n[[solver]]\nname = "anneal"\n'
                     'params = { time_limit = 3, fill_time = true }\n')
    [task] = grid_from_toml(build_registry(), suite, {"time_limit": 0.5}).tasks()
    assert task.time_limit == 0.5 and task.solver.params == {"fill_time": True}


def test_retry_errors_runs_again_a_task_the_watchdog_stopped_and_the_timing_counts_from_the_compile(cli, tmp_path,
                                                                                                     monkeypatch):
    """A first compile of 25-30 s ran into the local watchdog (1.5 × limit + 30 s from the task's start), which
    recorded a timeout without an answer that ``--retry-errors`` then would not run again."""
    from hopsolve.bench import runner

    out = tmp_path / "r.jsonl"
    grid = ["--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--time-limit", "0.5", "--out", out]
    assert cli("bench", *grid, "--jobs", "1").code == 0
    [record] = lines(out)
    stopped = {**record, "status": "timeout", "feasible": False, "objective": None, "solution": None,
               "error": "exceeded its time limit; worker stopped"}
    out.write_text(json.dumps(stopped) + "\n")
    assert "0 to run" in cli("bench", *grid).err
    run = cli("bench", *grid, "--retry-errors")
    assert "1 to run" in run.err and lines(out)[-1]["status"] == "feasible"
    task = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], solvers=[{"name": "anneal"}],
                      seeds=1, time_limit=0.5).tasks()[0]
    said = []
    assert runner.run_task(task, lambda: said.append(time.perf_counter()))["status"] == "feasible"
    assert len(said) == 1  # once, when the kernels are compiled and the timed run begins


def test_bench_says_when_dask_workers_would_run_timed_tasks_several_at_once(monkeypatch, capsys):
    """``dask worker`` starts one thread a core: timed tasks then share a core and the GIL (G4's anneal got 0.05 s
    of its 1 s and was refused), and bench said nothing."""
    import dask.distributed

    from hopsolve.bench.executors import run_dask

    class Cluster:
        def __init__(self, address, timeout=None):
            pass

        def scheduler_info(self):
            return {"workers": {"tcp://a": {"nthreads": 2}, "tcp://b": {"nthreads": 1}}}

        def submit(self, *args, **kwargs):
            return object()

        def close(self):
            pass

    monkeypatch.setattr(dask.distributed, "Client", Cluster)
    monkeypatch.setattr(dask.distributed, "as_completed", lambda futures: [])
    task = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], solvers=[{"name": "anneal"}],
                      seeds=1, time_limit=1.0).tasks()[0]
    run_dask([task], lambda record: None, "tcp://scheduler", None)
    said = capsys.readouterr().err
    assert "run 2 tasks at once each" in said and "start workers with --nthreads 1" in said, said


def test_report_skips_a_torn_last_line_and_an_empty_file_among_others(cli, tmp_path):
    """A torn last line (a bench killed while writing it) made report refuse the file, though bench repairs it on
    resume; one empty file among others refused them all; a folder of instances took memory's cue files for
    instances."""
    out = tmp_path / "r.jsonl"
    assert cli("bench", "--instances", str(TSP / "burma14.tsp"), "--solvers", "anneal", "--param",
               "anneal.sweeps=100", "--seeds", "2", "--out", out).code == 0
    whole = out.read_text()
    out.write_text(whole + whole.splitlines()[0][:40])  # a third line, cut
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    run = cli("report", out, empty)
    assert run.code == 0 and "| anneal | backend | 1 | 2 | 100% |" in run.out, run.err
    assert "skipped its torn last line" in run.err and "empty.jsonl has no results yet; left out" in run.err
    assert cli("report", empty).code == 2
    torn_only = tmp_path / "torn_only.jsonl"  # a bench killed while writing its first record
    torn_only.write_text(whole.splitlines()[0][:40])
    run = cli("report", out, torn_only)
    assert run.code == 0 and "torn_only.jsonl has no results yet; left out" in run.err, run.err
    folder = build_grid(build_registry(), instances=[str(INSTANCES / "memory")], solvers=[{"name": "anneal"}],
                        seeds=1)
    assert folder.instances and not any(path.endswith(".cue") for path in folder.instances)


def test_a_results_file_written_with_the_earlier_keys_is_resumed_not_run_again(cli, tmp_path):
    """Keys became typed (``--param`` text and a suite's integer are one configuration) and a baseline's key
    left out the options and weights: a results file written before ran those tasks again on resume, and report
    counted them twice. A task whose earlier key is in the file is finished."""
    import hashlib

    burma = os.path.normpath(str((TSP / "burma14.tsp").resolve()))

    def earlier_key(name: str, kind: str, params: dict, seed: int) -> str:  # the formula such files were keyed by
        payload = {"solver": [name, kind, params, ""], "time_limit": None, "options": {}, "weights": {"row": 2.0},
                   "instance": burma, "problem": None, "seed": seed}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    out = tmp_path / "r.jsonl"
    grid = ["--instances", burma, "--solvers", "anneal,networkx-christofides", "--param", "anneal.sweeps=100",
            "--seeds", "2", "--weight", "row=2", "--jobs", "1", "--out", out]
    assert cli("bench", *grid).code == 0
    records = lines(out)
    for record in records:
        typed = record["solver"] == "anneal"
        record["task"] = earlier_key(record["solver"], record["kind"], {"sweeps": "100"} if typed else {},
                                     record["seed"])
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = cli("bench", *grid)
    assert run.code == 0 and "3 tasks, 3 already" in run.err and "0 to run" in run.err, run.err


def test_a_suite_s_whole_time_limit_and_the_same_from_the_command_line_are_one_task(cli, tmp_path):
    """``time_limit = 1`` in a suite was keyed as 1 and ``--time-limit 1`` as 1.0: the second run ran the task
    again and report counted two runs and two configurations. A file keyed with the integer is resumed too."""
    suite = tmp_path / "one.toml"
    suite.write_text(f'instances = ["{(TSP / "burma14.tsp").as_posix()}"]\nseeds = 1\ntime_limit = 1\n'
                     '[[solver]]\nname = "networkx-greedy"\n')
    out = tmp_path / "one.jsonl"
    assert cli("bench", "--config", suite, "--out", out, "--jobs", "1").code == 0
    run = cli("bench", "--config", suite, "--out", out, "--jobs", "1", "--time-limit", "1")
    assert run.code == 0 and "1 already" in run.err and "0 to run" in run.err, run.err
    records = lines(out)
    assert len(records) == 1
    import hashlib

    keyed_as_before = {**json.loads(json.dumps(records[0]))}  # as the code before keyed a suite's integer limit
    payload = {"solver": ["networkx-greedy", "baseline", {}, ""], "time_limit": 1, "options": {}, "weights": {},
               "instance": os.path.normpath(str((TSP / "burma14.tsp").resolve())), "problem": None, "seed": 1}
    keyed_as_before["task"] = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    out.write_text(json.dumps(keyed_as_before) + "\n")
    run = cli("bench", "--config", suite, "--out", out, "--jobs", "1")
    assert run.code == 0 and "1 already" in run.err and "0 to run" in run.err, run.err


def test_report_measures_instances_without_a_reference_against_an_optimum_proven_in_the_results(cli, tmp_path):
    """A frozen anneal at 603 beside CP-SAT's proven 165 on an instance without a known optimum: the tables showed
    no gap (each record's own gap, none without a reference) while the plot measured 266%."""
    base = {"problem": "cqm", "instance": "assign20", "kind": "backend", "reference": None, "gap": None,
            "feasible": True, "wall_time_s": 1.0}
    records = [{**base, "solver": "anneal", "status": "feasible", "objective": 603.0, "seed": 1},
               {**base, "solver": "anneal", "status": "feasible", "objective": 606.0, "seed": 2},
               {**base, "solver": "ortools-cpsat", "kind": "baseline", "status": "optimal", "objective": 165.0,
                "seed": 1},
               {**base, "instance": "other", "solver": "anneal", "status": "feasible", "objective": 5.0, "seed": 1}]
    out = tmp_path / "r.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = cli("report", out)
    assert run.code == 0
    rows = {(line.split("|")[1].strip(), line.split("|")[2].strip()): line for line in run.out.splitlines()
            if line.startswith("| assign20") or line.startswith("| other")}
    assert "| 165 * | 265 | 266 |" in rows[("assign20", "anneal")]  # 603 and 604.5 against 165
    assert "| 165 * | 0 | 0 |" in rows[("assign20", "ortools-cpsat")]
    assert "|  |  |  |" in rows[("other", "anneal")]  # nothing proven: no reference, no gap
    assert "\\* no known optimum: the optimum a solver proved in these results" in run.out


def test_a_mixed_suite_runs_each_baseline_on_the_problems_that_have_it(cli, tmp_path):
    """A suite of QAP, assignment and LP files could not list ortools-cpsat ("unknown baseline 'ortools-cpsat' for
    problem 'assignment'"), though a baseline any of its problems has is accepted by name: it now runs on the
    instances of the problems that have it, and only there."""
    graph = tmp_path / "square.txt"
    graph.write_text("4 4\n1 2 1\n2 3 1\n3 4 1\n4 1 1\n")
    suite = tmp_path / "mixed.toml"
    suite.write_text(f'instances = ["{(TSP / "burma14.tsp").as_posix()}", "{graph.as_posix()}"]\nseeds = 1\n'
                     '[[solver]]\nname = "networkx-greedy"\n[[solver]]\nname = "networkx-one-exchange"\n')
    out = tmp_path / "mixed.jsonl"
    run = cli("bench", "--config", suite, "--out", out, "--jobs", "1")
    assert run.code == 0 and "2 tasks" in run.err, run.err
    ran = sorted((r["instance"], r["solver"], r["status"]) for r in lines(out))
    assert ran == [("burma14", "networkx-greedy", "feasible"), ("square", "networkx-one-exchange", "feasible")]


def test_a_problem_named_or_inferred_from_the_suffix_is_one_task(cli, tmp_path):
    """A suite naming ``problem = "tsp"`` and a command line inferring it from ``.tsp`` keyed the same run as two
    tasks (the name as given, None when inferred): the second ran it again and report counted two runs."""
    burma = (TSP / "burma14.tsp").as_posix()
    suite = tmp_path / "k.toml"
    suite.write_text(f'problem = "tsp"\ninstances = ["{burma}"]\nseeds = 1\n[[solver]]\nname = "anneal"\n'
                     'params = { sweeps = 300 }\n')
    out = tmp_path / "k.jsonl"
    assert cli("bench", "--instances", burma, "--solvers", "anneal", "--param", "anneal.sweeps=300", "--out", out,
               "--jobs", "1").code == 0
    run = cli("bench", "--config", suite, "--out", out, "--jobs", "1")
    assert run.code == 0 and "1 already" in run.err and "0 to run" in run.err, run.err
    assert len(lines(out)) == 1
    import hashlib  # a file the code before wrote from the command line, its problem keyed as None: resumed

    [record] = lines(out)
    payload = {"solver": ["anneal", "backend", {"sweeps": 300}, ""], "time_limit": None, "options": {},
               "weights": {}, "instance": os.path.normpath(str((TSP / "burma14.tsp").resolve())), "problem": None,
               "seed": 1}
    record["task"] = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    out.write_text(json.dumps(record) + "\n")
    run = cli("bench", "--config", suite, "--out", out, "--jobs", "1")
    assert run.code == 0 and "1 already" in run.err and "0 to run" in run.err, run.err


def test_report_takes_a_proof_only_for_the_same_problem_and_file(cli, tmp_path):
    """Keyed by name alone, a CQM's proven -117 was the reference of a QUBO file of the same name (92% "gap")."""
    base = {"instance": "k", "kind": "backend", "reference": None, "gap": None, "feasible": True,
            "wall_time_s": 1.0, "seed": 1}
    records = [{**base, "problem": "cqm", "instance_path": "/a/k.lp", "solver": "ortools-cpsat", "kind": "baseline",
                "status": "optimal", "objective": -117.0},
               {**base, "problem": "qubo", "instance_path": "/a/k.qubo", "solver": "exact", "status": "optimal",
                "objective": -9.056}]
    out = tmp_path / "r.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = cli("report", out)
    exact = next(line for line in run.out.splitlines() if line.startswith("| k (/a/k.qubo) | exact"))
    assert "-117" not in exact and "92" not in exact


def test_report_keeps_two_files_of_one_name_apart_and_says_what_a_mean_gap_covers(cli, tmp_path):
    """Two generated files both named "rand" were one row (best 303, median 13205.5, no reference) and one
    instance in the plots; a solver without an answer on an instance had its mean gap taken over the others
    (14.2% over 2 of 3, the hardest left out without a word); a label with a "|" split its table row."""
    base = {"kind": "backend", "reference": None, "gap": None, "wall_time_s": 1.0, "seed": 1, "problem": "tsp",
            "status": "optimal", "feasible": True, "solver": "exact"}
    records = [{**base, "instance": "rand", "instance_path": "/a/rand1.tsp", "objective": 303.0},
               {**base, "instance": "rand", "instance_path": "/b/rand2.tsp", "objective": 26108.0},
               {**base, "instance": "easy", "instance_path": "/c/easy.tsp", "objective": 10.0, "reference": 10.0,
                "gap": 0.0, "solver": "greedy | nn", "status": "feasible"},
               {**base, "instance": "hard", "instance_path": "/c/hard.tsp", "objective": None, "feasible": False,
                "reference": 20.0, "solver": "greedy | nn", "status": "timeout"}]
    out = tmp_path / "r.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    lines = cli("report", out).out.splitlines()
    assert any(line.startswith("| rand (/a/rand1.tsp) | exact | 1 | 100% | 303 | 303 | 303 *") for line in lines)
    assert any(line.startswith("| rand (/b/rand2.tsp) | exact | 1 | 100% | 26108 | 26108 | 26108 *") for line in lines)
    solver = next(line for line in lines if line.startswith("| greedy \\| nn | backend | 2 |"))
    assert "| 0 (1 of 2) |" in solver
    assert any(line.startswith("(k of m): a mean over the k instances") for line in lines)


def test_a_solver_s_params_time_limit_beside_the_grid_s_is_refused_before_any_task(cli, tmp_path):
    """Every task became an error record naming --time-limit and --param, which the user never typed."""
    out = tmp_path / "cl.jsonl"
    run = cli("bench", "--instances", TSP / "burma14.tsp", "--solvers", "anneal", "--param", "anneal.time_limit=2",
              "--time-limit", "1", "--seeds", "2", "--out", out, "--jobs", "1")
    assert run.code == 2 and "time_limit is given twice with two values (the grid's time limit 1 and params " \
        "time_limit=2.0)" in run.err and not out.exists()


def test_a_lost_dask_scheduler_ends_the_bench_in_one_line_recording_no_task_it_did_not_run(monkeypatch):
    """The scheduler killed mid-run: distributed printed two tracebacks, and every task not yet run was written as
    an error record of 0 s (25 of 34), which report then counted; a finished task is still recorded."""
    import dask.distributed

    from hopsolve.bench.executors import run_dask
    from hopsolve.errors import UserError

    class Future:
        def __init__(self, status):
            self.status = status

        def result(self):
            return {"status": "feasible", "task": "done"}

        def exception(self, timeout=None):
            return RuntimeError("run_task-1 cancelled for reason: scheduler-connection-lost.")

    futures = [Future("finished"), Future("cancelled"), Future("cancelled")]

    def lost(self):  # a lost client no longer marks the futures it had collected as finished
        self.status = "lost"

    class Client:
        status = "running"

        def __init__(self, address, timeout=None):
            pass

        def scheduler_info(self):
            return {"workers": {"tcp://a": {"nthreads": 1}}}

        def submit(self, *args, **kwargs):
            return next(handed)

        def close(self):
            pass

    handed = iter(futures)
    monkeypatch.setattr(dask.distributed, "Client", Client)
    monkeypatch.setattr(dask.distributed, "as_completed", lambda given: list(given))
    tasks = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], solvers=[{"name": "anneal"}],
                       seeds=3, time_limit=1.0).tasks()
    recorded = []
    with pytest.raises(UserError, match=r"lost the Dask scheduler at tcp://s: 2 tasks not run .* rerun the same "
                                        r"command to resume"):
        run_dask(tasks, lambda record: (recorded.append(record), lost(futures[0])), "tcp://s", None)
    assert recorded == [{"status": "feasible", "task": "done"}]


def test_a_file_option_naming_no_file_is_refused_before_any_task(cli, tmp_path):
    """Every task became an error record (memory's cue=nothere.cue), found only after the sweep."""
    out = tmp_path / "cue.jsonl"
    run = cli("bench", "--instances", INSTANCES / "memory" / "seed_pictures.patterns", "--solvers", "hopfield",
              "--option", "cue=nothere.cue", "--seeds", "1", "--out", out, "--jobs", "1")
    assert run.code == 2 and run.err.strip() == "hopsolve: error: nothere.cue: option cue: no such file"
    assert not out.exists()


def test_more_dask_workers_than_cores_run_as_many_as_there_are_cores(cli, tmp_path, monkeypatch):
    """``--workers 100000`` started workers until it was killed, and ``--workers 6`` on 2 cores said nothing while
    timed runs overran: held to the cores as ``--jobs`` is, with the same line."""
    from hopsolve.bench import executors

    asked: list[int | None] = []

    def recording(tasks, on_result, *, workers=None, **kwargs):
        asked.append(workers)
        for task in tasks:
            on_result(executors.run_task(task))

    monkeypatch.setattr(executors, "execute", recording)
    cores = executors.usable_cores()
    grid = ["--instances", INSTANCES / "tsplib" / "burma14.tsp", "--solvers", "anneal", "--param",
            "anneal.sweeps=100", "--seeds", "2"]
    run = cli("bench", *grid, "--workers", "100000", "--out", tmp_path / "w.jsonl")
    assert run.code == 0 and asked == [cores] and len((tmp_path / "w.jsonl").read_text().splitlines()) == 2
    assert f"--workers 100000 is more than this machine's {cores} cores; running {cores} at a time" in run.err
    run = cli("bench", *grid, "--workers", str(cores), "--out", tmp_path / "c.jsonl")
    assert run.code == 0 and asked[-1] == cores and "more than this machine's" not in run.err


def _fake_local_cluster(monkeypatch) -> tuple[list, list]:
    """dask.distributed's LocalCluster and Client replaced by fakes that run nothing: the options each cluster was
    started with, and the worker plugins registered, are recorded in the two lists returned."""
    import dask.distributed

    started, plugins = [], []

    class Cluster:
        def __init__(self, **options):
            started.append(options)

        def close(self):
            pass

    class Client:
        def __init__(self, cluster):
            pass

        def register_plugin(self, plugin, name=None):
            plugins.append(plugin)

        def submit(self, *args, **kwargs):
            return object()

        def close(self):
            pass

    monkeypatch.setattr(dask.distributed, "LocalCluster", Cluster)
    monkeypatch.setattr(dask.distributed, "Client", Client)
    monkeypatch.setattr(dask.distributed, "as_completed", lambda futures: [])
    return started, plugins


def test_a_local_dask_cluster_starts_no_more_workers_than_tasks(monkeypatch):
    """As the local executor starts no more processes than tasks: ``run_dask`` called with 100,000 workers (its
    callers' own cap aside) started them all for two tasks."""
    from hopsolve.bench.executors import run_dask

    started, _ = _fake_local_cluster(monkeypatch)
    tasks = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], solvers=[{"name": "anneal"}],
                       seeds=2).tasks()
    run_dask(tasks, lambda record: None, None, 100_000)
    assert [options["n_workers"] for options in started] == [2]


def test_a_local_dask_cluster_takes_no_fixed_port_and_quiets_its_workers_logs(monkeypatch):
    """Its HTTP server on 8787 printed distributed's 4-line "Port 8787 is already in use" beside another
    dashboard; each worker printed ``distributed.worker.state_machine - WARNING - Async instruction ...
    CancelledError`` on Ctrl-C. The port is the system's pick now, and a worker plugin quiets the workers'
    loggers in their own processes (not under HOPSOLVE_DEBUG)."""
    import logging

    import dask.distributed

    from hopsolve.bench import executors

    started, plugins = _fake_local_cluster(monkeypatch)
    monkeypatch.delenv("HOPSOLVE_DEBUG", raising=False)
    tasks = build_grid(build_registry(), instances=[str(TSP / "burma14.tsp")], solvers=[{"name": "anneal"}],
                       seeds=1).tasks()
    executors.run_dask(tasks, lambda record: None, None, 1)
    options = started[0]
    assert options["dashboard_address"] == "127.0.0.1:0" and options["scheduler_kwargs"] == {"dashboard": False}
    assert len(plugins) == 1 and isinstance(plugins[0], dask.distributed.WorkerPlugin)
    worker_loggers = [logging.getLogger(name) for name in executors.QUIET_WORKER_LOGGERS]
    assert "distributed.worker.state_machine" in executors.QUIET_WORKER_LOGGERS
    levels = [logger.level for logger in worker_loggers]
    try:
        plugins[0].setup(None)  # as in a worker's process
        assert all(logger.getEffectiveLevel() == logging.CRITICAL for logger in worker_loggers)
    finally:
        for logger, level in zip(worker_loggers, levels):
            logger.setLevel(level)
    monkeypatch.setenv("HOPSOLVE_DEBUG", "1")  # everything distributed says, for debugging
    executors.run_dask(tasks, lambda record: None, None, 1)
    assert len(plugins) == 1


@pytest.mark.slow
def test_a_local_dask_bench_interrupted_beside_another_dashboard_prints_only_its_own_lines(tmp_path):
    """End to end, as a user saw it: port 8787 held (here by the test, where nothing else holds it) and Ctrl-C
    while the workers run timed tasks; stderr held distributed's port warning and a CancelledError line a worker."""
    import socket

    held = socket.socket()
    try:
        held.bind(("127.0.0.1", 8787))
        held.listen(1)
    except OSError:  # something else holds it: in use all the same
        pass
    command = [sys.executable, "-m", "hopsolve.cli", "bench", "--instances", str(TSP / "burma14.tsp"),
               "--solvers", "anneal", "--param", "anneal.sweeps=100000000", "--time-limit", "60", "--seeds", "2",
               "--workers", "2", "--out", str(tmp_path / "r.jsonl")]
    env = {key: value for key, value in os.environ.items() if key != "HOPSOLVE_DEBUG"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    try:
        time.sleep(20)  # the cluster up and its workers on the tasks (60 s each)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the process group
        _, err = proc.communicate(timeout=120)
    finally:
        held.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    said = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert said and all(line.startswith("hopsolve bench: ") for line in said), err
