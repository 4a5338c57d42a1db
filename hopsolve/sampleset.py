"""The states a backend returns, with their energies and what the run recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hopsolve.energy import Energy, Vartype
from hopsolve.errors import ParameterError

# bit states of permutation energies are materialised up to this many units in all (10 MB of int8)
STATE_UNITS_LIMIT = 10_000_000


TYPED_INFO = ("timed_out", "proven_optimal", "interrupted", "derived", "work", "work_unit")
PER_READ_INFO = ("trace", "trajectory", "graded_outputs", "outcome", "read_sweeps")


@dataclass(frozen=True, eq=False)
class SampleSet:
    """What a backend returns: ``states`` (reads × n) scored by the energy, and what every caller reads.

    Rows keep the order the reads ran in; :attr:`best` is the lowest-energy one (the first of equals).

    The contract (what ``solve_instance``, ``bench`` and ``report`` read; a backend sets these, not ad-hoc keys):

    - ``timed_out``: the run stopped at its time limit before finishing its schedule. A backend that squeezes its
      schedule to fit the limit and then runs it to its end (``anneal``, ``bifurcation``: their
      ``info['schedule_compressed']``) did finish it, so it is not timed out; one that stops partway (``replica``'s
      fixed ladder, ``tank``, ``hopfield``'s reads not started, ``exact``'s states not enumerated) is.
    - ``proven_optimal``: the best state is a proven ground state: set by ``exact``, and by ``anneal`` where it
      enumerated every permutation of a permutation energy of at most three items.
    - ``interrupted``: Ctrl-C ended the run early; the states are the best found so far.
    - ``derived``: the parameters the backend chose itself (a β range, a step size, the seed), merged into a
      result's ``params``.
    - ``work`` and ``work_unit``: how much the run did, in one named unit per backend (``anneal`` and
      ``hopfield``: ``sweeps`` per read; ``tank``: integration ``steps``, or ``sweeps`` on its serial schedule;
      ``exact``: ``states`` enumerated).
    - ``per_read``: arrays with one row per read (energy traces, trajectories, graded outputs, each read's
      outcome); they never go into a result's JSON record.
    - ``info``: anything else, small and JSON-able (timings, counters), copied into the result's ``info``. These
      keys there are read:

      - ``penalties_held``: the penalty terms the backend's moves keep at zero throughout (a user's weight on one
        of them then changes nothing, and ``solve_instance`` notes it); ``weights_unused``: a sentence saying why
        the run reads no weight at all (``tank``'s serial schedule), noted the same way.
      - ``replay``: for a timed run, the parameters (and ``reads``) that rerun it without the limit, state for
        state; ``solve_instance`` adds what the caller gave, and the CLI prints it as a "replay" line. Leave it
        out where no such parameters exist (a computation the limit cut that no parameter reproduces).
      - ``schedule_compressed`` (true: the limit squeezed the schedule, which then ran to its end) and
        ``work_planned`` (the work a run stopped by its limit had planned, where ``replay`` does not say it): the
        CLI's note on a run cut short compares them with ``work``.
      - ``start``: how the start state was made (``space-filling``: a tour not yet annealed), for the same note.
      - ``note``: one line the CLI prints under the summary (e.g. parameters the run did not use).

    A backend may pass the typed and per-read entries as keyword arguments of :meth:`from_states` (as ``info``
    keys); they are moved to their fields.

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
    timed_out: bool = False
    proven_optimal: bool = False
    interrupted: bool = False
    derived: dict[str, Any] = field(default_factory=dict)
    work: int | None = None
    work_unit: str | None = None
    per_read: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        info = dict(self.info)
        for key in TYPED_INFO:
            if key in info:
                value = info.pop(key)
                object.__setattr__(self, key, dict(value) if key == "derived" else value)
        per_read = dict(self.per_read)
        for key in PER_READ_INFO:
            if key in info:
                per_read[key] = info.pop(key)
        object.__setattr__(self, "info", info)
        object.__setattr__(self, "per_read", per_read)
        if self.work is not None:
            work = float(self.work)
            if not (work.is_integer() and work >= 0):  # 3.7 was kept as 3 without a word
                raise ParameterError(f"SampleSet work must be a whole number of its units (work_unit), got "
                                     f"{self.work!r}")
            object.__setattr__(self, "work", int(work))

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
        energies = view.energies(rows, weight)
        states = None
        if len(rows) * energy.num_variables <= STATE_UNITS_LIMIT:
            states = np.stack([view.layout.state(p, energy.vartype, energy.num_variables) for p in rows])
        return cls(states, energies, energy.vartype, dict(info), rows, energy)

    @classmethod
    def from_tours(cls, energy: Energy, tours: np.ndarray, **info: Any) -> SampleSet:
        """Tours (the city at each position, reads × cities) of a tour energy, as :meth:`from_permutations` of the
        positions they give the energy's layout (:meth:`PermutationView.positions_of_tours`: a pinned tour turned
        round to its first city)."""
        view = energy.permutation
        if view is None or not view.is_tour:
            raise ParameterError("from_tours needs a tour energy")
        return cls.from_permutations(energy, view.positions_of_tours(tours), **info)

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
        """The read of lowest energy (``ParameterError`` on a sample set without reads)."""
        if not len(self.energies):
            raise ParameterError("this sample set has no reads: it has no best state")
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
