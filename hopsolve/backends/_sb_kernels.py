"""Compiled simulated-bifurcation steps (Goto et al. 2019, 2021): many replicas in parallel (``prange``).

Each replica holds positions ``x``, momenta ``y`` and the spins ``s = sign(x)``. The fields the dynamics read are
kept up to date *incrementally*: when a position moves by ``δ`` (ballistic) or a spin flips (both modes), its
coupling row is added to the field. Once the pump has bifurcated the oscillators most positions sit at a wall with
``y = 0`` and the spins stop flipping, so a late step costs O(n) instead of a full O(nnz) matrix product. The
fields (and the running energy of ``s``) are recomputed from scratch every :data:`REFRESH_STEPS` steps of a run
(counted from its start, ``SBRun.trace_offset``), so rounding never accumulates, and at the start of a call that
asks for it (``SBRun.refresh_first``); a run's arithmetic does not depend on how its steps are split into calls.

Dense couplings that are exact in float32 (±1 graphs, integer QUBOs: see ``SBModel.dense32``) are read in float32:
the same values, so the same float64 arithmetic and results, from half the memory traffic (K2000 dSB took half the
time). A float32 matrix product over a block of replicas for the steps in which many spins flip was tried as well:
slower than the rows at every share of flips tried (0.1–0.5, K2000, this machine's OpenBLAS), so not kept. For the
*position* fields of ballistic runs, which change with every moving position, it does pay while most positions
move: :mod:`hopsolve.backends._sb_product` takes those steps (``SBRun.fields_outside``).

Dense couplings of one magnitude ``w`` (±1 complete graphs, unweighted dense graphs: ``SBModel.plus_bits``) are
also held as bit matrices, one bit per coupling: where ``W_ij = +w`` and where ``W_ij = -w`` (the first alone
where every coupling off the diagonal is ±w). The spins are held as bits too, so a whole spin field is
``w·(2·popcount(plus_i & s) - 2·popcount(minus_i & s) + offset_i)``, or ``w·(n - 1 - 2·popcount(plus_i ⊕ s) +
2·[s_i > 0])`` on a complete graph: 64 couplings a word. Early in a run about half the spins flip every step (K800
dSB: 400 of 800 at first, 93,000 flips a read over 1000 steps); a step that flips at least
``SBModel.bit_threshold`` spins of a replica recomputes its spin field from the bits (and its energy from ``sᵀWs``,
added up in integers); every refresh does too. A step with fewer flips adds one int8 sign row per flip to the
replica's int16 counts of that field (``SBModel.sign_rows``, ``SBReads.counts``), a quarter of a float32 row's
memory traffic and none of its conversions, and sets the float field from the counts once. The fields are integers
times ``w``, exact, so the dynamics are those of the rows; the energies are too wherever the arithmetic is exact
(dyadic weights and biases: tested read for read against a model without bits), and otherwise differ only by
rounding. A model gets bits only if its couplings do: with ``bias="spin"`` (the backend's default) nonzero biases
become couplings of the extra spin, usually of other magnitudes. A discrete run reads nothing else, so its model
keeps no dense rows where it has sign rows (``bifurcation._kernel_model(rows=False)``; a row it were to read would
come from the sign rows times ``w``, the ``SIGNED`` layout).

The per-unit passes of a step have no branch on a sign: the walls (``|x| = 1``) and the spins' flips go either
way about equally often, and a branch on them, mispredicted half the time, was most of a late step's cost (K2000
dSB on one thread, steps 800–900: 31 µs a replica step with branches, 10 µs without; RESULTS §9.0).

The energy is the flattened spin model of :mod:`hopsolve.backends._model`::

    E(s) = -½ sᵀWs - bᵀs + Σ_f scale_f Σ_g (Σ_{i∈g} s_i - t_fg)²     (W with a zero diagonal)

and the force on oscillator ``i`` is ``c0·(-∂E/∂v_i)`` at ``v = x`` (ballistic) or ``v = sign(x)`` (discrete), its
own group term left out (as the zero diagonal leaves out ``W_ii``).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

REFRESH_STEPS = 1000

WORD_BITS = 64
MAX_COUNTED = np.iinfo(np.int16).max + 1
"""The most units a model may have to keep its spin fields as int16 counts (``|W s| / w ≤ n - 1``)."""

NO_BITS = np.iinfo(np.int64).max
"""``SBModel.bit_threshold`` of a model without bit matrices: no step flips that many spins."""


@intrinsic
def _popcount(typingctx, word):
    """The number of set bits of a ``uint64`` (LLVM's ``ctpop``: one instruction where the CPU has it)."""
    if word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


class SBModel(NamedTuple):
    """The couplings (zero diagonal): where mostly full, dense, in ``dense32`` (float32) where every coupling is exact
    in float32 (see ``bifurcation.coupling_kinds``), else in ``dense`` (float64), the other 0 × 0 and the CSR
    arrays empty (``indptr`` n + 1 zeros); otherwise in CSR form, both dense arrays 0 × 0. A discrete run's model
    of one magnitude has neither dense rows nor CSR, only its ``sign_rows`` (layout ``SIGNED``). Then biases and
    groups.

    Where the dense couplings all have one magnitude ``bit_weight``: ``plus_bits`` and ``minus_bits`` (words × n,
    uint64, word-major: ``plus_bits[k, i]`` is word ``k`` of row ``i``) mark the ``j`` with ``W_ij = +w`` and
    ``-w`` (bit ``j % 64`` of word ``j // 64``), ``bit_offset[i]`` is ``|minus_i| - |plus_i|``, and a replica step
    flipping ``bit_threshold`` spins or more recomputes the spin field from the bits. Where every coupling off the
    diagonal is ``±w`` (complete graphs, the SK model) ``minus_bits`` is 0 × n: ``plus_bits`` says it all. Without
    bits ``plus_bits`` is 0 × n too and ``bit_threshold`` is :data:`NO_BITS`.

    ``sign_rows`` (n × n int8, ``W_ij / w``: +1, -1 or 0) where the model has bit matrices and at most
    :data:`MAX_COUNTED` units, else 0 × 0: a replica's spin field is then also kept as integer counts
    (``SBReads.counts``, ``field_s = w·counts``), and a spin flip adds a sign row to them in int16, a quarter of
    the memory traffic of a float32 row and none of its conversions."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    dense: np.ndarray
    dense32: np.ndarray
    bias: np.ndarray
    group_of: np.ndarray
    group_target: np.ndarray
    group_scale: np.ndarray
    plus_bits: np.ndarray
    minus_bits: np.ndarray
    bit_offset: np.ndarray
    bit_weight: float
    bit_threshold: int
    sign_rows: np.ndarray


class SBRun(NamedTuple):
    """One chunk of the pump schedule and the constants of the dynamics."""

    pump: np.ndarray
    a0: float
    c0: float
    dt: float
    discrete: bool
    trace_offset: int
    fields_outside: bool = False
    """The caller sets the position fields after every step (see :func:`sb_steps`)."""
    refresh_first: bool = True
    """Recompute the fields before the first step (needless where the caller's fields are already the rows': a
    run continued by another call; needed where they are not, e.g. after the products' float32 fields)."""


class SBReads(NamedTuple):
    """Per-replica state (rows are replicas). ``field_x = W x`` (ballistic only), ``field_s = W s``; ``gsum_*`` the
    group sums of ``x`` and ``s``; ``energy`` the energy of ``s`` without the model's constant; ``spin_bits`` the
    spins as bits (set where +1), as many words as the model's bit matrices have (none without them); ``counts``
    the spin field over ``w`` in int16 (``field_s = w·counts``) where the model has ``sign_rows``, else reads × 0.
    Built by :func:`new_reads`."""

    x: np.ndarray
    y: np.ndarray
    spins: np.ndarray
    field_x: np.ndarray
    field_s: np.ndarray
    gsum_x: np.ndarray
    gsum_s: np.ndarray
    energy: np.ndarray
    best_spins: np.ndarray
    best: np.ndarray
    trace: np.ndarray
    spin_bits: np.ndarray
    counts: np.ndarray


def new_reads(model: SBModel, x: np.ndarray, y: np.ndarray, trace_steps: int) -> SBReads:
    """Replicas at positions ``x`` and momenta ``y`` (reads × n), spins ``sign(x)`` (+1 at 0); fields, group sums
    and energies zero until :func:`refresh`."""
    reads = x.shape[0]
    counted = model.sign_rows.shape[0] > 0 and model.plus_bits.shape[0] > 0  # counts are set from the bits
    spins = np.where(x >= 0, 1.0, -1.0)
    groups = (reads, model.group_of.shape[0], model.group_target.shape[1])
    return SBReads(x, y, spins, np.zeros_like(x), np.zeros_like(x), np.zeros(groups), np.zeros(groups),
                   np.zeros(reads), spins.copy(), np.zeros(reads), np.zeros((reads, trace_steps)),
                   np.zeros((reads, model.plus_bits.shape[0]), np.uint64),
                   np.zeros((reads, x.shape[1] if counted else 0), np.int16))


SPARSE, DENSE, DENSE32, SIGNED = 0, 1, 2, 3


@numba.njit(cache=True, inline="always")
def _layout(model):
    """Where the coupling rows are read from: ``dense32``, ``dense``, ``sign_rows`` times ``bit_weight`` (a model
    with sign rows but no dense rows: ``SIGNED``, the same values as float32 rows), or CSR (``SPARSE``)."""
    if model.dense32.shape[0] > 0:
        return DENSE32
    if model.dense.shape[0] > 0:
        return DENSE
    return SIGNED if model.sign_rows.shape[0] > 0 else SPARSE


@numba.njit(cache=True, inline="always")
def _add_row(model, field, i, delta, layout):
    """``field += delta · W[i, :]`` (W is symmetric, so this is the change of ``W v`` when ``v_i`` moves)."""
    if layout == DENSE32:  # indexed in place: a view of the row, even on the branch not taken, costs ~100 ns a call
        for j in range(field.shape[0]):
            field[j] += delta * model.dense32[i, j]
    elif layout == DENSE:
        for j in range(field.shape[0]):
            field[j] += delta * model.dense[i, j]
    elif layout == SIGNED:
        for j in range(field.shape[0]):
            field[j] += delta * (model.bit_weight * model.sign_rows[i, j])
    else:
        for k in range(model.indptr[i], model.indptr[i + 1]):
            field[model.indices[k]] += delta * model.data[k]


@numba.njit(cache=True, inline="always")
def _add_row_at(model, fields, r, i, delta, layout):
    """``fields[r] += delta · W[i, :]`` from dense rows, indexing the 2-d array (no view of row ``r`` made per
    call)."""
    if layout == DENSE32:
        for j in range(fields.shape[1]):
            fields[r, j] += delta * model.dense32[i, j]
    elif layout == DENSE:
        for j in range(fields.shape[1]):
            fields[r, j] += delta * model.dense[i, j]
    else:
        for j in range(fields.shape[1]):
            fields[r, j] += delta * (model.bit_weight * model.sign_rows[i, j])


@numba.njit(cache=True, inline="always")
def _apply_moves(model, reads, moved, first, last, layout, fields_outside):
    """Bring replicas ``first..last-1``'s position fields and group sums up to date with the moves ``moved[r -
    first]`` of their positions (a coupling row per moved position, unless ``fields_outside``); returns how many
    moved. Dense rows are applied unit-major (one row, once loaded, serves every replica of the block); CSR rows
    replica by replica (each replica's moves and sums are then read in order). Either way each replica's field
    gets the same additions in the same order. Every array is taken out of ``model`` and ``reads`` once: taken
    inside the loop, through a helper per move, ballistic steps on assign200 (40,000 units, no couplings, 10
    reads) took about 53 ms while the positions moved, 7.5 ms now (a whole default solve: 41–80 s, now 6.3–6.9 s,
    the same answer; RESULTS §9.0)."""
    n = moved.shape[1]
    field_x, gsum_x = reads.field_x, reads.gsum_x
    group_of = model.group_of
    families = model.group_scale.shape[0]
    moves = 0
    if layout == SPARSE:
        indptr, indices, data = model.indptr, model.indices, model.data
        for r in range(first, last):
            change, field, gsum = moved[r - first], field_x[r], gsum_x[r]
            for i in range(n):
                delta = change[i]
                if delta != 0.0:
                    moves += 1
                    if not fields_outside:
                        for k in range(indptr[i], indptr[i + 1]):
                            field[indices[k]] += delta * data[k]
                    for f in range(families):
                        g = group_of[f, i]
                        if g >= 0:
                            gsum[f, g] += delta
        return moves
    for i in range(n):
        for r in range(first, last):
            delta = moved[r - first, i]
            if delta != 0.0:
                moves += 1
                if not fields_outside:
                    _add_row_at(model, field_x, r, i, delta, layout)
                for f in range(families):
                    g = group_of[f, i]
                    if g >= 0:
                        gsum_x[r, f, g] += delta
    return moves


@numba.njit(cache=True, inline="always")
def _group_field(model, gsum, i, v_i):
    """``-∂/∂v_i`` of the group penalties, unit ``i``'s own contribution left out."""
    total = 0.0
    for f in range(model.group_scale.shape[0]):
        g = model.group_of[f, i]
        if g >= 0:
            total -= 2.0 * model.group_scale[f] * (gsum[f, g] - v_i - model.group_target[f, g])
    return total


@numba.njit(cache=True, inline="always")
def _move_groups(model, gsum, i, delta):
    for f in range(model.group_scale.shape[0]):
        g = model.group_of[f, i]
        if g >= 0:
            gsum[f, g] += delta


@numba.njit(cache=True, inline="always")
def _set_spin_bit(bits, r, i, up):
    """Set (``up``) or clear replica ``r``'s bit of spin ``i``."""
    mask = np.uint64(1) << np.uint64(i % WORD_BITS)
    if up:
        bits[r, i // WORD_BITS] |= mask
    else:
        bits[r, i // WORD_BITS] &= ~mask


@numba.njit(cache=True, inline="always")
def _pack_spins(spins, bits):
    """``bits`` = the spins as bits (set where +1), word by word, without a branch per spin."""
    n = spins.shape[0]
    for k in range(bits.shape[0]):
        word = np.uint64(0)
        for b in range(min(WORD_BITS, n - k * WORD_BITS)):
            word |= np.uint64(spins[k * WORD_BITS + b] > 0.0) << np.uint64(b)
        bits[k] = word


@numba.njit(cache=True)
def _energy_of(model, spins, field_s, gsum_s):
    """The energy of ``spins`` (without the model's constant) from their field ``W s`` and group sums."""
    quadratic = 0.0
    for i in range(spins.shape[0]):
        quadratic += spins[i] * field_s[i]
    return _energy_from_quadratic(model, spins, quadratic, gsum_s)


@numba.njit(cache=True)
def _energy_from_quadratic(model, spins, quadratic, gsum_s):
    """The energy of ``spins`` (without the model's constant) given ``quadratic = sᵀWs``: ``-½ sᵀWs - bᵀs`` plus
    the group penalties. Zero biases are skipped (max-cut has none), so the sum costs no floating-point chain."""
    energy = -0.5 * quadratic
    for i in range(spins.shape[0]):
        if model.bias[i] != 0.0:
            energy -= spins[i] * model.bias[i]
    for f in range(model.group_scale.shape[0]):
        for g in range(model.group_target.shape[1]):
            gap = gsum_s[f, g] - model.group_target[f, g]
            energy += model.group_scale[f] * gap * gap
    # groups past a family's count have target 0 and no members: they add nothing
    return energy


POPCOUNT_WORDS = 4
"""Words of the bit matrices one pass of :func:`_fields_from_bits` adds up per unit."""


@numba.njit(cache=True, inline="always")
def _count_differing(plus, spin_bits, scratch):
    """``scratch[i] = |plus_i ⊕ s|`` over the word-major bits, :data:`POPCOUNT_WORDS` words a pass."""
    words, n = plus.shape
    for i in range(n):
        scratch[i] = 0
    k = 0
    while k + POPCOUNT_WORDS <= words:
        s0, s1, s2, s3 = spin_bits[k], spin_bits[k + 1], spin_bits[k + 2], spin_bits[k + 3]
        for i in range(n):
            scratch[i] += np.int64(_popcount(plus[k, i] ^ s0) + _popcount(plus[k + 1, i] ^ s1)
                                   + _popcount(plus[k + 2, i] ^ s2) + _popcount(plus[k + 3, i] ^ s3))
        k += POPCOUNT_WORDS
    while k < words:
        s0 = spin_bits[k]
        for i in range(n):
            scratch[i] += np.int64(_popcount(plus[k, i] ^ s0))
        k += 1


@numba.njit(cache=True, inline="always")
def _count_signed(plus, minus, spin_bits, scratch):
    """``scratch[i] = |plus_i ∩ s| - |minus_i ∩ s|`` over the word-major bits, a word a pass."""
    words, n = plus.shape
    for i in range(n):
        scratch[i] = 0
    for k in range(words):
        s0 = spin_bits[k]
        for i in range(n):
            scratch[i] += np.int64(_popcount(plus[k, i] & s0)) - np.int64(_popcount(minus[k, i] & s0))


@numba.njit(cache=True)
def _fields_from_bits(model, spin_bits, spins, field_s, counts, scratch):
    """``field_s = W s`` from the bit matrices: ``w·(2·|plus_i ∩ s| - 2·|minus_i ∩ s| + |minus_i| - |plus_i|)``.
    Where every coupling off the diagonal is ``±w`` (``minus_bits`` 0 × n), one popcount a word serves: ``W_ij s_j
    = +w`` where bit ``j`` of ``plus_i`` equals spin ``j``'s, so ``field_i = w·(n - 1 - 2·|plus_i ⊕ s| + 2·[s_i >
    0])`` (``plus_i`` has no bit ``i``, so ``⊕`` counts spin ``i`` itself once where it is +1). ``counts`` (n or
    0 long) gets ``field_i / w``. Returns ``sᵀWs``, added up in integers (``field_i / w`` is one), so the energy
    needs no floating-point sum over the fields.

    The bit matrices are word-major (``plus_bits[k, i]``), so each pass runs down the units with one spin word
    held, :data:`POPCOUNT_WORDS` words at a time, into ``scratch`` (n long, int64): the loop over units vectorises
    with whole registers, where a unit's own row of 13 words (K800) did not: K800's field 11.8 → 6.2 µs, K2000's
    35 → 22.5 µs on one thread (the fastest of 7 alternating rounds in one process, RESULTS §9.0)."""
    n = field_s.shape[0]
    counting = counts.shape[0] > 0
    complete = model.minus_bits.shape[0] == 0
    if complete:
        _count_differing(model.plus_bits, spin_bits, scratch)
    else:
        _count_signed(model.plus_bits, model.minus_bits, spin_bits, scratch)
    quadratic = 0
    for i in range(n):
        up = spins[i] > 0.0
        count = n - 1 - 2 * scratch[i] + (2 if up else 0) if complete else 2 * scratch[i] + model.bit_offset[i]
        field_s[i] = model.bit_weight * count
        if counting:
            counts[i] = count
        quadratic += count if up else -count
    return model.bit_weight * quadratic


@numba.njit(cache=True)
def _refresh_read(model, reads, r, ballistic):
    """Recompute replica ``r``'s fields, group sums and energy from its positions and spins."""
    n = reads.x.shape[1]
    layout = _layout(model)
    # the replica's rows taken once: a view made per unit costs reference counting on every one of n units
    x, spins = reads.x[r], reads.spins[r]
    field_s, gsum_s, field_x, gsum_x = reads.field_s[r], reads.gsum_s[r], reads.field_x[r], reads.gsum_x[r]
    with_bits = reads.spin_bits.shape[1] > 0
    quadratic = 0.0
    if with_bits:  # the spin field from the bits: the same exact values, a popcount per 64 couplings
        _pack_spins(spins, reads.spin_bits[r])
        quadratic = _fields_from_bits(model, reads.spin_bits[r], spins, field_s, reads.counts[r],
                                      np.empty(n, np.int64))
    else:
        field_s[:] = 0.0
    gsum_s[:, :] = 0.0
    if ballistic:
        field_x[:] = 0.0
        gsum_x[:, :] = 0.0
    for i in range(n):
        if not with_bits:
            _add_row(model, field_s, i, spins[i], layout)
        _move_groups(model, gsum_s, i, spins[i])
        if ballistic and x[i] != 0.0:
            _add_row(model, field_x, i, x[i], layout)
            _move_groups(model, gsum_x, i, x[i])
    if with_bits:
        reads.energy[r] = _energy_from_quadratic(model, spins, quadratic, gsum_s)
    else:
        reads.energy[r] = _energy_of(model, spins, field_s, gsum_s)


@numba.njit(cache=True, parallel=True)
def refresh(model, reads, ballistic):
    """Recompute every replica's fields, group sums and energy (:func:`_refresh_read`)."""
    for r in numba.prange(reads.x.shape[0]):
        _refresh_read(model, reads, np.int64(r), ballistic)  # int64, as the serial callers: one compiled version


@numba.njit(cache=True, inline="always")
def _flips(x_i, s_i):
    """Whether a spin ``s_i`` takes a new sign from its position ``x_i`` (``x_i = 0`` keeps its sign). Bitwise, not
    short-circuit: no branch on the signs, which are as likely one way as the other."""
    return ((x_i > 0.0) & (s_i < 0.0)) | ((x_i < 0.0) & (s_i > 0.0))


@numba.njit(cache=True)
def _flip_by_bits(model, reads, r, scratch):
    """Give replica ``r``'s spins the signs of its positions, then recompute its spin field from the bit matrices
    and its energy from ``sᵀWs`` (which the popcounts add up in integers). Written without branches on the spins
    (about half of them flip in the steps that come here, so branches would mostly be mispredicted): the signs by
    selects, the bits word by word. ``scratch``: n int64s for the popcounts (:func:`_fields_from_bits`)."""
    x, s, gsum_s = reads.x[r], reads.spins[r], reads.gsum_s[r]
    n = x.shape[0]
    if model.group_scale.shape[0] > 0:
        for i in range(n):
            if _flips(x[i], s[i]):
                _move_groups(model, gsum_s, i, -2.0 * s[i])
    for i in range(n):
        s[i] = 1.0 if x[i] > 0.0 else (-1.0 if x[i] < 0.0 else s[i])  # x = 0 keeps its sign
    bits = reads.spin_bits[r]
    _pack_spins(s, bits)
    quadratic = _fields_from_bits(model, bits, s, reads.field_s[r], reads.counts[r], scratch)
    reads.energy[r] = _energy_from_quadratic(model, s, quadratic, gsum_s)


@numba.njit(cache=True)
def _flip_most(model, reads, r, layout, kept):
    """Flip replica ``r``'s spins to the signs of its positions when more than half of them change (early in a
    discrete run, when the positions still oscillate about zero, about 70% do at every step on G22): the new field
    is ``W s' = -W s + Σ_{i kept} 2 s_i W[i, :]``, one coupling row per spin that keeps its sign instead of one per
    spin that flips, and the energy is then recomputed from the field (O(n)). ``kept`` (n long, scratch) lists the
    spins that keep their signs, by one pass without branches, as :func:`_flip_counted` lists flips. Steps of
    models with bit matrices normally come here only below their bit threshold, which is under n/2; the bits are
    repacked anyway should one arrive."""
    x, s, field_s, gsum_s = reads.x[r], reads.spins[r], reads.field_s[r], reads.gsum_s[r]
    n = x.shape[0]
    count = 0
    for i in range(n):
        kept[count] = i
        count += 1 - _flips(x[i], s[i])
    if model.group_scale.shape[0] > 0:
        for i in range(n):
            if _flips(x[i], s[i]):
                _move_groups(model, gsum_s, i, -2.0 * s[i])
    for j in range(n):
        field_s[j] = -field_s[j]
    for m in range(count):
        i = kept[m]
        _add_row(model, field_s, i, 2.0 * s[i], layout)
    for i in range(n):
        s[i] = 1.0 if x[i] > 0.0 else (-1.0 if x[i] < 0.0 else s[i])  # x = 0 keeps its sign
    if reads.spin_bits.shape[1] > 0:
        _pack_spins(s, reads.spin_bits[r])
    reads.energy[r] = _energy_of(model, s, field_s, gsum_s)


@numba.njit(cache=True)
def _flip_spins(model, reads, r, layout, flipped):
    """Give replica ``r``'s spins the signs of its positions and bring its spin field and energy up to date: by
    recomputing them from the bits where the model has bit matrices and at least ``model.bit_threshold`` spins flip
    (:func:`_flip_by_bits`), else flip by flip, updating the energy and adding one row per flip: a sign row to the
    int16 counts where the replica keeps them (then ``field_s = w·counts`` once at the end), else a coupling row
    to the field.

    The flipping units are first listed in ``flipped`` (n long, scratch) by one pass without branches (store every
    index, advance past it where it flips): a branch per unit on signs that go either way was mispredicted about
    half the time, which cost more than the flips themselves late in a run. The flips then run in unit order.
    A first pass only counts the flips (a sum, so it vectorises, unlike the listing's stores): late in a run most
    steps flip nothing and end there, and early ones, recomputed from the bits, need no list."""
    x, s = reads.x[r], reads.spins[r]
    flips = 0
    for i in range(x.shape[0]):
        flips += _flips(x[i], s[i])
    _flip_counted(model, reads, r, layout, flipped, flips)


@numba.njit(cache=True)
def _flip_counted(model, reads, r, layout, flipped, flips):
    """:func:`_flip_spins` once the ``flips`` are counted."""
    x, s, field_s, gsum_s = reads.x[r], reads.spins[r], reads.field_s[r], reads.gsum_s[r]
    n = x.shape[0]
    if flips == 0:
        return
    if flips >= model.bit_threshold:
        _flip_by_bits(model, reads, r, flipped)  # the list is not needed: its array is scratch
        return
    if 2 * flips > n and reads.counts.shape[1] == 0:
        _flip_most(model, reads, r, layout, flipped)
        return
    flips = 0
    for i in range(n):
        flipped[flips] = i
        flips += _flips(x[i], s[i])
    with_bits = reads.spin_bits.shape[1] > 0
    if reads.counts.shape[1] > 0:
        counts = reads.counts[r]
        w = model.bit_weight
        for m in range(flips):
            i = flipped[m]
            old = s[i]
            # w·counts[i] is the field the float rows would hold: integers times w, exact either way
            reads.energy[r] += 2.0 * old * (w * counts[i] + model.bias[i] + _group_field(model, gsum_s, i, old))
            step = np.int16(2) if old < 0.0 else np.int16(-2)
            for j in range(n):
                counts[j] += step * model.sign_rows[i, j]
            _move_groups(model, gsum_s, i, -2.0 * old)
            s[i] = -old
            _set_spin_bit(reads.spin_bits, r, i, old < 0.0)
        for j in range(n):
            field_s[j] = w * counts[j]
        return
    for m in range(flips):
        i = flipped[m]
        old = s[i]
        reads.energy[r] += 2.0 * old * (field_s[i] + model.bias[i] + _group_field(model, gsum_s, i, old))
        _add_row(model, field_s, i, -2.0 * old, layout)
        _move_groups(model, gsum_s, i, -2.0 * old)
        s[i] = -old
        if with_bits:
            _set_spin_bit(reads.spin_bits, r, i, old < 0.0)


@numba.njit(cache=True, inline="always")
def _symplectic_step(x, y, force, detuning, run):
    """One coordinate's step of symplectic Euler: the momentum from the force, then the position from the new
    momentum, with an inelastic wall at ``|x| = 1`` (the position stops there and its momentum is zeroed). Returns
    ``(position, momentum)``. Written with selects, not branches: late in a run the walls hit are +1 and -1 alike,
    and the loops that call this vectorise."""
    momentum = y + run.dt * (-detuning * x + run.c0 * force)
    new = x + run.dt * run.a0 * momentum
    wall = (new > 1.0) | (new < -1.0)
    momentum = 0.0 if wall else momentum
    new = 1.0 if new > 1.0 else (-1.0 if new < -1.0 else new)
    return new, momentum


@numba.njit(cache=True, inline="always")
def _move_read(model, run, reads, r, k, moved):
    """Replica ``r``'s step ``k`` of symplectic Euler (:func:`_symplectic_step` on every coordinate, forces from the
    current fields); ``moved[i]`` gets each position's change. The fields are not touched."""
    ballistic = not run.discrete
    detuning = run.a0 - run.pump[k]
    x, y, s = reads.x[r], reads.y[r], reads.spins[r]
    field = reads.field_x[r] if ballistic else reads.field_s[r]
    gsum = reads.gsum_x[r] if ballistic else reads.gsum_s[r]
    v = x if ballistic else s
    grouped = model.group_scale.shape[0] > 0
    for i in range(x.shape[0]):
        force = field[i] + model.bias[i]
        if grouped:
            force += _group_field(model, gsum, i, v[i])
        new, y[i] = _symplectic_step(x[i], y[i], force, detuning, run)
        moved[i] = new - x[i]
        x[i] = new


@numba.njit(cache=True, inline="always")
def _move_counting(model, run, reads, r, k):
    """:func:`_move_read` for a discrete run on a model without groups, in one pass that also counts the spins
    whose signs the new positions change (what :func:`_flip_spins` counts first): the same step, so the same
    positions and momenta, with one pass over the replica's arrays instead of three and no position changes
    stored (a discrete step adds no position field). 20 × 1000 steps: K800 0.051 → 0.047 s, G22 0.135 → 0.114 s
    (RESULTS §9.3)."""
    detuning = run.a0 - run.pump[k]
    x, y, s, field = reads.x[r], reads.y[r], reads.spins[r], reads.field_s[r]
    flips = 0
    for i in range(x.shape[0]):
        x[i], y[i] = _symplectic_step(x[i], y[i], field[i] + model.bias[i], detuning, run)
        flips += _flips(x[i], s[i])
    return flips


@numba.njit(cache=True, inline="always")
def _keep_best(reads, r, index, record):
    """After a step: keep replica ``r``'s spins if they are its best so far, and record its energy at ``index``."""
    if reads.energy[r] < reads.best[r]:
        reads.best[r] = reads.energy[r]
        reads.best_spins[r, :] = reads.spins[r]
    if record:
        reads.trace[r, index] = reads.energy[r]


@numba.njit(cache=True)
def _steps_block(model, run, reads, first, last):
    """Replicas ``first..last-1`` in lockstep: a coupling row, once loaded, serves every replica of the block."""
    n = reads.x.shape[1]
    layout = _layout(model)
    ballistic = not run.discrete
    counting = not ballistic and model.group_scale.shape[0] == 0  # one fused pass a replica (_move_counting)
    moved = np.empty((0 if counting else last - first, n))
    flipped = np.empty(n, np.int64)
    record = reads.trace.shape[1] > 0
    moves = 0
    for k in range(run.pump.shape[0]):
        step = run.trace_offset + k  # the run's own step: refreshes fall on the same steps however it is split
        if step > 0 and step % REFRESH_STEPS == 0:
            for r in range(first, last):
                _refresh_read(model, reads, r, ballistic)
        if counting:  # replicas are independent: each moves and flips in turn
            for r in range(first, last):
                _flip_counted(model, reads, r, layout, flipped, _move_counting(model, run, reads, r, k))
        else:
            for r in range(first, last):
                _move_read(model, run, reads, r, k, moved[r - first])
            moves = _apply_moves(model, reads, moved, first, last, layout, run.fields_outside) if ballistic else 0
            for r in range(first, last):
                _flip_spins(model, reads, r, layout, flipped)
        for r in range(first, last):
            _keep_best(reads, r, run.trace_offset + k, record)
    return moves


@numba.njit(cache=True, parallel=True)
def sb_steps(model, run, reads, block):
    """Advance every replica through ``run.pump`` (one step per entry), ``block`` replicas at a time per thread;
    the best spins seen are kept. A replica's arithmetic does not depend on the blocks or threads. Returns how many
    positions moved in the last step (ballistic; 0 in discrete runs).

    A call with ``run.refresh_first`` starts by recomputing the fields from the positions and spins, except with
    ``run.fields_outside`` (ballistic): then the caller keeps the position fields ``W x`` (by one matrix product a
    step, :mod:`hopsolve.backends._sb_product`) and no row is added for a moved position. Every step whose index in
    the run (``run.trace_offset`` plus its index in the call) is a positive multiple of :data:`REFRESH_STEPS`
    starts with a refresh, so a run split into calls at any steps computes what one call would."""
    ballistic = not run.discrete
    replicas = reads.x.shape[0]
    blocks = (replicas + block - 1) // block
    moves = 0
    for b in numba.prange(blocks):
        first = b * block
        last = min(replicas, first + block)
        if run.refresh_first and not run.fields_outside:
            for r in range(first, last):
                _refresh_read(model, reads, r, ballistic)
        moves += _steps_block(model, run, reads, first, last)
    return moves


PRODUCT_BLOCK = 256
"""Outputs of :func:`coupling_product` a dense block adds up together (its sums, 2 KB, stay in L1)."""


@numba.njit(cache=True, inline="always")
def _axpy_rows(rows, scale, v, lo, hi):
    """``Σ_j (scale·rows[j, lo:hi])·v_j``, whole row pieces at a time (it vectorises), each output one chain of
    additions in ``j`` order, in a local array (L1), four rows a pass (a quarter of the loads and stores of the
    sums; the same chain of additions). Each term is computed as ``rows[j, i]·(scale·v_j)``: the same number
    where ``scale`` is 1 (float rows) or the rows hold -1, 0 and +1 (sign rows), one multiplication fewer."""
    total = np.zeros(hi - lo)
    n = v.shape[0]
    j = 0
    while j + 4 <= n:
        v0, v1, v2, v3 = scale * v[j], scale * v[j + 1], scale * v[j + 2], scale * v[j + 3]
        p0, p1, p2, p3 = rows[j, lo:hi], rows[j + 1, lo:hi], rows[j + 2, lo:hi], rows[j + 3, lo:hi]
        for i in range(hi - lo):
            t = total[i]
            t += p0[i] * v0
            t += p1[i] * v1
            t += p2[i] * v2
            t += p3[i] * v3
            total[i] = t
        j += 4
    while j < n:
        vj = scale * v[j]
        piece = rows[j, lo:hi]
        for i in range(hi - lo):
            total[i] += piece[i] * vj
        j += 1
    return total


@numba.njit(cache=True, inline="always")
def _dense_block_product(model, signed, layout, v, lo, hi, out):
    """``out[lo:hi] = (W v)[lo:hi]`` from dense rows, as ``Σ_j v_j·W[j, lo:hi]`` (W is symmetric). The sign rows'
    terms ``(w·s_ji)·v_j`` are the float32 rows' exactly (``w·s_ji`` is that coupling; ``1.0·W_ji`` is ``W_ji``),
    so either gives the same sums."""
    if signed:
        out[lo:hi] = _axpy_rows(model.sign_rows, model.bit_weight, v, lo, hi)
    elif layout == DENSE32:
        out[lo:hi] = _axpy_rows(model.dense32, 1.0, v, lo, hi)
    else:
        out[lo:hi] = _axpy_rows(model.dense, 1.0, v, lo, hi)


def product_entries(model: SBModel) -> int:
    """How many coupling entries one :func:`coupling_product` reads, as it chooses them: the sign rows where the
    model has them (dSB's model keeps only those), else its dense rows, else its CSR."""
    return model.sign_rows.size or model.dense32.size or model.dense.size or len(model.data)


@numba.njit(cache=True, parallel=True)
def coupling_product(model, v, out):
    """``out = J v`` for the couplings ``J`` the dynamics feel: ``W`` (its dense rows where it has them, else CSR)
    and each group family's ``-2·scale`` between the members of a group (a unit's own term left out). Power
    iteration's one product, O(nnz + n·F). Dense rows are read in blocks of outputs (:func:`_dense_block_product`),
    as sign rows where the model has them (the same sums)."""
    n = v.shape[0]
    families = model.group_scale.shape[0]
    sums = np.zeros((families, model.group_target.shape[1]))
    for f in range(families):
        for i in range(n):
            g = model.group_of[f, i]
            if g >= 0:
                sums[f, g] += v[i]
    layout = _layout(model)
    signed = model.sign_rows.shape[0] > 0
    if signed or layout != SPARSE:
        for b in numba.prange((n + PRODUCT_BLOCK - 1) // PRODUCT_BLOCK):
            lo = b * PRODUCT_BLOCK
            _dense_block_product(model, signed, layout, v, lo, min(n, lo + PRODUCT_BLOCK), out)
    else:
        for i in numba.prange(n):
            total = 0.0
            for k in range(model.indptr[i], model.indptr[i + 1]):
                total += model.data[k] * v[model.indices[k]]
            out[i] = total
    for i in numba.prange(n):
        total = out[i]
        for f in range(families):
            g = model.group_of[f, i]
            if g >= 0:
                total -= 2.0 * model.group_scale[f] * (sums[f, g] - v[i])
        out[i] = total
