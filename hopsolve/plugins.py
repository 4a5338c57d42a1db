"""The plugin manager and the registry of problems, backends, baselines and commands it gathers.

Environment switches (in the pytest tradition):

``HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD=1``
    load no entry points; only the built-ins and ``HOPSOLVE_PLUGINS``.
``HOPSOLVE_PLUGINS=mod_a,mod_b``
    import these modules and register them as plugins.
``HOPSOLVE_ALLOW_PLUGINS=qubo,tsp``
    load only the entry points with these names (an allow-list).
``HOPSOLVE_TRACE_PLUGINS=1``
    print every hook call to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata as metadata
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from hopsolve import hookspecs
from hopsolve.errors import PluginError
from hopsolve.switches import switched_on

ENTRY_POINT_GROUP = "hopsolve"
BUILTIN_PLUGINS = ("hopsolve.backends.builtin",)


@dataclass(frozen=True)
class Origin:
    """Where a plugin came from: its plugin name, distribution and version."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    @property
    def first_party(self) -> bool:
        """hopsolve's own plugins (built-in modules and the ``hopsolve`` distribution's entry points)."""
        return self.distribution == "hopsolve"

    def describe(self) -> str:
        """``'tsp' (hopsolve 0.1.0)``: the plugin and the distribution that installed it."""
        where = " ".join(p for p in (self.distribution, self.version) if p)
        return f"{self.plugin!r}" + (f" ({where})" if where else "")


@dataclass(frozen=True)
class Entry:
    """One registered class and the plugin that gave it."""

    name: str
    cls: type
    origin: Origin


@dataclass(frozen=True)
class LoadFailure:
    """A plugin that could not be loaded or whose hook raised; it is skipped and the others keep working."""

    plugin: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} failed: {' '.join(self.error.split())}"  # one line, whatever it said


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name, and what failed to load."""

    problems: dict[str, Entry] = field(default_factory=dict)
    backends: dict[str, Entry] = field(default_factory=dict)
    baselines: dict[tuple[str, str], Entry] = field(default_factory=dict)
    commands: dict[str, Entry] = field(default_factory=dict)
    command_specs: dict[str, tuple[str, Callable, Callable]] = field(default_factory=dict)
    failures: list[LoadFailure] = field(default_factory=list)

    def problem(self, name: str) -> Any:
        """An instance of the problem plugin ``name``; unknown names list the available ones."""
        return _made(self._lookup(self.problems, name, "problem"))

    def backend(self, name: str) -> Any:
        return _made(self._lookup(self.backends, name, "backend"))

    def baseline(self, problem: str, name: str) -> Any:
        key = (problem, name)
        if key not in self.baselines:
            names = sorted(b for p, b in self.baselines if p == problem)
            available = ", ".join(names) or "none"
            raise PluginError(f"unknown baseline {name!r} for problem {problem!r}; available: {available}")
        return _made(self.baselines[key])

    @staticmethod
    def _lookup(table: Mapping[str, Entry], name: str, kind: str) -> Entry:
        if name not in table:
            raise PluginError(f"unknown {kind} {name!r}; available: {', '.join(sorted(table)) or 'none'}")
        return table[name]

    def problem_for_path(self, path: str | Path) -> str:
        """The one problem whose suffixes match ``path`` (the longest match wins, and a built-in problem over a
        third party claiming the same suffix); an error if none or several do."""
        text = str(path).lower()
        longest = {name: max((len(s) for s in getattr(entry.cls, "suffixes", ()) if text.endswith(s.lower())),
                             default=0) for name, entry in self.problems.items()}
        most = max(longest.values(), default=0)
        # the most specific suffix reads the file ('m.qubo.npy': '.qubo.npy' before '.npy'); where a third party
        # claims a built-in problem's own suffix, the built-in keeps it (reported when the plugins load)
        matches = sorted(name for name, size in longest.items() if size and size == most)
        own = [name for name in matches if self.problems[name].origin.first_party]
        if own and len(own) < len(matches):
            matches = own
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise PluginError(f"no problem plugin reads {Path(path).name!r}; name one with --problem (problem= "
                              f"from Python): {', '.join(sorted(self.problems))}", path=None)
        raise PluginError(f"{Path(path).name!r} could be any of {', '.join(matches)}; choose one with --problem "
                          "(problem= from Python)")


ORIGIN_ATTRIBUTE = "_hopsolve_origin"
"""The attribute of a problem, backend or baseline made by the :class:`Registry` that holds its :class:`Origin`,
which :func:`hopsolve.plugin_calls.describe_plugin` names when the plugin fails."""


def _made(entry: Entry) -> Any:
    """An instance of ``entry``'s class, told where it came from (:data:`ORIGIN_ATTRIBUTE`) where it can be."""
    made = entry.cls()
    with contextlib.suppress(AttributeError):  # a class with __slots__: named by its module instead
        setattr(made, ORIGIN_ATTRIBUTE, entry.origin)
    return made


