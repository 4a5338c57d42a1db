"""Misuse found before any work: output paths, sizes that drive allocations, the memory-limit switch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import INSTANCES

BURMA = INSTANCES / "tsplib" / "burma14.tsp"


@pytest.mark.parametrize("args, fragment", [
    (["--out", "/nonexistent/dir/x.tour"], "does not exist"),
    (["--out", "/tmp"], "must be a file, not a folder"),
    (["--out", "/proc/x.tour"], "--out: cannot create the file"),
    (["--plot", "x.xyz"], "unknown image type '.xyz'"),
    (["--param", "sweeps=3000000000"], "schedule of 3,000,000,000 sweeps (sweeps)"),
    (["--reads", "100000000000"], "100,000,000,000 reads"),
    (["--reads", "100000000000", "--time-limit", "5"], "over the limit of 2.0 GiB (HOPSOLVE_MAX_MATRIX_BYTES)"),
    (["--reads", "0"], "backend 'anneal': reads must be at least 1, got 0"),
    (["--param", "sweeps=1e99"], "a schedule of 1e+99 sweeps (sweeps) would need ~7.45e+90 GiB"),
    (["--backend", "tank", "--param", "reads=0"], "backend 'tank': reads must be at least 1, got 0"),
    (["--param", "sweeps=200000000", "--param", "trace=true", "--reads", "4"], "a trace of 4 reads"),
    (["--weight", "row=1", "--weight", "row=2"], "--weight row is given twice with two values (row=1 and row=2)"),
    (["--param", "sweeps=10", "--param", "sweeps=20"], "--param sweeps is given twice with two values"),
    (["--param", "sweeps=9007199254740993", "--param", "sweeps=9007199254740992"], "given twice with two values"),
    (["--param", "sweeps=1e400", "--param", "sweeps=2e400"], "given twice with two values"),
    (["--param", "sweeps=10", "--param", "sweeps=10", "--param", "sweeps=3000000000"], "--param sweeps is given"),
    (["--weight", "row=1e400"], "--weight row=1e400 must be finite and non-negative"),
    (["--reads", "3", "--param", "reads=4"], "reads is given twice with two values (--reads 3 and --param reads=4)"),
])
def test_solve_refuses_in_one_line_before_working(cli, args, fragment):
    run = cli("solve", BURMA, *args)
    assert run.code == 2, run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in run.err
    assert "reading and encoding" not in run.err  # that clause is for limits that reading used up


@pytest.mark.parametrize("args", [["--param", "sweeps=100", "--param", "sweeps=1e2"],
                                  ["--param", "sweeps=100", "--param", "sweeps=100.0"],
                                  ["--reads", "3", "--param", "reads=3e0"]])
def test_two_spellings_of_one_number_are_one_value(cli, args):
    """``sweeps=100`` and ``sweeps=1e2`` were refused as "two values"; they are one, and it is run."""
    run = cli("solve", BURMA, "--backend", "anneal", *args, "--json")
    assert run.code == 0, run.err
    ran = json.loads(run.out)["params"]
    assert ran["sweeps"] == 100 if "sweeps=100" in args else ran["reads"] == 3


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


def test_a_parameter_repeated_with_its_own_value_is_one_value(cli):
    """A run's printed replay parameters pasted after a command that gives some of them already: the same value
    twice is not ambiguous (``solve`` and ``bench --param`` alike; two values are refused)."""
    run = cli("solve", BURMA, "--param", "sweeps=50", "--seed", "1", "--param", "sweeps=50", "--json")
    assert run.code == 0 and json.loads(run.out)["params"]["sweeps"] == 50


def test_bench_refuses_a_solver_parameter_given_twice_with_two_values(cli, tmp_path):
    run = cli("bench", "--instances", BURMA, "--solvers", "anneal", "--param", "anneal.sweeps=100", "--param",
              "anneal.sweeps=200", "--out", tmp_path / "r.jsonl")
    assert run.code == 2 and "--param anneal.sweeps is given twice with two values (anneal.sweeps=100 and " \
        "anneal.sweeps=200)" in run.err
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("value, message", [("lots", "not a number"), ("-5", "at least 1 byte"),
                                            ("nan", "not a finite number"), ("0.5", "at least 1 byte"),
                                            ("1e400", "not a finite number"), ("1_000", "not a number")])
def test_a_bad_memory_limit_is_refused_not_ignored(cli, monkeypatch, value, message):
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", value)
    run = cli("solve", BURMA, "--param", "sweeps=10")
    assert run.code == 2 and f"HOPSOLVE_MAX_MATRIX_BYTES={value!r} " in run.err and message in run.err
    assert len(run.err.strip().splitlines()) == 1


@pytest.mark.parametrize("path", [INSTANCES / "tsplib" / "gr17.tsp", BURMA])
def test_a_memory_limit_below_the_warm_up_s_miniatures_refuses_the_user_s_file(cli, monkeypatch, path):
    """At 100 bytes the refusal named "the 4×4 distance matrix" of the warm-up's miniature, not the file."""
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "100")
    run = cli("solve", path, "--param", "sweeps=10")
    assert run.code == 2 and str(path) in run.err and "4×4" not in run.err, run.err


