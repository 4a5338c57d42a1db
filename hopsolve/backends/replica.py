"""Replica exchange (parallel tempering) with Houdayer cluster moves: the ``replica`` backend.

Each *read* is a ladder of replicas at inverse temperatures ``β_0 < … < β_{R-1}``; replicas sweep with the
single-flip Metropolis kernel of ``anneal``, neighbours on a ladder exchange temperatures by the Metropolis rule,
and the two ladders of a pair exchange clusters at each temperature (Houdayer moves, on sparse models). Every move
leaves the product of Boltzmann distributions ``Π_k exp(-β_k E)`` invariant, so at a fixed ladder
(``schedule="fixed"``, parallel tempering) each temperature samples its own distribution and the cold end keeps
visiting low states. With ``schedule="anneal"`` the whole ladder cools over the run: its cold end goes
geometrically from ``β_min`` to ``β_max`` and the other rungs keep their ratios to it; with one replica per ladder
(the default there) that is simulated annealing with Houdayer moves between pairs of reads. The kernels are in
:mod:`hopsolve.backends._replica_kernels`.

**The ladder** (when ``beta_min``, ``beta_max`` or ``replicas`` are not given) comes from the energy's scale:

- hot end ``β_min = 1/σ``, σ the root mean square spread of a unit's field at a random state
  (:meth:`~hopsolve.backends._model.SpinModel.typical_field`; anneal's *typical* hot end): about where a spin
  glass with such fields freezes (``β_c σ = 1`` for the Sherrington–Kirkpatrick model);
- cold end ``β_max = ln 100 / ΔE_min`` (:func:`~hopsolve.backends.schedules.default_beta_range`): the smallest
  uphill flip is taken with probability ≤ 1%, so the coldest replica sits in its local minimum; an annealed
  ladder that fills a time limit (``cold_end="auto"``) reaches it after 90% of its sweeps and spends the rest
  going colder, to where a whole sweep takes such a flip with probability about 1%
  (:func:`~hopsolve.backends.schedules.sweep_beta_max`);
- ``R = clip(round(√n · ln(β_max/β_min) / 4), 4, 32)`` temperatures for a fixed ladder (1 for an annealed one),
  spaced geometrically. Neighbours exchange with probability about ``exp(-(Δβ/β)² C / 2)``, C ∝ n the heat
  capacity, so a constant rate would need R ∝ √n; the cap keeps sweeps per replica for large models, whose
  exchange rates then fall (they are reported, ``info['exchange_rates']``).

**Cluster moves** (``cluster_moves="auto"``): Houdayer moves between ladders 2g and 2g+1 at every temperature of
a fixed ladder, on models without group penalties whose coupling graph has at most :data:`SPARSE_DEGREE`
neighbours per unit on average (lattices, sparse random and planar graphs); on dense models clusters span the
system. Annealed ladders make none by default: at equal time they did not help (a 70 × 70 ±1 torus and a
5000-node random graph of mean degree 5, 10 s, three seeds: mean cut 3392 without, 3388 with a move every round,
3391 every tenth; 10297.7, 10296, 10296), because a move between two annealing reads, which differ in large
domains, costs about a sweep.

**Budget.** Without a time limit a run is ``sweeps`` rounds (a round: one sweep of every replica, then exchanges
and cluster moves), so a seed gives the same states on any machine. With ``time_limit`` it stops at the limit
(an annealed ladder that falls behind is squeezed into the rounds that fit, so it still ends cold, and says so:
``info['schedule_compressed']``). With ``fill_time`` as well (``hopsolve solve --time-limit`` on a problem marked
``anytime``) the limit is a budget to spend: a fixed ladder runs rounds until it is spent; an annealed one first
times a short pilot anneal, then chooses the reads (ladders) and sweeps that fill it (:func:`plan_anytime`), and
stretches or squeezes the rest of its schedule when the pace it meets differs by more than a few per cent
(``info['schedule_stretched']``, ``info['schedule_compressed']``). The ladder itself never depends on the time,
and the reads and sweeps run are the result's ``reads`` and ``sweeps`` (``derived``; the pilot's plan is
``info['sweeps_planned']``): the same seed with those two replays a fixed ladder's run exactly, and an annealed
one's whenever its schedule was neither stretched nor squeezed.

**The end.** Each ladder returns its best state seen at the end of a round (``keep_best``), finished by a greedy
descent (``final_descent``, :func:`descend_best_states`): a state seen at a finite temperature still carries
single-flip excitations, which the descent removes. On a sparse anytime anneal the reads' states are then
recombined into the best one (``recombine``, :func:`recombine_best_states`): where two reads differ, in regions
separated by sites where they agree, each region is taken from whichever read is lower there.

**Permutation energies** (TSP, QAP, assignment: an energy with a permutation view) are tempered inside the
feasible set instead, with the same exchange rule, every replica a permutation throughout: tours (TSP) with
``anneal``'s tour moves from the metric (2-opt and Or-opt between near cities;
:mod:`hopsolve.backends._replica_tour`), the others with ``anneal``'s permutation moves (exchanges, block
reversals, ejection chains; :mod:`hopsolve.backends._replica_permutation`); each module says how its ladder is
derived and what it refuses. Pattern (dense associative memory) terms are refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from hopsolve.backend import (
    Backend,
    Callback,
    TimedRunParams,
    check_run_size,
    given_states,
    reads_that_fit,
    schedule_steps_buildable,
    time_left_phrase,
)
from hopsolve.backends import _kernels as K
from hopsolve.backends import _replica_kernels as RK
from hopsolve.backends import _tabu_kernels as TK
from hopsolve.backends._blas import holds_one_blas_thread
from hopsolve.backends._descent import descend_all_or_none, descent_reserve, first_chunk_reserve
from hopsolve.backends._model import (
    SpinModel,
    build_deadline,
    check_spin_model_size,
    compile_spin_model,
    from_spins,
    pattern_part,
    to_spins,
)
from hopsolve.backends._recombination import recombine_into, recombine_reads
from hopsolve.backends._replica_permutation import solve_permutation
from hopsolve.backends._replica_tour import solve_tour
from hopsolve.backends.anneal import _holding_penalties, _Threads, refuse_unused_start
from hopsolve.backends.replan import Replan, apply_replan, parse_replan
from hopsolve.backends.schedules import (
    RELATIVE_FLOOR,
    default_beta_range,
    ladder_span,
    sweep_beta_max,
    typical_beta_min,
)
from hopsolve.energy import Energy
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.interrupt import ctrl_c_after_block
from hopsolve.params import require
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import kernel_states, make_rng, resolve_seed
from hopsolve.warmup import warm_up

CHUNK_SECONDS = 0.1
SPARSE_DEGREE = 16.0
"""Largest mean number of neighbours per unit for which ``cluster_moves="auto"`` makes Houdayer moves."""
OWNER = "backend 'replica'"
PILOT_SECONDS = 0.5
"""The anytime rule's pilot anneal runs about this long (or 2% of the limit, if less) to time a round."""
PILOT_GROWTH = 16
"""The most a pilot anneal's rounds grow from one timing to the next (the first, of 4 rounds, is mostly the cost of
waking the threads)."""
PILOT_MOST_ROUNDS = 1 << 20
"""The longest pilot anneal, in rounds."""
ANYTIME_SHARE = 0.97
"""The share of the time left after the pilot that the anytime rule plans for (the rest absorbs a slower pace; a
plan kept to its pace leaves less than :data:`FILL_SLACK` of the limit unused, so it is not stretched)."""
FILL_SHARE = 0.98
"""The share of the time left that a running plan is stretched to fill once its own pace is measured (a stretch is
made when more than :data:`FILL_SLACK` of the limit would go unused). A slower pace later is met by the
compression, which resamples the rest of any plan that would overrun into this share of the sweeps that fit; 10 s
runs that stretched to 95% of it when 7% would go unused left 0.3–0.7 s (RESULTS section 10)."""
FILL_SLACK = 0.04
"""The share of the limit a running plan may leave unused before it is stretched (see :data:`FILL_SHARE`)."""
MAX_PLANNED_SWEEPS = 10_000_000
"""The most sweeps an anytime plan (or a stretch of it) schedules, as ``anneal`` caps a stretched schedule."""
RUN_ARRAYS = 4
"""The arrays of a replica's size a run holds, as its memory check counts them (states, best states, fields)."""
LATTICE_TABU_SHARE = 0.3
"""``tabu_share``'s value, left to the backend (``None``), on a uniform lattice (:func:`is_uniform_lattice`) in a
run that fills its time limit: the walks finish what the anneal leaves there (domain walls). Measured at 10 s
(RESULTS section 10): the optimum of a held-out 27 × 110 unit-weight torus in every run (the anneal alone 2–6
below it), G50's best-known cut in every run, no loss on bipartite unit-weight tori; on ±1 tori, random and planar
graphs the walks gained nothing or lost, so it is not applied there."""
LATTICE_DEGREE = 4
"""The neighbours every unit of a uniform lattice has (:func:`is_uniform_lattice`): a square torus's."""
LATTICE_MAX_UNITS = 5000
"""The most units a uniform lattice given :data:`LATTICE_TABU_SHARE` has: the walks were measured on tori of
2,970–3,000 units, and their O(n) scan a move buys less on larger ones."""
RECOMBINED_READS = 40
"""The most reads (the lowest) :func:`recombine_best_states` folds together."""
ANYTIME_SWEEPS_PER_UNIT = 10
"""The anytime rule's read length by default on a sparse model: this many sweeps per unit (see
:func:`aimed_sweeps`)."""
ANYTIME_SWEEPS_PER_UNIT_DENSE = 2.5
"""The same on a dense model (more than :data:`SPARSE_DEGREE` neighbours a unit on average): there a read's chance
of the best state hardly grows with its length, so shorter reads, more of them (RESULTS §10, thirty-fourth
session)."""
ANYTIME_SWEEPS_FLOOR = 1000
"""The shortest read the anytime rule aims for by default."""
ANYTIME_SWEEPS_CEILING = 100_000
"""The longest read the anytime rule aims for by default (before it adds reads)."""


