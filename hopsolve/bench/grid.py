"""A benchmark grid from command-line options or a TOML file, validated before any task starts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hopsolve.errors import ParameterError, UserError
from hopsolve.limits import MAX_TIME_LIMIT
from hopsolve.params import set_once
from hopsolve.plugins import Registry
from hopsolve.problem import Instance
from hopsolve.solving import encode_with_options, read_instance

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class SolverSpec:
    """One solver of the grid: a backend or baseline with parameters, shown under ``label``."""

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    time_limit: float | None = None
    """This solver's own limit (a TOML ``[[solver]]`` ``time_limit``), overriding the grid's."""
    once: bool = False
    """A deterministic baseline: run with the grid's first seed only."""
    given: dict[str, Any] = field(default_factory=dict)
    """The parameters as written (``params`` holds them as the solver reads them): keys of results files written
    before keys were typed (:attr:`Task.legacy`) were made from these."""
    problems: tuple[str, ...] = ()
    """A baseline's: the grid's problems that have it, whose instances it runs on (a suite mixing QAP, assignment
    and LP files could not list ortools-cpsat, which assignment lacks); empty: every instance."""

    @property
    def shown(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Task:
    """One run: an instance, a solver and a seed. ``key`` identifies it across reruns (for resuming)."""

    instance: str
    problem: str | None
    solver: SolverSpec
    seed: int
    time_limit: float | None
    options: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    trace: bool = False
    """Keep the run's anytime curve (``info.anytime``) in its record (not part of ``key``)."""
    legacy: tuple[str, ...] = ()
    """The keys this task had before: before keys held typed parameters and left a baseline's options and weights
    out, before a grid's time limit was a float (``time_limit = 1`` in a suite and ``--time-limit 1`` were two
    keys), and before the problem was the resolved one (an inferred problem was keyed as None): a results file
    written then is resumed, not run again (and then counted twice by ``report``)."""

    @cached_property
    def key(self) -> str:
        """The task's identity (a digest of its configuration, instance, problem and seed), computed once."""
        return _digest({**self._configuration(), "instance": os.path.normpath(self.instance),
                        "problem": self.problem, "seed": self.seed})

    @property
    def config(self) -> str:
        """What the task runs, but not on what (instance, problem) or with which seed: the solver with its
        parameters and label, the time limit, options and weights. ``report`` warns when one label covers
        several."""
        return _digest(self._configuration())

    def _configuration(self) -> dict[str, Any]:
        return {"solver": [self.solver.name, self.solver.kind, self.solver.params, self.solver.label],
                "time_limit": self.time_limit, "options": self.options, "weights": self.weights}

    @property
    def effective_time_limit(self) -> float | None:
        """The limit the run is held to: the grid's (or its solver's own), else, for a backend, its params'
        ``time_limit`` (which ``build_grid`` accepts only where the backend's parameters have one, and refuses
        beside a different grid limit). A params limit without a grid limit bounds the run as well: it was
        recorded ``time_limit_applied: false`` and the local watchdog left the task unwatched. Not part of
        ``key`` (the params are)."""
        if self.time_limit is not None:
            return self.time_limit
        own = self.solver.params.get("time_limit") if self.solver.kind == "backend" else None
        return None if own is None else float(own)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_TASKS = 1_000_000
"""The most tasks a grid may hold (instances × solvers × seeds): it is built in memory before any runs."""


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Grid:
    """Instances × solvers × seeds, with the options shared by every task."""

    instances: tuple[str, ...]
    solvers: tuple[SolverSpec, ...]
    seeds: tuple[int, ...]
    problem: str | None = None
    time_limit: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    trace: bool = False
    instance_problems: tuple[str, ...] = ()
    """Each instance's problem, in ``instances``' order (where a solver runs on some problems only)."""
    suffix_problems: tuple[str | None, ...] = ()
    """The problem each instance's suffix names (None where none does): a task whose problem it is was keyed with
    None by the code before, when the grid named no problem (:attr:`Task.legacy`)."""

    def tasks(self, legacy: bool = True) -> list[Task]:
        """Every task; a baseline's without the options and weights, which only backends' energies take (they were
        in its key: adding ``--weight`` ran every baseline again). ``legacy=False`` leaves the earlier keys out
        (:attr:`Task.legacy`: what a results file needs to be resumed, most of the cost: 145 µs a task, 14.5 s for
        100,000)."""
        tasks = []
        for k, i in enumerate(self.instances):
            for s in self.solvers:
                if s.problems and self.instance_problems and self.instance_problems[k] not in s.problems:
                    continue  # a baseline this instance's problem does not have
                limit = s.time_limit if s.time_limit is not None else self.time_limit
                # a whole grid-wide limit was keyed as given: 1 from a suite, 1.0 from --time-limit
                forms = [limit] + ([int(limit)] if s.time_limit is None and limit is not None
                                   and float(limit).is_integer() else [])
                # the problem resolved: named (a suite's problem = "tsp") or inferred from the suffix, one task
                # (keyed by the name as given, an inferred one as None, the same run was two tasks)
                resolved = self.problem or (self.instance_problems[k] if self.instance_problems else None)
                for seed in (self.seeds[:1] if s.once else self.seeds):
                    task = Task(i, resolved, s, seed, limit, dict(self.options) if s.kind == "backend" else {},
                                dict(self.weights) if s.kind == "backend" else {}, self.trace)
                    if not legacy:
                        tasks.append(task)
                        continue
                    earlier: dict[str, None] = {}
                    inferred = self.suffix_problems[k] if self.suffix_problems else None
                    for named in dict.fromkeys([resolved, self.problem, *([None] if inferred == resolved else [])]):
                        where = {"instance": os.path.normpath(i), "problem": named, "seed": seed}
                        for form in forms:
                            earlier[_digest({"solver": [s.name, s.kind, s.given, s.label], "time_limit": form,
                                             "options": self.options, "weights": self.weights, **where})] = None
                            earlier[_digest({**task._configuration(), "time_limit": form, **where})] = None
                    earlier.pop(task.key, None)
                    tasks.append(dataclasses.replace(task, legacy=tuple(earlier)))
        return tasks


def _solver_kind(registry: Registry, name: str, problems: Sequence[str]) -> tuple[str, str]:
    """``(name, kind)`` for ``name``, ``backend:name`` or ``baseline:name``."""
    kind, sep, bare = name.partition(":")
    if sep:
        if kind not in ("backend", "baseline"):
            raise ParameterError(f"solver {name!r}: prefix must be backend: or baseline:")
        return bare, kind
    is_backend = name in registry.backends
    is_baseline = any((p, name) in registry.baselines for p in problems)
    if is_backend and is_baseline:
        raise ParameterError(f"solver {name!r} is both a backend and a baseline: write backend:{name} or "
                             f"baseline:{name}")
    if is_backend:
        return name, "backend"
    if is_baseline:
        return name, "baseline"
    known = sorted(set(registry.backends) | {b for p, b in registry.baselines if p in problems})
    raise ParameterError(f"unknown solver {name!r}; available for {', '.join(problems) or 'these instances'}: "
                         f"{', '.join(known)}")


def _expand_instances(paths: Sequence[str]) -> list[str]:
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(str(p) for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")
                         and p.suffix not in (".md", ".csv", ".sln", ".tour", ".cue"))  # (memory's cues: options)
        elif path.is_file():
            found.append(str(path))
        else:
            raise UserError("no such instance file", path=raw)
    # absolute paths: a worker started elsewhere (a Dask cluster) reads the same files; a file named twice (or
    # through two paths) is one instance: its tasks had the same keys and were run and reported twice
    found = list(dict.fromkeys(str(Path(p).resolve()) for p in found))
    if not found:
        raise ParameterError("the grid has no instances")
    return found


def build_grid(registry: Registry, *, instances: Sequence[str], solvers: Sequence[Mapping[str, Any]],
               seeds: int | Sequence[int], problem: str | None = None, time_limit: float | None = None,
               options: Mapping[str, Any] | None = None, weights: Mapping[str, float] | None = None,
               option_base: Path | None = None) -> Grid:
    """Validate everything a task will need (files, problems, solvers, parameters) and return the grid. Every
    instance is read once here (Gset's 71 files in about a second), so a malformed one is refused, naming its line,
    before any task runs."""
    paths = _expand_instances(instances)
    problems = sorted({problem or registry.problem_for_path(p) for p in paths})
    for name in problems:
        registry.problem(name)
    read = {}  # kept only where weights are to be checked on them (below)
    for path in paths:  # a malformed file is the user's to fix before hours of runs, not a row of errors
        instance = read_instance(registry.problem(problem or registry.problem_for_path(path)), path)
        if weights:
            read[path] = instance
    specs = []
    for entry in solvers:
        unknown = sorted(set(entry) - {"name", "label", "params", "time_limit"})
        if unknown or "name" not in entry:
            raise ParameterError(f"a solver entry needs 'name' and may have label, params, time_limit; got "
                                 f"{', '.join(unknown) or 'no name'}")
        name, kind = _solver_kind(registry, str(entry["name"]), problems)
        if not isinstance(entry.get("params") or {}, Mapping):  # params = "sweeps=5" was an internal error
            raise ParameterError(f"solver {name!r}: params must be a table (params = {{ key = value }}), got "
                                 f"{entry.get('params')!r}")
        params = given = dict(entry.get("params") or {})
        once, having = False, problems
        if kind == "backend":
            built = registry.backend(name).params(dict(params))
        else:
            having = [p for p in problems if (p, name) in registry.baselines] or problems  # (else: refused below)
            built = [registry.baseline(p, name).params(dict(params)) for p in having][0]
            once = all(getattr(registry.baseline(p, name), "deterministic", False) for p in having)
        # the values as the solver reads them: sweeps=300000 from the command line (a string) and from a suite (an
        # integer) are one configuration, one task key (they were two: a resume ran every task again)
        params = {key: getattr(built, key) for key in params}
        own_limit = entry.get("time_limit")
        if own_limit is not None and (isinstance(own_limit, bool) or not isinstance(own_limit, (int, float))
                                      or not (math.isfinite(own_limit) and 0 < own_limit <= MAX_TIME_LIMIT)):
            raise ParameterError(f"solver {name!r}: time_limit must be a positive number of seconds, at most "
                                 f"{MAX_TIME_LIMIT:g}, got {own_limit!r}")
        limit_here = own_limit if own_limit is not None else time_limit
        if "time_limit" in params and limit_here is not None and float(params["time_limit"]) != float(limit_here):
            # every task ended in an error record naming --time-limit and --param, which the user had not typed
            where = "its own time_limit" if own_limit is not None else "the grid's time limit"
            raise ParameterError(f"solver {name!r}: time_limit is given twice with two values ({where} "
                                 f"{float(limit_here):g} and params time_limit={params['time_limit']}); give it once")
        specs.append(SolverSpec(name, kind, params, str(entry.get("label", "")),
                                None if own_limit is None else float(own_limit), once, given,
                                tuple(having) if kind == "baseline" and len(having) < len(problems) else ()))
    labels = [s.shown for s in specs]
    if len(set(labels)) != len(labels):
        raise ParameterError(f"two solvers share a label: {labels}; give variants a label")
    count = int(seeds) if isinstance(seeds, int) else len(seeds)
    tasks = len(paths) * sum(1 if spec.once else count for spec in specs)  # a deterministic baseline runs once
    if tasks > MAX_TASKS:  # the grid is held in memory: 10⁸ seeds took 31 s and all the memory, then failed
        raise ParameterError(f"seeds: {count:,} seeds over {len(paths):,} instance{'' if len(paths) == 1 else 's'} "
                             f"and {len(specs)} solver{'' if len(specs) == 1 else 's'} make {tasks:,} tasks, more "
                             f"than {MAX_TASKS:,}; give fewer seeds")
    seed_list = tuple(range(1, int(seeds) + 1)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not seed_list or any(s < 0 for s in seed_list):
        raise ParameterError("seeds must be a positive count or a list of non-negative integers")
    if time_limit is not None and not (math.isfinite(time_limit) and 0 < time_limit <= MAX_TIME_LIMIT):
        raise ParameterError(f"time limit must be positive and finite, at most {MAX_TIME_LIMIT:g} seconds, "
                             f"got {time_limit}")
    for name, value in (weights or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ParameterError(f"weight {name}={value!r} must be a finite non-negative number")
    if (weights or options) and any(s.kind == "backend" for s in specs):
        _check_weights_and_options(registry, read or dict.fromkeys(paths), problem, dict(weights or {}),
                                   dict(options or {}))
    file_keys = {key for name in problems for key in registry.problem(name).file_options}
    suffixes = tuple(_suffix_problem(registry, p) for p in paths)  # (named where no problem is: read above)
    return Grid(tuple(paths), tuple(specs), seed_list, problem, None if time_limit is None else float(time_limit),
                absolute_file_options(options, file_keys, option_base), dict(weights or {}),
                instance_problems=tuple(problem or named for named in suffixes), suffix_problems=suffixes)


def _suffix_problem(registry: Registry, path: str) -> str | None:
    """The problem ``path``'s suffix names, or None (no problem claims it)."""
    try:
        return registry.problem_for_path(path)
    except UserError:
        return None


def absolute_file_options(options: Mapping[str, Any] | None, keys: set[str],
                          base: Path | None = None) -> dict[str, Any]:
    """``options`` with the values of ``keys`` (the problems' :attr:`~hopsolve.Problem.file_options`) that name an
    existing file (relative to the working directory, else to ``base``: a suite's folder) made absolute, as
    instance paths are, so that a worker started elsewhere reads the same file (memory's ``cue``: a suite run from
    another folder failed every task). Other options are left as given (``form=lucas`` beside a file named
    ``lucas`` was rewritten into a path). A file option that names no file is refused in one line."""
    resolved = {}
    for key, value in (options or {}).items():
        if key in keys and isinstance(value, str) and value:
            given = Path(value)
            for candidate in ([given] if given.is_absolute() else [given, *([base / given] if base else [])]):
                if candidate.is_file():
                    value = str(candidate.resolve())
                    break
            else:  # refused before any task: every task became an error record naming it
                raise UserError(f"option {key}: no such file", path=value)
        resolved[key] = value
    return resolved


def _check_weights_and_options(registry: Registry, instances: Mapping[str, Instance | None], problem: str | None,
                               weights: dict[str, float], options: dict[str, Any]) -> None:
    """Refuse before any task an option no problem of the grid takes, or a weight that names a term of no
    instance (``--weight bogus=1`` ran every task into the same error, each a row of the results). Options are
    checked by each problem's ``Options``, without encoding; a weight's name is looked for in the instances'
    energies, encoded one at a time until every name is found (one encoding where the first instance has them all:
    a CQM's penalty terms differ from model to model). An instance that cannot be encoded here is left to its own
    tasks, which record why. ``instances`` maps each path to its instance as ``build_grid`` read it (``None``
    where no weights are given: only the options are checked then)."""
    by_problem: dict[str, list[str]] = defaultdict(list)
    for path in instances:
        by_problem[problem or registry.problem_for_path(path)].append(path)
    parsed = {name: registry.problem(name).options(options or None) for name in by_problem}
    if not weights:
        return
    missing, terms = set(weights), set()
    for name, files in by_problem.items():
        plugin = registry.problem(name)
        for path in files:
            if not missing:
                return
            try:
                energy = encode_with_options(plugin, instances[path], None, parsed[name])
            except Exception:  # noqa: BLE001 - too large, a plugin's own failure: the task will say
                continue
            terms |= set(energy.term_names)
            missing -= terms
    if missing and terms:
        raise ParameterError(f"unknown weight {sorted(missing)[0]!r}: no instance's energy has a term of that name "
                             f"(their terms: {', '.join(sorted(terms))})")


def solvers_from_cli(names: str, params: Sequence[str]) -> list[dict[str, Any]]:
    """``"anneal,ortools-routing"`` and ``["anneal.sweeps=100"]`` → solver entries."""
    entries = [{"name": n.strip(), "params": {}} for n in names.split(",") if n.strip()]
    if not entries:
        raise ParameterError("--solvers names no solver")
    by_name = {e["name"].partition(":")[2] or e["name"]: e for e in entries}
    for raw in params or []:
        target, sep, value = raw.partition("=")
        solver, dot, key = target.partition(".")
        if not sep or not dot:
            raise ParameterError(f"--param {raw!r} must look like solver.key=value")
        if solver not in by_name:
            raise ParameterError(f"--param {raw!r} names solver {solver!r}, which is not in --solvers")
        set_once(by_name[solver]["params"], key, value, "--param", f"{solver}.{key}")
    return entries


def _check_types(config: Mapping[str, Any], path: Path) -> None:
    """The shapes a suite's keys must have, each refused in one line naming the key (a string where a list is
    expected would otherwise be iterated character by character)."""
    def fail(key: str, expected: str) -> None:
        raise UserError(f"{key} must be {expected}, got {config[key]!r}", path=path)

    if not isinstance(config["instances"], list) or not all(isinstance(p, str) for p in config["instances"]):
        fail("instances", "a list of paths")
    solvers = config["solver"]
    if not isinstance(solvers, list) or not all(isinstance(s, dict) for s in solvers):
        raise UserError(f"solver must be [[solver]] tables (name = ...), got {solvers!r}", path=path)
    seeds = config.get("seeds", 1)
    count = isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1
    listed = isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                        for s in seeds)
    if not (count or listed):
        fail("seeds", "a positive count or a list of non-negative integers")
    for key in ("options", "weights"):
        if key in config and not isinstance(config[key], dict):
            fail(key, "a table (key = value)")
    for name, value in (config.get("weights") or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise UserError(f"weights: {name}={value!r} must be a finite non-negative number", path=path)
    limit = config.get("time_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                              or not math.isfinite(limit) or limit <= 0):
        fail("time_limit", "a positive number of seconds")


def _without_time_limit(entry: Any) -> Any:
    """A suite's solver entry without its own time limit, in the entry or in its params (a limit given on the
    command line replaces them)."""
    if not isinstance(entry, dict):
        return entry
    entry = {k: v for k, v in entry.items() if k != "time_limit"}
    if isinstance(entry.get("params"), Mapping):
        entry["params"] = {k: v for k, v in entry["params"].items() if k != "time_limit"}
    return entry


def grid_from_toml(registry: Registry, path: str | Path, overrides: Mapping[str, Any] | None = None) -> Grid:
    """Read a grid from TOML::

        problem = "tsp"            # optional; inferred from suffixes otherwise
        instances = ["instances/tsplib/berlin52.tsp"]
        seeds = 3                  # or a list
        time_limit = 10
        [[solver]]
        name = "anneal"
        label = "anneal-2opt"      # optional
        params = { sweeps = 2000 }
        time_limit = 5             # optional: this solver's own limit

    Instance paths, and options that name files, are relative to the working directory or else to the TOML
    file (or absolute); every one is resolved to an absolute path, and the instances are checked before any task
    starts. ``overrides`` (the CLI's ``--seeds``, ``--time-limit``, ``--problem``, ``--option``, ``--weight``)
    replace the suite's values where given; options and weights key by key, the suite's others kept; a time limit
    replaces the solvers' own limits too.
    """
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("no such config file", path=path) from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise UserError(f"not a UTF-8 TOML file ({type(exc).__name__})", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise UserError(f"bad TOML: {exc}", path=path, line=line) from None
    known = {"problem", "instances", "seeds", "time_limit", "solver", "options", "weights", "description"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})", path=path)
    if not config.get("instances") or not config.get("solver"):
        raise UserError("a suite needs 'instances' and at least one [[solver]]", path=path)
    _check_types(config, path)
    base = path.parent
    instances = [p if Path(p).is_absolute() or Path(p).exists() else str(base / p) for p in config["instances"]]
    values = {"instances": instances, "solvers": config["solver"], "seeds": config.get("seeds", 1),
              "problem": config.get("problem"), "time_limit": config.get("time_limit"),
              "options": config.get("options"), "weights": config.get("weights"), "option_base": base}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in ("options", "weights"):  # merged key by key: a given --option replaced the suite's whole table
            value = {**(values.get(key) or {}), **value}
        if key == "time_limit":  # every solver's, its own too (a [[solver]]'s 2 s ran on under --time-limit 0.5,
            values["solvers"] = [_without_time_limit(entry) for entry in values["solvers"]]  # in params too)
        values[key] = value
    try:
        return build_grid(registry, **values)
    except UserError as exc:  # what the suite says, refused: the suite named (a [[solver]]'s bad key or parameter)
        if exc.path is not None and exc.message != "no such instance file":
            raise
        message = (f"instance {str(exc.path)!r}: no such file" if exc.path is not None else exc.message)
        raise type(exc)(message, path=path) from None
