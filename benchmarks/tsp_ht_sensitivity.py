"""Why the original Hopfield–Tank network gives few valid 10-city tours: a sensitivity study of equations (19)–(22).

The source article's network (``tank``'s ``preset=hopfield-tank-1985``), integrated by a compiled Euler loop (so a
step of 10⁻⁶ is affordable) or by scipy's RK45, over ``--instances`` random 10-city instances in the unit square
(seeds 0…instances-1, the same instances in every row). Each row changes one thing against the base setting
(A = B = 500, C = 200, D = 500, ñ = 15, τ = 1, û = 0.02, start V = 1/n with δu ~ U(-|u₀₀|/10, |u₀₀|/10), the C term's
self-coupling kept, stopping when no output moves faster than ``rate`` per unit time, at most ``horizon`` time
units). A run is valid when thresholding the outputs at ½ gives a permutation matrix. Rates come with a 95%
Wilson interval. For valid tours: the share of 1000 random tours they beat (the article's Fig. 8 statistic) and the
gap to the optimum (exact, by dynamic programming over subsets for 10 cities).

    python benchmarks/tsp_ht_sensitivity.py [--instances 100]
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numba
import numpy as np
from scipy.integrate import solve_ivp

A = B = 500.0
C = 200.0
D = 500.0


@numba.njit(cache=True)
def ht_field(u, v, d, nt, ahat, c_self, a, b, c, dd):
    """``du/dt`` of equation (19) with τ = 1 (``c_self`` = 1: the C term's sum includes V_Xi itself; 0.5: the
    multilinear extension, which replaces ``C·V_Xi`` by ``C/2``)."""
    n = v.shape[0]
    total = v.sum()
    row = np.zeros(n)
    col = np.zeros(n)
    for x in range(n):
        for i in range(n):
            row[x] += v[x, i]
            col[i] += v[x, i]
    dv = d @ v
    out = np.empty_like(u)
    for x in range(n):
        for i in range(n):
            s = -u[x, i] - a * (row[x] - v[x, i]) - b * (col[i] - v[x, i])
            s -= c * (total - v[x, i] + (v[x, i] if c_self == 1.0 else 0.5) - nt)
            s -= dd * (dv[x, (i + 1) % n] + dv[x, (i - 1) % n])
            out[x, i] = s
    return out


@numba.njit(cache=True)
def euler(u, d, nt, ahat, dt, horizon, rate, c_self, a, b, c, dd):
    """Euler steps of (19)–(20) until no output moves faster than ``rate`` per unit time (``rate`` 0: never) or
    ``horizon`` time units; returns the outputs and the time reached."""
    steps = int(round(horizon / dt))
    v = 0.5 * (1.0 + np.tanh(u / ahat))
    t = 0.0
    for _ in range(steps):
        u = u + dt * ht_field(u, v, d, nt, ahat, c_self, a, b, c, dd)
        nv = 0.5 * (1.0 + np.tanh(u / ahat))
        change = np.abs(nv - v).max()
        v = nv
        t += dt
        if rate > 0 and change < rate * dt:
            break
    return v, t


def rk45(u, d, nt, ahat, horizon, rate, c_self, dd=D):
    shape = u.shape

    def rhs(_t, flat):
        uu = flat.reshape(shape)
        return ht_field(uu, 0.5 * (1.0 + np.tanh(uu / ahat)), d, nt, ahat, c_self, A, B, C, dd).ravel()

    def settled(_t, flat):
        uu = flat.reshape(shape)
        slope = np.abs(rhs(0, flat)).reshape(shape) * 0.5 * (1 - np.tanh(uu / ahat) ** 2) / ahat
        return slope.max() - rate

    settled.terminal = True
    sol = solve_ivp(rhs, (0, horizon), u.ravel(), method="RK45", rtol=1e-6, atol=1e-9,
                    events=settled if rate > 0 else None)
    uu = sol.y[:, -1].reshape(shape)
    return 0.5 * (1.0 + np.tanh(uu / ahat)), float(sol.t[-1])


def instance(seed: int, n: int = 10):
    xy = np.random.default_rng(seed).random((n, 2))
    return np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))


def start(n: int, ahat: float, v0: float, rng: np.random.Generator) -> np.ndarray:
    """u₀₀ with g(u₀₀) = v0 (1/n: ΣV = n), plus δu ~ U(-|u₀₀|/10, |u₀₀|/10) (equation 22)."""
    u00 = ahat * math.atanh(2 * v0 - 1)
    spread = abs(u00) / 10 if u00 != 0 else ahat / 10
    return u00 + rng.uniform(-spread, spread, size=(n, n))


def tour_of(v: np.ndarray) -> np.ndarray | None:
    on = v > 0.5
    if not (on.sum(0) == 1).all() or not (on.sum(1) == 1).all():
        return None
    return np.argmax(on, axis=0)  # city at each position


def length(d: np.ndarray, tour: np.ndarray) -> float:
    return float(d[tour, np.roll(tour, -1)].sum())


def optimum(d: np.ndarray) -> float:
    """Held–Karp dynamic programme (exact; 10 cities: 2⁹·9 states)."""
    n = len(d)
    best = {(1 << k, k): d[0, k] for k in range(1, n)}
    for size in range(2, n):
        for subset in itertools.combinations(range(1, n), size):
            mask = sum(1 << k for k in subset)
            for k in subset:
                prev = mask & ~(1 << k)
                best[(mask, k)] = min(best[(prev, j)] + d[j, k] for j in subset if j != k)
    full = (1 << n) - 2
    return min(best[(full, k)] + d[k, 0] for k in range(1, n))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def run_cell(instances, optima, *, dt=1e-5, ahat=0.02, nt=15.0, integrator="euler", rate=1e-3, horizon=10.0,
             c_self=1.0, v0=0.1, dd=D, budget=None):
    valid, beats, gaps, times = 0, [], [], []
    started = time.perf_counter()
    done = 0
    for seed, d in enumerate(instances):
        if budget is not None and time.perf_counter() - started > budget:
            break
        rng = np.random.default_rng(10_000 + seed)
        u = start(len(d), ahat, v0, rng)
        if integrator == "euler":
            v, t = euler(u, d, nt, ahat, dt, horizon, rate, c_self, A, B, C, dd)
        else:
            v, t = rk45(u, d, nt, ahat, horizon, rate, c_self, dd)
        done += 1
        times.append(t)
        tour = tour_of(v)
        if tour is not None:
            valid += 1
            ell = length(d, tour)
            randoms = np.array([length(d, rng.permutation(len(d))) for _ in range(1000)])
            beats.append(100 * float((randoms > ell).mean()))
            gaps.append(100 * (ell / optima[seed] - 1))
    return done, valid, beats, gaps, times, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--budget", type=float, default=240.0, help="seconds per cell at most (fewer instances)")
    args = parser.parse_args()
    instances = [instance(s) for s in range(args.instances)]
    optima = [optimum(d) for d in instances]
    euler(start(10, 0.02, 0.1, np.random.default_rng(0)), instances[0], 15.0, 0.02, 1e-3, 0.01, 1e-3, 1.0,
          A, B, C, D)  # compile
    base = {"dd": D, "dt": 1e-5, "ahat": 0.02, "nt": 15.0, "integrator": "euler", "rate": 1e-3, "horizon": 10.0,
            "c_self": 1.0, "v0": 0.1}
    cells = []
    for ahat in (0.02, 0.01):
        for dt in (1e-6, 1e-5, 1e-4, 1e-3):
            cells.append({"ahat": ahat, "dt": dt})
    for nt in (10.0, 11.0, 12.0, 13.0, 14.0):
        cells.append({"nt": nt})
    cells += [{"integrator": "rk45"}, {"integrator": "rk45", "ahat": 0.01},
              {"rate": 0.0, "horizon": 1.0}, {"rate": 1.0}, {"rate": 1e-5, "horizon": 100.0},
              {"c_self": 0.5}, {"v0": 0.5},
              # beyond the article: a weaker distance term
              {"dd": 250.0}, {"dd": 250.0, "dt": 1e-6}, {"dd": 250.0, "integrator": "rk45"}, {"dd": 100.0},
              {"dd": 250.0, "ahat": 0.1}]
    print("| setting | step | û | ñ | integrator | stop | instances | valid | 95% interval | "
          "beats % of random (mean) | gap to optimum % (median) | t reached (median) | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for change in cells:
        cell = {**base, **change}
        done, valid, beats, gaps, times, wall = run_cell(instances, optima, budget=args.budget, **cell)
        lo, hi = wilson(valid, done)
        stop = (f"rate < {cell['rate']:g}/τ, ≤ {cell['horizon']:g}τ" if cell["rate"] > 0
                else f"fixed {cell['horizon']:g}τ")
        label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in change.items())
        step = f"{cell['dt']:g}" if cell["integrator"] == "euler" else "adaptive"
        if cell["c_self"] != 1.0:
            label += " (multilinear C term)"
        if cell["dd"] != D:
            label += " (not the article's D)"
        if cell["v0"] != 0.1:
            label += " (start V = ½)"
        print(f"| {label} | {step} | {cell['ahat']:g} | {cell['nt']:g} | {cell['integrator']} | {stop} | {done} | "
              f"{valid}/{done} ({100 * valid / max(done, 1):.0f}%) | {100 * lo:.0f}–{100 * hi:.0f}% | "
              f"{np.mean(beats) if beats else float('nan'):.1f} | "
              f"{np.median(gaps) if gaps else float('nan'):.1f} | {np.median(times):.3g} | {wall:.0f} |", flush=True)


if __name__ == "__main__":
    main()
