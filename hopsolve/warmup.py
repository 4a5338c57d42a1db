"""Compile (or load from numba's cache) a backend's kernels before a solve's clock starts.

numba compiles a kernel the first time it is called and caches the machine code on disk. A first solve on a
fresh machine would otherwise spend its time limit compiling (a 10 s TSP limit used up by one sweep). Backends
with compiled kernels run :func:`warm_up` from :meth:`hopsolve.backend.Backend.prepare`: one untimed read of a
*miniature* of the energy, a few units with the same structure, so the very functions and type signatures the
real solve calls are compiled, in well under a second once cached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

import numpy as np

from hopsolve.energy import Energy, Vartype, miniature_sizes
from hopsolve.metric import Metric
from hopsolve.pattern_term import PatternTerm

MINIATURE_UNITS = 64  # energies this small are their own miniature
_SMALL_RUN = {"reads": 1, "sweeps": 2, "steps": 2, "max_sweeps": 2, "max_steps": 2, "time_limit": None,
              "trajectory": False, "replan": "", "tabu_moves": 0}
"""The warm-up's parameters: every budget of work a backend has at its least (bifurcation's ``steps`` was left
out: ``steps=2000000`` ran in full on the miniature, untimed, before a 3 s limit started)."""


def miniature(energy: Energy) -> Energy:
    """A tiny energy that takes the same compiled code paths as ``energy``."""
    from hopsolve.permutation import permutation_energy, tour_energy

    view = energy.permutation
    if view is not None and view.is_tour:
        metric = view.metric
        if metric.kind == "EXPLICIT":
            small = Metric.from_matrix(np.asarray(metric.matrix)[:6, :6])
        else:
            small = Metric(metric.kind, points=np.asarray(metric.points)[:6])
        return tour_energy(small)
    if view is not None:
        k = min(view.size, 4)
        flow = view.flow_matrix()[:k, :k]
        given = view.linear_matrix()
        linear = None if given is None else np.asarray(given)[:k, :k]
        return permutation_energy(flow, view.adjacency[:k, :k].toarray(), linear)
    if energy.num_variables <= MINIATURE_UNITS or any(isinstance(t, PatternTerm) for t in energy.terms):
        return energy
    if energy.groups is not None:
        return _grouped_miniature(energy.vartype)
    return small_qubo(energy.vartype)


def small_qubo(vartype: Vartype = Vartype.BINARY) -> Energy:
    """A three-unit QUBO (or its Ising form): the miniature of an unstructured energy."""
    small = Energy.from_qubo(np.array([[1.0, -2.0, 0.0], [0.0, 1.0, -1.0], [0.0, 0.0, 0.5]]))
    return small if vartype is Vartype.BINARY else small.to_spin()


def warm_up(backend: Any, energy: Energy, params: Any) -> float:
    """Run ``backend`` once, untimed, on :func:`miniature` (``energy``) with a small budget; returns the seconds
    spent compiling or loading.

    A Ctrl-C during the warm-up is raised again as ``KeyboardInterrupt``: backends catch it to return their best
    states, which for the miniature would let the real solve start as if nothing had been pressed."""
    from hopsolve.backends._model import compile_model_kernels

    started = time.perf_counter()
    compile_model_kernels()
    names = {f.name for f in dataclasses.fields(params)} if dataclasses.is_dataclass(params) else set()
    small = dataclasses.replace(params, **{k: v for k, v in _SMALL_RUN.items() if k in names})
    small_energy = miniature(energy)
    # a memory limit set below a miniature is for the user's instance, refused by name; a small energy is its own
    # miniature, and stays under the limit
    with miniature_sizes() if small_energy is not energy else contextlib.nullcontext():
        result = backend.solve(small_energy, small, seed=1)
    if result.interrupted:
        raise KeyboardInterrupt
    return time.perf_counter() - started


def _grouped_miniature(vartype: Vartype) -> Energy:
    """Two one-hot groups of two units and a free unit, with their one-hot penalty."""
    from hopsolve.energy import OneHotGroups

    q = np.array([[1.0, -2.0, 0.0, 1.0, 0.0], [0.0, 1.0, -1.0, 0.0, 1.0], [0.0, 0.0, 0.5, 2.0, 0.0],
                  [0.0, 0.0, 0.0, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.5]])
    groups = OneHotGroups.from_lists([[0, 1], [2, 3]])
    energy = Energy(Vartype.BINARY, (Energy.from_qubo(q).terms[0], groups.penalty("onehot", 5)), groups=groups)
    return energy if vartype is Vartype.BINARY else energy.to_spin()


def sample_energies() -> dict[str, Energy]:
    """One miniature of each kind of energy the built-in backends treat differently."""
    from hopsolve.permutation import permutation_energy, tour_energy

    points = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 1.0], [2.0, 7.0], [5.0, 5.0], [1.0, 3.0]])
    flow = np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 3.0], [1.0, 3.0, 0.0]])
    qubo = small_qubo()
    patterns = PatternTerm.build("objective", np.array([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]]))
    return {"tour": tour_energy(Metric("EUC_2D", points=points)), "permutation": permutation_energy(flow, flow),
            "qubo": qubo, "ising": qubo.to_spin(), "onehot": _grouped_miniature(Vartype.BINARY),
            "patterns": Energy(Vartype.SPIN, (patterns,))}


def warm_everything(registry: Any) -> dict[str, float | str]:
    """Compile (or load) every problem's and backend's kernels: a backend's
    :meth:`~hopsolve.backend.Backend.prepare_everything`, then its ``prepare`` on :func:`sample_energies`; seconds
    per plugin, or the one line saying how a plugin failed (a third party's ``prepare`` that raised ended the whole
    warm-up in an internal error, before any other plugin was compiled). A Ctrl-C is raised between two compiles,
    not inside one (:func:`hopsolve.interrupt.ctrl_c_deferred`)."""
    from hopsolve.errors import PluginFailure
    from hopsolve.interrupt import ctrl_c_deferred
    from hopsolve.plugin_calls import plugin_call
    from hopsolve.solving import prepare_problem

    spent: dict[str, float | str] = {}
    for name in registry.problems:
        try:  # Ctrl-C between compiles, not inside one
            spent[f"problem {name}"] = prepare_problem(registry.problem(name))
        except PluginFailure as failed:
            spent[f"problem {name}"] = str(failed)
    for name in registry.backends:
        backend = registry.backend(name)
        started = time.perf_counter()
        try:
            with ctrl_c_deferred(), miniature_sizes():
                plugin_call("backend", backend, "prepare_everything", backend.prepare_everything)
        except PluginFailure as failed:
            spent[f"backend {name}"] = str(failed)
            continue
        for energy in sample_energies().values():
            try:
                with ctrl_c_deferred(), miniature_sizes():  # hopsolve's sample energies, not a user's
                    backend.prepare(energy, backend.params({}))
            except Exception:  # noqa: BLE001 - a backend that cannot take this kind of energy is simply skipped
                continue
        spent[f"backend {name}"] = time.perf_counter() - started
    return spent
