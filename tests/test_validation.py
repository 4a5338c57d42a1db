"""Misuse found before any work: output paths, sizes that drive allocations, the memory-limit switch."""

from __future__ import annotations

import pytest

from .conftest import INSTANCES

BURMA = INSTANCES / "tsplib" / "burma14.tsp"


@pytest.mark.parametrize("args, fragment", [
    (["--out", "/nonexistent/dir/x.tour"], "does not exist"),
    (["--out", "/tmp"], "must be a file, not a folder"),
    (["--plot", "x.xyz"], "unknown image type '.xyz'"),
    (["--param", "sweeps=3000000000"], "schedule of 3,000,000,000 sweeps (sweeps)"),
    (["--reads", "100000000000"], "100,000,000,000 reads"),
    (["--param", "sweeps=200000000", "--param", "trace=true", "--reads", "4"], "a trace of 4 reads"),
])
def test_solve_refuses_in_one_line_before_working(cli, args, fragment):
    run = cli("solve", BURMA, *args)
    assert run.code == 2, run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in run.err


def test_a_plot_for_a_problem_that_cannot_draw_is_refused_before_solving(cli, tmp_path):
    run = cli("solve", INSTANCES / "qubo" / sorted(p.name for p in (INSTANCES / "qubo").iterdir())[0],
              "--plot", tmp_path / "x.png")
    assert run.code == 2 and "cannot draw" in run.err


def test_bench_and_report_check_their_outputs_first(cli, tmp_path):
    run = cli("bench", "--instances", BURMA, "--solvers", "anneal", "--out", "/tmp")
    assert run.code == 2 and "must be a file" in run.err
    results = tmp_path / "r.jsonl"
    results.write_text("")
    run = cli("report", results, "--plot", tmp_path / "nofolder" / "p.png")
    assert run.code == 2 and "does not exist" in run.err


@pytest.mark.parametrize("value", ["lots", "-5", "nan"])
def test_a_bad_memory_limit_is_refused_not_ignored(cli, monkeypatch, value):
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", value)
    run = cli("solve", BURMA, "--param", "sweeps=10")
    assert run.code == 2 and "HOPSOLVE_MAX_MATRIX_BYTES" in run.err and len(run.err.strip().splitlines()) == 1
