"""Discrete simulated bifurcation's step: the oscillator rule alone against the default, which also bounds a step's
kick (``DISCRETE_KICK``), with bSB's defaults beside them.

On dense couplings of nonzero mean (dimod's ``gnp_random_bqm``) dSB with the oscillator step ended far above
anneal's energy; the default bounds ``dt²·a0·c0·ρ``. This runs both steps, same seeds, on ``sb_modes.py``'s
instances (one Gset graph of every family, complete ±1 and Gaussian SK graphs, the shipped QUBO) and on dimod
``gnp_random_bqm`` SPIN models (extra ``dimod``) of 100–1000 variables, written as QUBOs. Gset graphs report the
cut (higher is better), the others the energy (lower is better).

    PYTHONPATH=.:plugins python benchmarks/sb_discrete_step.py --seeds 3
"""

from __future__ import annotations

import argparse

import numpy as np
from sb_modes import instances

from hopsolve.backends.bifurcation import BifurcationBackend, BifurcationParams, stable_step
from hopsolve.plugins import build_registry

GNP = [(100, 1.0, 3), (300, 0.3, 3), (300, 1.0, 3), (150, 0.6, 3), (500, 0.1, 4), (1000, 0.05, 5), (200, 1.0, 6)]
"""(variables, edge probability, random_state) of the dimod models."""


def gnp_instances(registry) -> list[tuple[str, object, object]]:
    import dimod

    qubo = registry.problem("qubo")
    found = []
    for n, p, state in GNP:
        bqm = dimod.generators.gnp_random_bqm(n, p, "SPIN", random_state=state)
        bqm.change_vartype("BINARY", inplace=True)
        q = np.zeros((n, n))
        for v, bias in bqm.linear.items():
            q[v, v] = bias
        for (u, v), bias in bqm.quadratic.items():
            q[min(u, v), max(u, v)] = bias
        found.append((f"gnp{n}-p{p}", qubo, qubo.from_qubo(q, bqm.offset, name=f"gnp{n}")))
    return found


def best_value(problem, instance, energy, samples) -> float:
    return float(problem.decode(instance, energy, samples.states[int(np.argmin(samples.energies))]).objective)


def chosen_instances(description: str) -> tuple[argparse.Namespace, list[tuple[str, object, object]]]:
    """The command line (``--seeds``, ``--only gset|gnp``) and the instances it chooses: ``sb_modes.py``'s and the
    dimod models (shared with ``sb_final_descent.py``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", choices=["gset", "gnp"])
    args = parser.parse_args()
    registry = build_registry()
    return args, ([] if args.only == "gnp" else instances(registry)) + ([] if args.only == "gset" else
                                                                        gnp_instances(registry))


def main() -> None:
    args, found = chosen_instances(__doc__.splitlines()[0])
    print("| instance | value | c0·ρ | oscillator dt | default dt | dSB oscillator step best / mean | "
          "dSB default best / mean | bSB best / mean |")
    print("|---|---|---|---|---|---|---|---|")
    for name, problem, instance in found:
        energy = problem.encode(instance)
        pick = max if problem.name == "maxcut" else min
        backend = BifurcationBackend()
        default = BifurcationParams(mode="discrete")
        backend.prepare(energy, default)
        derived = backend.solve(energy, default, seed=1).derived
        kick = derived["c0"] * derived["spectral_radius"] * derived["a0"]
        oscillator = stable_step(derived["a0"], derived["c0"], derived["spectral_radius"])
        cells = []
        for params in (BifurcationParams(mode="discrete", dt=oscillator), default, BifurcationParams(mode="ballistic")):
            values = [best_value(problem, instance, energy, backend.solve(energy, params, seed=seed))
                      for seed in range(1, args.seeds + 1)]
            cells.append(f"{pick(values):.6g} / {np.mean(values):.6g}")
        print(f"| {name} | {'cut' if problem.name == 'maxcut' else 'energy'} | {kick:.2f} | {oscillator:.3f} | "
              f"{derived['dt']:.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