def _entry_points() -> list[metadata.EntryPoint]:
    """hopsolve's own entry points first, then the others by name (a stable order on every machine)."""
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP),
                  key=lambda ep: (not _origin_of(ep).first_party, ep.name, _origin_of(ep).distribution or ""))


def _origin_of(ep: metadata.EntryPoint) -> Origin:
    dist = getattr(ep, "dist", None)
    return Origin(ep.name, dist.metadata["Name"] if dist else None, dist.version if dist else None)


def _hopsolve_origin(name: str) -> Origin:
    try:
        version = metadata.version("hopsolve")
    except metadata.PackageNotFoundError:
        version = None
    return Origin(name, "hopsolve", version)


def make_plugin_manager(
    env: Mapping[str, str] | None = None, extra_plugins: list[Any] | None = None
) -> tuple[pluggy.PluginManager, dict[str, Origin], list[LoadFailure]]:
    """A fresh plugin manager with the built-ins, the entry points and ``HOPSOLVE_PLUGINS`` loaded.

    Plugins that fail to import are returned as failures instead of raising.
    """
    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    origins: dict[str, Origin] = {}
    failures: list[LoadFailure] = []

    def register(plugin: Any, origin: Origin) -> None:
        try:
            pm.register(plugin, name=origin.plugin)
        except Exception as exc:  # noqa: BLE001 - a bad plugin must not stop the others
            failures.append(LoadFailure(origin.plugin, f"{type(exc).__name__}: {exc}"))
            return
        unknown = _unknown_hooks(pm, plugin)
        if unknown:  # a misspelt hook would otherwise register nothing, silently
            pm.unregister(plugin)
            failures.append(LoadFailure(origin.plugin, f"unknown hook {', '.join(map(repr, unknown))} (hopsolve's "
                                                       f"hooks: {', '.join(_hook_names(pm))})"))
            return
        origins[origin.plugin] = origin

    def load(what: str, loader: Callable[[], Any]) -> Any:
        """Import a plugin; any failure, ``SystemExit`` included, is reported and the plugin skipped."""
        try:
            return loader()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a plugin's sys.exit() must not end hopsolve
            failures.append(LoadFailure(what, f"{type(exc).__name__}: {exc}"))
            return None

    for module_name in BUILTIN_PLUGINS:
        register(importlib.import_module(module_name), _hopsolve_origin(module_name))

    if not switched_on("HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD", env):
        allowed = {n.strip() for n in env.get("HOPSOLVE_ALLOW_PLUGINS", "").split(",") if n.strip()}
        for ep in _entry_points():
            if allowed and ep.name not in allowed:
                continue
            origin = _origin_of(ep)
            if pm.has_plugin(origin.plugin):  # two distributions, one entry-point name: keep both, named apart
                origin = Origin(f"{ep.name}@{origin.distribution}", origin.distribution, origin.version)
            if pm.has_plugin(origin.plugin):
                continue  # the same distribution seen twice on sys.path
            plugin = load(origin.plugin, ep.load)
            if plugin is not None:
                register(plugin, origin)

    for module_name in (n.strip() for n in env.get("HOPSOLVE_PLUGINS", "").split(",")):
        if not module_name or pm.has_plugin(module_name):
            continue
        plugin = load(module_name, lambda name=module_name: importlib.import_module(name))
        if plugin is not None:
            register(plugin, Origin(module_name))

    for plugin in extra_plugins or []:
        register(plugin, Origin(getattr(plugin, "__name__", type(plugin).__name__)))

    if switched_on("HOPSOLVE_TRACE_PLUGINS", env):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm, origins, failures


def _hook_names(pm: pluggy.PluginManager) -> list[str]:
    """The hooks hopsolve specifies."""
    return sorted(name for name, caller in vars(pm.hook).items() if getattr(caller, "spec", None) is not None)


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """The hook implementations of ``plugin`` that no hook specification matches (what pluggy's
    ``check_pending`` refuses), ``optionalhook`` ones excepted."""
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or []
                  if caller.spec is None and any(not impl.optionalhook for impl in caller.get_hookimpls()
                                                 if impl.plugin is plugin))


