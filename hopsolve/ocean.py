"""hopsolve's backends as dimod samplers, for code written against Ocean's ``dimod.Sampler`` (extra ``dimod``).

>>> from hopsolve.ocean import AnnealSampler
>>> sampleset = AnnealSampler().sample_ising({"a": 1.0}, {("a", "b"): -1.0}, num_reads=4, seed=7)
>>> best = sampleset.first
>>> best.sample == {"a": -1, "b": -1}, float(best.energy)
(True, -2.0)

Every sampler wraps one backend (:class:`AnnealSampler`, :class:`HopfieldSampler`, :class:`TankSampler`,
:class:`ExactSampler`; :func:`sampler_class` makes one for any backend in the registry, a third party's included)
and follows dimod's contract: ``sample(bqm, **parameters)`` (dimod derives ``sample_ising`` and ``sample_qubo``),
``parameters`` (the keywords it accepts) and ``properties``.

- The model is converted by :meth:`hopsolve.Energy.from_dimod` (dimod's ``h``, ``J`` are the negated Hopfield
  coefficients), variables in ``bqm.variables`` order; any hashable labels, both vartypes and the empty model
  work, and the sample set has the model's vartype and labels.
- Energies in the sample set are ``bqm.energies`` of the samples, computed by dimod.
- Parameters: ``num_reads`` (the backend's ``reads``), ``seed`` (an int, or None for a fresh one that is
  recorded), ``time_limit`` (seconds; only where :meth:`hopsolve.Backend.supports_time_limit`), ``initial_states``
  and ``initial_states_generator`` (dimod's meaning; only where the backend's ``Params`` subclass
  :class:`hopsolve.RunParams`, whose reads start from given states), and every other field of the backend's
  ``Params`` by name. Defaults are the backend's own; ``None`` asks for the default, as with dimod's samplers,
  except for a field that takes ``None`` as a value of its own (tank's ``blas_threads``). Whole numbers may be
  given as integral floats (``num_reads=2.0``), with or without initial states. An unknown parameter is an error,
  not dimod's warning: a misspelt ``num_sweeps`` would otherwise run silently with the default.
- ``initial_states_generator`` follows dimod's ``Initialized.parse_initial_states``: a name dimod does not know
  is an error naming it, and without ``initial_states`` ``'none'`` and ``'tile'`` are errors (they have no state
  to use) while ``'random'`` lets the backend draw every start.
- A refusal names the sampler's parameters: ``num_reads`` where the backend's own message says ``reads``; a
  ``num_reads`` whose initial states (dimod's expansion) would pass ``HOPSOLVE_MAX_MATRIX_BYTES`` is refused before
  anything is drawn.
- ``info`` holds ``backend``, ``seed``, ``params`` (every backend parameter used), ``derived`` (what the backend
  chose itself, such as the β range), the typed fields ``timed_out``, ``proven_optimal``, ``interrupted``,
  ``work`` and ``work_unit``, ``compile_s`` (compiling or loading the kernels before the run, outside any time
  limit; a first sample that takes long says so on stderr), ``backend_time_limit`` where a ``time_limit`` was
  given (what the backend had once reading the BQM had taken its share: the limit covers the whole call but the
  compiling), and the backend's other ``info`` as ``backend_info`` (the exact sampler's ``ground_states`` and
  ``ground_states_truncated`` are there). The backend's per-read data (``read_sweeps``, ``outcome``, ``trace``,
  ``graded_outputs``, ...) is a data vector of the sample set where it is one number per read, else in
  ``info['per_read']`` (rows in the sample set's order: a sampler never aggregates reads).
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import re
import sys
import time
import typing
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

try:
    import dimod
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("hopsolve.ocean needs the optional dependency dimod: pip install 'hopsolve[dimod]'") from None

from hopsolve.backend import Backend, RunParams
from hopsolve.backends.anneal import AnnealBackend
from hopsolve.backends.exact import ExactBackend
from hopsolve.backends.hopfield import HopfieldBackend
from hopsolve.backends.tank import TankBackend
from hopsolve.energy import Energy, check_allocation, format_count
from hopsolve.errors import ParameterError, TooLargeError, UserError
from hopsolve.params import params_dict
from hopsolve.seeding import resolve_seed
from hopsolve.solving import SOLVE_BLAS_THREADS
from hopsolve.terminal import CompileNote

__all__ = [
    "HopsolveSampler",
    "AnnealSampler",
    "HopfieldSampler",
    "TankSampler",
    "ExactSampler",
    "sampler_class",
]

_READS = "reads"  # the backend field that dimod calls num_reads
_INITIAL = ("initial_states", "initial_states_generator")
_RECORD_FIELDS = ("sample", "energy", "num_occurrences")


class _Initializer(dimod.Initialized):
    """dimod's own parsing of ``initial_states`` (labels, vartype, expansion to ``num_reads``)."""


