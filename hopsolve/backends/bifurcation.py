"""Simulated bifurcation: ballistic (bSB) and discrete (dSB) oscillator dynamics, many replicas in parallel.

Goto, Tatsumura & Dixon, *Sci. Adv.* 5, eaav2372 (2019); Goto et al., *Sci. Adv.* 7, eabe7953 (2021). Each spin
is an oscillator with position ``x_i`` and momentum ``y_i``; one step of symplectic Euler with step ``dt`` is::

    y_i ← y_i + dt·[-(a0 - a(t))·x_i + c0·(Σ_j W_ij v_j + b_i)]     v = x (ballistic) or sign(x) (discrete)
    x_i ← x_i + dt·a0·y_i
    |x_i| > 1  →  x_i ← sign(x_i), y_i ← 0                        (inelastic walls)

The pump ``a(t)`` rises linearly from 0 to ``a0`` over the run: at first every oscillator sits in one well at
``x = 0``; as the pump passes the coupling the wells split in two (the bifurcation) and each ``x_i`` is driven to a
wall whose sign is the spin. The answer is ``sign(x)``; every step's spins are scored and each replica's best is
kept, then finished by a greedy descent (``final_descent``): the oscillators do not see single flips, so a read's
spins can end where one flip lowers the energy. Biases enter the force linearly, which is Goto's extra spin
fixed at +1 (coupled to spin ``i`` by ``b_i``) written out. Structured group penalties add their field
``-2·scale·(Σ_{j∈g, j≠i} v_j - t_g)``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numba
import numpy as np
import scipy.sparse as sp

from hopsolve.backend import Backend, Callback, TimedRunParams, check_run_size, given_states
from hopsolve.backends import _sb_kernels as SB
from hopsolve.backends import _sb_product as product
from hopsolve.backends import _sb_setup as setup
from hopsolve.backends._blas import holds_one_blas_thread
from hopsolve.backends._descent import descend_all_or_none, descent_reserve
from hopsolve.backends._model import (
    SpinModel,
    build_deadline,
    check_spin_model_size,
    compile_spin_model,
    from_spins,
    to_spins,
)
from hopsolve.backends._permutation_finish import assignment_seconds, nearest_permutations
from hopsolve.backends._timing import fastest_seconds
from hopsolve.backends.anneal import _Progress, _run_chunked, _Threads
from hopsolve.backends.replan import apply_replan, parse_replan
from hopsolve.energy import Energy, check_allocation
from hopsolve.errors import ParameterError, TooLargeError
from hopsolve.params import require
from hopsolve.pattern_term import PatternTerm
from hopsolve.sampleset import SampleSet
from hopsolve.seeding import read_sequences, resolve_seed
from hopsolve.warmup import warm_up

DT_CAP = 1.25
"""Goto et al.'s (2021) time step for bSB and dSB; the derived step never exceeds it."""

STABILITY = 1.8
"""The derived step keeps ``dt·ω_max`` at most this (symplectic Euler on an oscillator of frequency ω is stable
only for ``dt·ω < 2``)."""

DISCRETE_KICK = 1.6
"""A discrete (dSB) run's derived step also keeps ``dt²·a0·c0·ρ`` at most this: the distance one step's largest
force, ``c0·ρ`` (ρ the couplings' spectral radius: what ``W·sign(x)`` reaches on its leading mode), moves a
position. Past the walls' span of 2 the leading mode jumps from wall to wall every step and never settles: on
dense couplings of nonzero mean (dimod's ``gnp_random_bqm``, c0·ρ of 4–7.5 against about 1 for SK models) dSB
ended at a quarter to a half of anneal's energy (-56 against -228 on 100 spins), and Gset's G1 (c0·ρ = 3.5) 75
below bSB's cut. 1.6 leaves 20% of margin; it changes no step where c0·ρ ≤ 1 (±1 and Gaussian SK models keep
Goto's 1.25). Measured in RESULTS §9.4."""

LANCZOS_STEPS = 24
"""At most this many Lanczos steps (one coupling product each) estimate the spectral radius."""

RADIUS_TOLERANCE = 1e-6
"""The Lanczos estimate of the radius stops early once two successive ones agree this closely (relative)."""

MAX_BLOCK = 16
"""At most this many replicas step in lockstep on one thread, sharing each coupling row they load."""

BIT_FLIPS_PER_WORD = 6.0
"""A replica step that flips at least this many spins per 64-bit word of a row recomputes its spin field from the
bit matrices rather than adding one coupling row per flip (measured: see ``benchmarks/RESULTS.md`` §9.0)."""