def _collect(pm: pluggy.PluginManager, hook_name: str, origins: Mapping[str, Origin],
             failures: list[LoadFailure], add: Callable[[Origin, Any, tuple, dict], None],
             **hook_args: Any) -> None:
    """Call one hook through pluggy, one plugin at a time, so a plugin that raises is reported and skipped.

    Each call goes through ``pm.subset_hook_caller`` with only that plugin's implementation and every plugin's
    wrappers, so tracing (``HOPSOLVE_TRACE_PLUGINS=1``), hook wrappers and ``tryfirst``/``trylast`` work: plugins
    are called in pluggy's own order (``tryfirst`` ones first, then the latest registered).
    """
    caller = getattr(pm.hook, hook_name)
    implementations = [impl for impl in caller.get_hookimpls() if not (impl.hookwrapper or impl.wrapper)]
    for impl in reversed(implementations):  # pluggy calls the end of this list first
        origin = origins.get(impl.plugin_name, Origin(impl.plugin_name))
        gathered: list[tuple[tuple, dict]] = []

        def register(*args: Any, _into: list = gathered, **kwargs: Any) -> None:
            _into.append((args, kwargs))

        others = [other.plugin for other in implementations if other is not impl]
        try:
            pm.subset_hook_caller(hook_name, remove_plugins=others)(register=register, **hook_args)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a hook is a plugin failure too
            failures.append(LoadFailure(origin.plugin, f"{hook_name} raised {type(exc).__name__}: {exc}"))
            continue
        for args, kwargs in gathered:
            try:
                add(origin, args[0] if len(args) == 1 and not kwargs else None, args, kwargs)
            except PluginError as exc:
                failures.append(LoadFailure(getattr(exc, "plugin", None) or origin.plugin, str(exc)))


def _check_registered_class(kind: str, cls: Any) -> None:
    """Refuse, when it is registered, a class that would fail at its first use: not a subclass of the contract
    the hook names (``hopsolve.Problem``, ``Backend`` or ``Baseline``), abstract (a method the contract requires is
    missing), or with class attributes of the wrong kind (a problem's ``suffixes`` as one string claims every
    path ending in any of its letters; ``sense`` other than ``min``/``max``; ``Options`` or ``Params`` not a
    dataclass)."""
    import inspect

    from hopsolve.backend import Backend
    from hopsolve.baseline import Baseline
    from hopsolve.problem import Problem

    contract = {"problem": Problem, "backend": Backend, "baseline": Baseline}[kind]
    label = f"{kind} {cls.name!r}"
    if not (isinstance(cls, type) and issubclass(cls, contract)):
        raise PluginError(f"{label} is not a subclass of hopsolve.{contract.__name__}: {cls!r}")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise PluginError(f"{label} is abstract: it does not define {missing}")
    parameters = "Options" if kind == "problem" else "Params"
    held = getattr(cls, parameters, None)
    if not (held is None and kind == "problem") and not (isinstance(held, type) and dataclasses.is_dataclass(held)):
        raise PluginError(f"{label}: {parameters} must be a dataclass{' (or None)' if kind == 'problem' else ''}, "
                          f"got {held!r}")  # a plain class failed at its first use, an internal error
    if kind == "problem":
        suffixes = cls.suffixes
        if not isinstance(suffixes, (tuple, list)) or not all(isinstance(s, str) and s for s in suffixes):
            raise PluginError(f"{label}: suffixes must be a tuple of file endings such as ('.tsp',), got "
                              f"{suffixes!r}")
        if cls.sense not in ("min", "max"):
            raise PluginError(f"{label}: sense must be 'min' or 'max', got {cls.sense!r}")
    if kind == "baseline" and not isinstance(getattr(cls, "problem", None), str):
        raise PluginError(f"{label}: problem must name the problem it solves, got {getattr(cls, 'problem', None)!r}")


def _suffixes_taken_from_built_ins(registry: Registry) -> list[LoadFailure]:
    """A line for each third-party problem that claims a suffix of one of hopsolve's own problems. The built-in
    keeps it (:meth:`Registry.problem_for_path` prefers it): a plugin claiming ``.tsp`` had made the README's
    first command fail ('berlin52.tsp' could be any of tsp, vc2) without a word at registration; the plugin still
    reads such a file when named (``--problem``)."""
    built_in = {suffix.lower(): name for name, entry in registry.problems.items() if entry.origin.first_party
                for suffix in entry.cls.suffixes}
    found = []
    for name, entry in registry.problems.items():
        taken = [s for s in entry.cls.suffixes if s.lower() in built_in and not entry.origin.first_party]
        if taken:
            owners = ", ".join(f"{s!r} ({built_in[s.lower()]})" for s in taken)
            found.append(LoadFailure(entry.origin.plugin, f"problem {name!r} of {entry.origin.describe()} claims "
                                     f"the suffix of a built-in problem: {owners}; the built-in keeps it (name "
                                     f"--problem {name} to read such a file as {name})"))
    return found


