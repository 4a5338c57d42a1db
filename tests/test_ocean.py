"""hopsolve.ocean: every backend as a dimod sampler, checked by dimod's own conformance kit and against dimod."""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import json
import time
import types
import unittest
from dataclasses import dataclass

import numpy as np
import pytest

dimod = pytest.importorskip("dimod")

import hopsolve  # noqa: E402
import hopsolve.ocean  # noqa: E402
from hopsolve import Energy, ParameterError, build_registry  # noqa: E402
from hopsolve.ocean import (  # noqa: E402
    AnnealSampler,
    ExactSampler,
    HopfieldSampler,
    HopsolveSampler,
    TankSampler,
    sampler_class,
)

SAMPLERS = (AnnealSampler, HopfieldSampler, TankSampler, ExactSampler)


# ---- a third party's backend, registered through the plugin hook, gets a sampler too ----------------------------
@dataclass(frozen=True)
class CoinParams(hopsolve.RunParams):
    reads: int = 3
    bias: float = 0.5
    """Probability that a unit is high."""


class CoinFlipBackend(hopsolve.Backend):
    """Independent random units: no optimisation at all, which is all dimod's kit needs."""

    name = "coin-flip"
    description = "random states"
    Params = CoinParams

    def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
        params = params or CoinParams()
        if initial_states is not None:
            states = np.array(initial_states, dtype=np.int8, ndmin=2)
        else:
            high = np.random.default_rng(seed).random((params.reads, energy.num_variables)) < params.bias
            states = np.where(high, energy.vartype.high, energy.vartype.low).astype(np.int8)
        return hopsolve.SampleSet.from_states(energy, states, derived={"seed": seed}, work=len(states),
                                              work_unit="reads")


def _third_party_registry():
    plugin = types.ModuleType("coin_flip_plugin")

    @hopsolve.hookimpl
    def hopsolve_backends(register):
        register(CoinFlipBackend)

    plugin.hopsolve_backends = hopsolve_backends
    return build_registry({"HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD": "1"}, extra_plugins=[plugin])


CoinFlipSampler = sampler_class("coin-flip", _third_party_registry())


# ---- dimod's conformance kit on every sampler ---------------------------------------------------------------------
@dimod.testing.load_sampler_bqm_tests(AnnealSampler)
class TestAnnealSamplerKit(unittest.TestCase):
    pass


@dimod.testing.load_sampler_bqm_tests(HopfieldSampler)
class TestHopfieldSamplerKit(unittest.TestCase):
    pass


@dimod.testing.load_sampler_bqm_tests(TankSampler)
class TestTankSamplerKit(unittest.TestCase):
    pass


@dimod.testing.load_sampler_bqm_tests(ExactSampler)
class TestExactSamplerKit(unittest.TestCase):
    pass


@dimod.testing.load_sampler_bqm_tests(CoinFlipSampler)
class TestThirdPartySamplerKit(unittest.TestCase):
    pass


@pytest.mark.parametrize("make", [*SAMPLERS, CoinFlipSampler, lambda: HopsolveSampler("anneal")])
def test_sampler_api(make):
    sampler = make()
    dimod.testing.assert_sampler_api(sampler)
    assert sampler.properties["backend"] == sampler.backend.name


def test_module_examples():
    assert doctest.testmod(hopsolve.ocean).failed == 0


# ---- the models: labels, vartypes, energies ---------------------------------------------------------------------
def _random_bqm(n: int, seed: int, vartype: str, labels=None) -> dimod.BinaryQuadraticModel:
    rng = np.random.default_rng(seed)
    labels = list(range(n)) if labels is None else labels
    linear = {v: float(rng.uniform(-1, 1)) for v in labels}
    quadratic = {(u, v): float(rng.uniform(-1, 1)) for u, v in itertools.combinations(labels, 2)
                 if rng.random() < 0.7}
    return dimod.BinaryQuadraticModel(linear, quadratic, float(rng.uniform(-1, 1)), vartype)


def _in_order(sampleset, variables) -> np.ndarray:
    """The samples with columns in ``variables`` order (dimod sorts a sample set's labels where it can)."""
    where = {v: k for k, v in enumerate(sampleset.variables)}
    return sampleset.record.sample[:, [where[v] for v in variables]]


MIXED_LABELS = ["a", ("b", 1), 7, frozenset({"c"}), ("nested", ("x",)), 2.5, "z", (("a",),)]


