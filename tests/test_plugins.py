"""The plugin system: third-party plugins through entry points, failures reported, duplicates named."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from hopsolve import build_registry
from hopsolve.errors import PluginError

from .conftest import INSTANCES, ROOT
from .installing import assert_public_api_only, fake_install, pip_install

EXAMPLE = Path(__file__).resolve().parent / "third_party" / "hopsolve-partition"


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    prefixes = ("broken_", "dup_", "raising_", "flaky_", "hopsolve_partition")
    for name in [m for m in sys.modules if m.startswith(prefixes)]:
        del sys.modules[name]


def test_first_party_plugins_come_through_entry_points(registry):
    entry = registry.problems["qubo"]
    assert entry.origin.plugin == "qubo" and entry.origin.distribution == "hopsolve"
    assert registry.backends["exact"].origin.distribution == "hopsolve"
    assert registry.failures == []


def test_readme_example_is_the_shipped_example():
    readme = (ROOT / "README.md").read_text()
    source = (EXAMPLE / "hopsolve_partition" / "__init__.py").read_text()
    assert source.strip() in readme, "README's plugin tutorial must show the example package verbatim"
    assert (EXAMPLE / "pyproject.toml").read_text().strip() in readme


def test_installed_example_plugin_is_listed_and_solves(site, tmp_path, cli):
    shutil.copytree(EXAMPLE / "hopsolve_partition", site / "hopsolve_partition")
    fake_install(site, "hopsolve-partition", {"partition": "hopsolve_partition"}, {})
    run = cli("plugins", "--json")
    listed = {p["name"]: p for p in json.loads(run.out)["problems"]}
    assert listed["partition"]["distribution"] == "hopsolve-partition"
    assert listed["partition"]["version"] == "0.1.0"
    plain = cli("plugins").out.splitlines()  # the suffixes decide which problem reads a file: shown there too
    assert any(line.split()[:2] == ["partition", "[.partition]"] for line in plain), plain
    assert any(line.split()[:2] == ["tsp", "[.tsp]"] for line in plain), plain
    numbers = tmp_path / "five.partition"
    numbers.write_text("3\n1\n1\n2\n2\n1\n")
    result = json.loads(cli("solve", numbers, "--backend", "exact", "--json").out)
    assert result["problem"] == "partition" and result["objective"] == 0.0


def test_broken_plugins_are_reported_and_others_keep_working(site, cli, monkeypatch):
    fake_install(site, "bad-plugins", {"broken_import": "broken_import", "raising_hook": "raising_hook"}, {
        "broken_import": "raise ImportError('missing dependency frobnitz')",
        "raising_hook": """
            import hopsolve
            @hopsolve.hookimpl
            def hopsolve_problems(register):
                raise RuntimeError('hook exploded')
        """,
    })
    registry = build_registry()
    failures = {f.plugin: f.error for f in registry.failures}
    assert "frobnitz" in failures["broken_import"]
    assert "hook exploded" in failures["raising_hook"]
    assert "qubo" in registry.problems and "exact" in registry.backends
    run = cli("plugins", "--json")
    assert {f["plugin"] for f in json.loads(run.out)["failures"]} == {"broken_import", "raising_hook"}
    good = site / "ok.qubo"
    good.write_text("p qubo 0 1 1 0\n0 0 -1\n")
    run = cli("solve", good, "--backend", "exact")
    assert run.code == 0
    warnings = run.err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("hopsolve: warning: plugin") for w in warnings)


def test_duplicate_name_is_reported_naming_both_plugins(site):
    fake_install(site, "dup-plugin", {"dup_qubo": "dup_qubo"}, {"dup_qubo": """
        import hopsolve
        from hopsolve_qubo.plugin import QuboProblem
        class Again(QuboProblem):
            pass
        @hopsolve.hookimpl
        def hopsolve_problems(register):
            register(Again)
    """})
    registry = build_registry()
    [failure] = registry.failures
    assert "'qubo'" in failure.error and "'dup_qubo'" in failure.error
    kept = registry.problems["qubo"].origin.plugin
    assert f"keeping {kept!r}" in failure.error and failure.plugin != kept


def test_unknown_names_list_what_is_available(registry):
    with pytest.raises(PluginError, match="available: .*exact"):
        registry.backend("annealx")
    with pytest.raises(PluginError, match="unknown problem 'tspx'; available: .*qubo"):
        registry.problem("tspx")


def test_environment_switches(site):
    fake_install(site, "extra", {"partition": "hopsolve_partition"}, {})
    shutil.copytree(EXAMPLE / "hopsolve_partition", site / "hopsolve_partition")
    no_autoload = build_registry(env={"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert set(no_autoload.problems) == set() and "exact" in no_autoload.backends
    explicit = build_registry(env={"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1", "HOPSOLVE_PLUGINS": "hopsolve_qubo"})
    assert set(explicit.problems) == {"qubo"}
    allowed = build_registry(env={"HOPSOLVE_ALLOW_PLUGINS": "partition"})
    assert set(allowed.problems) == {"partition"}
    missing = build_registry(env={"HOPSOLVE_PLUGINS": "no_such_module_zz"})
    assert [f.plugin for f in missing.failures] == ["no_such_module_zz"]


@pytest.mark.slow
def test_pip_install_of_the_example_registers_it(tmp_path):
    """The real thing: pip installs the example package and the console script lists it."""
    env = pip_install(EXAMPLE, tmp_path / "site")
    out = subprocess.run([sys.executable, "-m", "hopsolve.cli", "plugins", "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    problems = {p["name"]: p for p in json.loads(out)["problems"]}
    assert problems["partition"]["distribution"] == "hopsolve-partition"


def test_console_script_gives_no_traceback(tmp_path):
    bad = tmp_path / "bad.qubo"
    bad.write_text("p qubo 0 2 1 1\n0 0 1\n0 5 2\n")
    proc = subprocess.run([sys.executable, "-m", "hopsolve.cli", "solve", str(bad), "--backend", "exact"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"hopsolve: error: {bad}:3: index 5 out of range 0..1"


def test_first_party_plugins_use_only_the_public_api():
    """Every hopsolve name a first-party plugin imports comes from ``hopsolve`` itself (its ``__all__``)."""
    assert_public_api_only(ROOT / "plugins", ROOT)


def test_hooks_are_called_through_pluggy_with_tracing_wrappers_and_ordering(capsys):
    import types

    import hopsolve
    from hopsolve import Problem

    seen = []

    def problem_class(label):
        return type(f"P{label}", (Problem,), {"name": "twin", "read": None, "encode": None, "candidate": None,
                                               "score": None, "__abstractmethods__": frozenset()})

    def plugin(name, **hooks):
        module = types.ModuleType(name)
        for hook, function in hooks.items():
            setattr(module, hook, function)
        return module

    early = plugin("early_plugin", hopsolve_problems=hopsolve.hookimpl(tryfirst=True)(
        lambda register: register(problem_class("early"))))
    late = plugin("late_plugin", hopsolve_problems=hopsolve.hookimpl(lambda register: register(problem_class("late"))))

    def watch(register):
        seen.append("before")
        result = yield
        seen.append("after")
        return result

    wrapper = plugin("wrapper_plugin", hopsolve_problems=hopsolve.hookimpl(wrapper=True)(watch))
    registry = build_registry({"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1", "HOPSOLVE_TRACE_PLUGINS": "1"},
                              extra_plugins=[late, early, wrapper])
    # tryfirst wins over registration order: the early plugin's class holds the name, the late one is reported
    assert registry.problems["twin"].cls.__name__ == "Pearly"
    assert any("late_plugin" in str(f) and "twin" in str(f) for f in registry.failures)
    assert seen == ["before", "after"] * 2  # the wrapper saw both plugins' calls
    assert "hopsolve_problems" in capsys.readouterr().err  # HOPSOLVE_TRACE_PLUGINS traced the real calls


def test_command_hook_receives_the_registry(site, cli):
    fake_install(site, "hopsolve-counting", {"counting": "counting_plugin"}, {"counting_plugin": """
        import hopsolve

        @hopsolve.hookimpl
        def hopsolve_commands(register, registry):
            def run(args):
                print(len(registry.problems), "tsp" in registry.problems)
                return 0
            register("count-problems", "print how many problems are registered", None, run)
        """})
    run = cli("count-problems")
    assert run.code == 0 and run.out.split()[1] == "True" and int(run.out.split()[0]) >= 5


def test_a_backend_written_from_the_readme_passes_the_conformance_kit(tmp_path, monkeypatch):
    import importlib
    import re

    from hopsolve.testing import check_backend

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Writing a backend", 1)[1]
    source = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "descent_backend.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("descent_backend")
    try:
        check_backend(module.DescentBackend(), finds_ground_state=False, local_minima=True)
        registry = build_registry({"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1"}, extra_plugins=[module])
        assert registry.backends["descent"].cls is module.DescentBackend

        class Overshooting(module.DescentBackend):  # the kit allowed a 0.5 s limit 15 s: it slept 10 s and passed
            def solve(self, energy, params=None, **kwargs):
                if params is not None and params.time_limit:
                    time.sleep(4 * params.time_limit)
                return super().solve(energy, params, **kwargs)

        with pytest.raises(AssertionError, match="a 0.5 s time limit took"):
            check_backend(Overshooting(), finds_ground_state=False, local_minima=True)
    finally:
        sys.modules.pop("descent_backend", None)


def test_a_third_party_cannot_take_over_a_built_in_name_whatever_the_load_order(site, cli):
    fake_install(site, "aaa-evil", {"aaa": "dup_evil"}, {"dup_evil": """
        import hopsolve
        from hopsolve_qubo.plugin import QuboProblem
        class Evil(QuboProblem):
            name = "tsp"
            suffixes = ()
        @hopsolve.hookimpl(tryfirst=True)
        def hopsolve_problems(register):
            register(Evil)
    """})
    registry = build_registry()
    assert registry.problems["tsp"].origin.distribution == "hopsolve"
    [failure] = registry.failures
    assert failure.plugin == "aaa" and "(aaa-evil 0.1.0)" in failure.error and "(hopsolve" in failure.error
    assert "keeping 'tsp', ignoring 'aaa'" in failure.error
    run = cli("solve", INSTANCES / "tsplib" / "burma14.tsp", "--param", "sweeps=50")
    assert run.code == 0 and "burma14 (tsp)" in run.out
    assert [line for line in run.err.splitlines() if "warning" in line] == [f"hopsolve: warning: {failure}"]


def test_an_entry_point_named_like_a_built_in_one_is_loaded_not_skipped(site):
    fake_install(site, "tsp-extra", {"tsp": "dup_tsp_extra"}, {"dup_tsp_extra": """
        import hopsolve
        from hopsolve_qubo.plugin import QuboProblem
        class Second(QuboProblem):
            name = "tsp2"
            suffixes = ()
        @hopsolve.hookimpl
        def hopsolve_problems(register):
            register(Second)
    """})
    registry = build_registry()
    assert registry.problems["tsp2"].origin.plugin == "tsp@tsp-extra" and registry.failures == []
    assert registry.problems["tsp"].origin.distribution == "hopsolve"


def test_a_plugin_that_exits_at_import_is_reported_like_any_failure(site, cli):
    fake_install(site, "exit-plugin", {"exiting": "raising_exit"}, {"raising_exit": """
        import sys
        sys.exit("this plugin refuses to load")
    """})
    registry = build_registry()
    [failure] = registry.failures
    assert failure.plugin == "exiting" and "SystemExit" in failure.error and "qubo" in registry.problems
    run = cli("solve", INSTANCES / "tsplib" / "burma14.tsp", "--param", "sweeps=50")
    assert run.code == 0 and len([line for line in run.err.splitlines() if "warning" in line]) == 1


def test_a_misspelt_hook_is_reported_not_silently_ignored():
    """A plugin whose hook is ``hopsolve_problem`` (no final s) registered nothing and no failure was listed; it
    is now a failure naming the unknown hook and the real ones, and the other plugins keep working. An
    ``optionalhook`` implementation is the plugin's business and passes."""
    import types

    import hopsolve

    misspelt = types.ModuleType("misspelt_plugin")
    misspelt.hopsolve_problem = hopsolve.hookimpl(lambda register: None)
    optional = types.ModuleType("optional_plugin")
    optional.hopsolve_someday = hopsolve.hookimpl(optionalhook=True)(lambda register: None)
    registry = build_registry({"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1"}, extra_plugins=[misspelt, optional])
    [failure] = [f for f in registry.failures if "misspelt_plugin" in str(f)]
    assert "unknown hook 'hopsolve_problem'" in str(failure) and "hopsolve_problems" in str(failure)
    assert not [f for f in registry.failures if "optional_plugin" in str(f)]
    assert "anneal" in registry.backends  # the built-ins (autoload is off: no entry-point plugins) still load


