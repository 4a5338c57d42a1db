"""The states a backend returns, with their energies and what the run recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hopsolve.energy import Energy, Vartype


@dataclass(frozen=True, eq=False)
class SampleSet:
    """``states`` (reads × n), their ``energies``, and ``info`` (params, seed, timing, traces).

    Rows keep the order the reads ran in; :attr:`best` is the lowest-energy one (the first of equals).
    """

    states: np.ndarray
    energies: np.ndarray
    vartype: Vartype
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_states(cls, energy: Energy, states: np.ndarray, **info: Any) -> SampleSet:
        """Score ``states`` with ``energy`` (so reported energies always match the states)."""
        arr = np.asarray(states)
        if arr.ndim == 1:
            arr = arr[None, :]
        return cls(arr, energy.energies(arr), energy.vartype, dict(info))

    def __len__(self) -> int:
        return len(self.states)

    @property
    def best_index(self) -> int:
        return int(np.argmin(self.energies))

    @property
    def best(self) -> np.ndarray:
        return self.states[self.best_index]

    @property
    def best_energy(self) -> float:
        return float(self.energies[self.best_index])

    def distinct(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct states sorted by energy, with their energies and how often each occurred."""
        uniq, first, counts = np.unique(self.states, axis=0, return_index=True, return_counts=True)
        order = np.argsort(self.energies[first], kind="stable")
        return uniq[order], self.energies[first][order], counts[order]
