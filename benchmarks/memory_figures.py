"""The source article's associative-memory figures (Figs. 1–7), made with hopsolve.

    python benchmarks/memory_figures.py [--out benchmarks/figures]

1–2: the stored pictures (cross; cross, X, square). 3: trajectories of the cross network from a near, a further
and a far cue (the far one ends in the inverted cross). 4: the three-memory network converging to each memory
and to a spurious state. 5–6: deterministic dynamics versus Glauber dynamics at β = 0.1, with their energies
(monotone versus not). 7: the continuous network with Δt = 0.08 and every other constant 1.
The article's weights are W = vvᵀ for one memory and (1/k) Σ vvᵀ for k (no 1/N), so the Hebbian energy is
re-weighted by N (or N/k) here; snapshots come from single-unit updates in a random order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from hopsolve_memory.patterns import read_patterns
from hopsolve_memory.plugin import MemoryOptions, classify, memory_energy

from hopsolve.backends.anneal import AnnealBackend, AnnealParams
from hopsolve.backends.hopfield import HopfieldBackend, HopfieldParams
from hopsolve.backends.tank import TankBackend, TankParams

MEMORY = Path(__file__).resolve().parents[1] / "instances" / "memory"


def article_energy(patterns: np.ndarray):
    n, k = patterns.shape[1], len(patterns)
    return memory_energy(patterns, MemoryOptions()).reweighted(objective=n / k)


def trajectory(energy, cue: np.ndarray, seed: int, beta: float | None = None, steps: int = 200, every: int = 25):
    """Snapshots every ``every`` single-unit updates: deterministic, or Glauber at ``beta``."""
    rng = np.random.default_rng(seed)
    state = cue.astype(float).copy()
    shots, energies = [state.copy()], [energy.energy(state)]
    for step in range(1, steps + 1):
        i = rng.integers(len(state))
        field = energy.fields(state)[0][i]
        if beta is None:
            state[i] = 1.0 if field > 0 else (-1.0 if field < 0 else state[i])
        else:
            state[i] = 1.0 if rng.random() < 1.0 / (1.0 + np.exp(-2.0 * beta * field)) else -1.0
        energies.append(energy.energy(state))
        if step % every == 0:
            shots.append(state.copy())
    return shots, energies


def corrupt(pattern: np.ndarray, flips: int, seed: int) -> np.ndarray:
    cue = pattern.copy()
    cue[np.random.default_rng(seed).choice(len(cue), flips, replace=False)] *= -1
    return cue


def draw_rows(plt, rows: list[list[np.ndarray]], titles: list[str], path: Path) -> None:
    width = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), width, figsize=(1.3 * width, 1.4 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(width):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(row):
                ax.imshow(row[c].reshape(5, 5), cmap="gray_r", vmin=-1, vmax=1)
        axes[r][0].set_title(titles[r], fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/figures")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    three = read_patterns(MEMORY / "seed_pictures.patterns").patterns.astype(float)
    cross = three[:1]
    draw_rows(plt, [[cross[0]]], ["Fig. 1: the cross"], out / "memory_fig1.png")
    draw_rows(plt, [list(three)], ["Fig. 2: cross, X, square"], out / "memory_fig2.png")

    single = article_energy(cross)
    rows, titles = [], []
    for flips, seed, label in ((3, 1, "near cue"), (9, 2, "further cue"), (17, 3, "far cue")):
        shots, _ = trajectory(single, corrupt(cross[0], flips, seed), seed)
        kind, _ = classify(cross.astype(np.int8), shots[-1].astype(np.int8))
        rows.append(shots)
        titles.append(f"Fig. 3: {label} ({flips} cells flipped) → {kind}")
    draw_rows(plt, rows, titles, out / "memory_fig3.png")
    print("Fig. 3 end states:", "; ".join(titles))

    multi = article_energy(three)
    rows, titles = [], []
    spurious = np.sign(three[0] + three[1] + three[2])
    for start, label in ((corrupt(three[0], 2, 4), "towards the cross"), (corrupt(three[1], 2, 5), "towards X"),
                         (corrupt(three[2], 2, 6), "towards the square"), (corrupt(spurious, 1, 7), "spurious")):
        shots, _ = trajectory(multi, start, 8)
        kind, index = classify(three.astype(np.int8), shots[-1].astype(np.int8))
        rows.append(shots)
        titles.append(f"Fig. 4: {label} → {kind}{'' if index is None else f' {index}'}")
    draw_rows(plt, rows, titles, out / "memory_fig4.png")
    print("Fig. 4 end states:", "; ".join(titles))

    cue = corrupt(cross[0], 9, 2)
    det_shots, _ = trajectory(single, cue, 11)
    sto_shots, _ = trajectory(single, cue, 11, beta=0.1)
    draw_rows(plt, [det_shots, sto_shots], ["Fig. 5: deterministic", "Fig. 5: stochastic, β = 0.1"],
              out / "memory_fig5.png")
    det = HopfieldBackend().solve(single, HopfieldParams(reads=1, trace=True), seed=3, initial_states=cue[None])
    sto = AnnealBackend().solve(single, AnnealParams(reads=1, sweeps=40, schedule="constant", beta=0.1,
                                                     rule="glauber", trace=True), seed=3, initial_states=cue[None])
    det_trace = [single.energy(cue), *det.per_read["trace"][0]]
    sto_trace = [single.energy(cue), *sto.per_read["trace"][0]]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    a.plot(det_trace, "-o", ms=3)
    a.set_title("Fig. 6: deterministic (monotone)")
    b.plot(sto_trace, "-", lw=1)
    b.set_title("Fig. 6: Glauber, β = 0.1 (not monotone)")
    for ax in (a, b):
        ax.set_xlabel("sweep")
        ax.set_ylabel("energy")
    fig.tight_layout()
    fig.savefig(out / "memory_fig6.png", dpi=100)
    plt.close(fig)
    rises = int(np.sum(np.diff(sto_trace) > 0))
    print(f"Fig. 6: deterministic trace monotone: {bool(np.all(np.diff(det_trace) <= 1e-9))}; "
          f"stochastic trace rises {rises} times in {len(sto_trace) - 1} sweeps")

    params = TankParams(reads=1, tau=1.0, u0=1.0, dt=0.08, max_steps=400, noise=0.0, trajectory=True,
                        record_every=5)
    cont = TankBackend().solve(single, params, seed=0, initial_states=corrupt(cross[0], 5, 9)[None])
    shots = [step["V"][0] for step in cont.per_read["trajectory"]][::4][:10]
    draw_rows(plt, [shots], ["Fig. 7: continuous network, Δt = 0.08 (graded outputs)"], out / "memory_fig7.png")
    kind, _ = classify(cross.astype(np.int8), cont.states[0])
    print(f"Fig. 7: continuous network settles in {cont.info['steps']} steps to the {kind} pattern")
    print(f"figures: {out}/memory_fig1.png … memory_fig7.png")


if __name__ == "__main__":
    main()