FLAKY_PLUGIN = """
    import os
    import time
    from dataclasses import dataclass
    from pathlib import Path

    import numpy as np

    import hopsolve
    from hopsolve import Energy, Instance, Problem, SampleSet, Solution, Vartype

    def failing(stage):
        what = os.environ.get("FLAKY", "")
        if what == stage:
            raise RuntimeError(f"boom at {stage}")
        if what == stage + "-exit":
            raise SystemExit(3)
        return what == stage + "-wrong"

    class Flaky(Problem):
        name = "flaky"
        suffixes = (".flaky",)

        def read(self, path):
            return {"n": 2} if failing("read") else Instance("flaky", os.path.basename(path), 2)

        def encode(self, instance, weights=None, options=None):
            return {} if failing("encode") else Energy.from_qubo(np.array([[-1.0, 2.0], [0.0, -1.0]]))

        def candidate(self, instance, energy, state):
            return np.asarray(state)

        def score(self, instance, candidate):
            odd = {"score-nan": Solution(candidate.tolist(), float("nan"), True),
                   "score-bool": Solution(candidate.tolist(), True, True),
                   "score-feasible": Solution(candidate.tolist(), 1.0, "no"),
                   "score-set": Solution(set(candidate.tolist()), 1.0, True),
                   "score-infeasible": Solution(candidate.tolist(), 0.0, False)}
            if os.environ.get("FLAKY") in odd:
                return odd[os.environ["FLAKY"]]
            return (1, True) if failing("score") else Solution(candidate.tolist(), float(candidate.sum()), True)

        def reference(self, instance):
            odd = {"reference-wrong": "three", "reference-nan": float("nan"), "score-infeasible": 3.0}
            if os.environ.get("FLAKY") in odd:
                return odd[os.environ["FLAKY"]]
            failing("reference")
            return None

        def default_params(self, backend, instance):
            failing("default_params")
            return {}

        def initial_states(self, instance, energy, options):
            failing("initial_states")
            return None

        def prepare(self):
            failing("prepare")
            return 0.0

        def write_solution(self, instance, solution, path):
            failing("write_solution")
            Path(path).write_text("written")

    class Liar(hopsolve.Backend):
        \"\"\"Returns what ``FLAKY`` asks for: a broken sample set, or a good one after a sleep past its limit.\"\"\"
        name = "liar"

        @dataclass(frozen=True)
        class Params:
            time_limit: float | None = None

        def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
            good = np.array([[0, 1]])
            broken = {
                "liar-vartype": lambda: SampleSet(np.array([[-1, 1]]), np.array([-1.0]), Vartype.SPIN),
                "liar-nan": lambda: SampleSet(good, np.array([np.nan]), energy.vartype),
                "liar-energy": lambda: SampleSet(good, np.array([-1e9]), energy.vartype),
                "liar-values": lambda: SampleSet(np.full((1, 2), 7), np.array([0.0]), energy.vartype),
                "liar-empty": lambda: SampleSet(np.zeros((0, 2)), np.zeros(0), energy.vartype),
                "liar-shape": lambda: SampleSet(np.zeros((1, 3)), np.zeros(1), energy.vartype),
            }
            mode = os.environ.get("FLAKY", "")
            if mode in broken:
                return broken[mode]()
            if mode == "liar-slow":
                time.sleep(2 * params.time_limit + 0.2)
            return SampleSet.from_states(energy, good)

    class NotAProblem:
        name = "impostor"

    class Half(Problem):
        name = "half"
        suffixes = (".half",)

    class OneString(Flaky):
        name = "onestring"
        suffixes = ".mis2"

    class Maximise(Flaky):
        name = "maximise"
        sense = "maximise"

    class Thief(Flaky):
        name = "thief"
        suffixes = (".thief", ".TSP")

    class PlainOptions(Flaky):
        name = "plainoptions"
        suffixes = (".plainoptions",)

        class Options:
            cue = None

    class NpyQubo(Flaky):
        name = "npyqubo"
        suffixes = (".qubo.npy",)

    class Orphan(Flaky):
        name = "orphan"
        suffixes = (".orphan",)
        default_backend = "nope"

    class PlainParams(Liar):
        name = "plainparams"

        class Params:
            reads = 2

    @hopsolve.hookimpl
    def hopsolve_problems(register):
        for cls in (Flaky, NotAProblem, Half, OneString, Maximise, Thief, PlainOptions, Orphan, NpyQubo):
            register(cls)

    @hopsolve.hookimpl
    def hopsolve_backends(register):
        register(Liar)
        register(PlainParams)

    class Ghost(hopsolve.Baseline):
        name = "ghost"
        problem = "no-such-problem"

        def solve(self, instance, params=None, *, seed=None, time_limit=None):
            return hopsolve.BaselineOutcome(None, "timeout")

    @hopsolve.hookimpl
    def hopsolve_baselines(register):
        register(Ghost)
"""