@dataclass(frozen=True)
class ReplicaParams(TimedRunParams):
    """Parameters of the ``replica`` backend (every field has a default)."""

    reads: int = 4
    """Ladders, each returning its best state. Ladders 2g and 2g+1 form a group that exchanges clusters; groups
    run in parallel (four ladders keep two cores busy). With initial states, one ladder per state (all its
    replicas start there). With ``fill_time`` on an annealed ladder the anytime rule chooses the ladders instead
    (up to ``anytime_reads``), unless ``plan_reads`` is off: then it runs exactly ``reads``."""
    sweeps: int = 1000
    """Rounds: each replica sweeps once per round, then neighbours exchange and pairs of ladders move clusters. On a
    tour energy, sweeps of n tour moves a replica (``anneal``'s tour sweep), each made of rounds of at most 10,000
    (see :mod:`hopsolve.backends._replica_tour`); on another permutation energy, sweeps of n² move attempts a
    replica, each made of rounds of n attempts (see :mod:`hopsolve.backends._replica_permutation`)."""
    schedule: Literal["fixed", "anneal"] = "fixed"
    """``fixed``: parallel tempering at a fixed ladder; ``anneal``: the ladder cools from ``beta_min`` to
    ``beta_max`` over the sweeps (its cold end geometrically, the other rungs in proportion)."""
    replicas: int | None = None
    """Temperatures per ladder; derived when not given (see the module docstring; 1 for ``anneal``)."""
    beta_min: float | None = None
    """Hottest β (of the cold end, for ``anneal``); derived when not given."""
    beta_max: float | None = None
    """Coldest β; derived when not given (see ``cold_end``)."""
    cold_end: Literal["auto", "unit", "model", "tail"] = "auto"
    """The rule for a derived ``beta_max``: ``unit``, ``ln 100 / ΔE_min`` (each unit takes its smallest uphill
    flip with probability ≤ 1% at the end); ``model``, the β at which a whole sweep takes one with probability
    about 1%, ``Σ_i exp(-β g_i) = 0.01`` over each unit's smallest change ``g_i``
    (:func:`~hopsolve.backends.schedules.sweep_beta_max`, dwave-samplers' rule with exact gaps for unit and ±1
    weights; never warmer than ``unit``); ``tail``, an annealed schedule that reaches ``unit``'s end after
    ``1 - cold_tail`` of its sweeps and ``model``'s in the rest (:meth:`Ladder.schedule`); ``auto``, ``tail`` on
    an annealed ladder that fills a time limit (max-cut's anytime default), ``unit`` otherwise (the untimed
    default stays ``anneal``'s schedule). ``tail`` rather than ``model``: the colder end helps large graphs with
    unit weights at the finish, and moving the whole schedule colder cost mid-sized ±1 and planar graphs at short
    limits (RESULTS §10)."""
    cold_tail: float = 0.1
    """With ``cold_end="tail"``: the share of an annealed schedule's sweeps spent between ``unit``'s and
    ``model``'s cold ends."""
    rule: Literal["metropolis", "glauber"] = "metropolis"
    """Single-flip acceptance rule (both sample the Boltzmann distribution at each β)."""
    cluster_moves: Literal["auto", "houdayer", "none"] = "auto"
    """Houdayer cluster moves between pairs of ladders: ``auto`` for fixed ladders on sparse models without group
    penalties (see the module docstring)."""
    cluster_limit: float = 0.5
    """Largest cluster moved, as a fraction of the units (larger ones are left alone)."""
    cluster_every: int = 1
    """Rounds between cluster moves (a move can cost as much as a sweep)."""
    anytime_sweeps: int | None = None
    """With ``fill_time`` on an annealed ladder: the sweeps per ladder the anytime rule aims for before it adds
    ladders (between 4 and ``anytime_reads``). ``None``: ``anytime_sweeps_per_unit`` per unit, between
    :data:`ANYTIME_SWEEPS_FLOOR` and :data:`ANYTIME_SWEEPS_CEILING` (:func:`aimed_sweeps`)."""
    anytime_sweeps_per_unit: float | None = None
    """Without ``anytime_sweeps``: the sweeps a unit the anytime rule aims a read at (:func:`aimed_sweeps`); one
    number for every size of a family of graphs, where ``anytime_sweeps`` is one length for one graph. ``None``:
    :data:`ANYTIME_SWEEPS_PER_UNIT` (10) on a sparse model, :data:`ANYTIME_SWEEPS_PER_UNIT_DENSE` (2.5) on one of
    more than :data:`SPARSE_DEGREE` neighbours a unit on average."""
    anytime_reads: int = 1000
    """With ``fill_time`` on an annealed ladder and ``plan_reads``: the most ladders the anytime rule may use (it
    uses fewer when the time buys fewer reads of ``anytime_sweeps``; memory is checked for what it plans)."""
    plan_reads: bool = True
    """With ``fill_time`` on an annealed ladder: let the anytime rule choose the ladders (between 4 and
    ``anytime_reads``); False: run exactly ``reads`` ladders and plan only their sweeps (what a solve with a time
    limit does when the user gives the reads: ``hopsolve solve G.txt --time-limit 10 --reads 8`` runs 8 reads)."""
    keep_best: bool = True
    """Return each ladder's best state seen (else the state of its coldest replica at the end)."""
    final_descent: bool = True
    """With ``keep_best``: finish each ladder's best state (the one returned) with a greedy descent
    (zero-temperature asynchronous sweeps in index order, the discrete Hopfield update, until a sweep changes
    nothing; see :func:`descend_best_states`). A best state seen at the end of a sweep still carries the
    excitations of that sweep's temperature (on graphs with unit weights, about 1% of the units whose smallest
    flip costs ``ΔE_min``, at ``cold_end="unit"``); the descent removes them and never raises an energy. Skipped
    after Ctrl-C. A timed run keeps time for it out of its sweeps, at most a tenth of the limit: twice the first
    sweeps of a descent of as many random starts as it returns states
    (:func:`hopsolve.backends._descent.first_chunk_reserve`: states seen at a low temperature settle within them),
    or, on energies with one-hot group penalties, whose best states carry violations that take whole descents,
    twice a whole descent of each from a random start (:func:`~hopsolve.backends._descent.descent_reserve`); either
    is timed once the ladders are planned, where the anytime rule plans them. It
    then descends every returned state or none, so that the printed replay reproduces the run: a descent skipped
    because it would not fit is recorded as ``final_descent=False`` in ``info['replay']`` (a timed TSP run filled
    its limit, skipped the descent and returned every read infeasible, while its replay descended them). On a
    permutation energy (TSP, QAP, assignment) the descent is a quench inside the permutations instead, by their
    own moves, with the same rule for a timed run (:mod:`hopsolve.backends._replica_tour`,
    :mod:`hopsolve.backends._replica_permutation`)."""
    recombine: Literal["auto", "on", "off"] = "auto"
    """With ``keep_best`` and two reads or more: after the final descent, fold every read's best state into the best
    read's by its clusters of disagreement (:mod:`hopsolve.backends._recombination`: each region where two reads
    differ is taken from whichever is lower there, an exact choice since the regions are independent), then descend
    the result; it replaces the best read's state when lower (``info['recombination']``). Only on models without
    group penalties. ``auto``: on for an annealed ladder that fills a time limit (max-cut's anytime default) on a
    sparse model (at most :data:`SPARSE_DEGREE` neighbours per unit on average; on dense ones a cluster spans the
    model), off otherwise (the untimed default stays ``anneal``'s, state for state)."""
    time_limit: float | None = None
    """Stop after this many seconds (checked between chunks of rounds of about 0.1 s) with the best so far."""
    fill_time: bool = False
    """With a time limit: spend it (an anytime run, see :func:`plan_anytime`), whatever ``sweeps`` says."""
    replan: str = ""
    """Changes to the cold end's schedule of ``sweeps`` rounds before the run, ``at:total,...`` (see
    :mod:`hopsolve.backends.replan`). A timed run records in ``info['replay']`` the reads, sweeps and replan that
    replay it exactly without the time limit."""
    threads: int | None = None
    """Threads over the groups of ladders (default: all cores; more than numba has, ``NUMBA_NUM_THREADS``, run as
    many as it has); the states do not depend on it."""
    tabu_share: float | None = None
    """With ``fill_time`` and a time limit on an annealed ladder (max-cut's anytime default), on a model without
    group penalties: the share of the limit given to tabu search with breakouts (:mod:`hopsolve.backends.
    _tabu_kernels`), started from the best states of the anneal, which gets the rest (0: anneal only). Without a
    time limit the run is the anneal alone unless ``tabu_moves`` is set. ``None`` (the default): 0.3
    (:data:`LATTICE_TABU_SHARE`) on a uniform lattice of at most 5,000 units (:func:`is_uniform_lattice`, as
    G48–G50) in a run with ``keep_best`` and without initial states, 0 elsewhere; the result's parameters record
    the value used (``tabu_share`` among the derived ones; ``None`` on a permutation energy, which has no tabu
    phase). 0.15 (chosen on G37 and G50) was worse than anneal alone on eight
    held-out planar/toroidal Gset graphs at 10 s (RESULTS section 10), with the O(n)-per-move scan of this kernel,
    and 0.3 gained nothing on ±1 tori and random graphs; it does finish tori of unit weights (G50, and a held-out
    27 × 110 one: the optimum in every run at 10 s, against domain walls left by the anneal alone)."""
    start: Literal["greedy", "random", "space-filling"] = "greedy"
    """On a tour energy (a TSP), where each ladder's replicas start without initial states: the greedy-edge tour, a
    random one, or the Hilbert-curve order of the cities (as ``anneal``'s ``start``; refused on other energies and
    with initial states, where it would be ignored)."""
    swap_probability: float = 0.5
    """On a permutation energy: the probability that a move is an exchange of two items (else a block reversal),
    as ``anneal``'s."""
    chain_probability: float = 0.0
    """On a permutation energy: the probability that a move is an ejection chain instead (what a linear
    assignment needs; the assignment problem asks for it), as ``anneal``'s."""
    chain_length: int = 10
    """On a permutation energy: most steps in an ejection chain."""
    tabu_walks: int = 2
    """Tabu walks (in parallel over the cores), started from the states of the best ``tabu_walks`` reads."""
    tabu_moves: int = 0
    """An explicit tabu budget: moves per walk after the anneal (without ``fill_time``, refused with it; 0: no
    tabu phase), so a seed with ``reads``, ``sweeps`` and ``tabu_moves`` replays a run exactly. A run that fills
    its limit gives the walks ``tabu_share`` of it instead; they run until the limit and the result records the
    moves made (``info['tabu_moves_done']``, the replay's ``tabu_moves``)."""
    tabu_tenure: int | None = None
    """Fewest moves a flipped unit stays tabu (a random 0–10 more are added); default ``max(3, n // 100)``."""
    tabu_stall: int | None = None
    """Moves without improving a walk's best before it breaks out (returns to its best and flips ``jump`` random
    units, ``jump`` from ``max(2, n // 100)`` growing to ``max(4, n // 10)`` while nothing improves); default
    ``max(2000, n)``."""

    def validate(self) -> None:
        super().validate()
        owner = "backend 'replica'"
        require(self.sweeps >= 1, owner, f"sweeps must be at least 1, got {self.sweeps}")
        require(self.replicas is None or 1 <= self.replicas <= 4096, owner,
                f"replicas must be from 1 to 4096, got {self.replicas}")
        for name in ("beta_min", "beta_max"):
            value = getattr(self, name)
            require(value is None or (math.isfinite(value) and value > 0), owner, f"{name} must be positive")
        if self.beta_min is not None and self.beta_max is not None:
            require(self.beta_min <= self.beta_max, owner,
                    f"beta_min ({self.beta_min}) must not exceed beta_max ({self.beta_max})")
        require(self.cold_end in ("auto", "unit", "model", "tail"), owner,
                f"cold_end must be 'auto', 'unit', 'model' or 'tail', got {self.cold_end!r}")
        require(0.0 < self.cold_tail < 1.0, owner, f"cold_tail must be in (0, 1), got {self.cold_tail}")
        require(0.0 < self.cluster_limit <= 1.0, owner, "cluster_limit must be in (0, 1]")
        require(self.recombine in ("auto", "on", "off"), owner,
                f"recombine must be 'auto', 'on' or 'off', got {self.recombine!r}")
        require(self.cluster_every >= 1, owner, f"cluster_every must be at least 1, got {self.cluster_every}")
        require(self.anytime_sweeps is None or self.anytime_sweeps >= 1, owner,
                f"anytime_sweeps must be at least 1, got {self.anytime_sweeps}")
        require(self.anytime_reads >= 1, owner, f"anytime_reads must be at least 1, got {self.anytime_reads}")
        require(self.anytime_sweeps_per_unit is None or (
                    math.isfinite(self.anytime_sweeps_per_unit) and self.anytime_sweeps_per_unit > 0), owner,
                f"anytime_sweeps_per_unit must be a positive number, got {self.anytime_sweeps_per_unit}")
        require(self.threads is None or self.threads >= 1, owner, "threads must be at least 1")
        parse_replan(self.replan, owner)
        require(self.tabu_share is None or 0.0 <= self.tabu_share < 1.0, owner,
                f"tabu_share must be in [0, 1), got {self.tabu_share}")
        require(0.0 <= self.swap_probability <= 1.0, owner,
                f"swap_probability must be in [0, 1], got {self.swap_probability}")
        require(0.0 <= self.chain_probability <= 1.0, owner,
                f"chain_probability must be in [0, 1], got {self.chain_probability}")
        require(self.chain_length >= 1, owner, f"chain_length must be at least 1, got {self.chain_length}")
        require(self.tabu_walks >= 1, owner, f"tabu_walks must be at least 1, got {self.tabu_walks}")
        require(self.tabu_moves >= 0, owner, f"tabu_moves must be at least 0, got {self.tabu_moves}")
        require(self.tabu_tenure is None or self.tabu_tenure >= 1, owner, "tabu_tenure must be at least 1")
        require(self.tabu_stall is None or self.tabu_stall >= 1, owner, "tabu_stall must be at least 1")