@pytest.mark.parametrize("make", SAMPLERS)
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_any_labels_and_energies_equal_bqm_energies(make, vartype):
    bqm = _random_bqm(len(MIXED_LABELS), 4, vartype, MIXED_LABELS)
    sampleset = make().sample(bqm, seed=2)
    assert sampleset.vartype is bqm.vartype
    assert set(sampleset.variables) == set(bqm.variables) and len(sampleset.variables) == len(bqm.variables)
    assert np.allclose(sampleset.record.energy, bqm.energies(sampleset), rtol=0, atol=1e-9)
    dimod.testing.assert_sampleset_energies(sampleset, bqm, precision=9)


@pytest.mark.parametrize("make", [*SAMPLERS, CoinFlipSampler])
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_backend_energies_agree_with_dimod_after_the_sign_flip(make, vartype):
    """The backend scores its states on the converted energy (h = -b, J = -W); dimod's energies must agree."""
    bqm = _random_bqm(9, 11, vartype, [f"v{i}" for i in range(9)])
    sampler = make()
    sampleset = sampler.sample(bqm, seed=5)
    params = sampler.backend.params(sampleset.info["params"])
    direct = sampler.backend.solve(Energy.from_dimod(bqm), params, seed=5)
    assert np.array_equal(direct.states, _in_order(sampleset, bqm.variables))
    assert np.allclose(direct.energies, sampleset.record.energy, rtol=0, atol=1e-9)


@pytest.mark.parametrize("make", SAMPLERS)
def test_ising_and_qubo_entry_points(make):
    sampler = make()
    spins = sampler.sample_ising({"x": 1.0, "y": -0.5}, {("x", "y"): 2.0}, seed=1)
    bits = sampler.sample_qubo({("p", "p"): -1.0, ("p", "q"): 3.0, ("q", "q"): -1.0}, seed=1)
    assert spins.vartype is dimod.SPIN and bits.vartype is dimod.BINARY
    # the ground states: x = -1, y = +1 (-1 - 0.5 - 2); p = 1, q = 0 or the reverse
    assert np.isclose(spins.first.energy, -3.5) and np.isclose(bits.first.energy, -1.0)


@pytest.mark.parametrize("make", SAMPLERS)
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_the_empty_model(make, vartype):
    bqm = dimod.BinaryQuadraticModel({}, {}, 1.5, vartype)
    sampleset = make().sample(bqm)
    assert sampleset.vartype is bqm.vartype and len(sampleset.variables) == 0
    assert len(sampleset) >= 1 and np.allclose(sampleset.record.energy, 1.5)
    if "num_reads" in make().parameters:
        assert len(make().sample(bqm, num_reads=3)) == 3


# ---- parameters -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [*SAMPLERS, CoinFlipSampler])
def test_parameters_are_the_backend_fields_in_dimod_names(make):
    sampler = make()
    backend = sampler.backend
    fields = {f.name for f in dataclasses.fields(backend.Params)}
    expected = (fields - {"reads"}) | {"seed"}
    if "reads" in fields:
        expected |= {"num_reads"}
    if issubclass(backend.Params, hopsolve.RunParams):
        expected |= {"initial_states", "initial_states_generator"}
    assert set(sampler.parameters) == expected
    assert ("time_limit" in sampler.parameters) == backend.supports_time_limit()
    assert set(sampler.properties["defaults"]) == expected
    for field in dataclasses.fields(backend.Params):
        name = "num_reads" if field.name == "reads" else field.name
        assert sampler.properties["defaults"][name] == field.default


def test_num_reads_and_backend_parameters_pass_through():
    bqm = _random_bqm(6, 1, "SPIN")
    sampleset = AnnealSampler().sample(bqm, num_reads=7, sweeps=50, rule="glauber", seed=3)
    assert len(sampleset) == 7
    assert sampleset.info["params"]["sweeps"] == 50 and sampleset.info["params"]["rule"] == "glauber"
    assert sampleset.info["params"]["reads"] == 7
    assert len(HopfieldSampler().sample(bqm, num_reads=4, mode="sync")) == 4
    assert len(TankSampler().sample(bqm, num_reads=2, max_steps=500)) == 2