def test_classes_that_would_fail_at_first_use_are_refused_when_registered(site):
    """A non-Problem class, an abstract one, ``suffixes`` given as one string (it claimed every path ending in any
    of its letters: ``cross.patterns`` 'could be any of memory, onestring') and a ``sense`` that is not min/max were
    registered and failed later as internal errors; each is now a load failure naming it."""
    fake_install(site, "flaky-plugin", {"flaky": "flaky_problems"}, {"flaky_problems": FLAKY_PLUGIN})
    registry = build_registry()
    failures = " | ".join(str(f) for f in registry.failures)
    assert "problem 'impostor' is not a subclass of hopsolve.Problem" in failures
    assert "problem 'half' is abstract: it does not define candidate, encode, read, score" in failures
    assert "problem 'onestring': suffixes must be a tuple" in failures
    assert "problem 'maximise': sense must be 'min' or 'max'" in failures
    assert "flaky" in registry.problems and not {"impostor", "half", "onestring", "maximise"} & set(registry.problems)
    assert registry.problem_for_path("cross.patterns") == "memory"
    # Options and Params that are not dataclasses failed at their first use, as internal errors
    assert "problem 'plainoptions': Options must be a dataclass (or None)" in failures
    assert "backend 'plainparams': Params must be a dataclass" in failures
    assert "plainoptions" not in registry.problems and "plainparams" not in registry.backends
    # a third party claiming .tsp made 'berlin52.tsp' "any of thief, tsp", in silence: the built-in keeps it
    assert "problem 'thief' of 'flaky' (flaky-plugin 0.1.0) claims the suffix of a built-in problem: '.TSP' (tsp)" \
        in failures
    assert registry.problem_for_path("berlin52.tsp") == "tsp" and registry.problem_for_path("x.thief") == "thief"
    # the longest suffix wins: preferring the built-in had handed 'm.qubo.npy' to assignment ('.npy'), in silence
    assert registry.problem_for_path("m.qubo.npy") == "npyqubo" and registry.problem_for_path("m.npy") == "assignment"
    # a default backend nobody registered failed each solve with "unknown backend 'nope'", not saying whose it was
    assert "problem 'orphan': its default_backend 'nope' is not a registered backend" in failures
    assert "orphan" in registry.problems
    # a baseline for a problem nobody registered was listed without a word ("ghost [no-such-problem]")
    assert "baseline 'ghost' is for problem 'no-such-problem', which no plugin registered" in failures


