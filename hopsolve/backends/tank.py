"""The continuous Hopfield–Tank network: graded units integrated as an ODE, then thresholded.

``du/dt = -u/τ + W V + b`` with ``V = g(u)``, ``g(u) = ½(1 + tanh(u/u₀))`` on bits or ``tanh(u/u₀)`` on spins.
``W V + b`` is the field of the energy's multilinear extension, so structured terms work unchanged. Along the
trajectory the Lyapunov function ``E(V) + (1/τ) Σ_i ∫ g⁻¹(v) dv`` never increases (for small enough steps).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.integrate import RK45
from threadpoolctl import threadpool_limits

from hopsolve.backend import Backend, Callback, TimedRunParams, check_run_size, given_states
from hopsolve.backends._model import refuse_unscalable
from hopsolve.backends._permutation_finish import assignment_seconds, nearest_permutations
from hopsolve.backends._timing import fastest_seconds
from hopsolve.backends.tank_potts import critical_gain_and_exactness, softmax_energy
from hopsolve.backends.tank_serial import SerialNetwork, anneal_read, sweep_seconds
from hopsolve.energy import Energy, OneHotGroups, Vartype, check_allocation
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.params import require
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import make_rng, read_sequences, resolve_seed
from hopsolve.warmup import warm_up

_CLIP = 1e-12
STEP_SHARE = 0.015
"""With a time limit, one integration step of all reads may take at most this share of it: the deadline is checked
after every step, and thresholding and scoring the reads afterwards cost about as much again."""
STEP_FLOOR_S = 0.005
"""A step this short is always allowed, whatever the limit (a limit of microseconds still runs one step)."""
CRITICAL_GAIN_SHARE = 0.25
"""With a time limit, the critical gain's Lanczos iteration gets at most this share of it (in field products);
where that is too few to converge it takes its best estimate (a start a little below the critical gain)."""
LANCZOS_PRODUCT = 2.5
"""One Lanczos product of the critical gain costs about this many field evaluations (the field, and the
softmax Jacobian's square root applied on both sides)."""
MFA_GAIN_FLOOR = 1e-9
"""``mfa`` also stops once the gain has fallen to this fraction of the critical gain, saturated or not."""
EVALUATIONS_PER_STEP = {"euler": 1, "rk45": 7}
"""Field evaluations per step: Euler's one; RK45's six stages and the settle check."""


@dataclass(frozen=True)
class TankParams(TimedRunParams):
    """Parameters of the ``tank`` backend (every field has a default)."""

    reads: int = 10
    """Runs from independent random starts. The parallel schedules integrate the reads as one batch (one step
    size, run until every read has settled), so a read's final state can depend on how many reads there are;
    ``schedule=serial`` runs each read on its own, and its first k reads replay with ``reads=k``."""
    tau: float = 1.0
    """Time constant τ of the leak term ``-u/τ``."""
    u0: float = 0.02
    """Gain u₀ of ``g(u) = ½(1 + tanh(u/u₀))``: smaller is steeper (closer to binary units)."""
    u0_final: float | None = None
    """Gain annealing: u₀ falls geometrically from ``u0`` to ``u0_final`` over ``max_steps`` (None: fixed); the
    run then takes all ``max_steps`` (a network can sit still at high u₀ long before its outputs commit)."""
    dt: float | None = None
    """Euler step; when not given, ``0.1·u₀ / max_i(Σ_j |W_ij| + |b_i|)`` capped at ``0.1·τ``."""
    units: Literal["auto", "graded", "potts"] = "auto"
    """``graded``: each unit its own sigmoid (Hopfield–Tank). ``potts``: each one-hot group of the energy (its
    ``groups``, else the rows of its permutation layout) is a softmax ``V_Xi = e^{u_Xi/u₀} / Σ_j e^{u_Xj/u₀}``
    (Peterson–Söderberg mean-field Potts network), so every group sums to one at all times and only the other
    constraints are left to the penalties; the final state takes each group's largest output. With ``potts`` the
    penalty terms that only enforce the groups are constant on the final states and are left out of the dynamics
    (``derived['dropped_terms']``). ``auto``: ``potts`` on an energy with one-hot ``groups`` or a permutation
    layout (TSP, assignment, QAP: the layout's rows), else ``graded`` (reported as ``derived['units']``)."""
    integrator: Literal["euler", "rk45"] = "euler"
    """Explicit Euler with step ``dt``, or adaptive Runge–Kutta (scipy's RK45, stepped by hopsolve so the settle
    check, the deadline and Ctrl-C are looked at after every step)."""
    max_steps: int = 20000
    """Most Euler steps (for rk45: integrate up to ``max_steps·dt`` time units)."""
    settle_tolerance: float = 1e-5
    """Stop when no output changes by more than this in one step (per unit time for rk45)."""
    start: float | None = None
    """Initial output V of every unit before noise (default: the midpoint, ½ on bits or 0 on spins)."""
    noise: float = 0.1
    """Initial noise: ``δu ~ U(-noise·u₀, noise·u₀)`` (0.1 as in the literature)."""
    trajectory: bool = False
    """Return the outputs V and the Lyapunov energy at every ``record_every`` steps (``info['trajectory']``)."""
    record_every: int = 10
    """Record spacing for ``trajectory`` and ``trace``."""
    trace: bool = False
    """Record the Lyapunov energy of every read (``info['trace']``)."""
    time_limit: float | None = None
    """Stop integrating after this many seconds (checked after every step). So that a step is a bounded interval
    of wall time, only the first reads whose step fits in ``STEP_SHARE`` of the limit run (``derived['reads']``;
    the same ``reads`` without the limit replays them), and an energy on which one read's step does not fit is
    refused before integrating."""
    schedule: Literal["auto", "fixed", "mfa", "serial"] = "auto"
    """``fixed``: the gain ``u0`` (or the ``u0 → u0_final`` ramp) as given. ``mfa``: Potts mean-field annealing
    (Peterson & Söderberg 1989) by integrating the network: the gain starts at the critical gain
    ``u₀c = τ·λ_max(S^½ W S^½)`` of the linearised softmax dynamics, computed from the energy (see
    :mod:`hopsolve.backends.tank_potts`; ``u0`` is ignored), and falls by ``cooling`` every time unit τ until every
    group is saturated (``saturation``); the Euler step is ``dt`` or 0.1·τ; every unit moves at once. ``serial``:
    mean-field annealing as Peterson & Söderberg ran it, on a permutation energy (TSP, assignment, QAP): one row of
    the permutation at a time is set to its mean field's softmax, with the column constraint (``column_weight``)
    and a self-coupling (``self_coupling``) of the network's own, from the critical temperature down by
    ``cooling`` every sweep (:mod:`hopsolve.backends.tank_serial`; ``max_steps`` counts sweeps). ``auto``:
    ``serial`` on a permutation energy with a quadratic objective (TSP, QAP) and Potts units, ``mfa`` on other
    Potts energies (a linear assignment among them: there ``serial`` measured far worse, RESULTS §11.4),
    ``fixed`` otherwise or when ``u0_final`` is given (reported as ``derived['schedule']``)."""
    cooling: float | None = None
    """``mfa``: the gain (temperature) is held for one time unit τ (``round(τ/dt)`` steps, so the network relaxes
    at each temperature and the Lyapunov function at that gain descends), then multiplied by this (closer to 1
    is slower and better); default 0.9. ``serial``: the temperature's factor per sweep; default 0.99."""
    saturation: float = 0.999
    """``mfa`` and ``serial``: stop once the mean over groups of ``Σ_g V²`` reaches this (1: every group
    one-hot)."""
    column_weight: float = 1.0
    """``serial``: the weight α of the column constraint ``(α/2)Σ_a(Σ_i V_ia − 1)²``, on the objective's scale
    (:class:`hopsolve.backends.tank_serial.SerialNetwork`); the energy's own penalty weights are not used."""
    self_coupling: float = -0.5
    """``serial``: β of the self-coupling ``β V_ia`` in each unit's field, on the same scale (Peterson &
    Söderberg's β term; negative holds rows back from committing before the distances have had their say)."""
    self_coupling_off_at: float | Literal["auto"] | None = "auto"
    """``serial``: once a sweep leaves the rows at least this saturated (mean ``Σ_a V_ia²``), the self-coupling is
    switched off for the rest of the read; None keeps it to the end. With β < 0 a nearly saturated read can lose
    its tour (rows trade columns back and forth, the energy climbs: on kroA100, 3 of 6 reads of seed 1 ended 4–5×
    above the others); with β = 0 each sweep lowers the mean-field free energy again. ``auto`` (the default): 0.95
    on permutations of :data:`SELF_COUPLING_OFF_FROM` items or more, else None. Below that, on tuning seeds
    500–503 at 50 and 100 cities, 0.95 brought the mean read from 1.45× and 2.69× the best tour found down to 1.06×
    and 1.11×, but the best of the default 10 reads came out 0–1.6% longer; from 200 cities on, keeping β broke
    every read (kroA200, kroB200, d198, gil262: 609–671% above the optimum, against 44–86% with 0.95; at 150 cities
    21–29% either way; ``benchmarks/RESULTS.md`` §11.5)."""
    blas_threads: int | None = 1
    """Threads of the BLAS library for the field products (None: one per core). One by default: the
    products of a network small enough to integrate are too small to share, and on a busy machine shared BLAS
    threads stall (a 100 × 100 product measured 0.1 ms on one thread, 16 ms median on two while two other
    processes ran)."""
    finish: Literal["assignment", "argmax"] = "assignment"
    """How Potts outputs on a permutation layout become a state. ``argmax``: each row's largest output, which
    leaves an invalid permutation when two rows end on the same column (a run stopped by its time limit before the
    rows saturate, or a saturated network that broke a column). ``assignment``: the permutation with the largest
    total output (a linear assignment on the outputs, the usual clean-up of mean-field and softassign networks),
    the same state wherever ``argmax`` is already a permutation; ``info['projected']`` counts the reads it had to
    change, so the network's own valid rate stays visible. Graded units and energies without a layout always
    threshold each unit or group."""
    preset: Literal["none", "hopfield-tank-1985"] = "none"
    """``hopfield-tank-1985``: the source article's network, equations (19)–(22), on a Hopfield–Tank TSP energy
    (encode it with ``--weight row=500 --weight column=500 --weight total=200 --weight objective=500 --option
    active=15 --option normalise=false``): graded units ``V = ½(1 + tanh(u/û))`` with û = ``u0`` (0.02 as in
    Hopfield & Tank 1985; the article uses 0.01), τ = 1, Euler steps of ``dt`` (default 10⁻⁵), the start
    u₀₀ with ``Σ V = n`` (V = n/N on every unit) plus ``δu ~ U(−|u₀₀|/10, |u₀₀|/10)``, and the C term's
    self-coupling (the energy's ``total`` term keeps its literal square). It sets ``units``, ``schedule``,
    ``tau``, ``start``, ``integrator`` and the noise; ``benchmarks/RESULTS.md`` §11 reports how often it gives
    a valid tour and why. The article's constants are for its cities, in the unit square (distances up to √2):
    on TSPLIB distances of 10²–10³ with ``normalise=false`` every unit saturates in the first steps (scale the
    coordinates into the unit square first); on other weights than the recipe's the result's note says so."""

    def validate(self) -> None:
        super().validate()
        owner = "backend 'tank'"
        require(self.tau > 0 and self.u0 > 0, owner, "tau and u0 must be positive")
        require(self.u0_final is None or self.u0_final > 0, owner, "u0_final must be positive")
        require(self.dt is None or self.dt > 0, owner, "dt must be positive")
        require(self.max_steps >= 1 and self.record_every >= 1, owner, "max_steps and record_every must be >= 1")
        require(self.noise >= 0 and self.settle_tolerance > 0, owner, "noise and settle_tolerance must be positive")
        require(self.cooling is None or 0 < self.cooling < 1, owner, "cooling must be between 0 and 1")
        require(math.isfinite(self.column_weight) and self.column_weight >= 0, owner,
                "column_weight must be a finite number of at least 0")
        require(math.isfinite(self.self_coupling), owner, "self_coupling must be a finite number")
        require(self.self_coupling_off_at in (None, "auto") or 0 <= self.self_coupling_off_at <= 1, owner,
                "self_coupling_off_at must be between 0 and 1, auto or None")
        require(0 < self.saturation <= 1, owner, "saturation must be in (0, 1]")
        require(self.blas_threads is None or self.blas_threads >= 1, owner, "blas_threads must be at least 1")
        require(self.finish in ("assignment", "argmax"), owner, f"finish must be assignment or argmax, got "
                f"{self.finish!r}")


ARTICLE_WEIGHTS = {"objective": 500.0, "row": 500.0, "column": 500.0, "total": 200.0}
"""The source article's A = B = 500, C = 200, D = 500 as a Hopfield–Tank TSP energy's weights: ``preset=
hopfield-tank-1985`` on other weights (the encoder's defaults among them) says so in ``info['note']``."""

PRESET_SETS = {"units": ("auto", "graded"), "schedule": ("auto", "fixed"), "tau": (1.0,), "integrator": ("euler",),
               "start": (None,), "u0_final": (None,)}
"""What ``preset=hopfield-tank-1985`` sets, and the values of those parameters it accepts beside it (their
defaults, and its own)."""

SELF_COUPLING_OFF_FROM = 150
"""``self_coupling_off_at="auto"`` switches the self-coupling off (at 0.95 saturation) on permutations of this many
items or more: at 200 cities keeping it broke every read (see :attr:`TankParams.self_coupling_off_at`)."""

IGNORED_BY = {
    "serial": ("u0", "u0_final", "tau", "dt", "integrator", "settle_tolerance", "start"),
    "mfa": ("u0_final", "settle_tolerance", "column_weight", "self_coupling", "self_coupling_off_at"),
    "fixed": ("cooling", "saturation", "column_weight", "self_coupling", "self_coupling_off_at"),
}
"""Parameters each schedule does not use (``serial`` has its own temperature, sweeps and start; ``mfa`` starts at
the critical gain, ``u0`` only where that is 0, and runs until saturated; ``fixed`` has no cooling); given with
other values than their defaults they are noted in ``info['note']``, not taken in silence. Potts units ignore
``start`` too (every group starts uniform)."""


def _quadratic_permutation(energy: Energy) -> bool:
    """A permutation energy whose objective couples items (a TSP's distances, a QAP's flows), not only a linear
    assignment's costs."""
    view = energy.permutation
    if view is None or view.adjacency.nnz == 0:
        return False
    return view.metric is not None or bool(np.any(view.flow))


def activation(u: np.ndarray, u0: float, vartype: Vartype) -> np.ndarray:
    """``g(u)``: ``½(1 + tanh(u/u₀))`` on bits, ``tanh(u/u₀)`` on spins."""
    t = np.tanh(u / u0)
    return 0.5 * (1.0 + t) if vartype is Vartype.BINARY else t


SERIAL_SWEEP_FLOOR_S_PER_CUBE = 1e-10
"""A serial sweep updates n rows of n × n work each; on the project's machines it took about 1e-9 s per n³
(rl5915: 210 s). Ten times faster than that is the bound that refuses a sweep before its arrays are built."""


def _check_serial_sweep(per_sweep: float, n: int, budget: float, params: TankParams, bound: str = "") -> None:
    """Refuse a serial run one of whose sweeps (``per_sweep`` seconds, a measurement or a lower ``bound``)
    would take more than ``budget``: the deadline is only checked between sweeps."""
    if per_sweep > budget:
        raise TooLargeError(f"backend 'tank': one serial sweep takes {bound}{per_sweep:.2g} s on this {n:,}-item "
                            f"permutation, more than the {_budget_phrase(budget, params)}; that needs at least "
                            f"{per_sweep / STEP_SHARE:.3g} s after reading and encoding, or use anneal")


def _budget_phrase(budget: float, params: TankParams) -> str:
    """What a step may take under the limit, in words: the floor where it applies (a280 at 0.1 s was told "1.5%
    of the 0.0201 s", while the 0.005 s floor was the bound)."""
    if budget > STEP_SHARE * params.time_limit:
        return f"{budget:g} s a step may always take (the time limit leaves {params.time_limit:.3g} s)"
    return (f"{budget:.2g} s a step may take ({100 * STEP_SHARE:g}% of the {params.time_limit:.3g} s the time limit "
            "leaves)")


def _step_budget(params: TankParams) -> float:
    """The seconds one step (or serial sweep) of all reads may take: :data:`STEP_SHARE` of the time limit, at
    least :data:`STEP_FLOOR_S`; unbounded without a limit."""
    return max(STEP_SHARE * params.time_limit, STEP_FLOOR_S) if params.time_limit is not None else math.inf


def _check_sizes(energy: Energy, params: TankParams, reads: int) -> None:
    """The checks a run makes before any of its arrays exist (``prepare`` and ``solve`` both ask): a serial sweep's
    lower bound against the time limit first (fewer reads cannot help it), then the reads' arrays, and for the
    parallel schedules the trajectory and trace records, against the memory limit."""
    if params.schedule == "serial":
        n = energy.permutation.size
        budget = _step_budget(params)
        if n:
            _check_serial_sweep(SERIAL_SWEEP_FLOOR_S_PER_CUBE * float(n) ** 3, n, budget, params, "at least ")
        check_run_size(reads=reads, units=n * n, arrays=2)
        return
    n = energy.num_variables
    records = params.max_steps // params.record_every + 2
    check_run_size(reads=reads, units=n, arrays=10)
    recorded = float(reads) * 8.0 * (n * (records if params.trajectory else 0) + (records if params.trace else 0))
    kept = " and ".join(name for name in ("trajectory", "trace") if getattr(params, name))
    check_allocation(recorded, f"the {kept} of {reads:,} read{'' if reads == 1 else 's'} ({records:,} records of "
                     f"max_steps // record_every)", "record less often (record_every), fewer steps (max_steps) or "
                     f"leave out {kept}")  # (said as reads × units, it advised fewer reads)


def _check_resolved(energy: Energy, params: TankParams) -> None:
    """Refuse what only the energy and the resolved schedule can tell: a ``start`` outside the outputs' open range
    (it was clipped in silence, and ``start=2`` left every read infeasible), and a ``trace`` that ``serial``
    does not record."""
    if params.start is not None and params.schedule != "serial" and params.units != "potts":
        low = 0.0 if energy.vartype is Vartype.BINARY else -1.0
        require(low < params.start < 1.0, "backend 'tank'", f"start must lie strictly between {low:g} and 1 (the "
                f"outputs' range on {energy.vartype.value} units), got {params.start:g}")
    require(not (params.trace and params.schedule == "serial"), "backend 'tank'",
            "schedule=serial does not record trace (its trajectory records each read's sweeps)")


def _serial_start(stream: np.random.Generator, n: int, noise: float) -> np.ndarray:
    """A serial read's start: every row ``1/n`` times ``1 + noise·U(-1, 1)``, renormalised to sum to one."""
    start = (1.0 + noise * stream.uniform(-1.0, 1.0, size=(n, n))) / n
    return start / start.sum(axis=1, keepdims=True)


def potts_groups(energy: Energy) -> OneHotGroups | None:
    """The groups a Potts network runs its softmax over: the energy's one-hot groups, else its layout's rows."""
    if energy.groups is not None:
        return energy.groups
    return energy.layout.rows if energy.layout is not None else None


def _per_member(values: np.ndarray, groups: OneHotGroups) -> np.ndarray:
    return np.repeat(values, groups.sizes, axis=1)


def potts_activation(u: np.ndarray, u0: float, groups: OneHotGroups, vartype: Vartype = Vartype.BINARY
                     ) -> np.ndarray:
    """Softmax of ``u/u₀`` over each group (a probability ``p``; the output is ``p`` on bits, ``2p − 1`` on
    spins); units in no group keep the graded activation."""
    v = activation(u, u0, vartype)
    if not len(groups.members):
        return v
    starts = groups.offsets[:-1]
    grid = u[:, groups.members] / u0
    grid = np.exp(grid - _per_member(np.maximum.reduceat(grid, starts, axis=1), groups))
    p = grid / _per_member(np.add.reduceat(grid, starts, axis=1), groups)
    v[:, groups.members] = p if vartype is Vartype.BINARY else 2.0 * p - 1.0
    return v


def unit_groups(energy: Energy, units: str) -> OneHotGroups | None:
    """The groups whose outputs sum to one: the Potts groups with ``potts`` units, none with graded ones."""
    return potts_groups(energy) if units == "potts" else None


def outputs(u: np.ndarray, gain: float, energy: Energy, params: TankParams) -> np.ndarray:
    """The units' outputs V for internal states u: sigmoid/tanh units, or a softmax per group (Potts)."""
    if params.units == "potts":
        return potts_activation(u, gain, potts_groups(energy), energy.vartype)
    return activation(u, gain, energy.vartype)


def threshold(v: np.ndarray, energy: Energy, params: TankParams) -> np.ndarray:
    """Discrete states from graded outputs: each Potts group's largest output turns on (the first on ties), every
    other unit is compared with its midpoint."""
    vt = energy.vartype
    states = np.where(v > (0.5 if vt is Vartype.BINARY else 0.0), 1, vt.low).astype(np.int8)
    groups = unit_groups(energy, params.units)
    if groups is not None and len(groups.members):
        grid = v[:, groups.members]
        starts = groups.offsets[:-1]
        top = grid == _per_member(np.maximum.reduceat(grid, starts, axis=1), groups)
        countdown = len(groups.members) - np.arange(len(groups.members))  # larger for earlier members
        first = len(groups.members) - np.maximum.reduceat(np.where(top, countdown, 0), starts, axis=1)
        states[:, groups.members] = vt.low
        np.put_along_axis(states, groups.members[first], 1, axis=1)
    return states


def saturation(v: np.ndarray, groups: OneHotGroups) -> float:
    """Mean over reads and groups of ``Σ_{i∈g} V_i²`` (1 when every group is one-hot; 1/K at the uniform start)."""
    squares = np.add.reduceat(v[:, groups.members] ** 2, groups.offsets[:-1], axis=1)
    return float(squares.mean()) if squares.size else 1.0


def inverse_activation(v: np.ndarray, u0: float, vartype: Vartype) -> np.ndarray:
    x = 2.0 * v - 1.0 if vartype is Vartype.BINARY else v
    return u0 * np.arctanh(np.clip(x, -1 + _CLIP, 1 - _CLIP))


def lyapunov(energy: Energy, v: np.ndarray, u0: float, tau: float, units: str = "graded") -> np.ndarray:
    """``E(V) + (1/τ) Σ_i ∫_mid^{V_i} g⁻¹``, the function the continuous dynamics descend.

    For Potts groups the integral term is the mean-field entropy term ``(u₀/τ) Σ V ln V``.
    """
    grouped = np.zeros(energy.num_variables, dtype=bool)
    entropy = np.zeros(len(v))
    if units == "potts":
        groups = unit_groups(energy, units)
        grouped[groups.members] = True
        p = v[:, groups.members] if energy.vartype is Vartype.BINARY else (v[:, groups.members] + 1.0) / 2.0
        entropy = (p * np.log(np.clip(p, _CLIP, 1.0))).sum(axis=1)
    x = np.clip(2.0 * v - 1.0 if energy.vartype is Vartype.BINARY else v, -1 + _CLIP, 1 - _CLIP)[:, ~grouped]
    integral = x * np.arctanh(x) + 0.5 * np.log1p(-x * x)
    if energy.vartype is Vartype.BINARY:
        integral = 0.5 * integral
    return energy.energies(v) + (u0 / tau) * (integral.sum(axis=1) + entropy)


class TankBackend(Backend):
    """Hopfield & Tank (1985) graded-response network, integrated by Euler or RK45, then thresholded."""

    name = "tank"
    description = "continuous Hopfield–Tank network (tanh/sigmoid units, Euler or RK45), thresholded at the end"
    Params = TankParams

    def prepare(self, energy: Energy, params: Any) -> float:
        """Refuse a run past the memory limit or a serial sweep past the time limit, then compile (or load) the
        kernels on a miniature of the energy (untimed): loading them inside a solve made its first sweep look a
        hundred times slower than it is. On a cold cache rl5915 was compiled for before being refused."""
        params = params or TankParams()
        resolved = self.resolved(energy, params)
        if resolved.schedule != "serial" or energy.permutation is not None:  # else solve says what is missing
            _check_sizes(energy, resolved, resolved.reads)
        if params.preset != "none":  # a preset is parameters, not code: the miniature (which may have no layout,
            params = dataclasses.replace(params, preset="none", units="graded", schedule="fixed")  # so no preset)
        return warm_up(self, energy, params)

    def resolved(self, energy: Energy, params: TankParams) -> TankParams:
        """``params`` with the preset applied and ``units``/``schedule`` ``auto`` decided for ``energy``."""
        if params.preset == "hopfield-tank-1985":
            if energy.layout is None:
                raise ParameterError("backend 'tank': preset=hopfield-tank-1985 needs a tour energy (a layout)")
            overridden = [name for name, allowed in PRESET_SETS.items() if getattr(params, name) not in allowed]
            if overridden:  # the preset would replace them without a word, and the record would show them
                them = "it" if len(overridden) == 1 else "them"
                raise ParameterError(f"backend 'tank': preset=hopfield-tank-1985 sets {', '.join(overridden)}; "
                                     f"leave {them} out or leave out the preset")
            start = energy.layout.size / energy.num_variables  # Σ V = n over the n² units
            params = dataclasses.replace(params, units="graded", schedule="fixed", tau=1.0, integrator="euler",
                                         start=start, dt=params.dt if params.dt is not None else 1e-5,
                                         u0_final=None)
        if params.units == "auto":
            # whether there are groups, without building a layout's rows (35 million units for rl5915: 0.7 GB
            # and 1.7 s spent before the run's size check could refuse it)
            units = "potts" if energy.groups is not None or energy.layout is not None else "graded"
            params = dataclasses.replace(params, units=units)
        if params.integrator == "rk45" and params.schedule in ("mfa", "serial"):
            raise ParameterError(f"backend 'tank': integrator=rk45 integrates the fixed schedule only; "
                                 f"schedule={params.schedule} steps by its own rule (leave out the integrator)")
        if params.integrator == "rk45" and params.u0_final is not None:
            raise ParameterError("backend 'tank': integrator=rk45 runs at the fixed gain u0; gain annealing "
                                 "(u0_final) needs integrator=euler")
        if params.schedule == "auto":
            annealed = params.units == "potts" and params.u0_final is None and params.integrator == "euler"
            serial = annealed and _quadratic_permutation(energy)
            params = dataclasses.replace(params, schedule="serial" if serial else "mfa" if annealed else "fixed")
        if params.cooling is None:
            params = dataclasses.replace(params, cooling=0.99 if params.schedule == "serial" else 0.9)
        if params.self_coupling_off_at == "auto":
            large = (params.schedule == "serial" and energy.permutation is not None
                     and energy.permutation.size >= SELF_COUPLING_OFF_FROM)
            params = dataclasses.replace(params, self_coupling_off_at=0.95 if large else None)
        return params

    def solve(self, energy: Energy, params: TankParams | None = None, *, seed: int | None = None,
              initial_states: np.ndarray | None = None, callback: Callback | None = None) -> SampleSet:
        given = self.checked_params(energy, params)
        params = self.resolved(energy, given)
        _check_resolved(energy, params)
        if initial_states is not None:
            initial_states = given_states(energy, initial_states, "backend 'tank'")
        threads = params.blas_threads if params.blas_threads is not None else os.cpu_count()
        with threadpool_limits(limits=threads, user_api="blas"):
            samples = self._solve(energy, params, seed, initial_states, callback)
        # the record shows what ran: every value the preset or an ``auto`` decided (the given ones, merged into a
        # result's params, would otherwise stand for them)
        for item in dataclasses.fields(TankParams):
            if item.name != "time_limit" and getattr(params, item.name) != getattr(given, item.name):
                samples.derived.setdefault(item.name, getattr(params, item.name))
        defaults = TankParams()
        unused = IGNORED_BY[params.schedule] + (("start",) if params.units == "potts" else ()) + (
            ("u0",) if params.schedule == "mfa" and samples.derived.get("u0_critical", 0) > 0 else ())
        ignored = [name for name in dict.fromkeys(unused) if getattr(given, name) != getattr(defaults, name)]
        if ignored:
            samples.info["note"] = (f"schedule={params.schedule} does not use {', '.join(ignored)}: "
                                    f"{'that value has' if len(ignored) == 1 else 'those values have'} no effect")
        if params.preset == "hopfield-tank-1985" and dict(energy.weights) != ARTICLE_WEIGHTS:
            given_weights = ", ".join(f"{name}={value:g}" for name, value in energy.weights.items())
            article = " ".join(f"--weight {name}={value:g}" for name, value in ARTICLE_WEIGHTS.items())
            note = (f"preset=hopfield-tank-1985 ran the article's equations on this energy's weights "
                    f"({given_weights}), not the article's network ({article}, on cities of the unit square)")
            samples.info["note"] = f"{samples.info['note']}; {note}" if samples.info.get("note") else note
        return samples

    def _solve(self, energy: Energy, params: TankParams, seed: int | None, initial_states: np.ndarray | None,
               callback: Callback | None) -> SampleSet:
        if params.schedule == "serial":
            return self._solve_serial(energy, params, seed, initial_states, callback)
        seed = resolve_seed(seed)
        started = time.perf_counter()
        n = energy.num_variables
        reads = params.reads if initial_states is None else len(np.atleast_2d(initial_states))
        _check_sizes(energy, params, reads)
        rng = make_rng(seed)
        vt = energy.vartype
        derived: dict = {"seed": seed, "units": params.units, "schedule": params.schedule}
        dynamics = energy
        normalised = params.units == "potts"
        if normalised:
            groups = unit_groups(energy, params.units)
            if groups is None:
                raise ParameterError("backend 'tank': units=potts needs an energy with one-hot groups or a layout")
            dynamics = softmax_energy(energy, groups)
            derived["dropped_terms"] = [t for t in energy.term_names if t not in dynamics.term_names]
        with np.errstate(over="ignore"):  # an overflowing bound is inf, and refused as such
            bounds = dynamics.field_bounds()
        refuse_unscalable(np.zeros(0), bounds)
        fitting_reads, products, exact_gain = None, None, True
        if params.time_limit is not None and n:  # before the set-up below, which at 640,000 units takes seconds
            field_s = self._field_seconds(dynamics, params)
            fitting_reads = self._reads_that_fit(field_s, params, reads, n)
            # the critical gain's Lanczos may take a quarter of the limit, in products of one read's cost each
            products = max(4, int(CRITICAL_GAIN_SHARE * params.time_limit / max(LANCZOS_PRODUCT * field_s, 1e-9)))
        if params.schedule == "mfa":
            if not normalised:
                raise ParameterError("backend 'tank': schedule=mfa needs units=potts")
            critical, exact_gain = critical_gain_and_exactness(dynamics, groups, params.tau, rng, products)
            gain0 = critical if critical > 0 else params.u0
            derived["u0_critical"] = critical
            dt = params.dt if params.dt is not None else 0.1 * params.tau
        else:
            gain0 = params.u0
            scale = float(bounds.max(initial=0.0))
            dt = params.dt if params.dt is not None else min(0.1 * params.tau, 0.1 * params.u0 / max(scale, 1e-12))
        derived["dt"] = dt
        if initial_states is not None:
            start_v = np.atleast_2d(np.asarray(initial_states, dtype=np.float64))
            if start_v.shape[1] != n:
                raise ParameterError(f"initial states must have {n} columns, got {start_v.shape[1]}")
            reads = len(start_v)
            margin = 0.25 if vt is Vartype.BINARY else 0.5  # graded version of the given discrete state
            start_v = np.clip(start_v, vt.low + margin, 1 - margin) if n else start_v
        else:
            reads = params.reads
            mid = 0.5 if vt is Vartype.BINARY else 0.0
            start_v = np.full((reads, n), params.start if params.start is not None else mid)
        # Potts: equal outputs in every group, the unbiased start
        u = np.zeros_like(start_v) if normalised else inverse_activation(start_v, gain0, vt)
        spread = params.noise * gain0
        if params.preset == "hopfield-tank-1985" and initial_states is None and n:
            spread = params.noise * float(np.abs(u[0, 0]))  # equation (22): δu ~ U(-|u₀₀|/10, |u₀₀|/10)
        u = u + rng.uniform(-spread, spread, size=u.shape)
        if fitting_reads is not None:
            u = u[:fitting_reads]
            finishing = (fitting_reads * assignment_seconds(energy) if params.finish == "assignment"
                         and params.units == "potts" and energy.layout is not None else 0.0)
            params = dataclasses.replace(params, time_limit=max(0.0, params.time_limit - finishing
                                                                - (time.perf_counter() - started)))
        reads = len(u)
        derived["reads"] = reads
        evaluations = None
        if params.integrator == "euler" or params.schedule == "mfa":
            gain_at = self._gain_function(params, gain0, dt)
            u, steps, settled, trajectory, trace, interrupted, gain = self._euler(dynamics, params, dt, u, callback,
                                                                                 gain_at, energy)
        else:
            u, steps, settled, trajectory, trace, interrupted, evaluations = self._rk45(dynamics, params, dt, u,
                                                                                        callback)
            gain = params.u0
        v = outputs(u, gain, energy, params)
        states = threshold(v, energy, params)
        projected = 0
        if params.finish == "assignment" and params.units == "potts" and energy.layout is not None and n:
            states, projected = nearest_permutations(v, states, energy)
        derived["gain_final"] = gain  # the gain the run ended at (mfa: the cooled critical gain)
        info = {
            "derived": derived, "steps": steps, "settled": settled,
            "work": steps,
            "work_unit": "steps", "interrupted": interrupted,
            # the loop ends early only by settling, by Ctrl-C, or at the deadline
            "timed_out": not (settled or interrupted) and steps < params.max_steps,
            "graded_outputs": v, "projected": projected, "wall_time_s": time.perf_counter() - started,
        }
        if evaluations is not None:
            info["rhs_evaluations"] = int(evaluations)
        if params.time_limit is not None and params.u0_final is None and exact_gain:  # without gain annealing
            info["replay"] = {"reads": reads, "max_steps": steps}  # a run cut short is the same with fewer steps
        if params.trajectory:
            info["trajectory"] = trajectory
        if params.trace:
            info["trace"] = np.array(trace).T if trace else np.zeros((reads, 0))
        return SampleSet.from_states(energy, states, **info)

    def _solve_serial(self, energy: Energy, params: TankParams, seed: int | None, initial_states: np.ndarray | None,
                      callback: Callback | None) -> SampleSet:
        """``schedule=serial``: the reads one after the other (:mod:`hopsolve.backends.tank_serial`). With a time
        limit a read the deadline cuts is kept only when no read finished (its outputs then go through the
        clean-up), so ``reads`` = the reads kept replays the run without the limit."""
        started = time.perf_counter()
        view = energy.permutation
        if view is None or params.units != "potts":
            raise ParameterError("backend 'tank': schedule=serial needs a permutation energy (TSP, assignment, QAP) "
                                 "and units=potts")
        seed = resolve_seed(seed)
        rng = make_rng(seed)
        n = view.size
        reads = params.reads if initial_states is None else len(np.atleast_2d(initial_states))
        if initial_states is not None:  # the user's input first, before any size or time is judged
            given = np.atleast_2d(np.asarray(initial_states, dtype=np.float64))
            if given.shape[1] != energy.num_variables:
                raise ParameterError(f"initial states must have {energy.num_variables} columns, got {given.shape[1]}")
        budget = _step_budget(params)
        _check_sizes(energy, params, reads)
        # each read its own stream (start and sweep orders), so the first k reads replay with reads=k
        streams = [np.random.default_rng(sequence) for sequence in read_sequences(seed, reads)]
        # the sweep is timed before any read's n × n start exists (rl5915 with 3 reads built 2.4 GB of starts, over
        # the memory limit, before refusing a sweep of 200 s), and bounded before the network's n × n arrays exist
        check_allocation(8.0 * 4 * float(n) * float(n), f"the serial network of a {n:,}-item permutation")
        network = SerialNetwork.from_view(view)
        alpha, beta = params.column_weight, params.self_coupling
        lanczos_s, deadline, finishing = None, None, 0.0
        if params.time_limit is not None and n:
            _check_serial_sweep(sweep_seconds(network, budget), n, budget, params)
            lanczos_s = CRITICAL_GAIN_SHARE * params.time_limit
            # the clean-up may project every read kept
            finishing = reads * assignment_seconds(energy) if params.finish == "assignment" else 0.0
        index = energy.layout.indices()
        if initial_states is not None:
            on = given[:, index] == 1
            starts: Iterator[np.ndarray] = (0.5 * row / np.maximum(row.sum(axis=1, keepdims=True), 1) + 0.5 / n
                                            for row in on)
        else:  # each read's start made when the read begins: one n × n start at a time
            starts = (_serial_start(stream, n, params.noise) for stream in streams)
        critical, exact = network.critical_temperature(alpha, beta, rng, lanczos_s)
        if params.time_limit is not None:
            deadline = started + params.time_limit - finishing
        runs: list = []
        total_sweeps = [0]
        # a progress total: a read ends at max_steps or where the temperature falls to MFA_GAIN_FLOOR of T_c,
        # then the mean of the reads done (most saturate sooner)
        expected = [min(params.max_steps, math.ceil(math.log(MFA_GAIN_FLOOR) / math.log(params.cooling)) + 1)]
        trajectory: list[dict] = []
        index_of_read = [0]

        def progress(sweep: int, temperature: float, v_items: np.ndarray, level: float) -> None:
            if params.trajectory and sweep % params.record_every == 0:
                flat = np.zeros(energy.num_variables)
                flat[index] = v_items
                trajectory.append({"read": index_of_read[0], "sweep": sweep, "temperature": temperature,
                                   "saturation": level, "energy": float(energy.energies(flat[None, :])[0]),
                                   "V": flat})
            if callback is not None:  # the total assumes every read runs max_steps sweeps: most saturate sooner,
                callback({"done": total_sweeps[0] + sweep, "total": max(reads * expected[0], total_sweeps[0] + sweep),
                          "unit": "sweeps"})

        for start, stream in zip(starts, streams):
            run = anneal_read(network, start, critical, alpha, beta, params.cooling, params.saturation,
                              params.max_steps, MFA_GAIN_FLOOR, stream, deadline, progress,
                              math.inf if params.self_coupling_off_at is None else params.self_coupling_off_at)
            total_sweeps[0] += run.sweeps
            index_of_read[0] += 1
            expected[0] = max(1, round(total_sweeps[0] / index_of_read[0]))
            if run.timed_out and runs:
                break
            runs.append(run)
            if run.timed_out or run.interrupted:
                break
        v = np.zeros((len(runs), energy.num_variables))
        for row, run in enumerate(runs):
            v[row, index] = run.outputs
        states = threshold(v, energy, params)
        projected = 0
        if params.finish == "assignment" and n:
            states, projected = nearest_permutations(v, states, energy)
        timed_out = any(run.timed_out for run in runs) or len(runs) < reads and not any(
            run.interrupted for run in runs)
        derived = {"seed": seed, "units": params.units, "schedule": "serial", "reads": len(runs),
                   "cooling": params.cooling, "temperature_critical": critical}
        info = {"derived": derived, "steps": total_sweeps[0], "settled": all(run.saturated for run in runs),
                "work": total_sweeps[0], "work_unit": "sweeps", "interrupted": any(r.interrupted for r in runs),
                "timed_out": timed_out, "graded_outputs": v, "projected": projected,
                "wall_time_s": time.perf_counter() - started,
                "weights_unused": ("tank's serial schedule builds its own network from the permutation's "
                                   "objective, unweighted (column_weight and self_coupling set its constraint)")}
        if params.trajectory:
            info["trajectory"] = trajectory
        if params.time_limit is not None and exact and not any(run.timed_out for run in runs):
            info["replay"] = {"reads": len(runs)}  # a T_c cut short by the limit would not replay
        return SampleSet.from_states(energy, states, **info)

    @staticmethod
    def _field_seconds(energy: Energy, params: TankParams) -> float:
        """Seconds one read's field evaluation takes (the fastest of three timings: one timing on a busy machine
        can catch a context switch; the time of a field does not depend on the state)."""
        first = outputs(np.zeros((1, energy.num_variables)), params.u0, energy, params)
        energy.fields(first)  # the first call may build lazily stored terms: time the next ones
        return fastest_seconds(lambda: energy.fields(first), 3)

    @staticmethod
    def _reads_that_fit(field_s: float, params: TankParams, reads: int, units: int) -> int:
        """How many reads' integration steps each fit in ``STEP_SHARE`` of the time limit, at ``field_s`` seconds
        a field evaluation; the first reads are kept (so ``reads=k`` replays the run). Refused when one read's
        step alone does not fit: the deadline could not be kept."""
        per_read = field_s * EVALUATIONS_PER_STEP[params.integrator]
        budget = _step_budget(params)
        if per_read > budget:
            raise TooLargeError(f"backend 'tank': one {params.integrator} step of one read takes {per_read:.2g} s on "
                                f"this energy ({units:,} units), more than the {_budget_phrase(budget, params)}; "
                                f"that needs at least {per_read / STEP_SHARE:.3g} s after reading and encoding, or "
                                "use anneal")
        return max(1, min(reads, int(budget / max(per_read, 1e-12))))

    @staticmethod
    def _gain_function(params: TankParams, gain0: float, dt: float):
        """The gain after ``step`` Euler steps: fixed, the ``u0 → u0_final`` ramp, or ``mfa``'s cooling."""
        if params.schedule == "mfa":  # a staircase: held for one time unit τ, then multiplied by ``cooling``
            level = max(1, int(round(params.tau / dt)))
            return lambda step: gain0 * params.cooling ** (step // level)
        if params.u0_final is None:
            return lambda step: gain0
        total = max(params.max_steps, 1)
        return lambda step: gain0 * (params.u0_final / gain0) ** (min(step, total) / total)

    @staticmethod
    def _progress(energy: Energy, params: TankParams, v: np.ndarray, step: int) -> dict:
        """A callback update: steps done, and the best thresholded state so far (for anytime curves)."""
        states = threshold(v, energy, params)
        energies = energy.energies(states) if len(states) else np.zeros(0)
        best = int(np.argmin(energies)) if len(energies) else 0
        update = {"done": step, "total": params.max_steps, "unit": "steps"}
        if len(energies):
            update.update(best_energy=float(energies[best]), best_state=states[best])
        return update

    def _euler(self, energy: Energy, params: TankParams, dt: float, u: np.ndarray, callback: Callback | None,
               gain_at, scored: Energy):
        """Euler steps of ``du/dt = -u/τ + h(V)`` at the gain ``gain_at(step)``; stops when the outputs settle
        (fixed gain), when every group is saturated (``mfa``), at ``max_steps``, the deadline or Ctrl-C. ``energy``
        drives the dynamics; progress reports score thresholded states with ``scored`` (the problem's energy)."""
        deadline = None if params.time_limit is None else time.perf_counter() + params.time_limit
        trajectory: list[dict] = []
        trace: list[np.ndarray] = []
        gain = gain_at(0)
        v = outputs(u, gain, energy, params)
        settled = interrupted = False
        annealing = params.schedule == "mfa" or params.u0_final is not None
        groups = unit_groups(energy, params.units) if params.schedule == "mfa" else None
        step = 0
        began = time.perf_counter()
        try:  # Ctrl-C ends the integration where it is: the outputs so far are thresholded as usual
            for step in range(1, params.max_steps + 1):
                gain = gain_at(step)
                with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked for just below
                    u = u + dt * (-u / params.tau + energy.fields(v))
                    new_v = outputs(u, gain, energy, params)
                if not np.isfinite(new_v).all():  # a step too long for the fields, or a gain cooled to nothing
                    raise ParameterError(f"backend 'tank': the integration diverged at step {step} (dt={dt:g}, gain "
                                         f"{gain:.3g}): give a smaller dt")
                change = float(np.max(np.abs(new_v - v))) if v.size else 0.0
                v = new_v
                if (params.trajectory or params.trace) and (step % params.record_every == 0 or step == 1):
                    lyap = lyapunov(energy, v, gain, params.tau, params.units)
                    if params.trajectory:
                        trajectory.append({"step": step, "t": step * dt, "V": v.copy(), "energy": lyap,
                                           "gain": gain})
                    if params.trace:
                        trace.append(lyap)
                if groups is not None and saturation(v, groups) >= params.saturation:
                    settled = True
                    break
                if groups is not None and gain < MFA_GAIN_FLOOR * gain_at(0):  # cooled a billionfold: the rows
                    break  # will not commit further (a network that oscillates between states never saturates)
                if change < params.settle_tolerance and not annealing:  # gain annealing: run it all
                    settled = True
                    break
                if callback is not None and step % 1000 == 0:
                    callback(self._progress(scored, params, v, step))
                now = time.perf_counter()
                if deadline is not None and now + (now - began) / step > deadline:  # no step that would end late
                    break
        except KeyboardInterrupt:
            interrupted = True
        return u, step, settled, trajectory, trace, interrupted, gain

    def _rk45(self, energy: Energy, params: TankParams, dt: float, u: np.ndarray, callback: Callback | None):
        """Adaptive RK45 (scipy's integrator, stepped here) to ``max_steps·dt`` time units, stopping early when
        the outputs settle, at the deadline (checked after every step) or on Ctrl-C. ``steps`` counts the time
        reached in units of ``dt`` (comparable with Euler's); ``rhs_evaluations`` is the integrator's work."""
        deadline = None if params.time_limit is None else time.perf_counter() + params.time_limit
        shape = u.shape
        if not u.size:
            return u, 0, True, [], [], False, 0

        def rhs(_t: float, flat: np.ndarray) -> np.ndarray:
            uu = flat.reshape(shape)
            return (-uu / params.tau + energy.fields(outputs(uu, params.u0, energy, params))).ravel()

        def output_slope(flat: np.ndarray) -> float:
            uu = flat.reshape(shape)
            slope = np.abs(rhs(0.0, flat)).reshape(shape) * (1 - np.tanh(uu / params.u0) ** 2) / params.u0
            return float(slope.max(initial=0.0))

        horizon = params.max_steps * dt
        recording = params.trajectory or params.trace
        record = np.linspace(0, horizon, max(2, params.max_steps // params.record_every)) if recording else []
        solver = RK45(rhs, 0.0, u.ravel(), horizon, rtol=1e-6, atol=1e-9)
        trajectory: list[dict] = []
        trace: list[np.ndarray] = []
        settled = interrupted = False
        recorded = reported = 0
        began = time.perf_counter()
        try:
            while solver.status == "running":
                solver.step()
                if recording:
                    dense = solver.dense_output()
                    while recorded < len(record) and record[recorded] <= solver.t:
                        v = outputs(dense(record[recorded]).reshape(shape), params.u0, energy, params)
                        lyap = lyapunov(energy, v, params.u0, params.tau, params.units)
                        trajectory.append({"step": recorded, "t": float(record[recorded]), "V": v, "energy": lyap})
                        trace.append(lyap)
                        recorded += 1
                if output_slope(solver.y) < params.settle_tolerance:
                    settled = True
                    break
                done = int(solver.t / dt)
                if callback is not None and done >= reported + 1000:
                    reported = done
                    callback(self._progress(energy, params, outputs(solver.y.reshape(shape), params.u0, energy,
                                                                     params), min(done, params.max_steps)))
                now = time.perf_counter()
                per_step = (now - began) / max(solver.nfev, 1) * EVALUATIONS_PER_STEP["rk45"]
                if deadline is not None and now + per_step > deadline:  # no step that would end late
                    break
        except KeyboardInterrupt:
            interrupted = True
        if solver.status == "failed":
            raise ParameterError(f"backend 'tank': the RK45 integrator failed ({solver.message}); try a smaller u0")
        steps = min(params.max_steps, int(round(solver.t / dt)))
        return (solver.y.reshape(shape), steps, settled, trajectory if params.trajectory else [], trace,
                interrupted, solver.nfev)