def test_plot_without_matplotlib_is_refused_before_solving(cli, monkeypatch, tmp_path):
    import sys

    import hopsolve.solving

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without the plot extra has

    def must_not_run(*args, **kwargs):
        raise AssertionError("solved before refusing --plot")

    monkeypatch.setattr(hopsolve.solving, "solve_path", must_not_run)
    run = cli("solve", BURMA, "--plot", tmp_path / "tour.png")
    assert run.code == 2 and "needs matplotlib" in run.err and len(run.err.strip().splitlines()) == 1
    results = tmp_path / "r.jsonl"
    results.write_text("")
    run = cli("report", results, "--plot", tmp_path / "p.png")
    assert run.code == 2 and "needs matplotlib" in run.err and run.out == ""


def test_plot_of_a_tsp_without_coordinates_is_refused_before_solving(cli, monkeypatch, tmp_path):
    """gr17 (an explicit matrix without display data) was solved in full, printed, then refused at the drawing."""
    import hopsolve.solving

    def must_not_run(*args, **kwargs):
        raise AssertionError("solved before refusing --plot")

    monkeypatch.setattr(hopsolve.solving, "solve_instance", must_not_run)
    gr17 = INSTANCES / "tsplib" / "gr17.tsp"
    run = cli("solve", gr17, "--plot", tmp_path / "tour.png")
    assert run.code == 2 and run.err == f"hopsolve: error: {gr17}: gr17 has no coordinates to draw\n"
    assert run.out == "" and not (tmp_path / "tour.png").exists()
    a_file = tmp_path / "afile"
    a_file.write_text("")
    run = cli("solve", BURMA, "--plot", a_file / "b.png")
    assert run.code == 2 and "is a file, not a folder" in run.err


def test_running_out_of_memory_or_disk_is_one_line_and_exit_2(cli, monkeypatch):
    """Sizes are checked before allocating, but a process may have less memory than they allow (``ulimit -v``),
    and a disk may be full: one line naming what ran out, never an internal error."""
    import hopsolve.solving

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 1.05 GiB for an array with shape (11849, 11849)")

    monkeypatch.setattr(hopsolve.solving, "solve_path", out_of_memory)
    run = cli("solve", BURMA)
    lines = run.err.strip().splitlines()
    assert run.code == 2 and len(lines) == 1 and "out of memory" in lines[0] and "1.05 GiB" in lines[0]

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", "/full/disk/out.tour")

    monkeypatch.setattr(hopsolve.solving, "solve_path", disk_full)
    run = cli("solve", BURMA)
    assert run.code == 2 and run.err.strip() == "hopsolve: error: No space left on device: /full/disk/out.tour"


def test_a_ctrl_c_before_the_run_had_an_answer_says_so_in_one_line(cli, monkeypatch):
    """A Ctrl-C while a run reads, compiles or sets up (a large energy's set-up can take seconds) has no answer to
    keep: one line that says so, exit code 130 (it printed a bare "interrupted")."""
    import hopsolve.solving

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hopsolve.solving, "solve_path", interrupted)
    run = cli("solve", BURMA)
    lines = run.err.strip().splitlines()
    assert run.code == 130 and len(lines) == 1 and "before the run had an answer" in lines[0] and run.out == ""