@pytest.mark.parametrize("stage, message", [
    ("read", "failed in read: RuntimeError: boom at read"),
    ("read-exit", "failed in read: SystemExit: 3"),
    ("read-wrong", "read returned a value of type dict, not a hopsolve.Instance"),
    ("encode", "failed in encode: RuntimeError: boom at encode"),
    ("encode-wrong", "encode returned a value of type dict, not a hopsolve.Energy"),
    ("score-wrong", "score returned a value of type tuple, not a hopsolve.Solution"),
    ("score-nan", "score returned a solution whose objective is nan, not a finite number"),
    ("score-bool", "score returned a solution whose objective is True, not a finite number"),
    ("score-feasible", "score returned a solution whose feasible is 'no', not True or False"),
    ("score-set", "score returned a solution whose value is a set, which a result cannot hold"),
    ("reference", "failed in reference: RuntimeError: boom at reference"),
    ("reference-wrong", "reference returned 'three', not a finite number or None"),
    ("reference-nan", "reference returned nan, not a finite number or None"),
    ("default_params", "failed in default_params: RuntimeError: boom at default_params"),
    ("initial_states", "failed in initial_states: RuntimeError: boom at initial_states"),
    ("prepare", "failed in prepare: RuntimeError: boom at prepare"),
])
def test_a_plugin_that_fails_while_solving_is_named_not_called_an_internal_error(site, cli, tmp_path, monkeypatch,
                                                                                stage, message):
    """A plugin's exception, ``sys.exit()`` or wrong return value was hopsolve's 'internal error' (exit 1, or exit
    3 and no word at all for ``SystemExit``), naming neither the plugin nor its distribution."""
    fake_install(site, "flaky-plugin", {"flaky": "flaky_problems"}, {"flaky_problems": FLAKY_PLUGIN})
    path = tmp_path / "two.flaky"
    path.write_text("2\n")
    monkeypatch.setenv("FLAKY", stage)
    run = cli("solve", path, "--backend", "exact")
    assert run.code == 2 and "internal error" not in run.err
    [line] = [line for line in run.err.splitlines() if "flaky" in line and "warning" not in line]
    assert f"problem 'flaky' (flaky-plugin 0.1.0) {message}" in line or \
        f"problem 'flaky' (flaky-plugin 0.1.0): {message}" in line