def test_unknown_and_misnamed_parameters_are_errors():
    bqm = _random_bqm(4, 1, "SPIN")
    with pytest.raises(ParameterError, match="num_sweeps"):
        AnnealSampler().sample(bqm, num_sweeps=10)
    with pytest.raises(ParameterError, match="num_reads"):
        AnnealSampler().sample(bqm, reads=10)
    assert len(HopfieldSampler().sample(bqm, time_limit=1.0, num_reads=3)) == 3  # every backend takes a limit now
    with pytest.raises(ParameterError, match="num_reads"):
        ExactSampler().sample(bqm, num_reads=3)
    with pytest.raises(ParameterError, match="initial states"):
        ExactSampler().sample(bqm, initial_states=[[1, 1, 1, 1]])
    with pytest.raises(ParameterError, match="sweeps"):
        AnnealSampler().sample(bqm, sweeps=0)
    with pytest.raises(ParameterError, match="seed"):
        AnnealSampler().sample(bqm, seed=-1)


def test_constructor_defaults():
    sampler = AnnealSampler(num_reads=3, sweeps=20)
    assert sampler.properties["defaults"]["sweeps"] == 20 and repr(sampler) == "AnnealSampler(num_reads=3, sweeps=20)"
    bqm = _random_bqm(5, 2, "BINARY")
    assert len(sampler.sample(bqm)) == 3 and len(sampler.sample(bqm, num_reads=5)) == 5
    with pytest.raises(ParameterError, match="sweeps"):
        AnnealSampler(sweeps=-1)
    with pytest.raises(ParameterError, match="nonsense"):
        AnnealSampler(nonsense=1)
    with pytest.raises(ParameterError, match="anneal"):
        AnnealSampler("hopfield")
    assert repr(HopsolveSampler("exact", max_states=2)) == "HopsolveSampler('exact', max_states=2)"


def test_backend_by_name_class_or_instance_and_sampler_classes():
    from hopsolve.backends.tank import TankBackend

    assert HopsolveSampler("tank").backend.name == "tank"
    assert HopsolveSampler(TankBackend).backend.name == "tank"
    assert HopsolveSampler(TankBackend()).backend.name == "tank"
    assert sampler_class("anneal").__name__ == "AnnealSampler"
    assert CoinFlipSampler.__name__ == "CoinFlipSampler" and CoinFlipSampler().backend.name == "coin-flip"
    with pytest.raises(hopsolve.PluginError, match="no-such-backend"):
        HopsolveSampler("no-such-backend")


# ---- seeds ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [AnnealSampler, HopfieldSampler, TankSampler, CoinFlipSampler])
def test_the_same_seed_gives_the_same_samples(make):
    bqm = _random_bqm(14, 3, "SPIN", [f"s{i}" for i in range(14)])
    first, again = make().sample(bqm, seed=42), make().sample(bqm, seed=42)
    assert np.array_equal(first.record.sample, again.record.sample)
    assert first.info["seed"] == 42


def test_a_fresh_seed_is_recorded_and_repeats_the_run():
    bqm = _random_bqm(14, 3, "SPIN")
    first = HopfieldSampler().sample(bqm)
    seed = first.info["seed"]
    assert isinstance(seed, int) and first.info["derived"]["seed"] == seed
    assert np.array_equal(HopfieldSampler().sample(bqm, seed=seed).record.sample, first.record.sample)


# ---- quality against dimod's exact solver -----------------------------------------------------------------------
def _ground_states(bqm):
    everything = dimod.ExactSolver().sample(bqm)
    lowest = everything.first.energy
    rows = _in_order(everything, bqm.variables)[np.isclose(everything.record.energy, lowest, rtol=0, atol=1e-9)]
    return lowest, {tuple(row) for row in rows}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_exact_sampler_returns_every_ground_state(seed, vartype):
    labels = [f"x{i}" for i in range(8)]
    rng = np.random.default_rng(seed)
    bqm = dimod.BinaryQuadraticModel({v: float(rng.integers(-2, 3)) for v in labels},
                                     {(u, v): float(rng.integers(-2, 3)) for u, v in itertools.combinations(labels, 2)
                                      if rng.random() < 0.5}, 0.25, vartype)  # integers: degenerate ground states
    lowest, ground = _ground_states(bqm)
    sampleset = ExactSampler().sample(bqm)
    assert np.allclose(sampleset.record.energy, lowest, rtol=0, atol=1e-9)
    assert {tuple(row) for row in _in_order(sampleset, bqm.variables)} == ground
    assert sampleset.info["proven_optimal"] and sampleset.info["work_unit"] == "states"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_anneal_finds_the_ground_state(seed, vartype):
    bqm = _random_bqm(12, 100 + seed, vartype)
    lowest, _ = _ground_states(bqm)
    sampleset = AnnealSampler().sample(bqm, seed=seed)
    assert np.isclose(sampleset.first.energy, lowest, rtol=0, atol=1e-9)
    derived = sampleset.info["derived"]
    assert 0 < derived["beta_min"] <= derived["beta_max"] and sampleset.info["work"] == 1000