@pytest.mark.parametrize("gap", ["-5", "nan", "1e999", "inf"])
def test_report_refuses_a_target_gap_that_is_not_a_gap(cli, tmp_path, gap):
    results = tmp_path / "r.jsonl"
    results.write_text("")
    run = cli("report", results, "--target-gap", gap)
    assert run.code == 2 and "--target-gap" in run.err and len(run.err.strip().splitlines()) == 1


@pytest.mark.parametrize("field, value, words", [
    ("objective", "abc", "'objective' is not a finite number"), ("gap", "x", "'gap' is not a finite number"),
    ("wall_time_s", -3, "'wall_time_s' is negative"), ("status", 5, "'status' is not text"),
    ("feasible", "yes", "'feasible' is not true or false"), ("reference", True, "'reference' is not a finite"),
    ("info", {"anytime": [[1.0, "a"]]}, "'info.anytime' is not a list"),
])
def test_report_names_a_record_field_of_the_wrong_type(cli, tmp_path, field, value, words):
    """A hand-edited record (``"objective": "abc"``) gave an internal error, exit 1; a negative wall time or
    ``feasible: "yes"`` entered the table as they were. One line naming the file, line and field, exit 2."""
    import json

    good = {"status": "feasible", "instance": "berlin52", "solver": "anneal", "problem": "tsp", "kind": "backend",
            "feasible": True, "objective": 7542.0, "reference": 7542.0, "gap": 0.0, "wall_time_s": 1.5,
            "info": {"anytime": [[0.5, 7600.0], [1.0, 7542.0]]}}
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps(good) + "\n" + json.dumps({**good, field: value}) + "\n")
    run = cli("report", results)
    lines = run.err.strip().splitlines()
    assert run.code == 2 and len(lines) == 1 and f"{results}:2:" in lines[0] and words in lines[0], run.err
    results.write_text(json.dumps(good) + "\n")
    assert cli("report", results).code == 0


def test_report_on_a_folder_says_to_name_the_files(cli, tmp_path):
    run = cli("report", tmp_path)
    assert run.code == 2 and "a folder, not a results file" in run.err and len(run.err.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", ["bifurcation", "hopfield", "replica", "exact", "tank"])
def test_an_energy_too_large_is_refused_before_any_kernel_compiles(registry, monkeypatch, backend):
    """``prepare`` runs the size checks first: pla85900 as bits (7.4·10⁹ units) was refused by bifurcation only
    after a 46 s cold compile (and rl5915 by tank)."""
    from hopsolve import TooLargeError
    from hopsolve.backends import bifurcation, exact, hopfield, replica, tank
    from hopsolve.testing import random_energy

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled before the size check")

    for module in (bifurcation, exact, hopfield, replica, tank):
        monkeypatch.setattr(module, "warm_up", no_compiling)
    monkeypatch.setattr(bifurcation.setup, "compile_setup_kernels", no_compiling)
    monkeypatch.setattr(replica, "recombine_into", no_compiling)
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "1000")  # a spin model of 40 units needs 1,280 bytes
    solver = registry.backend(backend)
    with pytest.raises(TooLargeError):
        solver.prepare(random_energy(40, 1), solver.params({}))


def test_a_small_memory_limit_is_worded_in_bytes_not_as_zero_gib(cli, monkeypatch):
    from hopsolve.energy import format_bytes

    assert [format_bytes(b) for b in (900, 1280, 5 * 2**20, 1.5 * 2**30, float("inf"))] == [
        "900 bytes", "~1.2 KiB", "~5.0 MiB", "~1.5 GiB", "an unbounded amount"]
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "1000")
    run = cli("solve", BURMA, "--backend", "hopfield")
    assert run.code == 2 and "over the limit of 1,000 bytes" in run.err and "0.0 GiB" not in run.err, run.err


def test_large_objectives_are_printed_in_full_not_in_e_notation(registry, tmp_path):
    """pla85900's tours are ~1.9·10⁸ long: "1.88734e+08" hid the last digits in the summary and the .tour file."""
    from types import SimpleNamespace

    from hopsolve.cli import _summary
    from hopsolve.problem import Solution

    result = SimpleNamespace(instance="pla85900", problem="tsp", kind="backend", solver="anneal", seed=1,
                             status="feasible", objective=188733742.0, reference=142382641.0, gap=0.3255,
                             absolute_gap=46351101.0, energy=None, reads=0, feasible_reads=0, repaired=False,
                             wall_time_s=0.3, violations={}, info={}, params={}, solution=None)
    text = _summary(result)
    assert "objective 188733742 " in text and "reference 142382641," in text and "e+08" not in text
    tsp = registry.problem("tsp")
    instance = tsp.read(BURMA)
    tsp.write_solution(instance, Solution(list(range(1, 15)), 188733742.0, True), tmp_path / "t.tour")
    assert "COMMENT : length 188733742 (hopsolve)" in (tmp_path / "t.tour").read_text()