START_AMPLITUDE = 0.1
"""Random starts draw ``x_i`` and ``y_i`` from U(-0.1, 0.1)."""

STARTS_PROBE = 16
"""A timed run of more reads than this times the random starts of this many first, to refuse at once a run whose
starts alone (a stream a read) would take half its limit: 20,000 reads under a 0.2 s limit were refused after 2.9 s
of drawing them."""

OWNER = "backend 'bifurcation'"


@dataclass(frozen=True)
class BifurcationParams(TimedRunParams):
    """Parameters of the ``bifurcation`` backend (every field has a default)."""

    reads: int = 10
    """Replicas (independent random starts), integrated together."""
    steps: int = 1000
    """Symplectic Euler steps per replica; the pump rises from 0 to ``a0`` over them."""
    mode: Literal["auto", "ballistic", "discrete"] = "auto"
    """``ballistic`` (bSB): the coupling acts on the positions ``x``; ``discrete`` (dSB): on ``sign(x)``. ``auto``
    (:func:`resolved_mode`): discrete, except on energies with one-hot structure (a permutation layout or one-hot
    groups), which run ballistic. Measured with the defaults (``benchmarks/sb_modes.py``, RESULTS §9.3): dSB found
    the better cut or energy on 17 of 20 Ising and QUBO models (one Gset graph of each family, complete ±1 and
    Gaussian SK graphs; tied on two, worse on G1), in less time on most; bSB was far better on assign100 (74%
    above the optimum against 512%) and on planted colourings, whose answers come from the positions."""
    dt: float | None = None
    """Time step; default ``min(1.25, 1.8/ω_max)``: Goto et al.'s (2021) 1.25, made smaller where the fastest
    oscillation at zero pump, ``ω_max = √(a0·(a0 + c0·ρ))`` with ρ the spectral radius of the couplings (by power
    iteration), would make symplectic Euler unstable (``dt·ω ≥ 2``). Dense ±1 graphs keep 1.25 (c0·ρ ≈ 1); sparse
    Gset graphs, whose ρ is near their degree rather than 2σ√N, get about 1 (G22: 0.97). A discrete run's step is
    also at most ``√(1.6 / (a0·c0·ρ))`` (:data:`DISCRETE_KICK`: G22 0.82, dense couplings of nonzero mean 0.45–0.6)."""
    a0: float = 1.0
    """Final pump amplitude (also the detuning and the position coefficient), 1 as in Goto et al."""
    c0: float | None = None
    """Coupling scale; default Goto's rule ``0.5 / (σ·√N)`` with σ the root mean square of the N(N-1) off-diagonal
    couplings (biases counted as couplings to an extra spin fixed at +1, so N is then one more)."""
    keep_best: bool = True
    """Return each replica's best spins seen over the run (else ``sign(x)`` at the end)."""
    time_limit: float | None = None
    """Stop after this many seconds (checked between chunks of steps) and return the best so far."""
    fit_schedule: bool = True
    """With a time limit: when the pace shows the pump ramp cannot finish in time, resample the rest of it into
    the steps that fit, so the run still ends at full pump (bifurcated) instead of stopping half-way."""
    fill_time: bool = False
    """With a time limit: also stretch the ramp to the steps that fit, so the whole limit is spent on one slower
    bifurcation (``hopsolve solve --time-limit`` sets it). Never with ``trace``."""
    bias: Literal["spin", "field"] = "spin"
    """How biases enter: ``spin``, Goto's extra oscillator coupled to spin ``i`` by ``b_i`` (the answer is read
    relative to its sign, so the problem keeps its ±s symmetry and the bias grows with the bifurcation); ``field``,
    a constant force ``c0·b_i`` (the extra spin held at +1 from the start). Energies with group penalties use
    ``field``."""
    replan: str = ""
    """Changes to the pump ramp of ``steps`` before the run, ``at:total,...`` (see
    :mod:`hopsolve.backends.replan`); a timed run records its own in ``info['replay']`` with the steps it started
    from, and those two parameters replay it exactly without the time limit."""
    threads: int | None = None
    """Threads for parallel replicas (default: all cores; more than numba has, ``NUMBA_NUM_THREADS``, run as many
    as it has)."""
    finish: Literal["assignment", "none"] = "assignment"
    """On a permutation energy (TSP, assignment, QAP), how a read's spins become its answer. ``assignment``: a read
    that is not a permutation is replaced by the permutation of largest total position ``Σ x`` over its
    ``items × positions`` grid, a linear assignment on its final positions (the clean-up ``tank`` applies to its
    outputs; the oscillators alone seldom end on a permutation, RESULTS §9); ``info['projected']`` counts the
    reads it changed. ``none``: the spins as they are. Other energies are never changed."""
    trace: bool = False
    """Record each replica's energy of ``sign(x)`` after every step (``per_read['trace']``, reads × steps)."""
    final_descent: bool = True
    """Finish each returned state with a greedy descent (zero-temperature sweeps in index order until none
    changes a unit, :func:`hopsolve.backends._descent.descend_states`), so that no single flip lowers it; it never
    raises an energy. ``info['descent_flips']`` counts the units it flipped, all reads together (``None`` when it
    did not run). Not on permutation energies, whose reads ``finish`` instead, nor after Ctrl-C. With a time limit
    the run leaves two passes over the couplings for it, and the descent runs for every read or none: only where
    its time, projected from the first read's, fits what is left (else the replay records ``final_descent=False``,
    so that it still reproduces the run). False: the spins the dynamics gave (Goto et al.'s answer)."""

    def validate(self) -> None:
        super().validate()
        owner = "backend 'bifurcation'"
        require(self.steps >= 1, owner, f"steps must be at least 1, got {self.steps}")
        require(self.mode in ("auto", "ballistic", "discrete"), owner,
                f"mode must be auto, ballistic or discrete, got {self.mode!r}")
        for name in ("dt", "c0"):
            value = getattr(self, name)
            require(value is None or (math.isfinite(value) and value > 0), owner, f"{name} must be positive")
        require(math.isfinite(self.a0) and self.a0 >= 0, owner, "a0 must be a finite number >= 0")
        require(self.bias in ("spin", "field"), owner, f"bias must be spin or field, got {self.bias!r}")
        require(self.finish in ("assignment", "none"), owner, f"finish must be assignment or none, got {self.finish!r}")
        require(self.threads is None or self.threads >= 1, owner, "threads must be at least 1")
        changes = parse_replan(self.replan, owner)
        require(not self.trace or all(total <= self.steps for _, total in changes), owner,
                "with trace, a replan may not grow the ramp beyond steps")


