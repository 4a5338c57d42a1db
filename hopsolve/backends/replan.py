"""Schedules that a time limit re-plans, written down so that the run can be replayed without one.

A timed ``anneal`` or ``replica`` run fits its β schedule to the pace it meets: it resamples the unfinished part
into the sweeps that fit (squeezed on a slow machine, stretched to fill the limit) and stops where the time runs
out. The states then depend on the clock. To keep "the same seed, the same answer" checkable, every such change is
recorded as a pair ``at:total`` — *from sweep ``at``, resample the rest of the schedule so that it has ``total``
sweeps in all* (``at:at`` ends it at ``at``) — and the run's ``info['replay']`` holds the parameters that rerun it
exactly, without a time limit::

    hopsolve solve x.tsp --time-limit 5 --seed 3 --json     # info.replay: {"sweeps": 384615, "replan": "…"}
    hopsolve solve x.tsp --seed 3 --param sweeps=384615 --param replan=…   # the same states, in any time

A run with no change records ``replan=""``: then ``--param sweeps=N`` alone replays it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hopsolve.errors import ParameterError

Change = tuple[int, int]


def resample_rest(schedule: np.ndarray, done: int, rest: int) -> np.ndarray:
    """The schedule with its unfinished part (from sweep ``done``) resampled, same end points, into ``rest``
    sweeps (``rest = 0`` ends the schedule at ``done``)."""
    tail = schedule[done:]
    if rest == 0 or not len(tail):
        return schedule[:done].copy()
    resampled = np.interp(np.linspace(0, len(tail) - 1, rest), np.arange(len(tail)), tail)
    return np.concatenate([schedule[:done], resampled])


def parse_replan(text: str, owner: str) -> tuple[Change, ...]:
    """``"at:total,at:total"`` → pairs, checked: integers, ``0 ≤ at ≤ total``, ``at`` never decreasing."""
    changes: list[Change] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        at_text, sep, total_text = item.partition(":")
        try:
            at, total = int(at_text), int(total_text)
        except ValueError:
            at = total = -1
        if not sep or at < 0 or total < at:
            raise ParameterError(f"{owner}: replan item {item!r} must be at:total with integers 0 <= at <= total")
        if changes and at < changes[-1][0]:
            raise ParameterError(f"{owner}: replan items must not go back (at {at} after {changes[-1][0]})")
        changes.append((at, total))
    return tuple(changes)


def apply_replan(schedule: np.ndarray, changes: tuple[Change, ...], owner: str) -> np.ndarray:
    """The schedule after the recorded changes, in order (each ``at`` must lie within the schedule it changes)."""
    for at, total in changes:
        if at > len(schedule) or (at == len(schedule) and total > at):
            raise ParameterError(f"{owner}: replan item {at}:{total} starts after the schedule's {len(schedule)} "
                                 "sweeps, with nothing left to resample (give the recorded sweeps too)")
        schedule = resample_rest(schedule, at, total - at)
    return schedule


@dataclass
class Replan:
    """The changes a run made to its schedule, in order (see the module docstring)."""

    changes: list[Change] = field(default_factory=list)

    def resample(self, schedule: np.ndarray, done: int, rest: int) -> np.ndarray:
        """Resample the rest of ``schedule`` from ``done`` into ``rest`` sweeps, and record it."""
        self.changes.append((done, done + rest))
        return resample_rest(schedule, done, rest)

    def stop(self, schedule: np.ndarray, done: int) -> None:
        """Record that the run ended at sweep ``done`` (a time limit or Ctrl-C) before its schedule did."""
        if done < len(schedule):
            self.changes.append((done, done))

    def text(self, given: tuple[Change, ...] = ()) -> str:
        """The ``replan`` parameter that replays the run: the changes it was given, then its own."""
        return ",".join(f"{at}:{total}" for at, total in (*given, *self.changes))