@dataclass(frozen=True)
class Ladder:
    """The β range of a run and the shape of its ladders (``ratios[k] = β_k / β_{R-1}``); with a ``knee``
    (``cold_end="tail"``) an annealed cold end reaches ``knee`` after ``1 - tail`` of the rounds and ``beta_max``
    at the last."""

    beta_min: float
    beta_max: float
    ratios: np.ndarray
    knee: float | None = None
    tail: float = 0.0

    def schedule(self, kind: str, rounds: int) -> np.ndarray:
        """The cold end's β in each of ``rounds`` rounds: geometric from ``beta_min`` to ``beta_max``, or, with a
        knee, geometric to the knee and then geometric on to ``beta_max`` over the last ``tail`` of the rounds."""
        if kind == "fixed" or rounds == 1:
            return np.full(rounds, self.beta_max)
        if self.knee is None or rounds < 4:
            return np.geomspace(self.beta_min, self.beta_max, rounds)
        last = min(rounds - 2, max(1, round(self.tail * rounds)))
        return np.concatenate([np.geomspace(self.beta_min, self.knee, rounds - last),
                               np.geomspace(self.knee, self.beta_max, last + 1)[1:]])

    def betas(self) -> np.ndarray:
        """The ladder at its coldest (a fixed ladder's temperatures)."""
        return self.beta_max * self.ratios