def coupling_scale(model: SpinModel) -> tuple[float, float]:
    """Goto's coupling scale ``c0 = 0.5 / (σ·√N)`` and σ, the root mean square of the off-diagonal couplings.

    Biases count as couplings to an extra spin fixed at +1 (N + 1 spins), and group penalties as the couplings
    ``-2·scale`` between members and biases ``2·scale·t`` they expand to. A model with no couplings gets ``c0 = 1``.
    """
    n = model.n
    off = (model.data[model.indices != np.repeat(np.arange(n), np.diff(model.indptr))]
           if setup.count_diagonal(model.indptr, model.indices) else model.data)  # no n²-sized mask without a diagonal
    squares = float(np.sum(off**2))
    bias = model.bias.copy()
    for f in range(len(model.group_scale)):
        members = model.group_of[f][model.group_of[f] >= 0]
        sizes = np.bincount(members, minlength=model.group_target.shape[1])
        squares += float(np.sum(sizes * (sizes - 1))) * (2.0 * model.group_scale[f]) ** 2
        bias[model.group_of[f] >= 0] += 2.0 * model.group_scale[f] * model.group_target[f][members]
    spins = n + (1 if np.any(bias) else 0)
    squares += 2.0 * float(np.sum(bias**2))
    if spins < 2 or squares == 0.0:
        return 1.0, 0.0
    sigma = math.sqrt(squares / (spins * (spins - 1)))
    return 0.5 / (sigma * math.sqrt(spins)), sigma


SERIAL_PRODUCT = 1 << 20
"""Below this many couplings plus units the radius's Lanczos product runs on one thread: on a busy machine a
parallel call of microseconds stalled ~10 ms waking its second thread, which projected a 9,000-coupling set-up to
1.3 s and refused a 0.5 s limit; and K800's 40 power-iteration products (640,000 entries, 0.3–0.4 ms each) took
10–100 ms in solves on two threads against 16–22 ms on one."""


