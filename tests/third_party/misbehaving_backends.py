"""Backends that fail on purpose, registered with HOPSOLVE_PLUGINS in the benchmark-harness tests."""

import time
from dataclasses import dataclass

import hopsolve


class BrokenBackend(hopsolve.Backend):
    name = "broken"

    def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
        raise RuntimeError("this backend always fails")


class SleepyBackend(hopsolve.Backend):
    name = "sleepy"

    @dataclass(frozen=True)
    class Params:
        time_limit: float | None = None

    def solve(self, energy, params=None, *, seed=None, initial_states=None, callback=None):
        time.sleep(600)  # ignores its time limit: the harness must stop it


@hopsolve.hookimpl
def hopsolve_backends(register):
    register(BrokenBackend)
    register(SleepyBackend)