@pytest.mark.parametrize("mode, message", [
    ("liar-vartype", "solve returned SPIN states for a BINARY energy"),
    ("liar-nan", "solve returned energies that are not one finite number per read"),
    ("liar-energy", "solve returned energy -1e+09 for its best read, whose state's energy is -1"),
    ("liar-values", "solve returned states with values other than 0 and 1"),
    ("liar-empty", "solve returned a sample set without reads"),
    ("liar-shape", "solve returned states of shape (1, 3), not (1, 2)"),
])
def test_a_backend_s_broken_sample_set_is_refused_naming_it_not_reported_as_an_answer(site, cli, tmp_path,
                                                                                      monkeypatch, mode, message):
    """``solve`` checked only that a backend returned a ``SampleSet``: ±1 states for a 0/1 energy, NaN energies
    or energies not the states' were printed as a "feasible" answer, and an empty sample set was an internal
    error."""
    fake_install(site, "flaky-plugin", {"flaky": "flaky_problems"}, {"flaky_problems": FLAKY_PLUGIN})
    path = tmp_path / "two.flaky"
    path.write_text("2\n")
    monkeypatch.setenv("FLAKY", mode)
    run = cli("solve", path, "--backend", "liar")
    assert run.code == 2 and "internal error" not in run.err and not run.out, run.err
    assert f"backend 'liar' (flaky-plugin 0.1.0): {message}" in run.err


def test_a_run_past_its_time_limit_is_a_timeout_and_other_plugin_calls_are_named(site, cli, tmp_path, monkeypatch):
    """A backend that slept 6 s on a 1 s limit was recorded ``feasible``; ``write_solution`` and ``warmup``'s
    ``prepare`` failing were internal errors (the warm-up stopping at the first plugin)."""
    fake_install(site, "flaky-plugin", {"flaky": "flaky_problems"}, {"flaky_problems": FLAKY_PLUGIN})
    path = tmp_path / "two.flaky"
    path.write_text("2\n")
    monkeypatch.setenv("FLAKY", "liar-slow")
    run = cli("solve", path, "--backend", "liar", "--time-limit", "0.2", "--json")
    result = json.loads(run.out)
    assert run.code == 0 and result["status"] == "timeout" and result["feasible"] and result["objective"] == 1
    assert "past its 0.2 s limit" in result["info"]["overrun"]
    shown = cli("solve", path, "--backend", "liar", "--time-limit", "0.2")  # the summary says why
    assert "timeout objective 1" in shown.out and "note: the run took" in shown.out and "recorded as a timeout" in \
        shown.out
    monkeypatch.setenv("FLAKY", "")
    timely = json.loads(cli("solve", path, "--backend", "liar", "--time-limit", "5", "--json").out)
    assert timely["status"] == "feasible" and "overrun" not in timely["info"]
    monkeypatch.setenv("FLAKY", "write_solution")
    run = cli("solve", path, "--backend", "exact", "--out", tmp_path / "answer.txt")
    assert run.code == 2 and "problem 'flaky' (flaky-plugin 0.1.0) failed in write_solution" in run.err
    monkeypatch.setenv("FLAKY", "prepare")
    run = cli("warmup")
    assert run.code == 2 and "problem 'flaky' (flaky-plugin 0.1.0) failed in prepare" in run.err
    assert "problem tsp:" in run.out and "backend anneal:" in run.out  # the others were compiled