def spectral_radius(model: SB.SBModel, n: int, deadline: float | None = None, reads: int = 0) -> float:
    """The largest |eigenvalue| of the couplings (group penalties' couplings included): the largest |Ritz value| of
    at most :data:`LANCZOS_STEPS` Lanczos steps from a fixed start (deterministic), fewer once two estimates agree
    within :data:`RADIUS_TOLERANCE` or the Krylov space closes (then it is exact).

    Like power iteration, which this replaces, it approaches the radius from below; it gets closer for fewer
    products where the top of the spectrum is crowded: on K800's ±1 couplings 0.997 of the radius after 24 products
    where 40 of power iteration gave 0.978 (6 against 10 ms), on the toroidal G62 0.998 against 0.980; graphs whose
    top eigenvalue stands apart (G14, G22, TSP, QAP energies) converge in 3-8 products to the same value either way.
    The plain three-term recurrence, no reorthogonalisation: three vectors of memory, and in so few steps a lost
    orthogonality only repeats Ritz values already found, which never lie outside the spectrum.

    With a ``deadline`` the first product's time projects the set-up, the steps and then ``reads`` replicas' two
    field products each: one that would end past the deadline is refused (``TooLargeError``) then."""
    if n == 0:
        return 0.0

    entries = SB.product_entries(model)
    small = entries + n < SERIAL_PRODUCT

    def apply(v: np.ndarray) -> np.ndarray:
        out = np.empty(n)
        threads = numba.get_num_threads()
        if small:  # one thread: waking a second one whose core is busy stalls ~10 ms, 1000× the product itself
            numba.set_num_threads(1)
        try:
            SB.coupling_product(model, v, out)
        finally:
            numba.set_num_threads(threads)
        return out

    v = 1.0 + 0.5 * np.sin(np.arange(n) + 1.0)  # not orthogonal to the top eigenvector in practice
    v /= np.linalg.norm(v)
    previous_v = np.zeros(n)
    alphas: list[float] = []
    betas: list[float] = []
    beta = radius = 0.0
    for step in range(LANCZOS_STEPS):
        began = time.perf_counter()
        w = apply(v)
        if deadline is not None and step == 0:
            product = time.perf_counter() - began
            if time.perf_counter() + product * (LANCZOS_STEPS - 1 + 2 * reads) > deadline:
                # before refusing, rule out a context switch in that one timing
                product = min(product, fastest_seconds(lambda v=v: apply(v), 2))
            now = time.perf_counter()
            if now + product * (LANCZOS_STEPS - 1 + 2 * reads) > deadline:
                raise TooLargeError(f"backend 'bifurcation': setting up this energy ({entries:,} coupling entries, "
                                    f"{reads} reads) takes about {product * (LANCZOS_STEPS + 2 * reads):.2g} s "
                                    f"more, past the time limit ({max(deadline - now, 0.0):.2g} s of it left); "
                                    "give a longer limit, fewer reads, or use anneal")
        alpha = float(w @ v)
        w -= alpha * v
        w -= beta * previous_v
        alphas.append(alpha)
        ritz = np.linalg.eigvalsh(np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1))  # k ≤ 24: dense is cheapest
        previous, radius = radius, float(max(abs(ritz[0]), abs(ritz[-1])))
        beta = float(np.linalg.norm(w))
        closed = beta <= 1e-12 * max(radius, np.finfo(float).tiny)  # an invariant space: the Ritz values are exact
        if closed or (step and abs(radius - previous) <= RADIUS_TOLERANCE * radius):
            break
        betas.append(beta)
        previous_v, v = v, w / beta
    return radius


def stable_step(a0: float, c0: float, radius: float, discrete: bool = False) -> float:
    """``min(DT_CAP, STABILITY/ω_max)`` with ``ω_max² = a0·(a0 + c0·ρ)`` (see :attr:`BifurcationParams.dt`); for a
    ``discrete`` run also at most ``√(DISCRETE_KICK / (a0·c0·ρ))`` (see :data:`DISCRETE_KICK`)."""
    omega = math.sqrt(max(a0 * (a0 + c0 * radius), 0.0))
    dt = DT_CAP if omega == 0.0 else min(DT_CAP, STABILITY / omega)
    kick = a0 * c0 * radius
    return min(dt, math.sqrt(DISCRETE_KICK / kick)) if discrete and kick > 0.0 else dt


def _with_bias_spin(model: SpinModel) -> SpinModel:
    """The model on n + 1 spins with the biases as couplings to the last one (no biases left)."""
    n = model.n
    coupling = sp.bmat([[model.coupling, sp.csr_matrix(model.bias[:, None])],
                        [sp.csr_matrix(model.bias[None, :]), None]], format="csr")
    coupling.sort_indices()
    return SpinModel(n + 1, coupling.indptr.astype(np.int64), coupling.indices.astype(np.int32), coupling.data,
                     np.zeros(n + 1), np.zeros((0, n + 1), np.int64), model.group_target, model.group_scale)


EXACT_FLOAT32 = 2**24
"""Integers up to this magnitude are exact in float32."""

