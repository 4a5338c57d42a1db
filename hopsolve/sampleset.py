"""The states a backend returns, with their energies and what the run recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hopsolve.energy import Energy, Vartype
from hopsolve.errors import ParameterError

# bit states of permutation energies are materialised up to this many units in all (10 MB of int8)
STATE_UNITS_LIMIT = 10_000_000


@dataclass(frozen=True, eq=False)
class SampleSet:
    """``states`` (reads × n), their ``energies``, and ``info`` (params, seed, timing, traces).

    Rows keep the order the reads ran in; :attr:`best` is the lowest-energy one (the first of equals).

    Backends that move inside the feasible set of a permutation energy also return ``permutations`` (reads × m,
    item → position, 0-based). There ``states`` is ``None`` when the bit states would exceed
    :data:`STATE_UNITS_LIMIT` units (a tour over 85,900 cities has 7.4·10⁹ units a read): read ``permutations``,
    or :meth:`state` for one row.
    """

    states: np.ndarray | None
    energies: np.ndarray
    vartype: Vartype
    info: dict[str, Any] = field(default_factory=dict)
    permutations: np.ndarray | None = None
    energy_model: Energy | None = field(default=None, repr=False)

    @classmethod
    def from_states(cls, energy: Energy, states: np.ndarray, **info: Any) -> SampleSet:
        """Score ``states`` with ``energy`` (so reported energies always match the states)."""
        arr = np.asarray(states)
        if arr.ndim == 1:
            arr = arr[None, :]
        return cls(arr, energy.energies(arr), energy.vartype, dict(info))

    @classmethod
    def from_permutations(cls, energy: Energy, positions: np.ndarray, **info: Any) -> SampleSet:
        """Permutations of ``energy``'s permutation view, scored by the view (on these feasible states every
        penalty term is zero, so this is the energy of the bit state), with bit states where they fit."""
        view = energy.permutation
        if view is None:
            raise ParameterError("from_permutations needs an energy with a permutation view")
        rows = np.atleast_2d(np.asarray(positions, dtype=np.int64))
        weight = energy.weights[view.term]
        energies = np.array([weight * view.value(p) + view.offset for p in rows])
        states = None
        if len(rows) * energy.num_variables <= STATE_UNITS_LIMIT:
            states = np.stack([view.layout.state(p, energy.vartype, energy.num_variables) for p in rows])
        return cls(states, energies, energy.vartype, dict(info), rows, energy)

    def __len__(self) -> int:
        return len(self.energies)

    def state(self, row: int) -> np.ndarray:
        """The bit state of one read (built from its permutation when ``states`` was not kept)."""
        if self.states is not None:
            return self.states[row]
        model = self.energy_model
        return model.permutation.layout.state(self.permutations[row], model.vartype, model.num_variables)

    @property
    def best_index(self) -> int:
        return int(np.argmin(self.energies))

    @property
    def best(self) -> np.ndarray:
        return self.state(self.best_index)

    @property
    def best_energy(self) -> float:
        return float(self.energies[self.best_index])

    def distinct(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct states sorted by energy, with their energies and how often each occurred."""
        uniq, first, counts = np.unique(self.states, axis=0, return_index=True, return_counts=True)
        order = np.argsort(self.energies[first], kind="stable")
        return uniq[order], self.energies[first][order], counts[order]