CONVERSION_SHARE = 0.1
CONVERSION_SECONDS = 5e-8
"""What a sampler holds back from its backend's time limit for converting the answer (dimod's SampleSet and its
energies): this many seconds a unit of a read asked for (55,000 reads of 100 units took 0.13-0.2 s), at most
:data:`CONVERSION_SHARE` of the limit (a run finishes the reads its time allows)."""


class HopsolveSampler(dimod.Sampler):
    """A hopsolve backend as a ``dimod.Sampler``.

    Parameters
    ----------
    backend : str, Backend or Backend subclass
        The backend: a name in the registry (``build_registry()``, or ``registry`` when given), an instance, or a
        class. The named subclasses (:class:`AnnealSampler`, ...) fix it and take no ``backend``.
    registry : hopsolve.Registry, optional
        Where a backend name is looked up.
    **defaults
        Default values of any parameter in :attr:`parameters` but ``initial_states`` (``num_reads=4``,
        ``sweeps=200``, ``seed=1``); a keyword given to :meth:`sample` overrides them.

    Attributes
    ----------
    backend : Backend
        The wrapped backend.
    parameters : dict
        dimod's contract: each keyword :meth:`sample` accepts → the names of the properties relevant to it.
    properties : dict
        ``backend`` (its name), ``description``, ``supports_time_limit``, ``supports_initial_states`` and
        ``defaults`` (each parameter's default value: the backend's, or this sampler's ``defaults``).

    Examples
    --------
    >>> import dimod
    >>> sampler = HopsolveSampler("exact")
    >>> float(sampler.sample(dimod.BQM({"x": -1.0}, {}, 0.5, "BINARY")).first.energy)
    -0.5
    """

    backend_class: ClassVar[type[Backend] | None] = None
    """Set by the named subclasses: the backend they wrap."""

    def __init__(self, backend: str | Backend | type[Backend] | None = None, *, registry: Any = None,
                 **defaults: Any) -> None:
        if backend is None:
            if self.backend_class is None:
                raise ParameterError("HopsolveSampler needs a backend: a registered name, a Backend or its class")
            backend = self.backend_class
        elif self.backend_class is not None:
            raise ParameterError(f"{type(self).__name__} wraps the {self.backend_class.name!r} backend; "
                                 "use HopsolveSampler(backend) for another one")
        self.backend = _resolve_backend(backend, registry)
        self._fields = {f.name: f for f in dataclasses.fields(self.backend.Params)}
        self._takes_initial_states = issubclass(self.backend.Params, RunParams)
        accepted = self._accepted()
        self._check_names(defaults, accepted, "")
        for key in _INITIAL:
            if key in defaults:
                raise ParameterError(f"{type(self).__name__}: {key} is given to sample(), not as a default")
        self._defaults = dict(defaults)
        with _dimod_names():
            self._build(self._defaults)  # invalid defaults fail here, not at the first sample
        if self._defaults.get("seed") is not None:
            resolve_seed(self._defaults["seed"])  # as does a seed that cannot be one (seed="x")
        self._parameters = {name: ([] if name in _INITIAL else ["defaults"]) for name in accepted}
        self._properties = {
            "backend": self.backend.name,
            "description": getattr(self.backend, "description", ""),
            "supports_time_limit": self.backend.supports_time_limit(),
            "supports_initial_states": self._takes_initial_states,
            "defaults": self._default_values(),
        }

    @property
    def parameters(self) -> dict[str, list[str]]:
        return {name: list(relevant) for name, relevant in self._parameters.items()}

    @property
    def properties(self) -> dict[str, Any]:
        return {**self._properties, "defaults": dict(self._properties["defaults"])}

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self._defaults.items())
        if self.backend_class is not None:
            return f"{type(self).__name__}({given})"
        return f"{type(self).__name__}({self.backend.name!r}{', ' if given else ''}{given})"

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        """Minimise ``bqm`` with the backend; one row per read (the exact backend: one per ground state).

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel
            Any labels, SPIN or BINARY; the sample set has the same labels and vartype.
        **parameters
            The keywords in :attr:`parameters`; unknown ones are a :class:`hopsolve.ParameterError` naming them.

        Returns
        -------
        dimod.SampleSet
            Samples with ``bqm.energies`` as energies, and ``info`` as described in :mod:`hopsolve.ocean`.
        """
        if not isinstance(bqm, dimod.BinaryQuadraticModel):  # a dict or a CQM failed on a missing attribute
            hint = (" (a constrained model: hopsolve.solve(cqm), or dimod.cqm_to_bqm first)"
                    if isinstance(bqm, dimod.ConstrainedQuadraticModel) else
                    " (sample_qubo(Q) or sample_ising(h, J) take dictionaries)" if isinstance(bqm, Mapping) else "")
            raise ParameterError(f"{type(self).__name__}.sample takes a dimod.BinaryQuadraticModel, got "
                                 f"{type(bqm).__name__}{hint}")
        self._check_names(parameters, self._parameters, " in sample()")
        with _dimod_names():
            return self._sample(bqm, {**self._defaults, **parameters})

    def _sample(self, bqm: dimod.BinaryQuadraticModel, values: dict[str, Any]) -> dimod.SampleSet:
        """:meth:`sample` once the names are checked: ``values`` are the defaults and the keywords merged."""
        clock = time.perf_counter()  # a time limit covers the call but compiling, as hopsolve solve's does
        seed = resolve_seed(values.pop("seed", None))
        initial_states = values.pop("initial_states", None)
        generator = values.pop("initial_states_generator", "random")
        if self._takes_initial_states:
            self._check_generator(generator)
        params = self._build(values)  # num_reads checked (and 2.0 made 2) before dimod sees it
        energy = Energy.from_dimod(bqm)
        labels = list(bqm.variables)
        starts = None
        # without initial states the backend draws its own random starts; another generator is dimod's to run
        # (which refuses 'none' and 'tile' with no states to use)
        if initial_states is not None or generator != "random":
            # dimod's default is as many reads as states given; with none given, the backend's default
            asked = values.get("num_reads") is not None or initial_states is None
            given_reads = getattr(params, _READS) if asked else None
            starts = self._initial_states(bqm, labels, initial_states, generator, given_reads, seed)
            params = self._build({**values, "num_reads": len(starts)})
        # compile (or load) first, outside any time limit as hopsolve solve does, saying so on stderr where it
        # takes a while: a first sample compiles for tens of seconds
        note = CompileNote()
        note({"stage": "preparing"})
        spent = time.perf_counter() - clock
        try:
            compile_s = self.backend.prepare(energy, params)
        finally:
            note.close()
        given = params  # what the caller asked for, as info['params'] says
        limit = getattr(params, "time_limit", None)
        if limit is not None:  # the model's conversion came out of it (1.1 million couplings: 3.5 s of a 0.3 s limit)
            if spent >= limit:
                raise TooLargeError(f"{type(self).__name__}: reading the BQM took {spent:.2g} s, all of the "
                                    f"{limit:g} s time limit; give a longer limit")
            # and the answer's conversion (dimod's SampleSet, its energies scored by dimod) is held back from it:
            # 55,000 hopfield reads of 100 units took 0.13-0.2 s to convert, after a 1 s limit's backend had ended
            reads = getattr(params, _READS, 1) or 1
            converting = min(CONVERSION_SHARE * (limit - spent), CONVERSION_SECONDS * reads * max(len(bqm), 1))
            params = dataclasses.replace(params, time_limit=limit - spent - converting)
        with threadpool_limits(limits=SOLVE_BLAS_THREADS, user_api="blas"):  # as solve_instance: kernels own the cores
            result = self.backend.solve(energy, params, seed=seed, initial_states=starts)
        vectors, other = _read_vectors(result)
        info = {
            "backend": self.backend.name, "seed": seed, "params": params_dict(given),
            "derived": dict(result.derived), "timed_out": bool(result.timed_out),
            "proven_optimal": bool(result.proven_optimal), "interrupted": bool(result.interrupted),
            "work": result.work, "work_unit": result.work_unit, "compile_s": compile_s,
            "backend_info": dict(result.info),
        }
        if other:
            info["per_read"] = other
        if limit is not None:  # the limit less reading the BQM
            info["backend_time_limit"] = params.time_limit
        states = np.asarray(result.states, dtype=np.int8).reshape(len(result), len(labels))
        # hopsolve's energies of the same model (dimod's scoring them again took 0.07 s of 50,000 reads of 100
        # units, after the limit); dimod's conformance kit checks that they agree with bqm.energies
        return dimod.SampleSet.from_samples((states, labels), bqm.vartype, energy=np.asarray(result.energies),
                                            info=info, **vectors)

    # ---- parameters ---------------------------------------------------------------------------------------------
    def _accepted(self) -> list[str]:
        names = ["num_reads"] if _READS in self._fields else []
        names.append("seed")
        if self._takes_initial_states:
            names += list(_INITIAL)
        names += [name for name in self._fields if name != _READS]
        return names

    def _check_names(self, given: Mapping[str, Any], accepted: Any, where: str) -> None:
        unknown = sorted(set(given) - set(accepted))
        if not unknown:
            return
        name = unknown[0]
        owner = f"{type(self).__name__} (backend {self.backend.name!r})"
        if name == "time_limit":
            raise ParameterError(f"{owner}: this backend takes no time limit (supports_time_limit() is false)")
        if name in _INITIAL:
            raise ParameterError(f"{owner}: this backend takes no initial states")
        if name == _READS and "num_reads" in accepted:
            raise ParameterError(f"{owner}: unknown parameter 'reads'{where}; dimod calls it num_reads")
        raise ParameterError(f"{owner}: unknown parameter {name!r}{where}; known parameters: "
                             f"{', '.join(sorted(accepted)) or 'none'}")

    def _build(self, values: Mapping[str, Any]) -> Any:
        """The backend's Params from sampler keywords (``num_reads`` → ``reads``).

        ``None`` means the default, as dimod's samplers take it (``sweeps=None``), for every parameter that has
        no value ``None`` of its own; where a field takes ``None`` (``time_limit``: none; tank's
        ``blas_threads``: every core) it is passed on as that value."""
        fields = {(_READS if k == "num_reads" else k): v for k, v in values.items() if k not in ("seed", *_INITIAL)}
        fields = {k: v for k, v in fields.items() if v is not None or self._takes_none(k)}
        return self.backend.params(fields)

    def _takes_none(self, name: str) -> bool:
        """Whether the backend's field ``name`` accepts ``None`` as a value of its own (an unknown name: no)."""
        if name not in self._fields:
            return False
        hint = typing.get_type_hints(self.backend.Params).get(name)
        return type(None) in typing.get_args(hint)

    def _check_generator(self, generator: Any) -> None:
        """Refuse an ``initial_states_generator`` that dimod does not know, naming it (dimod's own refusal
        names neither the value nor the choices)."""
        known = _Initializer._generators
        if not (isinstance(generator, str) and generator in known):
            raise ParameterError(f"{type(self).__name__}: initial_states_generator={generator!r} is not one of "
                                 f"{', '.join(sorted(known))}")

    def _default_values(self) -> dict[str, Any]:
        """Each parameter's default: the sampler's own where given (a ``None`` that means the backend's default
        shows that default), else the backend's."""
        defaults = {}
        for name in self._parameters:
            field = self._fields.get(_READS if name == "num_reads" else name)
            given = self._defaults.get(name)
            if name in self._defaults and (given is not None or field is None or self._takes_none(field.name)):
                defaults[name] = given
            elif field is not None and field.default is not dataclasses.MISSING:
                defaults[name] = field.default
            elif field is not None and field.default_factory is not dataclasses.MISSING:
                defaults[name] = field.default_factory()
            elif name in ("seed", "initial_states"):
                defaults[name] = None
            elif name == "initial_states_generator":
                defaults[name] = "random"
        return defaults

    def __reduce__(self) -> tuple:
        """Pickled as its kind, its backend's class and its defaults: it holds dataclass fields (whose metadata does
        not pickle), and :func:`sampler_class`'s classes are not module attributes, so ``pickle``,
        ``copy.deepcopy`` and a process pool's ``submit(sampler.sample, bqm)`` failed."""
        kind = type(self)
        if kind.__dict__.get("_made_by_sampler_class"):  # not a module attribute: made again by sampler_class
            return _rebuilt_sampler, (None, type(self.backend), dict(self._defaults))
        found: Any = sys.modules.get(kind.__module__)
        for part in kind.__qualname__.split("."):  # Outer.Inner too; a class inside a function is not found
            found = getattr(found, part, None)
        if found is not kind:  # it would come back as another class
            raise pickle.PicklingError(f"{kind.__qualname__} cannot be pickled: pickle finds classes by their "
                                       "module and name; define it at a module's (or a class's) top level")
        own = {key: value for key, value in vars(self).items() if key not in _SAMPLER_STATE}  # a subclass's own
        return _rebuilt_sampler, (kind, type(self.backend), dict(self._defaults)), own or None

    @staticmethod
    def _initial_states(bqm: Any, labels: list, initial_states: Any, generator: str, num_reads: int | None,
                        seed: int) -> np.ndarray:
        """dimod's parsing: relabelled to ``labels`` order, vartype matched, expanded or cut to ``num_reads``
        (``None``: as many as given). ``initial_states`` may be ``None``: the generator makes every state, or
        refuses to (dimod's ``'none'`` and ``'tile'``).

        ``num_reads`` is held to the memory limit (``HOPSOLVE_MAX_MATRIX_BYTES``) first: dimod's expansion draws
        every missing state at once (8 bytes an entry; with no variable, the reads' 8-byte energies), and
        ``num_reads=10**8`` was numpy's ``MemoryError`` from inside it. The refusal gives no count: the backend's
        own check, on the expanded states, holds more a read (and then says how many fit)."""
        if num_reads is not None:
            check_allocation(8.0 * float(num_reads) * max(len(labels), 1),
                             f"expanding initial_states to {format_count(num_reads)} reads of "
                             f"{format_count(len(labels))} variables", "give fewer reads (num_reads)")
        # the expansion draws from a stream of its own, independent of the backend's reads
        expansion_seed = int(np.random.SeedSequence(seed).spawn(1)[0].generate_state(1)[0])
        try:
            parsed = _Initializer().parse_initial_states(bqm, initial_states, generator, num_reads,
                                                         seed=expansion_seed)
        except (TypeError, ValueError) as exc:
            if initial_states is None:
                raise ParameterError(f"initial_states_generator={generator!r} without initial_states: {exc}") \
                    from None
            raise ParameterError(f"initial_states: {exc}") from None
        found = list(parsed.initial_states.variables)
        columns = [found.index(v) for v in labels] if found != labels else slice(None)
        return np.asarray(parsed.initial_states.record.sample[:, columns], dtype=np.int8)