def _cold_end(params: ReplicaParams) -> str:
    """``params.cold_end`` with ``auto`` resolved (see :attr:`ReplicaParams.cold_end`)."""
    if params.cold_end != "auto":
        return params.cold_end
    anytime = params.fill_time and params.time_limit is not None and params.schedule == "anneal"
    return "tail" if anytime else "unit"


def ladder(model: SpinModel, params: ReplicaParams) -> Ladder:
    """The β range and ladder shape of a run (see the module docstring for the rule)."""
    largest, smallest = model.coefficient_scales()
    hot, cold = default_beta_range(largest, smallest)
    unit_cold, rule = cold, _cold_end(params)
    if rule in ("model", "tail"):
        sweep = sweep_beta_max(np.maximum(model.unit_gaps(), RELATIVE_FLOOR * largest))
        cold = max(cold, sweep) if sweep is not None else cold
    typical = typical_beta_min(model.typical_field(), cold)
    hot = typical if typical is not None else hot
    beta_min, beta_max, count = ladder_span(hot, cold, model.n, params.beta_min, params.beta_max, params.replicas,
                                            params.schedule, OWNER)
    ratios = np.ones(1) if count == 1 else np.geomspace(beta_min / beta_max, 1.0, count)
    knee = max(unit_cold, beta_min)
    if rule != "tail" or params.beta_max is not None or knee >= beta_max:
        return Ladder(beta_min, beta_max, ratios)
    return Ladder(beta_min, beta_max, ratios, knee, params.cold_tail)


def _setup_seconds(model: SpinModel, energy: Energy) -> float:
    """Seconds one replica's set-up takes (its fields by one coupling product, its energy). Timed on one replica;
    where that is quick (under 20 ms, where one context switch of a busy machine would swamp it) again as the
    fastest of three timings of a batch of at least four replicas, big enough to take a few milliseconds. The run
    sets its replicas up in one batch, so a batch is what is timed: a call's fixed cost (waking the threads of a
    parallel kernel took 16 ms on a machine busy with another process's threads) is paid once, not per replica."""
    spin_energy = energy.to_spin()
    rng = make_rng(0)

    def timed(count: int) -> float:
        probe = rng.choice(np.array([-1, 1], dtype=np.int8), size=(count, model.n))
        began = time.perf_counter()
        model.initial_fields(probe)
        spin_energy.energies(probe)
        return (time.perf_counter() - began) / count

    first = timed(1)
    if first > 0.02:
        return first
    count = int(min(64, max(4, 0.005 / max(first, 1e-7))))
    return min(timed(count) for _ in range(3))


SETUP_PROBE_BYTES = 32 << 20
"""The most memory (fields of float64) a batch timed to confirm a refusal may take (:func:`_batch_setup_seconds`)."""


