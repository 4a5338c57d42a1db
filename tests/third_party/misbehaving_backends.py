"""Backends that fail on purpose, registered with HOPSOLVE_PLUGINS in the benchmark-harness tests."""

import time
from dataclasses import dataclass

import numpy as np

import hopsolve


class BrokenBackend(hopsolve.Backend):
    name = "broken"

    def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
        raise RuntimeError("this backend always fails")


class SleepyBackend(hopsolve.Backend):
    """Sleeps ``seconds`` whatever its time limit (the harness must stop it), then answers."""

    name = "sleepy"

    @dataclass(frozen=True)
    class Params:
        time_limit: float | None = None
        seconds: float = 600.0

    def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
        time.sleep(params.seconds)  # ignores its time limit
        return hopsolve.SampleSet.from_states(energy, np.full((1, energy.num_variables), energy.vartype.low))


class SlowToCompile(hopsolve.Backend):
    """Compiles for 3 s (its ``prepare``), then answers at once: a watchdog must not count the compile."""

    name = "slow-to-compile"

    @dataclass(frozen=True)
    class Params:
        time_limit: float | None = None

    def prepare(self, energy, params):
        time.sleep(3.0)
        return 3.0

    def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
        return hopsolve.SampleSet.from_states(energy, np.full((1, energy.num_variables), energy.vartype.low))


class StuckInNativeCode(hopsolve.Baseline):
    """Cannot stop at a limit, and sits in one native call (``time.sleep``, which an exception raised from outside
    does not interrupt) for 3 s: left running in its thread past the limit."""

    name = "stuck-in-native-code"
    problem = "tsp"
    stops_at_time_limit = False

    def solve(self, instance, params, *, seed, time_limit):
        time.sleep(3.0)
        return hopsolve.BaselineOutcome(list(range(instance.data.dimension)), "feasible")


class WhichProcess(hopsolve.Baseline):
    """Says whether its process still holds a solver thread abandoned by an earlier task."""

    name = "which-process"
    problem = "tsp"

    def solve(self, instance, params, *, seed, time_limit):
        import threading

        from hopsolve.interrupt import WORKER_NAME

        others = [t for t in threading.enumerate()  # its own solve runs in such a thread too
                  if t.name == WORKER_NAME and t.is_alive() and t is not threading.current_thread()]
        return hopsolve.BaselineOutcome(list(range(instance.data.dimension)), "feasible",
                                        info={"abandoned_work_here": bool(others)})


@hopsolve.hookimpl
def hopsolve_backends(register):
    register(BrokenBackend)
    register(SleepyBackend)
    register(SlowToCompile)


@hopsolve.hookimpl
def hopsolve_baselines(register):
    register(StuckInNativeCode)
    register(WhichProcess)