def test_hopfield_reads_are_local_minima():
    bqm = _random_bqm(12, 9, "SPIN")
    sampleset = HopfieldSampler().sample(bqm, seed=1)
    for sample in sampleset.samples():
        energy = bqm.energy(sample)
        for v in bqm.variables:
            flipped = dict(sample)
            flipped[v] = -flipped[v]
            assert bqm.energy(flipped) >= energy - 1e-9
    assert "read_sweeps" in sampleset.record.dtype.names and "outcome" in sampleset.info["per_read"]


# ---- initial states ---------------------------------------------------------------------------------------------
def test_initial_states_by_label_and_vartype():
    bqm = _random_bqm(6, 5, "BINARY", list("abcdef"))
    lowest, ground = _ground_states(bqm)
    start = dict(zip(reversed(list(bqm.variables)), reversed(next(iter(ground)))))  # another column order
    sampleset = HopfieldSampler().sample(bqm, initial_states=[start], seed=1)
    assert len(sampleset) == 1 and np.isclose(sampleset.first.energy, lowest)  # a ground state is a fixed point
    spins = {v: 2 * x - 1 for v, x in start.items()}  # given as spins: dimod converts them to the model's bits
    assert np.isclose(HopfieldSampler().sample(bqm, initial_states=spins).first.energy, lowest)
    tiled = AnnealSampler().sample(bqm, initial_states=[start], initial_states_generator="tile", num_reads=4,
                                   sweeps=10, seed=1)
    assert len(tiled) == 4
    with pytest.raises(ParameterError, match="initial_states"):
        TankSampler().sample(bqm, initial_states=[start], initial_states_generator="none", num_reads=2)


# ---- time limits ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, params", [(AnnealSampler, {"sweeps": 900_000}),  # builds within the limit
                                          (TankSampler, {"max_steps": 10**7, "u0_final": 0.001})])
def test_time_limit_is_honoured_loosely(make, params):
    bqm = _random_bqm(300, 6, "SPIN")
    began = time.perf_counter()
    sampleset = make().sample(bqm, time_limit=0.5, num_reads=2, seed=1, **params)
    took = time.perf_counter() - began
    assert took < 0.5 + 30.0, took  # compiling happens before the limit's clock; this bound only catches a hang
    # anneal fits its schedule into the limit (fit_schedule) instead of stopping hot; either way it did less
    assert sampleset.info["work"] < params.get("sweeps", 10**7) and sampleset.info["params"]["time_limit"] == 0.5
    dimod.testing.assert_sampleset_energies(sampleset, bqm)


# ---- info and data vectors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, params", [(AnnealSampler, {"trace": True, "sweeps": 30}),
                                          (HopfieldSampler, {"trace": True}),
                                          (TankSampler, {"trace": True, "max_steps": 200}),
                                          (ExactSampler, {})])
def test_info_is_typed_and_serialisable(make, params):
    bqm = _random_bqm(5, 8, "BINARY", list("vwxyz"))
    sampleset = make().sample(bqm, seed=4, **params)
    info = sampleset.info
    assert info["backend"] == make().backend.name and info["seed"] == 4
    assert isinstance(info["timed_out"], bool) and isinstance(info["derived"], dict)
    assert info["work"] >= 0 and info["work_unit"] and info["params"].keys() >= params.keys()
    if params.get("trace"):
        assert len(info["per_read"]["trace"]) == len(sampleset)
    back = dimod.SampleSet.from_serializable(json.loads(json.dumps(sampleset.to_serializable())))
    assert np.array_equal(back.record.sample, sampleset.record.sample) and back.info["seed"] == 4