def _batch_setup_seconds(model: SpinModel, energy: Energy, count: int) -> float:
    """Seconds a replica's set-up takes in one batch of ``count`` replicas (fewer where their fields would pass
    :data:`SETUP_PROBE_BYTES`): what a run that sets up ``count`` replicas at once pays a replica, its call's fixed
    cost shared (for a 400-unit model that cost is 6 ms a call, so :func:`_setup_seconds`' batch of four put it at
    1.5 ms a replica against 0.07 ms in a batch of 112)."""
    count = max(1, min(count, SETUP_PROBE_BYTES // (8 * max(model.n, 1))))
    probe = make_rng(1).choice(np.array([-1, 1], dtype=np.int8), size=(count, model.n))
    began = time.perf_counter()
    model.initial_fields(probe)
    energy.to_spin().energies(probe)
    return (time.perf_counter() - began) / count


def _check_setup(per_replica: float, replicas: int, params: ReplicaParams, started: float,
                 confirm: Callable[[int], float] | None = None) -> None:
    """Refuse, before building them, ``replicas`` replicas whose set-up and first sweep would end past the time
    limit (a sweep accepting every flip costs about what the set-up does: one pass over the couplings a replica).
    Before refusing, ``confirm(replicas)`` (:func:`_batch_setup_seconds`) times a batch that large, where a call's
    fixed cost no longer counts once per replica; the refusal stands only if that projection is over too."""
    left = params.time_limit - (time.perf_counter() - started)
    if 2 * per_replica * replicas > left and confirm is not None:
        per_replica = min(per_replica, confirm(replicas))
        left = params.time_limit - (time.perf_counter() - started)
    if 2 * per_replica * replicas > left:
        room = time_left_phrase(left, params.time_limit, "timing the set-up")
        raise TooLargeError(f"backend 'replica': setting up {replicas} replicas of this energy and sweeping them "
                            f"once ({per_replica * 1e3:.2g} ms each) takes about {2 * per_replica * replicas:.2g} s, "
                            f"{room}; give a longer limit, fewer reads, or use anneal")


def aimed_sweeps(params: ReplicaParams, units: int, dense: bool = False) -> int:
    """The sweeps per ladder the anytime rule aims for: ``anytime_sweeps`` where given, else
    ``anytime_sweeps_per_unit`` per unit (by default :data:`ANYTIME_SWEEPS_PER_UNIT`, or
    :data:`ANYTIME_SWEEPS_PER_UNIT_DENSE` on a ``dense`` model) between :data:`ANYTIME_SWEEPS_FLOOR` and
    :data:`ANYTIME_SWEEPS_CEILING`.

    Why in proportion to the units: on sparse graphs (lattices, planar ones) an anneal's domains grow like the
    square root of its sweeps, so a read settles a graph of n units in about n sweeps; beyond that, more reads buy
    more than longer ones (RESULTS §10, thirty-third session). On dense random graphs a read's chance of the best
    cut hardly grows with its length (G10; G25, G30 and G31 reached theirs only in reads of 2,000–5,000 sweeps at a
    fixed budget), so they aim a quarter as long (thirty-fourth session)."""
    if params.anytime_sweeps is not None:
        return params.anytime_sweeps
    per_unit = params.anytime_sweeps_per_unit
    if per_unit is None:
        per_unit = ANYTIME_SWEEPS_PER_UNIT_DENSE if dense else ANYTIME_SWEEPS_PER_UNIT
    return int(min(max(per_unit * units, ANYTIME_SWEEPS_FLOOR), ANYTIME_SWEEPS_CEILING))


def most_ladders(params: ReplicaParams, planned: bool) -> int:
    """The most ladders a run may use: ``anytime_reads`` where the anytime rule plans them (``planned``: an
    annealed ladder filling a time limit without initial states, with ``plan_reads``), else ``reads``."""
    return params.anytime_reads if planned and params.plan_reads else params.reads


def plan_anytime(pace: float, remaining: float, replicas: int, params: ReplicaParams, setup: float = 0.0, *,
                 units: int, dense: bool = False) -> tuple[int, int]:
    """(ladders, sweeps) for an annealed run that fills ``remaining`` seconds at ``pace`` seconds per replica-sweep
    (measured by a pilot on two groups, so in wall time with the cores busy), after ``setup`` seconds per replica
    of building the run (its fields and energies; counted as at most half of ``remaining``, since a run whose
    set-up does not fit is refused before this, and the estimate is noisy).

    The work that fits, ``W = ANYTIME_SHARE · remaining / pace`` replica-sweeps, goes to ladders of ``S`` sweeps each
    (:func:`aimed_sweeps` of a model of ``units`` units): ``W / (R · S)`` ladders, rounded down to an even number
    (pairs make cluster moves) and kept between 4 (two groups keep two cores busy) and ``anytime_reads``; the
    sweeps are what is left per ladder. Longer anneals beat more of them until each is long enough; more reads then
    buy more chances. Without ``plan_reads`` the ladders are ``reads`` and only the sweeps are planned. The ladders
    planned fit in memory (:func:`~hopsolve.backend.reads_that_fit`): a large model's plan is cut to them rather
    than refused.
    """
    cap = most_ladders(params, planned=True)
    if params.plan_reads:
        cap = min(cap, max(reads_that_fit(units, arrays=RUN_ARRAYS, replicas=replicas), 1))
    smallest = min(4, cap) if params.plan_reads else params.reads

    def searching(ladders: int) -> float:  # the set-up's estimate is taken as at most half the time (it is noisy)
        return max(remaining - min(setup * replicas * ladders, 0.5 * remaining), 0.0)

    work = ANYTIME_SHARE * searching(smallest) / max(pace, 1e-12)
    ladders = 2 * int(work / (replicas * aimed_sweeps(params, units, dense)) / 2)
    ladders = max(smallest, min(ladders, cap))
    work = ANYTIME_SHARE * searching(ladders) / max(pace, 1e-12)
    most = min(MAX_PLANNED_SWEEPS, schedule_steps_buildable(remaining))  # a schedule that builds in time
    return ladders, max(1, min(most, int(work / (replicas * ladders))))


@dataclass
class _Progress:
    done: int = 0
    timed_out: bool = False
    compressed: bool = False
    stretched: bool = False
    interrupted: bool = False
    replan: Replan = field(default_factory=Replan)


def _run_chunked(plan: np.ndarray | None, constant: float, advance: Callable[[int, np.ndarray], None],
                 params: ReplicaParams, callback: Callback | None, report: Callable[[], dict[str, Any]],
                 started: float, first_sweep: float = 0.0) -> _Progress:
    """Call ``advance(first_round, cold)`` in chunks of about 0.1 s over the cold end's schedule ``plan``, or, with
    ``plan=None``, at the constant β ``constant`` until the time limit is spent.

    With a time limit a chunk that would not fit is cut to what does. An annealed plan is checked after every chunk
    against the run's pace (its average or its latest chunk's, whichever is faster, so that one stalled chunk does
    not count for the rest of the run): from the second chunk on, one that would overrun is resampled into
    :data:`FILL_SHARE` of the rounds that fit (so it still ends cold), and, with ``fill_time``, one that would leave
    more than :data:`FILL_SLACK` of the limit unused is stretched to :data:`FILL_SHARE` of what is left; without
    it, a plan squeezed earlier grows back towards its own length when the pace recovers
    (``compressed``/``stretched``; a plan that needed neither replays exactly). ``first_sweep`` bounds the seconds
    the first sweep may take, before any pace is measured: a run with less left than that starts none (a TSP of
    200 cities has 16 million couplings, and one sweep of 16 replicas took 0.3 s at a busy machine's pace). Ctrl-C
    between chunks ends the run with every replica's best so far; runs without a limit or a callback are chunked
    too (so Ctrl-C stops them), which changes no replica's arithmetic.
    """
    limit = params.time_limit
    progress, chunk, measured, latest_pace = _Progress(), 1, 0, math.inf
    adjust = plan is not None and params.schedule == "anneal"
    planned = len(plan) if plan is not None else 0
    began = time.perf_counter()
    try:
        while plan is None or progress.done < len(plan):
            todo = chunk if plan is None else min(chunk, len(plan) - progress.done)
            if limit is not None:
                remaining = limit - (time.perf_counter() - started)
                if progress.done:
                    # the run's average pace or its latest chunk's, whichever is faster: one stalled chunk (a busy
                    # machine) must not squeeze the plan into a few sweeps that then end the run early
                    pace = min((time.perf_counter() - began) / progress.done, latest_pace)
                    fits = int(remaining / pace)
                    rest = len(plan) - progress.done if plan is not None else 0
                    if adjust and fits < rest and measured > 1:  # (a plan filled to FILL_SHARE overran by
                        # a 2-4% slower pace, and ended at the limit short of its cold end, when this waited for 2%)
                        plan = progress.replan.resample(plan, progress.done, max(1, int(FILL_SHARE * fits)))
                        progress.compressed = True
                    elif adjust and params.fill_time and remaining - rest * pace > FILL_SLACK * limit:
                        grown = min(MAX_PLANNED_SWEEPS - progress.done, schedule_steps_buildable(remaining),
                                    int(FILL_SHARE * fits))
                        plan = progress.replan.resample(plan, progress.done, max(rest, grown))
                        progress.stretched = True
                    elif adjust and len(plan) < planned and rest * pace < 0.8 * remaining:
                        # a plan squeezed on an early, slow pace grows back towards its own length when the pace
                        # recovers (G1 with sweeps=100000 under 1 s ran 628 of them and ended at 0.37 s)
                        grown = min(planned - progress.done, int(ANYTIME_SHARE * fits))
                        if grown > rest:
                            plan = progress.replan.resample(plan, progress.done, grown)
                    if plan is not None:
                        todo = min(chunk, len(plan) - progress.done)
                    todo = min(todo, fits)
                elif remaining < first_sweep:
                    todo = 0
                if remaining <= 0 or todo < 1:
                    progress.timed_out = plan is not None
                    break
            cold = np.full(todo, constant) if plan is None else plan[progress.done: progress.done + todo]
            with ctrl_c_after_block():  # a Ctrl-C during the call is raised once its chunk is counted (the
                chunk_began = time.perf_counter()  # replay of an interrupted G1 run gave 11198 for 11252)
                advance(progress.done, cold)
                latest_pace = max(time.perf_counter() - chunk_began, 1e-9) / todo
                progress.done += todo
            chunk = max(1, int(CHUNK_SECONDS / latest_pace))
            measured += 1
            if callback is not None:
                if limit is not None:
                    where = {"done": min(time.perf_counter() - started, limit), "total": limit, "unit": "s"}
                else:
                    where = {"done": progress.done, "total": len(plan), "unit": "sweeps"}
                callback({**where, "sweeps_done": progress.done, **report()})
    except KeyboardInterrupt:
        progress.interrupted = True
    if plan is not None:
        progress.replan.stop(plan, progress.done)
    return progress


def _couplings(model: SpinModel, rule: str) -> Any:
    """The model in the kernels' form, with the acceptance rule."""
    return RK.Couplings(
        model.indptr, model.indices, model.data, model.dense_coupling if model.is_dense else np.zeros((0, 0)),
        model.group_of, model.group_target, model.group_scale, K.METROPOLIS if rule == "metropolis" else K.GLAUBER,
        model.integer_delta_bound())


@dataclass
class _Run:
    """A run's arrays and how to advance them."""

    couplings: Any
    ladders: Any
    clusters: bool
    cap: int
    every: int

    def advance(self, first_round: int, cold: np.ndarray) -> None:
        if self.ladders.states.shape[1]:
            RK.run_rounds(self.couplings, self.ladders, np.ascontiguousarray(cold, dtype=np.float64), first_round,
                          self.clusters, self.cap, self.every)


def ladders_best_rows(best: np.ndarray, ladders_count: int, temps: int) -> np.ndarray:
    """The replica (row) of each ladder whose best energy is lowest: the state the ladder returns. ``best`` holds
    every replica's best energy, ladder-major (``ladders_count × temps`` of them)."""
    rows = np.arange(ladders_count * temps).reshape(ladders_count, temps)
    return rows[np.arange(ladders_count), np.argmin(best[rows], axis=1)]


def descend_best_states(model: SpinModel, ladders: Any, ladders_count: int, temps: int,
                        deadline: float | None) -> int | None:
    """Greedy descent of each ladder's best state, the one it returns (``ladders.best_states`` and
    ``ladders.best`` updated in place), all or none before ``deadline``
    (:func:`hopsolve.backends._descent.descend_all_or_none`). Returns the units flipped, all states together (0:
    they were local minima already), or ``None`` when it did not fit (the states are then left as they were, and
    the replay says ``final_descent=False``). The other replicas' best states are not returned, so not descended:
    a TSP's ladder of 12 temperatures made a descent of 48 states where 4 are returned."""
    total, n = ladders.best_states.shape
    if total == 0 or n == 0:
        return 0
    returned = ladders_best_rows(ladders.best, ladders_count, temps)
    spins, change, flipped = descend_all_or_none(model, ladders.best_states[returned], deadline)
    if flipped is not None:
        ladders.best_states[returned] = spins
        ladders.best[returned] += change
    return flipped


def is_sparse(model: SpinModel) -> bool:
    """Whether ``model`` has at most :data:`SPARSE_DEGREE` neighbours a unit on average: where Houdayer moves and
    the recombination are made by default, and reads aim at :data:`ANYTIME_SWEEPS_PER_UNIT` sweeps a unit (else
    :data:`ANYTIME_SWEEPS_PER_UNIT_DENSE`)."""
    return model.nnz <= SPARSE_DEGREE * model.n


def is_uniform_lattice(model: SpinModel) -> bool:
    """Whether ``model`` is an Ising model on a torus-like lattice with uniform couplings: every coupling the same
    value, no fields and no group penalties, exactly :data:`LATTICE_DEGREE` neighbours every unit (a square torus;
    max-cut with one weight on every edge of one, as Gset's G48–G50; a 4-regular graph passes too)."""
    if model.n == 0 or model.nnz == 0 or model.group_of.shape[0] or np.any(model.bias != 0):
        return False
    degrees = np.diff(model.indptr)
    return bool(np.all(degrees == LATTICE_DEGREE) and np.all(model.data == model.data[0]))


def _tabu_share(params: ReplicaParams, model: SpinModel | Energy, *, given_starts: bool = False) -> float:
    """The ``tabu_share`` a run uses: the one given, else :data:`LATTICE_TABU_SHARE` on a uniform lattice of at most
    :data:`LATTICE_MAX_UNITS` units in a run that fills its time limit from an annealed ladder keeping its best
    states, without initial states (``model`` an energy of at most that many units is compiled to find out: the
    warm-up asks before any model is), else 0."""
    if params.tabu_share is not None:
        return params.tabu_share
    filling = (params.fill_time and params.time_limit is not None and params.schedule == "anneal"
               and params.keep_best and not given_starts)
    if not filling or not 0 < (model.num_variables if isinstance(model, Energy) else model.n) <= LATTICE_MAX_UNITS:
        return 0.0
    if isinstance(model, Energy):
        if model.permutation is not None:
            return 0.0
        model = compile_spin_model(model)
    return LATTICE_TABU_SHARE if is_uniform_lattice(model) else 0.0


def recombine_best_states(model: SpinModel, ladders: Any, ladders_count: int, temps: int,
                          deadline: float | None) -> dict[str, Any] | None:
    """Recombine the reads' best states into the best read's (:func:`hopsolve.backends._recombination.
    recombine_reads`), then descend it (:func:`descend_states`): the best read's best state and energy are replaced
    when that is lower. Returns what it did for ``info['recombination']`` (``None`` when it did not run: fewer than
    two reads, ``deadline`` passed, or it passed before the child's descent: the child is then dropped). Only the
    :data:`RECOMBINED_READS` lowest reads take part (a donor costs a pass over the model: 2,000 reads of G42 ran
    0.7 s past a 10 s limit)."""
    if ladders_count < 2 or model.n == 0 or (deadline is not None and time.perf_counter() >= deadline):
        return None
    per_read = ladders_best_rows(ladders.best, ladders_count, temps)
    per_read = per_read[np.argsort(ladders.best[per_read], kind="stable")[:RECOMBINED_READS]]
    best_row = int(per_read[np.argmin(ladders.best[per_read])])
    before = float(ladders.best[best_row])
    largest, _ = model.coefficient_scales()
    child, energy, taken = recombine_reads(model.indptr, model.indices, model.data, model.bias,
                                           ladders.best_states[per_read], ladders.best[per_read], largest)
    spins, change, flipped = descend_all_or_none(model, child, deadline)
    if flipped is None:  # the deadline passed while recombining: a child not descended would not replay
        return None
    energy += float(change[0])
    if energy < before:
        ladders.best_states[best_row] = spins[0]
        ladders.best[best_row] = energy
    return {"reads": len(per_read), "clusters_taken": taken, "descent_flips": flipped,
            "energy_change": min(energy - before, 0.0)}


EXCHANGE_STREAMS_FIRST = 2**40
"""The index of ladder 0's exchange stream among the seed's read streams (ladder k's is this + k): far past any
replica's, so that neither depends on how many ladders there are. (The exchanges took stream ``total + k``, which
moved with the reads: read 6 of 8 reads and of 10 differed.)"""
TABU_STREAMS_FIRST = 2**41
"""The index of the first tabu walk's stream among the seed's read streams (walk w's is this + w)."""


def _run_streams(seed: int, replicas: int, ladders_count: int) -> np.ndarray:
    """The kernel streams :func:`_build` takes: replica r's is read stream r (ladder k's replicas are
    ``k·temps … k·temps + temps − 1``, as anneal's reads are, so one replica a ladder is anneal to the bit), then
    each ladder's exchange stream (:data:`EXCHANGE_STREAMS_FIRST`)."""
    return np.concatenate([kernel_states(seed, replicas), kernel_states(seed, ladders_count, EXCHANGE_STREAMS_FIRST)])


def _build(model: SpinModel, couplings: Any, energy: Energy, spins_int8: np.ndarray, ratios: np.ndarray,
           ladders_count: int, clusters: bool, streams: np.ndarray, cap: int, every: int) -> _Run:
    """The arrays of a run whose replicas start at ``spins_int8`` (ladders × replicas rows, ladder-major)."""
    temps = len(ratios)
    total, n = spins_int8.shape
    groups = (ladders_count + 1) // 2
    current = energy.to_spin().energies(spins_int8).astype(np.float64) if n else np.zeros(total)
    spins = spins_int8.astype(np.float64)
    gsum = np.zeros((total, model.group_of.shape[0], model.group_target.shape[1]))
    K.init_group_sums(model.group_of, spins, gsum)
    order = np.arange(total, dtype=np.int64)
    width = n if clusters else 0
    ladders = RK.Ladders(
        ratios=np.ascontiguousarray(ratios, dtype=np.float64), replica_at=order.reshape(ladders_count, temps).copy(),
        temperature_of=order % temps, states=spins, fields=model.initial_fields(spins), group_sums=gsum,
        energies=current, best_states=spins.copy(), best=current.copy(), rng=streams[:total].copy(),
        exchange_rng=streams[total: total + ladders_count].copy(),
        exchange_tried=np.zeros((groups, max(temps - 1, 1)), dtype=np.int64),
        exchange_accepted=np.zeros((groups, max(temps - 1, 1)), dtype=np.int64),
        cluster_moves=np.zeros((groups, temps), dtype=np.int64), cluster_tried=np.zeros((groups, temps), np.int64),
        cluster_sizes=np.zeros((groups, temps), dtype=np.int64), queue=np.zeros((groups, width), dtype=np.int64),
        mark=np.zeros((groups, width), dtype=np.int8))
    return _Run(couplings, ladders, clusters, cap, every)


def tabu_settings(n: int, params: ReplicaParams) -> tuple[int, int, int, int, int]:
    """(tenure_min, tenure_span, stall, jump_min, jump_max) of the tabu walks (see :class:`ReplicaParams`)."""
    tenure = params.tabu_tenure if params.tabu_tenure is not None else max(3, n // 100)
    stall = params.tabu_stall if params.tabu_stall is not None else max(2000, n)
    return tenure, 10, stall, max(2, n // 100), max(4, n // 10)


def _tabu_phase(model: SpinModel, energy: Energy, params: ReplicaParams, run: _Run, ladders_count: int, temps: int,
                seed: int, started: float, callback: Callback | None, timed: bool, sweeps: int) -> dict[str, Any]:
    """Tabu walks from the best reads' best states, for ``tabu_moves`` moves each or until the time limit; each
    walk's best replaces its read's when lower. Returns the info it adds to the result."""
    state = run.ladders
    per_read = ladders_best_rows(state.best, ladders_count, temps)
    order = per_read[np.argsort(state.best[per_read], kind="stable")]
    walks_count = params.tabu_walks
    origin = order[np.arange(walks_count) % len(order)]
    spins = state.best_states[origin]
    streams = kernel_states(seed, walks_count, TABU_STREAMS_FIRST)
    tenure, span, stall, jump_min, jump_max = tabu_settings(model.n, params)
    walks = TK.new_walks(spins, model.initial_fields(spins), state.best[origin], streams, jump_min)
    args = (model.indptr, model.indices, model.data)
    settings = (tenure, span, stall, jump_min, jump_max)
    began = time.perf_counter()
    done, chunk = 0, 64
    while True:
        if timed:
            remaining = params.time_limit - (time.perf_counter() - started)
            if done:
                remaining -= 0.5 * (time.perf_counter() - began) / done * chunk  # stop short of the limit
            if remaining <= 0:
                break
            todo = chunk
        else:
            todo = min(chunk, params.tabu_moves - done)
            if todo <= 0:
                break
        chunk_began = time.perf_counter()
        TK.run_walks(*args, walks, todo, *settings)
        done += todo
        spent = time.perf_counter() - chunk_began
        chunk = max(1, int(CHUNK_SECONDS * todo / max(spent, 1e-9)))
        if timed:
            chunk = max(1, min(chunk, int((params.time_limit - (time.perf_counter() - started)) * todo
                                          / max(spent, 1e-9))))
        if callback is not None:
            w = int(np.argmin(walks.best))
            best_row = int(np.argmin(state.best))
            if walks.best[w] < state.best[best_row]:
                best_e, best_s = float(walks.best[w]), walks.best_states[w]
            else:
                best_e, best_s = float(state.best[best_row]), state.best_states[best_row]
            if timed:
                where = {"done": min(time.perf_counter() - started, params.time_limit), "total": params.time_limit,
                         "unit": "s"}
            else:
                # the anneal's unit and total (one per run): its sweeps are all done
                where = {"done": sweeps, "total": sweeps, "unit": "sweeps", "tabu_moves_done": done}
            callback({**where, "best_energy": best_e,
                      "best_state": from_spins(best_s.astype(np.int8), energy.vartype)})
    improved = 0
    for w, row in enumerate(origin):
        if walks.best[w] < state.best[row] - 1e-9:
            state.best[row] = walks.best[w]
            state.best_states[row] = walks.best_states[w]
            improved += 1
    return {"tabu_walks": walks_count, "tabu_moves_done": done, "tabu_improved": improved,
            "tabu_settings": dict(zip(("tenure_min", "tenure_span", "stall", "jump_min", "jump_max"), settings)),
            "tabu_s": time.perf_counter() - began}


class _PilotInterrupted(Exception):
    """Ctrl-C during the pilot run of a timed anneal, carrying the pilot's best state (spins)."""

    def __init__(self, best_state: np.ndarray) -> None:
        super().__init__("interrupted during the pilot")
        self.best_state = best_state


class ReplicaBackend(Backend):
    """Parallel tempering (or annealed ladders) over single flips, with Houdayer cluster moves between ladders."""

    name = "replica"
    description = "replica exchange (parallel tempering or annealed ladders), Houdayer cluster moves between ladders"
    Params = ReplicaParams

    def prepare(self, energy: Energy, params: Any) -> float:
        """Compile (or load) the kernels on a miniature of the energy (untimed), the recombination's too (the
        miniature's run has one read, which has nothing to recombine), and the tabu walks' where ``params`` ask
        for walks (the miniature's run makes none)."""
        params = params or ReplicaParams()
        if energy.permutation is not None:  # tempered over permutations: its flow matrix is the size to check
            if not energy.permutation.is_tour:  # (tours are tempered from the metric: no matrix)
                energy.permutation.check_flow_size()
            return warm_up(self, energy, params)
        check_spin_model_size(energy)  # an energy too large is refused before anything compiles
        check_run_size(reads=params.reads, replicas=params.replicas or 1, units=energy.num_variables,
                       arrays=RUN_ARRAYS)
        began = time.perf_counter()
        if params.tabu_moves or _tabu_share(params, energy) > 0:
            TK.compile_kernels()
        spins = np.array([1.0, -1.0])
        recombine_into(np.array([0, 1, 2]), np.array([1, 0]), np.array([1.0, 1.0]), np.zeros(2), spins.copy(),
                       -spins, np.zeros(2, dtype=np.int8), np.zeros(2, dtype=np.int64), 0.0)
        return time.perf_counter() - began + warm_up(self, energy, params)

    def prepare_everything(self) -> float:
        """The tabu walks' kernels (``tabu_moves`` is off by default, and ``tabu_share`` off but on uniform
        lattices)."""
        began = time.perf_counter()
        TK.compile_kernels()
        return time.perf_counter() - began

    @holds_one_blas_thread  # called directly too, not only through solve_instance (see backends._blas)
    def solve(self, energy: Energy, params: ReplicaParams | None = None, *, seed: int | None = None,
              initial_states: np.ndarray | None = None, callback: Callback | None = None) -> SampleSet:
        started = time.perf_counter()
        params = self.checked_params(energy, params)
        seed = resolve_seed(seed)
        if initial_states is not None:
            initial_states = given_states(energy, initial_states, OWNER)
        refuse_unused_start(params.start, energy, initial_states, OWNER, "ladders")  # (it would be ignored)
        if energy.permutation is not None:  # inside the feasible set, with anneal's tour or permutation moves
            solve_inside = solve_tour if energy.permutation.is_tour else solve_permutation
            with _Threads(params.threads):  # (every penalty held at zero: a weight given for one changes nothing)
                return _holding_penalties(solve_inside(energy, params, seed, initial_states, callback, _run_streams,
                                                       started), energy)
        model = compile_spin_model(energy, build_deadline(started, params.time_limit))
        if pattern_part(energy, model) is not None:
            raise ParameterError("backend 'replica' does not take pattern (dense associative memory) terms; "
                                 "use hopfield, anneal or tank")
        n = model.n
        starts = None
        if initial_states is not None:
            starts = to_spins(np.atleast_2d(initial_states), energy.vartype)
            if starts.shape[1] != n:
                raise ParameterError(f"initial states must be (reads, {n}), got {starts.shape}")
        shape = ladder(model, params)
        temps = len(shape.ratios)
        recombines = self._recombines(model, params)
        couplings = _couplings(model, params.rule)
        cap = max(1, int(params.cluster_limit * n))
        anytime = params.fill_time and params.time_limit is not None
        params = replace(params, tabu_share=_tabu_share(params, model, given_starts=starts is not None))
        tabu_ok = model.group_of.shape[0] == 0 and n > 0  # schedule and keep_best: refused below when wrong
        if (params.tabu_moves or params.tabu_share) and not (params.schedule == "anneal" and params.keep_best):
            # checked here, not in the parameters: max-cut's defaults (schedule=anneal) are added to them later
            raise ParameterError(f"{OWNER}: tabu_moves and tabu_share start from an annealed ladder's best states: "
                                 "they need schedule=anneal and keep_best=true")  # (they were recorded, and ignored)
        if params.tabu_moves and params.fill_time and params.time_limit is not None:  # recorded, and ignored
            raise ParameterError(f"{OWNER}: tabu_moves is a budget for runs without fill_time; a run that fills its "
                                 "time limit gives its tabu walks tabu_share of it (give tabu_share instead)")
        tabu_skipped = bool((params.tabu_moves or params.tabu_share) and model.group_of.shape[0])
        tabu_timed = tabu_ok and anytime and starts is None and params.tabu_share > 0
        tabu_budget = tabu_ok and not anytime and params.tabu_moves > 0
        full_params = params
        if tabu_timed:
            params = replace(params, time_limit=params.time_limit * (1.0 - params.tabu_share))
        finish_limit = params.time_limit  # the descent and the recombination end by then, the tabu walks later
        descending = params.keep_best and params.final_descent and n > 0
        planned = anytime and params.schedule == "anneal" and starts is None and n > 0  # by plan_anytime
        reserve = descent_reserve if model.group_of.shape[0] else first_chunk_reserve
        # the final descent's time is kept out of the run's (a state a ladder at most); a planned run's once its
        # ladders are planned, below (timed for anytime_reads, 1,000, it kept 0.35 s of G22's 10 s)
        if descending and finish_limit is not None and not planned:
            returned = params.reads if starts is None else len(starts)
            params = replace(params, time_limit=max(0.0, finish_limit - reserve(model, returned, finish_limit)))
        with _Threads(params.threads):
            ladders_count, sweeps = params.reads if starts is None else len(starts), params.sweeps
            pilot_s = None
            setup = _setup_seconds(model, energy) if params.time_limit is not None and n else 0.0
            if planned:
                _check_setup(setup, 2 * min(4, most_ladders(params, planned)) * temps, params, started,  # pilot, run
                             lambda count: _batch_setup_seconds(model, energy, count))
                try:
                    pace = self._pilot(model, couplings, energy, shape, params, cap)
                except _PilotInterrupted as stopped:  # Ctrl-C in the first second: the pilot's best is the answer
                    return SampleSet.from_states(energy, from_spins(stopped.best_state[None, :], energy.vartype),
                                                 interrupted=True, work=0, work_unit="sweeps",
                                                 wall_time_s=time.perf_counter() - started)
                pilot_s = time.perf_counter() - started
                dense = not is_sparse(model)
                ladders_count, sweeps = plan_anytime(pace, params.time_limit - pilot_s, temps, params, setup, units=n,
                                                     dense=dense)
                if descending:  # the reserve for the ladders planned, then the plan for what it leaves (as many or
                    # fewer ladders: the reserve stays enough)
                    params = replace(params, time_limit=max(0.0, finish_limit - reserve(model, ladders_count,
                                                                                        finish_limit)))
                    ladders_count, sweeps = plan_anytime(pace, params.time_limit - (time.perf_counter() - started),
                                                         temps, params, setup, units=n, dense=dense)
            total = ladders_count * temps
            if params.time_limit is not None:
                _check_setup(setup, total, params, started, lambda count: _batch_setup_seconds(model, energy, count))
            longest = max([sweeps, *(end for _, end in parse_replan(params.replan, OWNER))])
            check_run_size(reads=ladders_count, replicas=temps, units=n,
                           steps=0 if anytime and params.schedule == "fixed" else longest,
                           arrays=RUN_ARRAYS, time_limit=None if pilot_s is not None else params.time_limit)
            clusters = self._clusters(model, params, ladders_count)
            if starts is None:
                spins = make_rng(seed).choice(np.array([-1, 1], dtype=np.int8), size=(total, n))
            else:
                spins = np.repeat(starts, temps, axis=0)
            building = time.perf_counter()
            run = _build(model, couplings, energy, spins, shape.ratios, ladders_count, clusters,
                         _run_streams(seed, total, ladders_count), cap, params.cluster_every)
            built_s = time.perf_counter() - building

            def report() -> dict[str, Any]:
                row = int(np.argmin(run.ladders.best))
                return {"best_energy": float(run.ladders.best[row]),
                        "best_state": from_spins(run.ladders.best_states[row].astype(np.int8), energy.vartype)}

            filling = anytime and params.schedule == "fixed"
            plan = None if filling else apply_replan(shape.schedule(params.schedule, sweeps),
                                                     parse_replan(params.replan, OWNER), OWNER)
            # a sweep accepting every flip updates each replica's fields by one pass over its couplings, as the set-up
            # does: the set-up of all of them, as built (a per-replica estimate times the replicas counted a call's
            # fixed cost, 23 ms of waking a busy machine's threads, 128 times: 0.4 s against a 0.6 ms sweep, and a
            # 0.3 s run made no sweep at all)
            progress = _run_chunked(plan, shape.beta_max, run.advance, params, callback, report, started,
                                    first_sweep=min(setup * total, built_s))
            if progress.done == 0 and not progress.interrupted and params.time_limit is not None and n:
                # its answer would be the random starts, and its replay (sweeps=0) refused
                raise TooLargeError(f"{OWNER}: the {full_params.time_limit:g} s limit left no time for one sweep "
                                    f"of {total:,} replicas (building them took {built_s:.2g} s, "
                                    f"{time.perf_counter() - started:.2g} s had passed); give a longer limit or "
                                    "fewer reads")
            descended = recombined = None
            end = None if finish_limit is None else started + finish_limit
            if descending and not progress.interrupted:
                descended = descend_best_states(model, run.ladders, ladders_count, temps, end)
            if recombines and not progress.interrupted:
                recombined = recombine_best_states(model, run.ladders, ladders_count, temps, end)
            tabu = None
            if (tabu_timed or tabu_budget) and not progress.interrupted:
                tabu = _tabu_phase(model, energy, full_params, run, ladders_count, temps, seed, started, callback,
                                   tabu_timed, len(plan) if plan is not None else 0)
        params = full_params
        samples = self._samples(energy, params, run, shape, seed, progress, started, ladders_count,
                                progress.done if anytime else sweeps)
        samples.info["descent_flips"] = descended
        samples.derived["tabu_share"] = params.tabu_share  # the share used (the default chooses it by the model)
        if tabu_skipped:  # said, not recorded as applied
            samples.info["tabu_note"] = ("no tabu phase ran: its walks flip single units of a model without group "
                                         "penalties, and this energy has one-hot groups")
        samples.info["recombination"] = recombined
        samples.info["replay"] = {"reads": ladders_count, "sweeps": progress.done if filling else sweeps,
                                  "replan": "" if filling else progress.replan.text(parse_replan(params.replan, OWNER)),
                                  "cold_end": _cold_end(params), "recombine": "off" if recombined is None else "on",
                                  **({"final_descent": False} if descending and descended is None else {})}
        if pilot_s is not None:
            samples.info.update(pilot_s=pilot_s, sweeps_planned=sweeps)
        if tabu is not None:
            samples.info["replay"]["tabu_moves"] = tabu["tabu_moves_done"]
            samples.info.update(tabu)
            samples.derived.update(tabu_walks=tabu["tabu_walks"], tabu_moves=tabu["tabu_moves_done"])
            samples.info["wall_time_s"] = time.perf_counter() - started
        return samples

    @staticmethod
    def _pilot(model: SpinModel, couplings: Any, energy: Energy, shape: Ladder, params: ReplicaParams,
               cap: int) -> float:
        """Seconds per replica-sweep of an annealed run, timed on a throwaway run of (up to) four ladders: anneals
        of 4 rounds, then of more, each sized from the last to last 1.2 budgets (the budget: :data:`PILOT_SECONDS`
        or 2% of the limit, if less; each at least twice the last and at most :data:`PILOT_GROWTH` times it), until
        one lasts the budget, or half of it when sized within that growth, or has :data:`PILOT_MOST_ROUNDS`."""
        ladders_count = min(4, most_ladders(params, planned=True))
        temps = len(shape.ratios)
        clusters = ReplicaBackend._clusters(model, params, ladders_count)
        spins = make_rng(0).choice(np.array([-1, 1], dtype=np.int8), size=(ladders_count * temps, model.n))
        run = _build(model, couplings, energy, spins, shape.ratios, ladders_count, clusters,
                     _run_streams(0, ladders_count * temps, ladders_count), cap, params.cluster_every)
        budget = min(PILOT_SECONDS, 0.02 * params.time_limit)
        rounds, sized = 4, False
        while True:
            began = time.perf_counter()
            try:
                run.advance(0, shape.schedule("anneal", rounds))
            except KeyboardInterrupt:
                row = int(np.argmin(run.ladders.best))
                raise _PilotInterrupted(run.ladders.best_states[row].astype(np.int8)) from None
            spent = time.perf_counter() - began
            if spent >= budget or (sized and spent >= 0.5 * budget) or rounds >= PILOT_MOST_ROUNDS:
                return spent / (rounds * ladders_count * temps)
            # the next timing is sized from this one to last about the budget (doubling up to it spent two to four
            # budgets: 0.45-0.75 s of a 10 s run whose budget was 0.2 s)
            factor = 1.2 * budget / max(spent, 1e-9)
            sized = factor <= PILOT_GROWTH
            rounds = min(PILOT_MOST_ROUNDS, max(2 * rounds, int(rounds * min(factor, PILOT_GROWTH))))

    @staticmethod
    def _recombines(model: SpinModel, params: ReplicaParams) -> bool:
        """Whether this run recombines its reads' best states (see :attr:`ReplicaParams.recombine`)."""
        grouped = model.group_of.shape[0] > 0
        if params.recombine == "on" and grouped:
            raise ParameterError("backend 'replica': recombine=on needs an energy without group penalties (their "
                                 "couplings are not in the coupling graph its clusters grow through)")
        if not params.keep_best or params.recombine == "off" or grouped:
            return False
        if params.recombine == "on":
            return True
        anytime = params.fill_time and params.time_limit is not None and params.schedule == "anneal"
        return anytime and is_sparse(model)

    @staticmethod
    def _clusters(model: SpinModel, params: ReplicaParams, ladders_count: int) -> bool:
        """Whether this run makes Houdayer moves (see the module docstring)."""
        grouped = model.group_of.shape[0] > 0
        if params.cluster_moves == "houdayer":
            if grouped:
                raise ParameterError("backend 'replica': cluster_moves=houdayer needs an energy without group "
                                     "penalties (their couplings are not in the coupling graph)")
            return ladders_count >= 2
        if params.cluster_moves == "none" or grouped or ladders_count < 2 or params.schedule == "anneal":
            return False
        return is_sparse(model)

    @staticmethod
    def _samples(energy: Energy, params: ReplicaParams, run: _Run, shape: Ladder, seed: int, progress: _Progress,
                 started: float, ladders_count: int, sweeps: int) -> SampleSet:
        state = run.ladders
        temps = len(shape.ratios)
        total, n = state.states.shape
        if params.keep_best:
            final = state.best_states[ladders_best_rows(state.best, ladders_count, temps)]
        else:
            final = state.states[state.replica_at[:, -1]]
        elapsed = time.perf_counter() - started
        updates = n * progress.done * total
        tried = np.maximum(state.exchange_tried.sum(axis=0), 1)
        moved = state.cluster_moves.sum(axis=0)
        info = {
            "derived": {"reads": ladders_count, "sweeps": sweeps, "replicas": temps,
                        "beta_min": shape.beta_min, "beta_max": shape.beta_max,
                        "ladder": [float(b) for b in shape.betas()],
                        "cluster_moves": "houdayer" if run.clusters else "none", "seed": seed},
            "sweeps_done": progress.done, "timed_out": progress.timed_out, "interrupted": progress.interrupted,
            "schedule_compressed": progress.compressed,
            "schedule_stretched": progress.stretched, "work": progress.done, "work_unit": "sweeps",
            "wall_time_s": elapsed, "updates": updates, "updates_per_second": updates / elapsed if elapsed else None,
            "exchange_rates": [float(x) for x in (state.exchange_accepted.sum(axis=0) / tried)[: temps - 1]],
        }
        if run.clusters:
            info["cluster_rates"] = [float(x) for x in moved / np.maximum(state.cluster_tried.sum(axis=0), 1)]
            info["cluster_mean_size"] = [float(x) for x in state.cluster_sizes.sum(axis=0) / np.maximum(moved, 1)]
        return SampleSet.from_states(energy, from_spins(final.astype(np.int8), energy.vartype), **info)