def test_an_infeasible_answer_has_no_gap_and_no_note_on_the_reference(site, cli, tmp_path, monkeypatch):
    """An infeasible answer's objective (0, reference 3) was given a gap of -100% and the note that the file is
    probably not the reference's instance; an infeasible answer is not comparable with the optimum."""
    fake_install(site, "flaky-plugin", {"flaky": "flaky_problems"}, {"flaky_problems": FLAKY_PLUGIN})
    path = tmp_path / "two.flaky"
    path.write_text("2\n")
    monkeypatch.setenv("FLAKY", "score-infeasible")
    for solver in (["--backend", "exact"], ["--backend", "liar"]):
        result = json.loads(cli("solve", path, *solver, "--json").out)
        assert result["status"] == "infeasible" and result["reference"] == 3 and result["objective"] == 0
        assert result["gap"] is None and result["absolute_gap"] is None and "reference_note" not in result["info"]


def test_a_plugin_that_exits_inside_a_task_is_that_task_s_error_and_the_sweep_goes_on(site, cli, tmp_path,
                                                                                        monkeypatch):
    """``sys.exit()`` in a plugin's ``encode`` ended ``bench --jobs 1`` silently (exit 3, no record written, the
    next instance never run)."""
    fake_install(site, "flaky-plugin", {"flaky": "flaky_problems"}, {"flaky_problems": FLAKY_PLUGIN})
    paths = []
    for name in ("a", "b"):
        paths.append(tmp_path / f"{name}.flaky")
        paths[-1].write_text("2\n")
    monkeypatch.setenv("FLAKY", "encode-exit")
    out = tmp_path / "runs.jsonl"
    run = cli("bench", "--instances", *paths, "--solvers", "exact", "--jobs", "1", "--out", out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["instance"] for r in records) == ["a", "b"], run.err
    assert all(r["status"] == "error" and "failed in encode: SystemExit: 3" in r["error"] for r in records)


def test_hopsolve_s_own_bugs_stay_internal_errors_and_debug_shows_a_plugin_s_traceback(site, cli, tmp_path,
                                                                                      monkeypatch):
    """Wrapping every plugin call made a bug of hopsolve's own backend read "backend 'anneal' (hopsolve 0.1.0)
    failed in solve" with exit 2, and ``HOPSOLVE_DEBUG=1`` no longer gave the traceback."""
    from hopsolve.backends.anneal import AnnealBackend
    from hopsolve.cli import main

    def broken(self, *args, **kwargs):
        raise IndexError("a bug of hopsolve's")

    with monkeypatch.context() as patched:
        patched.setattr(AnnealBackend, "solve", broken)
        run = cli("solve", INSTANCES / "tsplib" / "burma14.tsp", "--param", "sweeps=5")
        assert run.code == 1 and "internal error: IndexError: a bug of hopsolve's" in run.err
    fake_install(site, "flaky-plugin", {"flaky": "flaky_problems"}, {"flaky_problems": FLAKY_PLUGIN})
    path = tmp_path / "two.flaky"
    path.write_text("2\n")
    monkeypatch.setenv("FLAKY", "read")
    monkeypatch.setenv("HOPSOLVE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom at read"):
        main(["solve", str(path), "--backend", "exact"])


@pytest.mark.parametrize("value, on", [("1", True), ("yes", True), ("0", False), ("false", False), ("", False),
                                       ("OFF", False)])
def test_an_environment_switch_set_to_0_or_false_is_off(cli, monkeypatch, value, on):
    """``HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD=0`` disabled the plugins: any value but empty turned a switch on."""
    from hopsolve.switches import switched_on

    assert switched_on("X", {"X": value}) is on and not switched_on("X", {})
    monkeypatch.setenv("HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD", value)
    listed = cli("plugins").out
    assert ("tsp" in listed) is not on