def _unknown_default_backends(registry: Registry) -> list[LoadFailure]:
    """A line for each problem whose ``default_backend`` no plugin registered: its solves without ``--backend``
    would fail with "unknown backend" and no word of whose default it was. The problem stays (``--backend``
    names another)."""
    return [LoadFailure(entry.origin.plugin, f"problem {name!r}: its default_backend "
                        f"{entry.cls.default_backend!r} is not a registered backend (solve it with --backend)")
            for name, entry in registry.problems.items() if entry.cls.default_backend not in registry.backends]


def _baselines_of_unknown_problems(registry: Registry) -> list[LoadFailure]:
    """A line for each baseline registered for a problem no plugin registered (``ghost [no-such-problem]`` was
    listed without a word: a misspelt problem name, or a problem plugin that failed to load). It stays listed."""
    return [LoadFailure(entry.origin.plugin, f"baseline {name!r} is for problem {problem!r}, which no plugin "
                        "registered (its solves cannot be asked for)")
            for (problem, name), entry in registry.baselines.items() if problem not in registry.problems]


def default_registry() -> Registry:
    """Every installed plugin (:func:`build_registry`), for the Python API's calls that were given no registry:
    each plugin that failed to load is one ``UserWarning`` naming it (the CLI prints the same lines), so a broken
    plugin is not silent outside the CLI either."""
    registry = build_registry()
    for failure in registry.failures:
        warnings.warn(f"hopsolve: {failure}", UserWarning, stacklevel=3)
    return registry


def build_registry(env: Mapping[str, str] | None = None, extra_plugins: list[Any] | None = None) -> Registry:
    """Load the plugins and gather what they register.

    A name registered twice is reported in one line naming both plugins and their distributions. hopsolve's own
    plugins always keep their names (a third party cannot take over ``tsp``, whatever order the entry points
    load in); between two third parties the first in pluggy's order keeps it."""
    pm, origins, failures = make_plugin_manager(env, extra_plugins)
    registry = Registry(failures=failures)

    def keyed(table: dict, kind: str) -> Callable[[Origin, Any, tuple, dict], None]:
        def add(origin: Origin, cls: Any, args: tuple, kwargs: dict) -> None:
            if cls is None or not isinstance(getattr(cls, "name", None), str):
                raise PluginError(f"registered a {kind} without a string 'name': {args or kwargs}")
            _check_registered_class(kind, cls)
            key = (cls.problem, cls.name) if kind == "baseline" else cls.name
            if key in table:
                held = table[key].origin
                kept, dropped = (origin, held) if origin.first_party and not held.first_party else (held, origin)
                table[key] = Entry(cls.name, cls, origin) if kept is origin else table[key]
                clash = PluginError(f"{kind} {cls.name!r} is registered by both {held.describe()} and "
                                    f"{origin.describe()}; keeping {kept.plugin!r}, ignoring {dropped.plugin!r}")
                clash.plugin = dropped.plugin  # the failure is the ignored plugin's
                raise clash
            table[key] = Entry(cls.name, cls, origin)
        return add

    def add_command(origin: Origin, _cls: Any, args: tuple, kwargs: dict) -> None:
        spec = dict(zip(("name", "help", "configure", "run"), args))
        spec.update(kwargs)
        name = spec.get("name")
        if not isinstance(name, str) or not callable(spec.get("run")):
            raise PluginError(f"registered a command without a name and run function: {spec}")
        if name in registry.command_specs:
            raise PluginError(f"command {name!r} is registered by both "
                              f"{registry.commands[name].origin.plugin!r} and {origin.plugin!r}")
        registry.commands[name] = Entry(name, type(spec["run"]), origin)
        registry.command_specs[name] = (spec.get("help", ""), spec.get("configure") or (lambda p: None),
                                        spec["run"])

    _collect(pm, "hopsolve_problems", origins, failures, keyed(registry.problems, "problem"))
    failures.extend(_suffixes_taken_from_built_ins(registry))
    _collect(pm, "hopsolve_backends", origins, failures, keyed(registry.backends, "backend"))
    failures.extend(_unknown_default_backends(registry))
    _collect(pm, "hopsolve_baselines", origins, failures, keyed(registry.baselines, "baseline"))
    failures.extend(_baselines_of_unknown_problems(registry))
    _collect(pm, "hopsolve_commands", origins, failures, add_command, registry=registry)
    return registry