def test_sample_refuses_what_is_not_a_bqm_in_one_line():
    """A dict or a CQM given to ``sample`` failed on a missing attribute (``'dict' object has no attribute
    'variables'``); it is a ParameterError naming what ``sample`` takes and where the other goes."""
    from hopsolve import ParameterError
    from hopsolve.ocean import AnnealSampler

    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(dimod.Binary("x"))
    for given, words in (({"a": 1.0}, "sample_qubo"), (cqm, "hopsolve.solve(cqm)"), ([1, 2], "got list")):
        with pytest.raises(ParameterError, match="takes a dimod.BinaryQuadraticModel") as caught:
            AnnealSampler().sample(given)
        assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_seed_that_cannot_be_one_is_refused_when_the_sampler_is_made():
    """``AnnealSampler(seed="x")`` was accepted and failed at the first ``sample``; invalid defaults fail when the
    sampler is made."""
    from hopsolve.ocean import AnnealSampler

    with pytest.raises(ParameterError, match="seed must be an integer"):
        AnnealSampler(seed="x")


def test_from_dimod_refuses_what_is_not_a_binary_quadratic_model_in_one_line():
    """A dict or a CQM given to ``Energy.from_dimod`` was an ``AttributeError`` from inside."""
    from hopsolve import Energy

    with pytest.raises(ParameterError, match="takes a dimod BinaryQuadraticModel, got a dict"):
        Energy.from_dimod({"a": 1.0})
    with pytest.raises(ParameterError, match=r"got a ConstrainedQuadraticModel \(a constrained model"):
        Energy.from_dimod(dimod.ConstrainedQuadraticModel())


def test_a_round_trip_through_dimod_keeps_the_units_in_order_and_labels_are_distinct():
    """dimod put the coupled variables first: from_dimod(to_dimod()) reordered the units (19 of 300 random models),
    so a state read by index scored 0 where it was 1; and two units labelled alike were merged into one."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        q = np.triu(rng.integers(-3, 4, (6, 6)) * (rng.random((6, 6)) < 0.3))
        energy = Energy.from_qubo(q)
        back = Energy.from_dimod(energy.to_dimod())
        assert list(energy.to_dimod().variables) == list(range(6))
        states = np.array(list(itertools.product([0, 1], repeat=6)))
        np.testing.assert_allclose(back.energies(states), energy.energies(states))
    with pytest.raises(ParameterError, match="two variables share a label"):
        dataclasses.replace(Energy.from_qubo(np.eye(2)), labels=("a", "a"))


class LoggingSampler(AnnealSampler):
    """A user's subclass, at a module's top level (pickled by reference), with state of its own."""

    def __init__(self, tag: str = "default", **defaults):
        super().__init__(**defaults)
        self.tag = tag


class Outer:
    class Inner(AnnealSampler):
        """A sampler class inside a class: pickle finds it by its dotted name."""


def test_samplers_pickle_and_run_in_a_spawned_process_pool():
    """``pickle.dumps(AnnealSampler())`` failed (dataclass fields' mappingproxy), and so did deep copies and
    process pools; ``sampler_class``'s classes, not module attributes, could not be pickled at all."""
    import copy
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    bqm = dimod.BQM({"a": -1.0, "b": 1.0}, {("a", "b"): 2.0}, 0.5, "SPIN")
    samplers = [cls(num_reads=3) for cls in SAMPLERS if cls is not ExactSampler] + [
        ExactSampler(max_states=2), HopsolveSampler("replica", num_reads=2), sampler_class("replica")()]
    for sampler in samplers:
        for again in (pickle.loads(pickle.dumps(sampler)), copy.deepcopy(sampler)):
            assert type(again).__name__ == type(sampler).__name__ and again.backend.name == sampler.backend.name
            assert type(again) is type(sampler) or type(sampler).__dict__.get("_made_by_sampler_class")
            assert again.properties == sampler.properties and again.parameters == sampler.parameters
            assert again.sample(bqm, seed=1).first == sampler.sample(bqm, seed=1).first
    logging = LoggingSampler(tag="mine", num_reads=2)  # a user's subclass stays itself, its state too
    for again in (pickle.loads(pickle.dumps(logging)), copy.deepcopy(logging)):
        assert type(again) is LoggingSampler and again.tag == "mine"
        assert again.sample(bqm, seed=1).first == logging.sample(bqm, seed=1).first
    assert type(pickle.loads(pickle.dumps(Outer.Inner()))) is Outer.Inner

    class Local(AnnealSampler):  # not findable by pickle: refused, not turned into another class
        pass

    with pytest.raises(pickle.PicklingError, match=r"define it at a module's \(or a class's\) top level"):
        pickle.dumps(Local())
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        far = pool.submit(AnnealSampler(num_reads=3).sample, bqm, seed=1).result()
    assert far.first == AnnealSampler(num_reads=3).sample(bqm, seed=1).first


def test_a_sampler_s_time_limit_covers_reading_the_bqm(monkeypatch):
    """``sample(bqm, time_limit=0.3)`` on 1.1 million couplings took 3.5 s: converting the BQM (a Python loop, 4.6 s)
    was outside the limit. It is now read by arrays and its time comes out of the limit, which it may use up."""
    sampler = AnnealSampler()
    bqm = dimod.generators.ran_r(1, 30, seed=2)
    sampler.sample(bqm, seed=1, num_reads=1, sweeps=2)  # compiled
    real = Energy.from_dimod.__func__

    def slow(cls, model):
        time.sleep(0.3)
        return real(cls, model)

    monkeypatch.setattr(Energy, "from_dimod", classmethod(slow))
    with pytest.raises(hopsolve.TooLargeError, match=r"reading the BQM took 0\.3\d* s, all of the 0\.2 s time limit"):
        sampler.sample(bqm, seed=1, time_limit=0.2)
    sample = sampler.sample(bqm, seed=1, time_limit=1.0)
    assert sample.info["params"]["time_limit"] == 1.0 and sample.info["backend_time_limit"] < 0.71


def test_a_bqm_is_read_by_arrays_with_its_labels_and_energies():
    """The arrays dimod gives (``to_numpy_vectors``) in the BQM's variable order, mixed labels kept."""
    bqm = dimod.BQM({"a": 1.0, (1, 2): -2.0, "c": 0.5}, {("a", (1, 2)): 3.0, ("c", "a"): -1.5}, 2.5, "BINARY")
    energy = Energy.from_dimod(bqm)
    states = np.array(list(itertools.product((0, 1), repeat=3)))
    assert energy.labels == ("a", (1, 2), "c")
    assert np.array_equal(energy.energies(states), bqm.energies((states, list(bqm.variables))))


def test_to_dimod_is_built_from_arrays_and_checked_against_the_memory_limit(monkeypatch):
    """Built from Python dicts, berlin52's TSP energy took 11 s and 1 GB under a 120 MB limit; from arrays, in unit
    order, with the couplings' size checked before dimod builds them."""
    from hopsolve.testing import random_energy

    energy = random_energy(40, 3, density=0.5)
    bqm = energy.to_dimod()
    states = np.random.default_rng(1).choice([-1, 1], size=(5, 40))
    assert list(bqm.variables) == list(range(40))
    assert np.allclose(bqm.energies((states, list(range(40)))), energy.energies(states))
    couplings = bqm.num_interactions
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(30 * couplings))  # the model fits, dimod's copy does not
    with pytest.raises(hopsolve.MemoryLimitError, match="the BQM's couplings"):
        energy.to_dimod()