DYADIC_BITS = 8
"""Couplings that are integers after scaling by ``2**k``, ``k`` up to this (halves, as max-cut's ``-w/2``; quarters),
are exact in float32 while ``2**k`` times them stays below :data:`EXACT_FLOAT32`."""


def coupling_kinds(values: np.ndarray) -> tuple[bool, bool]:
    """Whether float32 holds every coupling in ``values`` exactly (so reading the rows in float32 changes no result,
    only the memory traffic: for some ``k ≤ DYADIC_BITS`` every ``2**k·W_ij`` is an integer below 2**24 in
    magnitude), and whether they are also all of one magnitude (bit matrices, :func:`sign_bits`). One compiled pass
    (:func:`~hopsolve.backends._sb_setup.scan_values`), no temporaries."""
    bits, largest, equal = setup.scan_values(np.ascontiguousarray(values, dtype=np.float64).ravel(), DYADIC_BITS)
    exact = bits >= 0 and 2.0**bits * largest < EXACT_FLOAT32
    return exact, exact and equal


def _kernel_model(model: SpinModel, rows: bool = True) -> SB.SBModel:
    """The model without its diagonal (a constant on spins), dense where it is mostly full: in float32 where that is
    exact (:func:`coupling_kinds`), and as bit matrices where every coupling has one magnitude
    (:func:`sign_bits`). A dense model keeps no CSR arrays (n + 1 zero row pointers): its kernels read the rows.

    ``rows=False`` (dSB) leaves out the dense rows where the model has sign rows: discrete steps read the bits and
    the sign rows (refreshes from the bits, flips and the radius's products by sign rows), and any coupling row is read
    from the sign rows times ``w``, the float32 rows' values (``SB.SIGNED``). K2000: 27 ms and 16 MB saved.

    The model's CSR is sorted and has no explicit zeros (:func:`compile_spin_model`), so only a diagonal, if any, is
    taken out; every pass is compiled and reads the couplings once (:mod:`~hopsolve.backends._sb_setup`)."""
    n = model.n
    indptr, indices, data = model.indptr, model.indices, model.data
    if setup.count_diagonal(indptr, indices):
        indptr, indices, data = setup.without_diagonal(indptr, indices, data)
    bias = np.ascontiguousarray(model.bias, np.float64)
    groups = (model.group_of, np.ascontiguousarray(model.group_target), model.group_scale)

    if not model.is_dense:
        return SB.SBModel(indptr.astype(np.int64, copy=False), indices.astype(np.int64), data.astype(np.float64),
                          np.zeros((0, 0)), np.zeros((0, 0), np.float32), bias, *groups, *no_sign_bits(n))
    exact, one_magnitude = coupling_kinds(data)  # the off-diagonal non-zeros: the dense rows' values but 0
    signs = sign_bits(n, indptr, indices, data) if one_magnitude else no_sign_bits(n)
    no_csr = np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0)
    if not rows and signs[-1].size:
        return SB.SBModel(*no_csr, np.zeros((0, 0)), np.zeros((0, 0), np.float32), bias, *groups, *signs)
    check_allocation((4.0 if exact else 8.0) * n * n, f"the dense couplings of {n:,} units")
    dense = np.empty((n, n), np.float32 if exact else np.float64)
    setup.fill_dense(indptr, indices, data, dense)
    # exact in float32, so the fields' sums of ±w are exact too
    return SB.SBModel(*no_csr, np.zeros((0, 0)) if exact else dense, dense if exact else np.zeros((0, 0), np.float32),
                      bias, *groups, *signs)


SignBits = tuple[np.ndarray, np.ndarray, np.ndarray, float, int, np.ndarray]
"""``SB.SBModel``'s last six fields: ``plus_bits``, ``minus_bits``, ``bit_offset``, ``bit_weight``,
``bit_threshold`` and ``sign_rows``."""


def no_sign_bits(n: int) -> SignBits:
    """:func:`sign_bits`'s answer for a model without bit matrices: 0 × n bits, ``SB.NO_BITS``, no sign rows."""
    empty = np.zeros((0, n), np.uint64)
    return empty, empty.copy(), np.zeros(n, np.int64), 0.0, SB.NO_BITS, np.zeros((0, 0), np.int8)


