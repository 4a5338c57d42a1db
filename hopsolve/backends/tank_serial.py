"""Serial Potts mean-field annealing on a permutation energy (Peterson & Söderberg 1989, as they ran it).

The network has one softmax row per item of a permutation energy ``E(V) = Σ_ij A_ij Σ_ab B_ab V_ia V_jb +
Σ_ia C_ia V_ia`` (TSP: A = distances, B = the cycle of positions; QAP: flows and distances; assignment: C). Each row
``V_i = softmax(U_i / T)`` is set, **one row at a time** in a random order (Gauss–Seidel, so every row sees the
rows already updated), to the mean field

    U_ia = −[(B g)_a + (Bᵀ g')_a + C_ia] / σ − α (Σ_k V_ka − V_ia) + β V_ia,    g = A_i· V,  g' = A_·i V,

where σ = max|A| · (max row sum of |B| + of |Bᵀ|)/2 (or max|C| without A) puts the objective on a unit scale, α is
the column constraint's weight (``column_weight``) and β a self-coupling (``self_coupling``, Peterson &
Söderberg's β term; negative values hold rows back from committing). The temperature starts at the critical
temperature of the linearised map around the uniform state, ``T_c = λ_max(P L P)/n`` (L the linear part of U, P
the projection onto rows summing to zero), computed by Lanczos, and falls by ``cooling`` every sweep until the
rows saturate.

Why serial: updating every row at once (the Euler integration of ``tank``'s ``mfa``) lets each row react to the
others' old outputs, which oscillate near T_c. On four 30-city tuning instances (seeds 500–503, cooling 0.99)
the serial rule with β = −0.5 gave tours 2.2% above LKH's against 6.6% for damped parallel updates and 10% for
serial updates without β (RESULTS §11.4; the table there is on other, hold-out, instances).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from hopsolve.backends._timing import fastest_seconds
from hopsolve.energy import PermutationView


@dataclass(frozen=True, eq=False)
class SerialNetwork:
    """The arrays of :func:`serial_sweep` for one permutation energy (objective divided by ``scale`` = σ)."""

    a: np.ndarray
    a_transposed: np.ndarray
    b: sp.csr_matrix
    b_transposed: sp.csr_matrix
    linear: np.ndarray
    scale: float

    @property
    def size(self) -> int:
        return len(self.linear)

    @classmethod
    def from_view(cls, view: PermutationView) -> SerialNetwork:
        n = view.size
        a = np.ascontiguousarray(view.flow_matrix(), dtype=np.float64)
        b = sp.csr_matrix(view.adjacency, dtype=np.float64)
        b.sort_indices()
        bt = sp.csr_matrix(b.T)
        bt.sort_indices()
        given = view.linear_matrix()
        linear = np.zeros((n, n)) if given is None else np.asarray(given, dtype=np.float64)
        magnitudes = abs(b)
        rows = float(np.asarray(magnitudes.sum(axis=1)).max(initial=0.0))
        columns = float(np.asarray(magnitudes.sum(axis=0)).max(initial=0.0))
        scale = float(np.abs(a).max(initial=0.0)) * (rows + columns) / 2.0
        if scale <= 0.0:
            scale = float(np.abs(linear).max(initial=0.0))
        return cls(a, np.ascontiguousarray(a.T), b, bt, np.ascontiguousarray(linear), scale if scale > 0 else 1.0)

    def sweep(self, v: np.ndarray, colsum: np.ndarray, order: np.ndarray, temperature: float, alpha: float,
              beta: float, scratch: np.ndarray) -> float:
        """:func:`serial_sweep` on this network's arrays (``scratch``: 3 × n work space); returns the saturation."""
        b, bt = self.b, self.b_transposed
        return serial_sweep(self.a, self.a_transposed, b.indptr, b.indices, b.data, bt.indptr, bt.indices, bt.data,
                            self.linear, self.scale, v, colsum, order, temperature, alpha, beta, scratch[0],
                            scratch[1], scratch[2])

    def linear_field(self, x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
        """The part of U linear in V, applied to ``x`` (n × n): ``−(A x Bᵀ + Aᵀ x B)/σ − α(1·1ᵀx − x) + βx``."""
        objective = self.a @ (self.b @ x.T).T + self.a_transposed @ (self.b_transposed @ x.T).T
        return -objective / self.scale - alpha * (x.sum(axis=0, keepdims=True) - x) + beta * x

    def critical_temperature(self, alpha: float, beta: float, rng: np.random.Generator,
                             seconds: float | None = None) -> tuple[float, bool]:
        """``T_c = λ_max(P L P)/n`` (module docstring), below which the uniform state is unstable, and whether it
        settled: dense up to 256 units, else Lanczos (:func:`_lanczos_top`), within ``seconds`` if given (ARPACK
        held to a budget had no estimate on gr202, and the fallback start, nine times T_c, spent the whole limit
        cooling). 1 where no direction is unstable."""
        n = self.size
        if n < 2:
            return 1.0, True

        def product(y: np.ndarray) -> np.ndarray:
            x = np.asarray(y, dtype=np.float64).reshape(n, n)
            x = x - x.mean(axis=1, keepdims=True)
            out = self.linear_field(x, alpha, beta)
            return ((out - out.mean(axis=1, keepdims=True)) / n).ravel()

        dim = n * n
        if dim <= 256:
            matrix = np.stack([product(e) for e in np.eye(dim)], axis=1)
            top, exact = float(np.linalg.eigvalsh(0.5 * (matrix + matrix.T))[-1]), True
        else:
            top, exact = _lanczos_top(product, dim, rng, seconds)
        return (top if top > 0 else 1.0), exact


LANCZOS_STEPS = 120
"""Most Lanczos steps for the critical temperature (each one product of the linearised map)."""
LANCZOS_MIN_STEPS = 8
"""Steps taken whatever the time share (a one-step estimate is a random vector's Rayleigh quotient)."""
LANCZOS_TOLERANCE = 1e-4
"""The top Ritz value counts as settled once a step moves it by less than this, relatively."""


def _lanczos_top(product: Callable[[np.ndarray], np.ndarray], dim: int, rng: np.random.Generator,
                 seconds: float | None) -> tuple[float, bool]:
    """The largest eigenvalue of a symmetric operator by Lanczos with full reorthogonalisation, and whether it
    settled (a step moved the top Ritz value by less than :data:`LANCZOS_TOLERANCE`). The top Ritz value only
    rises towards λ_max, so a run cut short by ``seconds`` still has an estimate from below (a start a little
    under T_c). The steps do not depend on time otherwise: a timed run that settled computed what an untimed one
    does. (ARPACK held to a budget of products had no estimate at all on gr202; scipy's LOBPCG restarted in
    rounds returned its starting values.)"""
    deadline = None if seconds is None else time.perf_counter() + seconds
    steps = min(LANCZOS_STEPS, dim)
    basis = np.zeros((steps, dim))
    alphas, betas = [], []
    q = rng.standard_normal(dim)
    q /= np.linalg.norm(q)
    top = -np.inf
    for k in range(steps):
        basis[k] = q
        w = product(q)
        alpha = float(w @ q)
        w -= basis[: k + 1].T @ (basis[: k + 1] @ w)  # full reorthogonalisation (twice is enough)
        w -= basis[: k + 1].T @ (basis[: k + 1] @ w)
        alphas.append(alpha)
        beta = float(np.linalg.norm(w))
        tridiagonal = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        previous, top = top, float(np.linalg.eigvalsh(tridiagonal)[-1])
        if beta < 1e-12 or (k >= 2 and abs(top - previous) <= LANCZOS_TOLERANCE * abs(top)):
            return top, True
        if deadline is not None and k >= LANCZOS_MIN_STEPS and time.perf_counter() > deadline:
            return top, False
        betas.append(beta)
        q = w / beta
    return top, False


@numba.njit(cache=True)
def serial_sweep(a, a_t, b_ptr, b_idx, b_val, bt_ptr, bt_idx, bt_val, linear, scale, v, colsum, order,
                 temperature, alpha, beta, g1, g2, field):
    """Set each row of ``v`` listed in ``order`` (a sweep: every row once) to ``softmax(U_i/T)`` (module
    docstring), keeping ``colsum`` current; returns the mean over rows of ``Σ_a V_ia²`` afterwards (1 when every
    row is one-hot)."""
    n = v.shape[0]
    for t in range(len(order)):
        i = order[t]
        for c in range(n):
            g1[c] = 0.0
            g2[c] = 0.0
        for j in range(n):
            aij = a[i, j]
            aji = a_t[i, j]
            if aij != 0.0 or aji != 0.0:
                for c in range(n):
                    g1[c] += aij * v[j, c]
                    g2[c] += aji * v[j, c]
        top = -np.inf
        for p in range(n):
            total = linear[i, p]
            for k in range(b_ptr[p], b_ptr[p + 1]):
                total += b_val[k] * g1[b_idx[k]]
            for k in range(bt_ptr[p], bt_ptr[p + 1]):
                total += bt_val[k] * g2[bt_idx[k]]
            u = -total / scale - alpha * (colsum[p] - v[i, p]) + beta * v[i, p]
            field[p] = u / temperature
            if field[p] > top:
                top = field[p]
        norm = 0.0
        for p in range(n):
            field[p] = np.exp(field[p] - top)
            norm += field[p]
        for p in range(n):
            new = field[p] / norm
            colsum[p] += new - v[i, p]
            v[i, p] = new
    squares = 0.0
    for i in range(n):
        for p in range(n):
            squares += v[i, p] * v[i, p]
    return squares / max(n, 1)


@dataclass
class SerialRun:
    """One read's outcome: its outputs (items × positions), the sweeps run, and how it ended."""

    outputs: np.ndarray
    sweeps: int
    saturated: bool
    timed_out: bool = False
    interrupted: bool = False


def anneal_read(network: SerialNetwork, start: np.ndarray, t0: float, alpha: float, beta: float, cooling: float,
                saturation: float, max_sweeps: int, floor: float, rng: np.random.Generator,
                deadline: float | None, progress: Callable[[int, float, np.ndarray, float], None] | None = None,
                beta_off_at: float = math.inf) -> SerialRun:
    """Anneal one read from ``start`` (rows summing to one) until its rows saturate (mean ``Σ_a V_ia²`` at least
    ``saturation``), the temperature falls below ``floor·t0``, ``max_sweeps``, the deadline, or Ctrl-C (between
    sweeps); ``progress(sweep, temperature, outputs, saturation)`` is called after every sweep. From the first
    sweep that leaves the rows at least ``beta_off_at`` saturated on, the self-coupling is 0 instead of ``beta``."""
    n = network.size
    v = np.ascontiguousarray(start, dtype=np.float64).copy()
    colsum = v.sum(axis=0)
    scratch = np.zeros((3, n))
    temperature = t0
    sweep = 0
    try:
        while sweep < max_sweeps:
            level = network.sweep(v, colsum, rng.permutation(n).astype(np.int64), temperature, alpha, beta, scratch)
            if level >= beta_off_at:
                beta = 0.0
            sweep += 1
            if progress is not None:
                progress(sweep, temperature, v, level)
            if level >= saturation or temperature < floor * t0:
                return SerialRun(v, sweep, level >= saturation)
            if deadline is not None and time.perf_counter() > deadline:
                return SerialRun(v, sweep, False, timed_out=True)
            temperature *= cooling
    except KeyboardInterrupt:
        return SerialRun(v, sweep, False, interrupted=True)
    return SerialRun(v, sweep, False)


def sweep_seconds(network: SerialNetwork, budget: float = np.inf) -> float:
    """Seconds one sweep takes on this network, projected from updating a few rows of a uniform state (a row costs
    the same whatever its outputs; a sweep of 2,103 rows took 15 s, too long to time whole before refusing it):
    4 rows, then, where that projects past ``budget`` (one context switch in a 0.3 ms timing projects to half a
    second), the faster of two timings of 16 rows, and else of 64."""
    n = network.size
    if n == 0:
        return 0.0
    v = np.full((n, n), 1.0 / n)
    colsum = v.sum(axis=0)
    scratch = np.zeros((3, n))

    def timed(rows: int, tries: int) -> float:
        order = np.arange(rows, dtype=np.int64)
        return fastest_seconds(lambda: network.sweep(v, colsum, order, 1.0, 1.0, 0.0, scratch), tries) * n / rows

    first = timed(min(n, 4), 1)
    rows = min(n, 16 if first > budget else 64)
    return float(min(first, timed(rows, 2)))
