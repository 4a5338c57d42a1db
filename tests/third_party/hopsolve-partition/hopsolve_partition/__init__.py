"""Number partitioning as a hopsolve problem: split numbers into two sets with sums as equal as possible."""

from pathlib import Path

import numpy as np

import hopsolve
from hopsolve import Energy, Instance, ParseError, Problem, Solution


class PartitionProblem(Problem):
    name = "partition"
    description = "split numbers into two sets of equal sum"
    suffixes = (".partition",)
    sense = "min"

    def read(self, path):
        numbers = []
        for line_no, line in enumerate(Path(path).read_text().splitlines(), start=1):
            if line.strip():
                try:
                    numbers.append(float(line))
                except ValueError:
                    raise ParseError(f"{line.strip()!r} is not a number", path, line_no) from None
        return Instance(self.name, Path(path).stem, np.array(numbers), reference=None)

    def encode(self, instance, weights=None):
        # (Σ a_i s_i)² = Σ_{i≠j} a_i a_j s_i s_j + Σ a_i²  →  W = -2 a aᵀ (zero diagonal), c = Σ a_i²
        a = instance.data
        coupling = -2.0 * np.outer(a, a)
        np.fill_diagonal(coupling, 0.0)
        energy = Energy.from_hopfield(coupling, np.zeros(len(a)), float(a @ a), "spin")
        return energy.reweighted(**weights) if weights else energy

    def candidate(self, instance, energy, state):
        return np.asarray(state, dtype=int)

    def score(self, instance, candidate):
        difference = abs(float(instance.data @ candidate))
        return Solution([int(s) for s in candidate], difference, True)

    def state_of(self, instance, energy, candidate):
        return np.asarray(candidate, dtype=np.int8)


@hopsolve.hookimpl
def hopsolve_problems(register):
    register(PartitionProblem)
