"""Simulated bifurcation's final greedy descent: each mode's defaults with ``final_descent`` off and on.

The oscillators do not see single flips, so a read's best ``sign(x)`` can end where one flip lowers the energy;
the default now finishes every returned state with a zero-temperature descent. This runs both, same seeds, on
``sb_modes.py``'s instances and ``sb_discrete_step.py``'s dimod models (extra ``dimod``), and reports how many of
the reads the descent changed. Gset graphs report the cut (higher is better), the others the energy.

    PYTHONPATH=.:plugins:benchmarks python benchmarks/sb_final_descent.py --seeds 3
"""

from __future__ import annotations

import numpy as np
from sb_discrete_step import best_value, chosen_instances

from hopsolve.backends.bifurcation import BifurcationBackend, BifurcationParams


def main() -> None:
    args, found = chosen_instances(__doc__.splitlines()[0])
    print("| instance | value | mode | without descent best / mean | with descent best / mean | "
          "reads changed | units flipped per read |")
    print("|---|---|---|---|---|---|---|")
    backend = BifurcationBackend()
    for name, problem, instance in found:
        energy = problem.encode(instance)
        pick = max if problem.name == "maxcut" else min
        for mode in ("discrete", "ballistic"):
            cells, changed, reads, flips = [], 0, 0, 0
            runs = {}
            for descent in (False, True):
                params = BifurcationParams(mode=mode, final_descent=descent)
                backend.prepare(energy, params)
                runs[descent] = [backend.solve(energy, params, seed=seed) for seed in range(1, args.seeds + 1)]
                values = [best_value(problem, instance, energy, samples) for samples in runs[descent]]
                cells.append(f"{pick(values):.6g} / {np.mean(values):.6g}")
            for raw, done in zip(runs[False], runs[True]):
                changed += int(np.any(raw.states != done.states, axis=1).sum())
                reads += len(done)
                flips += done.info["descent_flips"] or 0
            print(f"| {name} | {'cut' if problem.name == 'maxcut' else 'energy'} | {mode} | " + " | ".join(cells)
                  + f" | {changed} of {reads} | {flips / reads:.2f} |", flush=True)


if __name__ == "__main__":
    main()