def test_a_third_party_s_tours_are_checked_from_their_permutations_not_their_bit_states(monkeypatch):
    """``check_samples`` built a third party's best tour's bit state (n² units) to score it: 0.4 s on pr1002 inside
    a 2 s limit (recorded a timeout), 57 s and 6.5 GB on pla7397. It is scored from the permutation now, and a
    wrong energy is still refused."""
    import dataclasses

    from hopsolve import Energy, SampleSet
    from hopsolve.errors import PluginFailure
    from hopsolve.plugin_calls import check_samples
    from hopsolve.plugins import Origin

    problem = build_registry().problem("tsp")
    instance = problem.read(INSTANCES / "tsplib" / "berlin52.tsp")
    energy = problem.encode(instance)
    tours = np.array([np.random.default_rng(seed).permutation(52) for seed in range(3)])
    samples = SampleSet.from_permutations(energy, tours)
    owner = types.SimpleNamespace(name="tours", _hopsolve_origin=Origin("tours", "third-party", "1.0"))
    monkeypatch.setattr(Energy, "energy", lambda *args: pytest.fail("a bit state was scored"))
    monkeypatch.setattr(Energy, "term_energies", lambda *args: pytest.fail("a bit state was scored"))
    check_samples(owner, samples, energy)
    with pytest.raises(PluginFailure, match=r"backend 'tours' \(third-party 1.0\): solve returned energy"):
        check_samples(owner, dataclasses.replace(samples, energies=samples.energies - 5.0), energy)


def test_the_weights_a_user_gives_are_the_energy_s_even_where_an_encode_ignores_them():
    """An encode that ignored its ``weights`` argument ran ``--weight uncovered=0.5`` as if it had not been given,
    and ``--weight bogus=0.5`` (no such term) without a word; ``check_problem(..., weights=...)`` passed it."""
    import dataclasses

    from hopsolve_cqm.plugin import CqmProblem

    from hopsolve import ParameterError, build_registry, solve_instance
    from hopsolve.testing import check_problem

    class Deaf(CqmProblem):
        name = "deaf"
        suffixes = (".deaflp",)

        def encode(self, instance, weights=None, options=None):
            return super().encode(instance, None, options)

    registry = build_registry()
    registry.problems["deaf"] = dataclasses.replace(registry.problems["cqm"], name="deaf", cls=Deaf)
    instance = CqmProblem().read(INSTANCES / "cqm" / "knapsack12.lp")
    result, _ = solve_instance(registry, "deaf", instance, backend="exact", seed=1, weights={"inequality": 0.5})
    assert result.weights["inequality"] == 0.5
    with pytest.raises(ParameterError, match="unknown weight 'bogus'"):
        solve_instance(registry, "deaf", instance, backend="exact", seed=1, weights={"bogus": 0.5})
    with pytest.raises(AssertionError, match="encode was given the weight inequality=0.5"):
        check_problem(Deaf(), instance, [], weights={"inequality": 0.5})


@pytest.mark.parametrize("fault, said", [
    ("raise", "failed in decode: RuntimeError: decode boom"),
    ("none", "decode returned a value of type NoneType, not a hopsolve.Solution"),
    ("nan", "decode returned a solution whose objective is nan"),
    ("violations", "decode returned a solution whose violations are not a mapping"),
])
def test_a_third_party_decode_s_failure_is_the_plugin_s_named_in_one_line(fault, said):
    """``decode`` (a plugin overrides it to keep its own violations, as cqm does) was called bare: an exception
    or None ended in an internal error, and a NaN objective was reported as "optimal objective nan"."""
    import dataclasses

    from hopsolve_cqm.plugin import CqmProblem

    from hopsolve import PluginFailure, Solution, build_registry, solve_instance

    class Faulty(CqmProblem):
        name = "faulty"
        suffixes = (".faultylp",)

        def decode(self, instance, energy, state, *, repair=False):
            solution = super().decode(instance, energy, state, repair=repair)
            if fault == "raise":
                raise RuntimeError("decode boom")
            if fault == "none":
                return None
            if fault == "nan":
                return dataclasses.replace(solution, objective=float("nan"))
            return Solution(solution.value, solution.objective, solution.feasible, {"c": "many"})

    registry = build_registry()
    from hopsolve.plugins import Origin

    registry.problems["faulty"] = dataclasses.replace(registry.problems["cqm"], name="faulty", cls=Faulty,
                                                      origin=Origin("faulty", "hopsolve-faulty", "0.1"))
    instance = CqmProblem().read(INSTANCES / "cqm" / "knapsack12.lp")
    with pytest.raises(PluginFailure, match=rf"problem 'faulty' .*{re.escape(said)}"):
        solve_instance(registry, "faulty", instance, backend="exact", seed=1)


@pytest.mark.parametrize("status, candidate, said", [
    ("great", [0] * 12, "solve returned the status 'great', not one of optimal, feasible"),
    ("optimal", None, "solve returned 'optimal' without a candidate"),
    ("feasible", None, "solve returned 'feasible' without a candidate"),
    ("infeasible", [0] * 12, "solve returned 'infeasible' with a candidate the problem scores feasible"),
])
def test_a_baseline_s_status_outside_the_contract_is_the_plugin_s_failure(status, candidate, said):
    """A baseline's status reached the result as it was ("great"), and "optimal" with no answer was reported
    optimal, infeasible and without an objective at once."""
    import dataclasses

    from hopsolve import Baseline, BaselineOutcome, PluginFailure, build_registry, solve_instance
    from hopsolve.plugins import Origin

    class Boastful(Baseline):
        name = "boastful"
        problem = "cqm"

        def solve(self, instance, params=None, *, seed=None, time_limit=None):
            value = None if candidate is None else dict(zip(instance.data.variables, candidate))
            return BaselineOutcome(value, status)

    registry = build_registry()
    entry = registry.baselines[("cqm", "ortools-cpsat")]
    registry.baselines[("cqm", "boastful")] = dataclasses.replace(entry, name="boastful", cls=Boastful,
                                                                  origin=Origin("boastful", "hopsolve-boast", "0.1"))
    instance = registry.problem("cqm").read(INSTANCES / "cqm" / "knapsack12.lp")
    with pytest.raises(PluginFailure, match=re.escape(said)):
        solve_instance(registry, "cqm", instance, baseline="boastful", seed=1)