@pytest.mark.parametrize("args", [["solve", "/dev/zero", "--problem", "tsp"], ["report", "/dev/zero"],
                                  ["solve", "/dev/zero", "--problem", "cqm"],
                                  ["bench", "--instances", str(BURMA), "--solvers", "anneal", "--out", "/dev/full"]])
def test_a_device_is_refused_not_read_until_memory_runs_out(cli, args):
    """``bench --out /dev/full`` read the device to resume and filled 24 GB before the kernel killed it."""
    run = cli(*args)
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1 and "regular file" in run.err, run.err


def test_a_file_larger_than_the_memory_limit_is_refused_before_reading(cli, monkeypatch, tmp_path):
    big = tmp_path / "big.tsp"
    big.write_text("NAME: big\n" + "COMMENT: padding\n" * 200)
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "1000")
    run = cli("solve", big)
    assert run.code == 2 and "reading the whole file" in run.err and len(run.err.strip().splitlines()) == 1


def test_a_solution_file_that_cannot_be_written_loses_no_result(cli, monkeypatch, tmp_path):
    """The summary is printed before the solution file is written, and a write that fails names --out."""
    from hopsolve_tsp.plugin import TspProblem

    def disk_full(self, instance, solution, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TspProblem, "write_solution", disk_full)
    run = cli("solve", BURMA, "--out", tmp_path / "t.tour", "--param", "sweeps=200")
    assert run.code == 2 and "objective" in run.out
    assert run.err.strip().endswith("--out: cannot write the file (No space left on device)")


def test_no_replay_line_for_a_run_that_cannot_be_replayed():
    """An interrupted run stopped where Ctrl-C fell; a timed run with no read finished gave "--param reads=0",
    which the backend refuses."""
    from types import SimpleNamespace

    from hopsolve.cli import _summary

    def summary(status, replay):
        return _summary(SimpleNamespace(
            instance="x", problem="tsp", kind="backend", solver="hopfield", seed=1, status=status, objective=None,
            reference=None, gap=None, absolute_gap=None, energy=None, reads=2, feasible_reads=0, repaired=False,
            wall_time_s=1.0, violations={}, info={"replay": replay}, params={"time_limit": 1.0}, solution=None))

    assert "replay without the time limit" in summary("feasible", {"reads": 2, "sweeps": 40})
    assert "replay" not in summary("interrupted", {"reads": 2, "sweeps": 40})
    assert "replay" not in summary("timeout", {"reads": 0})


def test_a_timed_flip_anneal_whose_first_sweep_cannot_fit_is_refused(monkeypatch):
    """3,000 reads of G81 under a 2 s limit spent 7.5 s on one sweep, then returned near-random cuts as feasible.
    The first sweep is now projected from a probe of a few reads; here the probe is real and the limit tiny."""
    from hopsolve import TooLargeError
    from hopsolve.backends.anneal import AnnealBackend, AnnealParams
    from hopsolve.testing import random_energy

    energy = random_energy(3000, 1, density=0.01)
    AnnealBackend().prepare(energy, AnnealParams())
    # refused before the reads are set up (their first 8 are, to project it), or after, where that projection fits
    with pytest.raises(TooLargeError, match=r"(one sweep of|setting up) 2,000 reads of 3,000 units"):
        AnnealBackend().solve(energy, AnnealParams(reads=2000, sweeps=100, time_limit=1e-3), seed=1)
    fits = AnnealBackend().solve(energy, AnnealParams(reads=4, sweeps=100, time_limit=5.0), seed=1)
    assert fits.work == 100 and not fits.timed_out


