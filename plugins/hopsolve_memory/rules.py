"""Learning rules that turn patterns into Hopfield couplings, with the capacities they are known for.

- ``hebb``: ``W = (1/N) Σ_μ ξ_μ ξ_μᵀ``, zero diagonal. Random patterns are recalled up to a load α = P/N ≈ 0.138
  (Amit–Gutfreund–Sompolinsky); a given pattern is recalled exactly (a fixed point) up to about N / (2 ln N),
  all of them at once only up to about N / (4 ln N) (McEliece et al. 1987).
- ``storkey``: incremental, O(N²) per pattern (Storkey 1997): ``ΔW_ij = (ξ_i ξ_j - ξ_i h_ji - h_ij ξ_j)/N`` with
  local fields ``h_ij = Σ_{k≠i,j} W_ik ξ_k``; capacity about N / sqrt(2 ln N), beyond Hebb's.
- ``pinv``: the projection (pseudo-inverse) rule ``W = Ξᵀ (Ξ Ξᵀ)⁻¹ Ξ``, diagonal removed; linearly independent
  patterns are fixed points up to P close to N (Personnaz et al. 1985). At P = N the projection is the identity
  and W is 0: every state is a fixed point, and a cue is returned unchanged.
- ``dense`` (``F(x) = xⁿ``, rectified too) and ``exp`` are not quadratic: see :mod:`hopsolve.pattern_term`. Dense
  n stores about N^(n-1) / (2(2n-3)!! ln N) patterns (n = 3: N² / (6 ln N)); exp stores exponentially many.
"""

from __future__ import annotations

import numpy as np

from hopsolve import ParameterError


def hebb(patterns: np.ndarray) -> np.ndarray:
    xi = np.asarray(patterns, dtype=np.float64)
    w = xi.T @ xi / xi.shape[1]
    np.fill_diagonal(w, 0.0)
    return w


def storkey(patterns: np.ndarray) -> np.ndarray:
    xi = np.asarray(patterns, dtype=np.float64)
    n = xi.shape[1]
    w = np.zeros((n, n))
    for pattern in xi:
        h = w @ pattern  # zero diagonal: h_ij = h_i - W_ij ξ_j, so ΔW = (ξξᵀ - ξhᵀ - hξᵀ + 2W)/N
        w *= 1.0 + 2.0 / n
        left = np.stack([pattern, -h], axis=1) / n
        right = np.stack([pattern - h, pattern], axis=1)
        w += left @ right.T  # the rank-2 update ξ(ξ - h)ᵀ - hξᵀ in one BLAS call
        np.fill_diagonal(w, 0.0)
    return w


def pseudo_inverse(patterns: np.ndarray) -> np.ndarray:
    xi = np.asarray(patterns, dtype=np.float64)
    gram = xi @ xi.T
    if np.linalg.matrix_rank(gram) < len(xi):
        raise ParameterError("the pseudo-inverse rule needs linearly independent patterns (the overlap matrix is "
                             "singular: a pattern repeats or is a combination of others)")
    w = xi.T @ np.linalg.solve(gram, xi)
    # a projection's entries are at most 1 in size; what is left of an exact 0 is rounding (1.6e-15 where P = N
    # makes W = I, the diagonal removed, 0): kept, it walked every cue of such a network away from its pattern
    w[np.abs(w) < PINV_ROUNDING] = 0.0
    np.fill_diagonal(w, 0.0)
    return w


PINV_ROUNDING = 1e-10
"""Couplings of the pseudo-inverse rule below this size are rounding, set to 0 (see :func:`pseudo_inverse`)."""


QUADRATIC_RULES = {"hebb": hebb, "storkey": storkey, "pinv": pseudo_inverse}


def modern_update(patterns: np.ndarray, state: np.ndarray, beta: float) -> np.ndarray:
    """One step of the continuous modern Hopfield update ``ξ ← X softmax(β Xᵀ ξ)`` (X holds the patterns)."""
    x = np.asarray(patterns, dtype=np.float64)  # P × N
    scores = beta * (x @ state)
    weights = np.exp(scores - scores.max())
    return (weights / weights.sum()) @ x