# ---- refusals name the sampler's parameters; dimod's contracts for initial states and None ----------------------
def test_num_reads_past_the_memory_limit_is_refused_before_dimod_expands_initial_states(monkeypatch):
    """``initial_states=[[1, 1, 1]], num_reads=10**8`` was numpy's ``MemoryError`` from inside dimod's expansion
    (10**9 killed the process), and a refusal through the sampler named ``(reads)``, a keyword it refuses."""
    bqm = dimod.BQM({0: 1.0, 1: -1.0, 2: 0.5}, {(0, 1): 1.0, (1, 2): -1.0}, 0.0, "SPIN")
    expanded = []
    parse = hopsolve.ocean._Initializer.parse_initial_states

    def recording(self, *args, **kwargs):
        expanded.append(args)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(hopsolve.ocean._Initializer, "parse_initial_states", recording)
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(10**6))
    with pytest.raises(hopsolve.MemoryLimitError, match=r"expanding initial_states to 1,000,000 reads of 3 "
                                                        r"variables .*; give fewer reads \(num_reads\)$"):
        HopfieldSampler().sample(bqm, initial_states=[[1, 1, 1]], num_reads=10**6)
    assert expanded == []  # refused before dimod drew anything
    with pytest.raises(hopsolve.MemoryLimitError, match=r"reads \(num_reads\)$") as refused:  # no initial states
        HopfieldSampler().sample(bqm, num_reads=10**6)
    assert "(reads)" not in str(refused.value)
    with pytest.raises(ParameterError, match=r"num_reads=2\.5 is not a valid int"):
        HopfieldSampler().sample(bqm, num_reads=2.5)
    with pytest.raises(ParameterError, match="num_reads must be at least 1"):
        HopfieldSampler(num_reads=0)
    assert len(HopfieldSampler().sample(bqm, initial_states=[[1, 1, 1]], num_reads=5, seed=1)) == 5  # fits