def test_usage_errors_say_hopsolve_once_and_point_to_the_plugin_list(cli):
    """argparse's errors came out as "hopsolve: error: hopsolve: argument command: ..." and "hopsolve: error:
    hopsolve solve: argument --reads: ..."; a user who tries "hopsolve backends" is told where they are listed."""
    run = cli("backends")
    assert run.code == 2 and run.err.count("hopsolve") == 2 and "'hopsolve plugins'" in run.err
    assert run.err.startswith("hopsolve: error: argument command: invalid choice: 'backends'")
    run = cli("solve", BURMA, "--reads", "nan")
    assert run.code == 2 and run.err.strip() == "hopsolve: error: solve: argument --reads: invalid int value: 'nan'"


def test_an_answer_that_beats_its_reference_says_the_reference_is_probably_not_this_instance_s(cli, tmp_path):
    """An edited copy whose fingerprint cannot tell it apart (a QAP entry facing a zero, a max-cut edge between two
    odd nodes) kept the original's optimum and reported a gap below zero without a word."""
    (tmp_path / "burma14.tsp").write_text(BURMA.read_text())
    (tmp_path / "optima.csv").write_text("name,n,optimum\nburma14,14,4000\n")  # a wrong "optimum" beside the file
    run = cli("solve", tmp_path / "burma14.tsp", "--seed", "1", "--reads", "2", "--param", "reads=2", "--json")
    result = json.loads(run.out)
    assert run.code == 0 and result["gap"] < 0 and "beats the reference 4000" in result["info"]["reference_note"]
    text = cli("solve", tmp_path / "burma14.tsp", "--seed", "1")
    assert "note: the answer beats the reference 4000" in text.out
    plain = json.loads(cli("solve", BURMA, "--seed", "1", "--json").out)
    assert plain["gap"] >= 0 and "reference_note" not in plain["info"]


def test_a_refusal_of_reads_says_how_many_fit_and_a_short_schedule_is_never_refused_for_building(monkeypatch):
    """"10 reads of 34,987,225 units (reads) would need ~7.8 GiB" left the user guessing; the TSP default's 3,381
    sweeps (0.3 ms to build) were refused under a 0.01 s limit with advice to give fewer sweeps."""
    from hopsolve import MemoryLimitError, TooLargeError
    from hopsolve.backend import check_run_size

    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(10 * 8 * 3 * 1000 - 1))  # 9 reads of 1,000 units fit
    with pytest.raises(MemoryLimitError, match=r"^10 reads of 1,000 units would need .* at most 9 reads \(reads\)$"):
        check_run_size(reads=10, units=1000, arrays=3)
    with pytest.raises(MemoryLimitError, match=r"^1 read of 100,000 units .* even one read is over it"):
        check_run_size(reads=1, units=100_000, arrays=3)
    check_run_size(reads=9, units=1000, arrays=3)
    # a ladder's replicas count with its reads (replica advised 33,554 reads beside 4,096 replicas, where 8 fit)
    with pytest.raises(MemoryLimitError, match=r"^10 reads × 3 replicas of 1,000 units .* at most 3 reads \(reads\) "
                                               r"or fewer replicas \(replicas\)$"):
        check_run_size(reads=10, replicas=3, units=1000, arrays=3)
    with pytest.raises(MemoryLimitError, match=r"a schedule of 1,000,000,000,000 sweeps .* at most 29,999 sweeps$"):
        check_run_size(reads=1, units=1, steps=10**12)  # sweeps=1e12 "to run until the limit" had no way out
    monkeypatch.delenv("HOPSOLVE_MAX_MATRIX_BYTES")
    with pytest.raises(MemoryLimitError, match=r"at most 4,000,000 sweeps, or leave sweeps to the time limit$"):
        check_run_size(reads=1, units=1, steps=10**12, time_limit=2.0)
    check_run_size(reads=2, units=10, steps=3381, time_limit=0.0005)  # 0.34 ms: under the 5 ms floor
    with pytest.raises(TooLargeError, match=r"a schedule of 1,000,000 sweeps .* give at most 50,000 sweeps"):
        check_run_size(reads=2, units=10, steps=1_000_000, time_limit=0.001)