class AnnealSampler(HopsolveSampler):
    """Simulated annealing (hopsolve backend ``anneal``): ``sweeps``, ``rule``, ``schedule``, the β range
    (derived from the model when not given, reported in ``info['derived']``), ``time_limit``, initial states.

    >>> float(AnnealSampler(sweeps=100).sample_qubo({(0, 0): -1.0, (0, 1): 2.0}, seed=1).first.energy)
    -1.0
    """

    backend_class = AnnealBackend


class HopfieldSampler(HopsolveSampler):
    """Deterministic Hopfield sign updates (hopsolve backend ``hopfield``) from random or given states; every
    asynchronous read is a local minimum. A ``time_limit`` stops starting new reads: only those that ran are
    returned."""

    backend_class = HopfieldBackend


class TankSampler(HopsolveSampler):
    """The continuous Hopfield–Tank network (hopsolve backend ``tank``), thresholded at the end; the graded
    outputs of the reads are ``info['per_read']['graded_outputs']`` (columns in ``sampleset.variables`` order)."""

    backend_class = TankBackend


class ExactSampler(HopsolveSampler):
    """Gray-code enumeration (hopsolve backend ``exact``, up to 26 variables): every ground state, one row each
    (at most ``max_states``, 1024 by default: ``info['backend_info']['ground_states']`` counts them all and
    ``info['backend_info']['ground_states_truncated']`` says whether rows were left out); unlike
    ``dimod.ExactSolver`` it does not list the excited states, and it takes no ``num_reads``.
    ``info['proven_optimal']`` is true. ``seed`` is accepted and recorded like everywhere else, but the enumeration
    does not use it."""

    backend_class = ExactBackend