def sign_bits(n: int, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray) -> SignBits:
    """The bit matrices of couplings that all have one magnitude ``w``, exact in float32 (see ``SB.SBModel`` and
    :func:`coupling_kinds`; ``indptr``, ``indices`` and ``values`` are the n-unit CSR of the off-diagonal non-zero
    couplings): ``plus``, ``minus`` (words × n, word-major; ``minus`` 0 × n where every coupling off the diagonal
    is ±w), ``offset``, ``w``, the flips of a replica step from which recomputing its spin field from the bits
    pays (:data:`BIT_FLIPS_PER_WORD` per word of a row), and the n × n int8 sign rows (0 × 0 past
    ``SB.MAX_COUNTED`` units). One compiled pass over the CSR (:func:`~hopsolve.backends._sb_setup.pack_signs`)."""
    words = -(-n // SB.WORD_BITS)
    complete = len(values) == n * (n - 1)  # every coupling off the diagonal is ±w
    plus = np.zeros((words, n), np.uint64)
    minus = np.zeros((0 if complete else words, n), np.uint64)
    offset = np.zeros(n, np.int64)
    counted = n <= SB.MAX_COUNTED
    if counted:
        check_allocation(float(n) * n, f"the coupling signs of {n:,} units")
    signs = np.empty((n, n) if counted else (0, 0), np.int8)
    setup.pack_signs(indptr, indices, values, plus, minus, offset, signs)
    threshold = min(SB.NO_BITS, max(1, math.ceil(BIT_FLIPS_PER_WORD * words)))
    return plus, minus, offset, float(abs(values[0])), threshold, signs


def _compile_product_steps() -> None:
    """Compile (or load) bSB's product steps (:mod:`~hopsolve.backends._sb_product`) for float32 and float64 rows
    on a two-unit model: the warm-up's miniature has too few units to take them, so a first solve of a large dense
    model would otherwise compile them inside its time limit (about 5 s with an empty cache). The models are made
    by :func:`_kernel_model`, as a solve's are: couplings of 1.0 give float32 rows, of 0.1 float64 rows."""
    for value in (1.0, 0.1):
        spin_model = SpinModel(2, np.array([0, 1, 2], np.int64), np.array([1, 0], np.int32), np.full(2, value),
                               np.zeros(2), np.zeros((0, 2), np.int64), np.zeros((0, 1)), np.zeros(0))
        model = _kernel_model(spin_model)
        reads = SB.new_reads(model, np.full((1, 2), 0.1), np.zeros((1, 2)), 0)
        product.product_steps(model, SB.SBRun(np.zeros(1), 1.0, 1.0, 0.1, False, 0), reads, 1)


def _refuse_starts_past_the_limit(seed: int, reads: int, n: int, energy: Energy, time_limit: float,
                                  started: float) -> None:
    """Refuse a run whose random starts (:meth:`BifurcationBackend._starts` of ``reads`` reads, projected from the
    first :data:`STARTS_PROBE`) would take more than half of ``time_limit``; before they are drawn."""
    began = time.perf_counter()
    BifurcationBackend._starts(seed, STARTS_PROBE, n, energy, None)
    projected = (time.perf_counter() - began) * reads / STARTS_PROBE
    if projected > 0.5 * time_limit:
        left = time_limit - (time.perf_counter() - started)
        raise TooLargeError(f"{OWNER}: drawing the random starts of {reads:,} reads of {n:,} units alone would take "
                            f"about {projected:.2g} s, more than half the {time_limit:g} s limit"
                            f"{'' if left > 0 else ' (and the limit has passed)'}; give fewer reads or a longer limit")


def _check_run(energy: Energy, params: BifurcationParams, reads: int) -> None:
    """Refuse, before anything is compiled or allocated, a run past the memory limit or with pattern terms."""
    longest = max([params.steps, *(total for _, total in parse_replan(params.replan, OWNER))])
    check_spin_model_size(energy)
    check_run_size(reads=reads, units=energy.num_variables, steps=longest, trace=params.trace, arrays=8,
                   steps_name="steps", time_limit=params.time_limit)
    if any(isinstance(t, PatternTerm) and energy.weights[t.name] for t in energy.terms):
        raise ParameterError("backend 'bifurcation': pattern terms are not supported (use anneal, hopfield or tank)")


def resolved_mode(mode: str, energy: Energy) -> str:
    """The mode a run takes: ``mode`` itself unless it is ``auto``; then ``ballistic`` where the energy has one-hot
    structure (a permutation layout or one-hot groups) and ``discrete`` elsewhere (see
    :attr:`BifurcationParams.mode`)."""
    if mode != "auto":
        return mode
    return "ballistic" if energy.layout is not None or energy.groups is not None else "discrete"


class BifurcationBackend(Backend):
    """Simulated bifurcation (ballistic or discrete), replicas in one compiled batch."""

    name = "bifurcation"
    description = "simulated bifurcation (ballistic bSB / discrete dSB oscillators, Goto et al.), parallel replicas"
    Params = BifurcationParams

    def prepare(self, energy: Energy, params: Any) -> float:
        """Refuse a run too large or of terms this backend does not take, then compile (or load) the kernels on a
        miniature of the energy, and every set-up pass (untimed)."""
        params = params or BifurcationParams()
        _check_run(energy, params, params.reads)
        started = time.perf_counter()
        setup.compile_setup_kernels()
        if (resolved_mode(params.mode, energy) == "ballistic"
                and energy.num_variables + 1 >= product.PRODUCT_MIN_UNITS):  # +1: a bias spin
            _compile_product_steps()
        return time.perf_counter() - started + warm_up(self, energy, params)

    def prepare_everything(self) -> float:
        """bSB's product steps, which :meth:`prepare` compiles only for models of
        :data:`~hopsolve.backends._sb_product.PRODUCT_MIN_UNITS` units or more."""
        started = time.perf_counter()
        _compile_product_steps()
        return time.perf_counter() - started

    @holds_one_blas_thread  # called directly too (K800 dSB 0.15–0.19 s → 0.08–0.12 s, RESULTS §9.0)
    def solve(self, energy: Energy, params: BifurcationParams | None = None, *, seed: int | None = None,
              initial_states: np.ndarray | None = None, callback: Callback | None = None) -> SampleSet:
        """Run the replicas (see the module docstring)."""
        return self._solve(energy, self.checked_params(energy, params), seed, initial_states, callback)

    def _solve(self, energy: Energy, params: BifurcationParams, seed: int | None,
               initial_states: np.ndarray | None, callback: Callback | None) -> SampleSet:
        started = time.perf_counter()
        seed = resolve_seed(seed)
        n = energy.num_variables
        if initial_states is not None:
            initial_states = given_states(energy, initial_states, OWNER)
        reads = params.reads if initial_states is None else len(initial_states)
        _check_run(energy, params, reads)
        changes = parse_replan(params.replan, OWNER)
        ballistic = resolved_mode(params.mode, energy) == "ballistic"
        model = compile_spin_model(energy, build_deadline(started, params.time_limit))
        energy_model = model  # without the bias spin: what the final descent runs on
        c0, sigma = coupling_scale(model)
        extra = params.bias == "spin" and bool(np.any(model.bias)) and not len(model.group_scale)
        if extra:
            model = _with_bias_spin(model)
        c0 = params.c0 if params.c0 is not None else c0
        if params.time_limit is not None and initial_states is None and reads > STARTS_PROBE:
            _refuse_starts_past_the_limit(seed, reads, n, energy, params.time_limit, started)
        x, y = self._starts(seed, reads, n, energy, initial_states)
        if extra:  # the extra spin starts on the +1 side, so given states keep their signs
            x, y = (np.ascontiguousarray(np.hstack([x, np.full((reads, 1), START_AMPLITUDE)])),
                    np.ascontiguousarray(np.hstack([y, np.zeros((reads, 1))])))
        kernel_model = _kernel_model(model, rows=ballistic)
        state = SB.new_reads(kernel_model, x, y, params.steps if params.trace else 0)
        spins = state.spins
        radius = spectral_radius(kernel_model, model.n, None if params.time_limit is None
                                 else started + params.time_limit, reads)
        dt = params.dt if params.dt is not None else stable_step(params.a0, c0, radius, discrete=not ballistic)

        def gauged(spins: np.ndarray) -> np.ndarray:
            """Spins of the energy (with the extra spin, each row flipped so that it is +1)."""
            return (spins[..., :n] * spins[..., n:] if extra else spins).astype(np.int8)

        finishing = params.finish == "assignment" and energy.layout is not None and n > 0
        descending = params.final_descent and energy.layout is None and n > 0 and reads > 0

        with _Threads(params.threads):
            refreshing = time.perf_counter()
            SB.refresh(kernel_model, state, ballistic)
            refresh_s = time.perf_counter() - refreshing
            run_params = params
            if params.time_limit is not None:  # the clean-up's time is kept out of the run's
                reserve = (reads * assignment_seconds(energy) if finishing else 0.0) + (
                    descent_reserve(energy_model, reads, params.time_limit) if descending else 0.0)
                run_params = dataclasses.replace(params, time_limit=max(0.0, params.time_limit - reserve))
            # the model's constant, from one state (evaluated in the energy's own vartype: converting an energy
            # of 640,000 units to spins takes longer than evaluating it)
            offset = (float(energy.energy(from_spins(gauged(spins[0]), energy.vartype)) - state.energy[0])
                      if reads and n else 0.0)
            state.best[:] = state.energy
            pump = apply_replan(np.linspace(0.0, params.a0, params.steps), changes, OWNER)
            block = max(1, min(MAX_BLOCK, -(-reads // numba.get_num_threads())))

            # the run's phase, carried across the chunks so that they compute what one call would: products while
            # they pay, then the rows, whose first step starts from fields refreshed from the products' float32 ones
            phase = {"products": product.takes_products(kernel_model, ballistic), "refresh": False}

            def step(start: int, stop: int, chunk: np.ndarray) -> None:
                if n:
                    run = SB.SBRun(np.ascontiguousarray(chunk), float(params.a0), float(c0), float(dt),
                                   not ballistic, start)
                    done = 0
                    if phase["products"]:
                        done, over = product.product_steps(kernel_model, run, state, block, starting=start == 0)
                        phase["products"] = not over
                        phase["refresh"] = over
                    if done < len(chunk):
                        SB.sb_steps(kernel_model, run._replace(pump=run.pump[done:], trace_offset=start + done,
                                                               refresh_first=phase["refresh"]), state, block)
                        phase["refresh"] = False

            def report() -> dict[str, Any]:
                row = int(np.argmin(state.best))
                return {"best_energy": float(state.best[row] + offset),
                        "best_state": from_spins(gauged(state.best_spins[row]), energy.vartype)}

            def relabel(update: dict[str, Any]) -> None:
                update = dict(update)
                if update.get("unit") == "sweeps":
                    update["unit"] = "steps"
                update["steps_done"] = update.pop("sweeps_done", None)
                callback(update)

            # a call does not refresh (but the one after the products); the first step moves every position: in
            # adding their coupling rows it costs about one refresh
            progress: _Progress = _run_chunked(pump, step, run_params, relabel if callback else None, report,
                                               started, first_sweep=refresh_s)
        returned = gauged(state.best_spins if params.keep_best else state.spins)
        descent_flips = None
        descended = descending and not progress.interrupted
        if descended:
            returned, _, descent_flips = descend_all_or_none(energy_model, returned, None if params.time_limit
                                                             is None else started + params.time_limit)
            descended = descent_flips is not None
        final = from_spins(returned, energy.vartype)
        projected = 0
        if finishing:
            positions = state.x[:, :n] * np.where(state.x[:, n:] < 0, -1.0, 1.0) if extra else state.x
            final, projected = nearest_permutations(positions, final, energy)
        elapsed = time.perf_counter() - started
        updates = n * progress.done * reads
        info: dict[str, Any] = {
            "derived": {"mode": "ballistic" if ballistic else "discrete", "c0": float(c0), "coupling_rms": sigma,
                        "spectral_radius": radius,
                        "dt": float(dt),
                        "a0": float(params.a0), "pump": "linear 0 → a0",
                        "bias": "spin" if extra else "field", "seed": seed},
            "steps_done": progress.done, "timed_out": progress.timed_out,
            "schedule_compressed": progress.compressed, "schedule_stretched": progress.stretched,
            "interrupted": progress.interrupted, "work": progress.done, "work_unit": "steps",
            "replay": {"steps": params.steps, "replan": progress.replan.text(changes),
                       **({"final_descent": False} if descending and not descended else {})},
            "wall_time_s": elapsed, "updates": updates, "projected": projected, "descent_flips": descent_flips,
            "updates_per_second": updates / elapsed if elapsed > 0 else None,
        }
        if params.trace:
            info["trace"] = state.trace[:, : progress.done] + offset
        return SampleSet.from_states(energy, final, **info)

    @staticmethod
    def _starts(seed: int, reads: int, n: int, energy: Energy,
                initial_states: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Positions and momenta U(-0.1, 0.1), each read from its own stream; given states set the positions'
        signs (``|x_i|`` stays random, so the spins start at the given state)."""
        x = np.empty((reads, n))
        y = np.empty((reads, n))
        for r, sequence in enumerate(read_sequences(seed, reads)):
            rng = np.random.default_rng(sequence)
            x[r] = rng.uniform(-START_AMPLITUDE, START_AMPLITUDE, n)
            y[r] = rng.uniform(-START_AMPLITUDE, START_AMPLITUDE, n)
        if initial_states is not None:
            given = to_spins(np.atleast_2d(initial_states), energy.vartype)
            if given.shape != (reads, n):
                raise ParameterError(f"initial states must be (reads, {n}), got {given.shape}")
            x = np.abs(x) * given
            x[x == 0] = START_AMPLITUDE * given[x == 0]
        return np.ascontiguousarray(x), np.ascontiguousarray(y)
