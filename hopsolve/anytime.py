"""Anytime traces: the best objective a run has found, against the time it found it.

Operations researchers compare heuristics by such curves (gap against time) and by performance profiles, not by
one final number. ``hopsolve.solve_instance`` records one for every backend (decoding the best state the backend reports
as it improves) and every baseline (OR-Tools through its solution callbacks), in ``result.info["anytime"]`` as
``[[seconds, objective], ...]``, each point better than the one before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# decode a backend's best state no more often than this fraction of the time elapsed (log-spaced points: a curve
# that costs a bounded share of the run however long it is)
SPACING = 0.05


@dataclass
class AnytimeTrace:
    """Improving ``(seconds, objective)`` points for a problem of ``sense`` ``min`` or ``max``."""

    sense: str = "min"
    points: list[list[float]] = field(default_factory=list)

    def better(self, objective: float) -> bool:
        if not self.points:
            return True
        last = self.points[-1][1]
        return objective < last if self.sense == "min" else objective > last

    def record(self, seconds: float, objective: float | None) -> None:
        """Add a point if ``objective`` improves on the last one."""
        if objective is not None and self.better(float(objective)):
            self.points.append([round(float(seconds), 6), float(objective)])

    def due(self, seconds: float, last: float | None) -> bool:
        """Whether a new point may be decoded at ``seconds`` after the last decoding at ``last``."""
        return last is None or seconds - last >= SPACING * seconds
