"""The benchmark harness: resumable JSONL, failures recorded, kill and resume, Dask, reports, bad grids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

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


def test_small_grid_writes_eight_lines_and_rerun_adds_none(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    run = cli("bench", *GRID, "--out", out, "--jobs", "2")
    assert run.code == 0, run.err
    records = lines(out)
    assert len(records) == 8 and len({r["task"] for r in records}) == 8
    assert all(r["status"] in ("feasible", "optimal") and r["gap"] is not None for r in records)
    rerun = cli("bench", *GRID, "--out", out)
    assert rerun.code == 0 and "0 to run" in rerun.err and len(lines(out)) == 8
    report = cli("report", out)
    assert report.code == 0 and "| anneal | backend | 2 | 4 |" in report.out
    png = tmp_path / "r.png"
    assert cli("report", out, "--format", "csv", "--plot", png).out.startswith("instance,solver,kind,runs")
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
    assert 1 <= done < 8
    with out.open("a") as handle:
        handle.write('{"task": "torn')  # what a kill in mid-write would leave behind
    subprocess.run(command, check=True, capture_output=True)
    records = lines(out)
    assert len(records) == 8 and len({r["task"] for r in records}) == 8


def test_failing_solver_is_an_error_row_and_others_complete(tmp_path):
    out = tmp_path / "r.jsonl"
    env = {**os.environ, "HOPSOLVE_PLUGINS": "misbehaving_backends",
           "PYTHONPATH": f"{THIRD_PARTY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "hopsolve.cli", "bench", "--instances", str(TSP / "burma14.tsp"),
                           "--solvers", "anneal,broken,exact", "--param", "anneal.sweeps=200", "--out", str(out),
                           "--jobs", "2"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    by_solver = {r["solver"]: r for r in lines(out)}
    assert by_solver["anneal"]["status"] == "feasible"
    assert by_solver["broken"]["status"] == "error" and "always fails" in by_solver["broken"]["error"]
    assert by_solver["exact"]["status"] == "error" and "refuses" in by_solver["exact"]["error"]


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