def sampler_class(backend: str | type[Backend], registry: Any = None) -> type[HopsolveSampler]:
    """A :class:`HopsolveSampler` subclass for one backend, named after it (``"descent"`` → ``DescentSampler``),
    whose instances take only defaults — the callable ``dimod.testing.load_sampler_bqm_tests`` wants.

    Parameters
    ----------
    backend : str or Backend subclass
        A backend name, looked up in ``registry`` (default: ``build_registry()``, so installed plugins count),
        or the class itself.

    Examples
    --------
    >>> sampler_class("exact").__name__
    'ExactSampler'
    """
    cls = backend if isinstance(backend, type) else type(_resolve_backend(backend, registry))
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ParameterError(f"sampler_class needs a backend name or a Backend subclass, got {backend!r}")
    title = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", cls.name) if part)
    doc = f"The hopsolve backend {cls.name!r} as a dimod sampler ({getattr(cls, 'description', '')})."
    return type(f"{title}Sampler", (HopsolveSampler,), {"backend_class": cls, "__doc__": doc,
                                                         "__module__": __name__, "_made_by_sampler_class": True})


_SAMPLER_STATE = frozenset({"backend", "_fields", "_takes_initial_states", "_defaults", "_parameters",
                            "_properties"})
"""What :class:`HopsolveSampler`'s ``__init__`` sets (rebuilt from the backend and the defaults when a sampler is
unpickled); anything else in an instance is a subclass's own, pickled as it is (a ``tag`` came back as its
default)."""