def test_only_the_sampler_says_num_reads(monkeypatch):
    """The sampler's refusals say ``num_reads`` where the backend's say ``reads``, and not in prose ("fewer
    reads"); :func:`hopsolve.solve` (``reads=``, the CLI's ``--reads``) keeps the backend's words."""
    from hopsolve.errors import MemoryLimitError
    from hopsolve.ocean import _dimod_names

    with pytest.raises(MemoryLimitError, match=r"give at most 3 reads \(num_reads\); give fewer reads"), \
            _dimod_names():
        raise MemoryLimitError("4 reads would need 2 KiB; give at most 3 reads (reads); give fewer reads")
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(10**6))
    with pytest.raises(MemoryLimitError, match=r"\(reads\)$"):
        hopsolve.solve(dimod.BQM({0: 1.0, 1: -1.0}, {(0, 1): 1.0}, 0.0, "SPIN"), backend="hopfield", reads=10**6)


@pytest.mark.parametrize("generator", ["none", "tile", "random", "foo", None])
@pytest.mark.parametrize("given", [False, True])
def test_initial_states_generator_is_refused_where_dimod_refuses_it(generator, given):
    """``initial_states_generator='foo'`` (or ``'none'``) without initial states was ignored without a word;
    dimod's own ``Initialized`` sampler (``IdentitySampler``) is the reference."""
    bqm = dimod.BQM({"a": 1.0, "b": -1.0}, {("a", "b"): 0.5}, 0.0, "SPIN")
    states = {"initial_states": [{"a": 1, "b": -1}]} if given else {}
    try:
        dimod.IdentitySampler().sample(bqm, initial_states_generator=generator, num_reads=3, seed=1, **states)
    except (TypeError, ValueError):
        with pytest.raises(ParameterError, match=f"initial_states_generator={generator!r}" if
                           generator not in ("none", "tile") or not given else "initial_states"):
            AnnealSampler().sample(bqm, initial_states_generator=generator, num_reads=3, seed=1, **states)
    else:
        sampleset = AnnealSampler().sample(bqm, initial_states_generator=generator, num_reads=3, seed=1, **states)
        assert len(sampleset) == 3


def test_none_means_the_default_and_integral_floats_count_with_initial_states_too():
    """dimod's users pass ``None`` for "the default": ``sweeps=None`` was "not a valid int". ``num_reads=2.0``
    was taken alone but refused with initial states."""
    AnnealParams, HopfieldParams, TankParams, ExactParams = (
        make().backend.Params for make in (AnnealSampler, HopfieldSampler, TankSampler, ExactSampler))
    bqm = _random_bqm(4, 3, "SPIN")
    anneal = AnnealSampler().sample(bqm, sweeps=None, num_reads=None, seed=1)
    assert anneal.info["params"]["sweeps"] == AnnealParams().sweeps and len(anneal) == AnnealParams().reads
    assert HopfieldSampler().sample(bqm, max_sweeps=None).info["params"]["max_sweeps"] == HopfieldParams().max_sweeps
    tank = TankSampler().sample(bqm, max_steps=None, blas_threads=None, num_reads=1)
    assert tank.info["params"]["max_steps"] == TankParams().max_steps
    assert tank.info["params"]["blas_threads"] is None  # a value of its own (every core), not the default
    assert ExactSampler().sample(bqm, max_states=None).info["params"]["max_states"] == ExactParams().max_states
    sampler = AnnealSampler(sweeps=None)
    assert sampler.properties["defaults"]["sweeps"] == AnnealParams().sweeps
    assert sampler.sample(bqm, num_reads=1).info["params"]["sweeps"] == AnnealParams().sweeps
    start = {v: 1 for v in bqm.variables}
    assert len(HopfieldSampler().sample(bqm, num_reads=2.0)) == 2
    assert len(HopfieldSampler().sample(bqm, initial_states=[start], num_reads=2.0)) == 2