def test_a_memory_refusal_under_a_tiny_limit_is_not_blamed_on_the_limit(cli, monkeypatch):
    """Under a 0.01 s limit a refusal of memory was followed by "(reading and encoding the instance took ... leaving
    the backend 0.0005 s)", as though a longer limit would help; a refusal of time still says where it went."""
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "20000")
    run = cli("solve", BURMA, "--backend", "tank", "--time-limit", "0.01")
    assert run.code == 2 and "HOPSOLVE_MAX_MATRIX_BYTES" in run.err and "leaving the backend" not in run.err, run.err
    monkeypatch.delenv("HOPSOLVE_MAX_MATRIX_BYTES")
    run = cli("solve", BURMA, "--backend", "anneal", "--param", "sweeps=100000000", "--time-limit", "0.0001")
    assert run.code == 2 and "reading and encoding the instance took" in run.err, run.err
    assert "all of the 0.0001 s limit" in run.err or "leaving the backend" in run.err, run.err


def test_a_materialised_term_too_large_is_refused_before_the_spin_conversion(monkeypatch):
    """hopfield on rl5915 converted its objective to spins and drew the reads' starts (6 s, 1.3 GB) before refusing
    its 8·10¹¹ couplings; the spin model's size check now asks each term the model would store."""
    from hopsolve import MemoryLimitError
    from hopsolve.backends._model import check_spin_model_size
    from hopsolve.energy import KroneckerTerm

    calls = []
    original = KroneckerTerm.converted
    monkeypatch.setattr(KroneckerTerm, "converted", lambda self, *a: calls.append(1) or original(self, *a))
    from hopsolve_tsp.plugin import TspProblem

    xy = np.random.default_rng(1).random((30, 2))
    distances = np.rint(1000 * np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(int)
    energy = TspProblem().encode(TspProblem.from_distances(distances))  # 30²·30·2 couplings: ~0.6 MB
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "1000000")
    with pytest.raises(MemoryLimitError, match=r"term 'objective' needs"):
        check_spin_model_size(energy)
    assert not calls
    objective = next(t for t in energy.terms if t.name == "objective")
    assert "term" not in objective.__dict__  # said to be stored as couplings: refused without being built


@pytest.mark.parametrize("baseline", ["networkx-greedy", "networkx-christofides"])
def test_networkx_s_complete_graph_is_checked_before_it_is_built(cli, monkeypatch, baseline):
    """fnl4461's greedy tour built a 3.5 GB graph unchecked (under a smaller ``ulimit -v`` it hung)."""
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "30000")  # burma14: 91 edges, 36 KB or more
    run = cli("solve", BURMA, "--baseline", baseline)
    assert run.code == 2 and "networkx's complete graph of 14 cities needs 91 edges" in run.err, run.err
    monkeypatch.delenv("HOPSOLVE_MAX_MATRIX_BYTES")
    assert cli("solve", BURMA, "--baseline", baseline).code == 0


@pytest.mark.parametrize("args", [
    ["solve", "{berlin}", "--out", ""], ["solve", "{berlin}", "--plot", " "], ["solve", ""],
    ["bench", "--instances", "", "--out", "{runs}"], ["bench", "--instances", "{berlin}", "--out", ""],
    ["report", ""], ["report", "{runs}", "--plot", ""],
])
def test_an_empty_file_name_is_refused_not_taken_as_no_option(cli, tmp_path, args):
    """``--out ''`` (``--out "$UNSET"``) ran the solve, wrote nothing and said nothing, with exit code 0."""
    berlin = str(INSTANCES / "tsplib" / "berlin52.tsp")
    run = cli(*[a.format(berlin=berlin, runs=tmp_path / "runs.jsonl") for a in args])
    assert run.code == 2 and "an empty file name" in run.err and run.out == ""


def test_the_cli_says_its_version_and_exit_codes(cli, capsys):
    """``hopsolve --version`` answered 'the following arguments are required: command'."""
    import importlib.metadata

    with pytest.raises(SystemExit) as ended:
        from hopsolve.cli import main

        main(["--version"])
    assert ended.value.code == 0
    assert capsys.readouterr().out.strip() == f"hopsolve {importlib.metadata.version('hopsolve')}"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "exit codes: 0 done; 1 hopsolve" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("backend, key", [("tank", "u0"), ("tank", "noise"), ("anneal", "beta_max"),
                                          ("bifurcation", "a0"), ("replica", "cluster_limit")])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_a_float_parameter_that_is_not_finite_is_refused_by_name(backend, key, value, registry):
    """``tank --param u0=inf`` reached numpy as ``OverflowError: high - low range exceeds valid bounds``."""
    from hopsolve import ParameterError

    with pytest.raises(ParameterError, match=f"{key}='{value}' must be a finite number"):
        registry.backend(backend).params({key: value})