def test_a_problem_s_suggested_parameters_the_backend_refuses_are_the_plugin_s_failure():
    """A third party's default_params suggesting sweeps=-5 was reported as "backend 'anneal': sweeps must be at
    least 1, got -5", as if the user had typed it."""
    import dataclasses

    from hopsolve_cqm.plugin import CqmProblem

    from hopsolve import PluginFailure, build_registry, solve_instance
    from hopsolve.plugins import Origin

    class Pushy(CqmProblem):
        name = "pushy"
        suffixes = (".pushylp",)

        def default_params(self, backend, instance):
            return {"sweeps": -5}

    registry = build_registry()
    registry.problems["pushy"] = dataclasses.replace(registry.problems["cqm"], name="pushy", cls=Pushy,
                                                     origin=Origin("pushy", "hopsolve-pushy", "0.1"))
    instance = CqmProblem().read(INSTANCES / "cqm" / "knapsack12.lp")
    with pytest.raises(PluginFailure, match=r"problem 'pushy' \(hopsolve-pushy 0.1\): default_params suggested "
                                            r"parameters the backend refuses: .*sweeps must be at least 1"):
        solve_instance(registry, "pushy", instance, backend="anneal", seed=1)


def test_a_prepare_that_returns_no_number_of_seconds_is_the_plugin_s_failure():
    """A problem's prepare returning "fast" ended in an internal error (float() of it)."""
    import dataclasses

    from hopsolve_cqm.plugin import CqmProblem

    from hopsolve import PluginFailure, build_registry, solve_instance
    from hopsolve.plugins import Origin

    class Boastful(CqmProblem):
        name = "boastfulcqm"
        suffixes = (".boastlp",)

        def prepare(self):
            return "fast"

    registry = build_registry()
    registry.problems["boastfulcqm"] = dataclasses.replace(registry.problems["cqm"], name="boastfulcqm",
                                                           cls=Boastful, origin=Origin("b", "hopsolve-b", "0.1"))
    instance = CqmProblem().read(INSTANCES / "cqm" / "knapsack12.lp")
    with pytest.raises(PluginFailure, match=r"prepare returned 'fast', not the seconds it spent"):
        solve_instance(registry, "boastfulcqm", instance, backend="anneal", seed=1)


def test_a_solution_note_is_one_line_of_printable_text():
    """A plugin's note with a newline and an ANSI colour code reached the terminal as two coloured lines."""
    import dataclasses

    from hopsolve_cqm.plugin import CqmProblem

    from hopsolve import build_registry, solve_instance

    class Loud(CqmProblem):
        name = "loudcqm"
        suffixes = (".loudlp",)

        def score(self, instance, candidate):
            solution = super().score(instance, candidate)
            return dataclasses.replace(solution, details={"note": "first line\n\x1b[31msecond\x1b[0m  line"})

    registry = build_registry()
    registry.problems["loudcqm"] = dataclasses.replace(registry.problems["cqm"], name="loudcqm", cls=Loud)
    instance = CqmProblem().read(INSTANCES / "cqm" / "knapsack12.lp")
    result, _ = solve_instance(registry, "loudcqm", instance, backend="exact", seed=1)
    assert result.info["solution_note"] == "first line second line"


def test_a_baseline_s_note_is_one_line_of_printable_text_too():
    """A baseline's info['note'] with a newline and ANSI colours reached the terminal as it was (the solution's
    note was already made one line)."""
    import dataclasses

    from hopsolve import Baseline, BaselineOutcome, build_registry, solve_instance
    from hopsolve.plugins import Origin

    class Chatty(Baseline):
        name = "chatty"
        problem = "cqm"

        def solve(self, instance, params=None, *, seed=None, time_limit=None):
            return BaselineOutcome(dict.fromkeys(instance.data.variables, 0), "feasible",
                                   info={"note": "first line\n\x1b[31msecond\x1b[0m line"})

    registry = build_registry()
    entry = registry.baselines[("cqm", "ortools-cpsat")]
    registry.baselines[("cqm", "chatty")] = dataclasses.replace(entry, name="chatty", cls=Chatty,
                                                                origin=Origin("chatty", "hopsolve-chatty", "0.1"))
    instance = registry.problem("cqm").read(INSTANCES / "cqm" / "knapsack12.lp")
    result, _ = solve_instance(registry, "cqm", instance, baseline="chatty", seed=1)
    assert result.info["note"] == "first line second line"