def _rebuilt_sampler(kind: type[HopsolveSampler] | None, backend: type[Backend],
                     defaults: dict[str, Any]) -> HopsolveSampler:
    """A pickled sampler again (:meth:`HopsolveSampler.__reduce__`): ``kind`` is its class (found by module and
    name), or ``None`` for one :func:`sampler_class` made."""
    if kind is None:
        return sampler_class(backend)(**defaults)
    if kind.backend_class is None:  # HopsolveSampler, or a subclass that is given its backend
        return kind(backend, **defaults)
    return kind(**defaults)


_BACKEND_READS = re.compile(r"\((reads)\)|(?<![\w.'\"-])(reads)(?==| must )")
"""Where a backend's refusal names its parameter ``reads``: ``(reads)`` after advice, ``reads=2.5``, ``reads must
be at least 1``; not the word in prose ("give fewer reads")."""


@contextlib.contextmanager
def _dimod_names() -> Iterator[None]:
    """Re-raise a refusal from the backend (its parameters, its memory check) with the parameter a sampler's
    user gave, ``num_reads``, where it names the backend's ``reads``: "give at most 29,826,161 reads (reads)"
    named a keyword the sampler refuses. The CLI, which has ``--reads``, keeps the backend's words."""
    try:
        yield
    except UserError as refused:
        message = _BACKEND_READS.sub(lambda m: "(num_reads)" if m.group(1) else "num_reads", refused.message)
        if message == refused.message:
            raise
        raise dataclasses.replace(refused, message=message) from None


def _resolve_backend(backend: Any, registry: Any) -> Backend:
    if isinstance(backend, Backend):
        return backend
    if isinstance(backend, type) and issubclass(backend, Backend):
        return backend()
    if isinstance(backend, str):
        if registry is None:
            from hopsolve.plugins import default_registry

            registry = default_registry()
        return registry.backend(backend)
    raise ParameterError(f"a backend is a registered name, a Backend or its class, got {backend!r}")


def _read_vectors(result: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split the backend's per-read data into dimod data vectors (one row per read) and the rest."""
    vectors: dict[str, np.ndarray] = {}
    other: dict[str, Any] = {}
    for key, value in result.per_read.items():
        try:
            array = np.asarray(value)
        except ValueError:  # ragged, e.g. traces of reads that stopped at different sweeps
            array = None
        # dimod prints and serialises one-dimensional numeric vectors; the rest stays in info
        if (array is not None and array.ndim == 1 and array.dtype.kind in "biuf" and len(array) == len(result)
                and key not in _RECORD_FIELDS):
            vectors[key] = array
        else:
            other[key] = value
    return vectors, other