def test_a_folder_given_to_solve_is_called_a_folder(cli, tmp_path):
    """A folder without a suffix was 'no problem plugin reads 'elsewhere''."""
    (tmp_path / "elsewhere").mkdir()
    run = cli("solve", tmp_path / "elsewhere")
    assert run.code == 2 and "a folder, not an instance file" in run.err


def test_a_tsplib_file_without_its_edge_weight_type_says_it_is_missing(cli, tmp_path):
    """It said "EDGE_WEIGHT_TYPE '(missing)' is not supported"."""
    path = tmp_path / "now.tsp"
    path.write_text("NAME: x\nTYPE: TSP\nDIMENSION: 3\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nEOF\n")
    run = cli("solve", path)
    assert run.code == 2 and "missing EDGE_WEIGHT_TYPE (one of EUC_2D" in run.err and "(missing)" not in run.err


@pytest.mark.parametrize("args, message", [
    (["memory/cross.patterns", "--option", "degree=5"], "option degree does not apply to rule hebb"),
    (["memory/cross.patterns", "--option", "beta=3", "--option", "rule=dense"], "option beta does not apply to rule"),
    (["memory/letters_7x5.patterns", "--option", "cue={cues}", "--reads", "3"],
     "starts one read from each of its 10 start states (its cues), not 3"),
    (["cqm/knapsack12.lp", "--repair"], "--repair: the cqm problem has no repair"),
])
def test_options_that_a_solve_would_ignore_are_refused(cli, args, message):
    """``--option degree=5`` with the hebb rule, ``--reads 3`` beside 10 cues and ``--repair`` on a problem
    without one were taken and ignored without a word (``recall`` refused the first two)."""
    cues = str(INSTANCES / "memory" / "letters_7x5.patterns")
    run = cli("solve", *[str(INSTANCES / a) if a.endswith((".patterns", ".lp")) else a.format(cues=cues)
                         for a in args])
    assert run.code == 2 and message in run.err, run.err


def test_params_built_directly_are_checked_as_a_dict_s_are():
    """``TankParams(u0=inf)`` given straight to ``solve`` skipped every check and reached numpy as an
    ``OverflowError``; a dict's values were checked."""
    from hopsolve import ParameterError
    from hopsolve.backends.anneal import AnnealBackend, AnnealParams
    from hopsolve.backends.tank import TankBackend, TankParams
    from hopsolve.testing import random_energy

    energy = random_energy(5, 1)
    with pytest.raises(ParameterError, match="u0=inf must be a finite number"):
        TankBackend().solve(energy, TankParams(u0=float("inf")), seed=1)
    with pytest.raises(ParameterError, match="sweeps"):
        AnnealBackend().solve(energy, AnnealParams(sweeps=-3), seed=1)


@pytest.mark.parametrize("backend", ["bifurcation", "replica", "anneal", "hopfield"])
def test_weights_whose_squares_overflow_are_refused_in_one_line(cli, backend):
    """``--weight objective=1e200`` on G1 crashed bifurcation (LinAlgError in its spectral radius, after five
    RuntimeWarnings) and printed overflow warnings in replica."""
    run = cli("solve", INSTANCES / "gset" / "G11.txt", "--backend", backend, "--weight", "objective=1e200",
              "--seed", "1")
    assert run.code == 2 and "the energy's coefficients are too large: they reach 5e+199, and above 1e+150" in \
        run.err, run.err
    assert run.err.count("\n") == 1 and "Warning" not in run.err


def test_refusals_name_what_the_user_can_give(cli):
    """hopfield on pr1002 advised "a structured encoding", which no option gives (anneal, replica and tank move
    inside the permutations); a huge max_sweeps was named "sweeps (sweeps)"."""
    tsp = cli("solve", INSTANCES / "tsplib" / "pr1002.tsp", "--backend", "hopfield", "--seed", "1")
    assert tsp.code == 2 and "use a backend that moves inside the permutations (anneal, replica or tank)" in tsp.err
    sweeps = cli("solve", INSTANCES / "gset" / "G11.txt", "--backend", "hopfield", "--param",
                 "max_sweeps=10000000000", "--seed", "1")
    assert sweeps.code == 2 and "a schedule of 10,000,000,000 sweeps (max_sweeps)" in sweeps.err
