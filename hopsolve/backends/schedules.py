"""Inverse-temperature schedules and the rule that picks a β range from an energy's coefficients.

The rule (used when ``beta_min``/``beta_max`` are not given):

- hot end: ``β_min = ln 2 / ΔE_max``, where ``ΔE_max = 2 max_i (Σ_j |W_ij| + |b_i|)`` bounds any single-flip
  change, so at the start even the worst flip is accepted with probability ≥ ½;
- cold end: ``β_max = ln 100 / ΔE_min`` so that the smallest relevant uphill flip is accepted with probability
  ≤ 1%. The common choice ``ΔE_min = 2 min |coefficient|`` is fine for integer weights but breaks on real-valued
  ones (one coupling of 10⁻⁹ sends β_max to 10⁹ and freezes the run for most of a geometric schedule), so here
  ``ΔE_min = max(2 min |coefficient|, 10⁻³ ΔE_max)``. A colder end for long runs (:func:`sweep_beta_max`): a
  whole sweep, rather than each unit, takes an uphill flip out of a local minimum with probability about 1%.

The worst-case hot end spends much of a run far above the temperatures where anything is decided. The ``typical``
hot end (``anneal``'s ``hot_end="typical"``) is ``β_min = 1/σ``, where σ is the root mean square spread of a
unit's field at a random state: about where a spin glass with such fields freezes (β_c·σ ≈ 1 for the
Sherrington–Kirkpatrick model). On Gset it finds the best-known cuts more often and in half the time.
"""

from __future__ import annotations

import math

import numpy as np

from hopsolve.errors import ParameterError

RELATIVE_FLOOR = 1e-3


def default_beta_range(largest_change: float, smallest_change: float) -> tuple[float, float]:
    """``(β_min, β_max)`` from the largest and smallest single-move energy changes (see the module docstring)."""
    if not math.isfinite(largest_change) or largest_change <= 0:
        return 0.1, 1.0  # a constant energy: any β will do
    smallest = max(smallest_change if math.isfinite(smallest_change) else 0.0, RELATIVE_FLOOR * largest_change)
    beta_min = math.log(2.0) / largest_change
    beta_max = math.log(100.0) / smallest
    return beta_min, max(beta_max, beta_min)


def sweep_beta_max(gaps: np.ndarray, rate: float = 0.01) -> float | None:
    """The β at which a sweep's expected number of uphill flips out of a local minimum, ``Σ_i exp(-β g_i)`` over
    the units' smallest changes ``g_i`` (the finite, positive ones), is ``rate``: dwave-samplers' cold end with
    ``scale_T_with_N``, with the exact ``g_i`` where they are known (see
    :meth:`~hopsolve.backends._model.SpinModel.unit_gaps`). None when no unit has a finite positive gap."""
    g = np.asarray(gaps, dtype=np.float64)
    g = g[np.isfinite(g) & (g > 0)]
    if not len(g):
        return None
    low = math.log(1.0 / rate) / float(g.max())  # the largest gap's term alone is ≥ rate here
    high = math.log(len(g) / rate) / float(g.min())  # every term ≤ rate / n here
    for _ in range(200):
        middle = 0.5 * (low + high)
        if float(np.exp(-middle * g).sum()) > rate:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return high


def typical_beta_min(typical_field: float, beta_max: float) -> float | None:
    """``1/σ`` for the typical hot end (capped at ``beta_max``), or None when the fields are all zero."""
    if not math.isfinite(typical_field) or typical_field <= 0:
        return None
    return min(1.0 / typical_field, beta_max)


def beta_schedule(kind: str, beta_min: float, beta_max: float, sweeps: int) -> np.ndarray:
    """β for each sweep: ``geometric`` (β_min·(β_max/β_min)^(k/(K-1))), ``linear``, or ``constant`` (β_max)."""
    if sweeps < 1:
        raise ParameterError(f"sweeps must be at least 1, got {sweeps}")
    if kind == "constant":
        return np.full(sweeps, beta_max)
    if sweeps == 1:
        return np.array([beta_max])
    if kind == "geometric":
        return np.geomspace(beta_min, beta_max, sweeps)
    if kind == "linear":
        return np.linspace(beta_min, beta_max, sweeps)
    raise ParameterError(f"unknown schedule {kind!r}: choose geometric, linear or constant")


MIN_REPLICAS, MAX_REPLICAS = 4, 32
"""The fewest and most temperatures a derived fixed ladder of ``replica`` has."""


def ladder_span(hot: float, cold: float, units: int, given_min: float | None, given_max: float | None,
                replicas: int | None, schedule: str, owner: str) -> tuple[float, float, int]:
    """``(β_min, β_max, R)`` of a replica ladder: the given ends where given, else the derived ``hot`` and ``cold``
    ones (a given one bounding the other), and ``R = clip(round(√units · ln(β_max/β_min) / 4), 4, 32)``
    temperatures for a fixed ladder (1 for an annealed one) where ``replicas`` is not given. Shared by the spin and
    the permutation ladders of ``replica``."""
    beta_min = given_min if given_min is not None else min(hot, given_max or hot)
    beta_max = given_max if given_max is not None else max(cold, beta_min)
    if beta_min > beta_max:
        raise ParameterError(f"{owner}: beta_min ({beta_min:g}) exceeds beta_max ({beta_max:g})")
    count = replicas
    if count is None and schedule == "anneal":
        count = 1
    elif count is None:
        spread = math.log(beta_max / beta_min)
        count = int(np.clip(round(math.sqrt(max(units, 1)) * spread / 4.0), MIN_REPLICAS, MAX_REPLICAS))
    return beta_min, beta_max, count
