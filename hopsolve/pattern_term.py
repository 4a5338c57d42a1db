"""Dense associative memory energies ``E(s) = -scale · Σ_μ F(ξ_μ · s)``: not quadratic, but with fields and flip
deltas that cost O(P) from cached overlaps, so the same backends run on them.

``F`` (m is the overlap ``ξ_μ · s`` of N spins):

- ``power``: ``F(m) = mⁿ / N^(n-1)`` (n = 2 is twice the Hebbian energy, up to a constant; Krotov & Hopfield 2016);
- ``rectified``: ``F(m) = max(m, 0)ⁿ / N^(n-1)``;
- ``exp``: ``F(m) = exp(β (m - N))`` (Demircigil et al. 2017; shifted by N so that it cannot overflow).

The term is defined on spins; on a BINARY energy it reads ``s = 2x - 1``. The field of a unit is
``(E(v_i = low) - E(v_i = high)) / (high - low)``, exact for discrete states (no multilinear shortcut exists).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hopsolve.energy import QuadraticTerm, Term, Vartype, real_array, real_number
from hopsolve.errors import ParameterError

KINDS = ("power", "rectified", "exp")


def apply_f(m: np.ndarray, kind: str, degree: float, beta: float, n: int) -> np.ndarray:
    """F applied elementwise to overlaps ``m``."""
    # n·(m/n)^d, not m^d / n^(d-1): the same number, without overflowing for a high degree (|m| ≤ n)
    if kind == "power":
        return n * (m / n) ** degree
    if kind == "rectified":
        return n * (np.maximum(m, 0.0) / n) ** degree
    return np.exp(beta * (m - n))


@dataclass(frozen=True, eq=False)
class PatternTerm(Term):
    """``-scale · Σ_μ F(ξ_μ · s)`` over the stored patterns ``ξ`` (P × N, entries ±1)."""

    name: str
    patterns: np.ndarray
    kind: str = "power"
    degree: float = 3.0
    beta: float = 1.0
    scale: float = 1.0
    domain: Vartype = Vartype.SPIN

    @classmethod
    def build(cls, name: str, patterns: Any, kind: str = "power", degree: float = 3.0, beta: float = 1.0,
              scale: float = 1.0) -> PatternTerm:
        xi = real_array(patterns, "patterns")
        if xi.ndim != 2 or not np.isin(xi, (-1.0, 1.0)).all():
            raise ParameterError("patterns must be a P × N array of ±1")
        if kind not in KINDS:
            raise ParameterError(f"unknown dense energy {kind!r}: choose {', '.join(KINDS)}")
        degree, beta = real_number(degree, "degree"), real_number(beta, "beta")
        if kind != "exp" and (degree < 1 or not float(degree).is_integer()):
            raise ParameterError(f"degree must be a positive integer, got {degree}")
        if beta <= 0:
            raise ParameterError(f"beta must be positive, got {beta}")
        return cls(name, xi, kind, degree, beta, real_number(scale, f"term {name!r}: scale"))

    @property
    def num_variables(self) -> int:
        return self.patterns.shape[1]

    @property
    def stored_couplings(self) -> int:
        return 0

    def _spins(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        return 2.0 * states - 1.0 if vartype is Vartype.BINARY else states

    def _f(self, m: np.ndarray) -> np.ndarray:
        return apply_f(m, self.kind, self.degree, self.beta, self.num_variables)

    def energies(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        m = self._spins(states, vartype) @ self.patterns.T
        return -self.scale * self._f(m).sum(axis=1)

    def fields(self, states: np.ndarray, vartype: Vartype) -> np.ndarray:
        spins = self._spins(states, vartype)
        out = np.empty_like(spins)
        xt = self.patterns.T  # (N, P)
        for k, s in enumerate(spins):  # one state at a time: the work array is N × P
            rest = (s @ self.patterns.T)[None, :] - s[:, None] * xt  # each unit's overlaps without itself
            out[k] = 0.5 * self.scale * (self._f(rest + xt) - self._f(rest - xt)).sum(axis=1)
        return 2.0 * out if vartype is Vartype.BINARY else out  # (E(v_i=low) - E(v_i=high)) / (high - low)

    def field_bounds(self) -> np.ndarray:
        n = self.num_variables
        top = self._f(np.array([float(n)]))[0] - self._f(np.array([float(n - 2)]))[0]
        return np.full(n, abs(self.scale) * len(self.patterns) * abs(top))

    def converted(self, source: Vartype, target: Vartype) -> PatternTerm:
        return self

    def quadratic(self, vartype: Vartype) -> QuadraticTerm:
        if self.kind == "power" and self.degree == 2:
            n = self.num_variables
            w = 2.0 * self.scale * (self.patterns.T @ self.patterns) / n
            diagonal = float(np.trace(w)) / 2.0
            np.fill_diagonal(w, 0.0)
            spin = QuadraticTerm.build(self.name, w, np.zeros(n), -diagonal)
            return spin.converted(Vartype.SPIN, vartype)
        what = (f"F(x) = x^{self.degree:g}" if self.kind == "power" else
                f"F(x) = max(x, 0)^{self.degree:g}" if self.kind == "rectified" else "F(x) = e^(βx)")
        raise ParameterError(f"this dense associative memory's energy ({what}) is not quadratic: the backends that "
                             "take it are hopfield, anneal and tank (not exact, replica or bifurcation)")

    def with_scale(self, scale: float) -> PatternTerm:
        return replace(self, scale=scale)
