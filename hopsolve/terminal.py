"""What a person at a terminal sees during a long solve: a progress bar with the best value so far (tqdm, the
``progress`` extra), shown only when standard error is a terminal, so pipes and ``--json`` stay clean."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

SHOW_AFTER_S = 2.0  # solves shorter than this never draw a bar
COMPILE_NOTE_AFTER_S = 1.5  # a preparation longer than this is compiling: say so once


class CompileNote:
    """A solve's callback that says once, on ``stream`` (standard error), that kernels are compiling when the
    preparation (from ``{"stage": "preparing"}`` to ``{"stage": "solving"}``) outlasts :data:`COMPILE_NOTE_AFTER_S`:
    a first run compiles for tens of seconds, which nothing else would show. Other updates are ignored; a
    stream that is gone (a closed pipe) is not written to."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._timer: threading.Timer | None = None

    def __call__(self, update: dict[str, Any]) -> None:
        if update.get("stage") == "preparing":
            self.close()
            self._timer = threading.Timer(COMPILE_NOTE_AFTER_S, self._say)
            self._timer.daemon = True
            self._timer.start()
        else:
            self.close()

    def _say(self) -> None:
        try:
            self.stream.write("hopsolve: compiling kernels (first run on this machine; cached afterwards, and not "
                              "counted in the time limit)...\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe or file: nobody to tell
            pass

    def close(self) -> None:
        """Cancel a note not yet said (the solve got past its preparation, or ended)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class SolveProgress:
    """A backend callback that draws a tqdm bar of sweeps done once a solve has run :data:`SHOW_AFTER_S`.

    The postfix is the best tour length where the backend reports one (``best_length``), else the best energy.
    The bar's elapsed time (and so its rate and estimate of the time left) counts from when the backend started
    solving (``{"stage": "solving"}``; without stages, from this object's creation), not from when the bar
    appears. Without tqdm, or off a terminal, it does nothing.
    """

    def __init__(self, stream: IO[str] | None = None, force: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.solving_since = self.started
        self.bar: Any = None
        self._note = CompileNote(self.stream)

    def __call__(self, update: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._note(update)  # solve_instance's stages: compiling or loading the kernels
        if "stage" in update:
            if update["stage"] == "solving":
                self.solving_since = time.perf_counter()
            return
        if time.perf_counter() - self.started < SHOW_AFTER_S:
            return
        if self.bar is None:
            try:
                from tqdm import tqdm
            except ImportError:
                self.enabled = False
                self.stream.write("hopsolve: solving... (pip install 'hopsolve[progress]' for a progress bar)\n")
                self.stream.flush()
                return
            unit = update.get("unit", "sweeps")
            # a time limit's bar counts seconds: "3.2/10.0 s", not a rate of seconds per second
            seconds = ("{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}{postfix}]"
                       if unit == "s" else None)
            # a seconds bar's rate is the average over the whole run (smoothing 0): smoothed over the last updates,
            # which come in bursts, it put the time left at "<00:00" from a third of a 5 s run on
            self.bar = tqdm(total=update.get("total"), unit=unit, file=self.stream, leave=False,
                            dynamic_ncols=True, desc="hopsolve", mininterval=0.25, bar_format=seconds,
                            smoothing=0.0 if unit == "s" else 0.3)
            self.bar.start_t -= time.perf_counter() - self.solving_since  # the solve's elapsed time, not the bar's
        if update.get("total") is not None and update["total"] != self.bar.total:  # an estimate, revised
            self.bar.total = update["total"]
        self.bar.update(update.get("done", 0) - self.bar.n)
        best = update.get("best_length", update.get("best_energy"))
        if best is not None:
            self.bar.set_postfix_str(f"best {best:.10g}", refresh=True)

    def close(self) -> None:
        self._note.close()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
