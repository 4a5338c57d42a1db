"""The ``hopsolve`` command line: a thin layer over the library. User errors are one line and exit code 2."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from hopsolve.errors import HopsolveError, ParameterError, UserError
from hopsolve.interrupt import abandoned_work, ctrl_c_deferred, ctrl_c_raises_here
from hopsolve.params import parse_assignments
from hopsolve.plugin_calls import plugin_call
from hopsolve.plugins import Registry, build_registry
from hopsolve.switches import switched_on

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit code 2), like every other user error."""

    def error(self, message: str) -> NoReturn:
        # "hopsolve: error: " is the CLI's own prefix: name only the subcommand ("solve: argument --reads: ...")
        command = self.prog.partition(" ")[2]
        if not command and message.startswith("argument command: invalid choice"):
            message += "; the backends, baselines and problems are listed by 'hopsolve plugins'"
        raise UserError(f"{command}: {message}" if command else message)


def _weights(pairs: Sequence[str] | None) -> dict[str, float]:
    weights = {}
    for key, value in parse_assignments(pairs, "--weight").items():
        try:
            weights[key] = float(value)
        except ValueError:
            raise ParameterError(f"--weight {key}={value!r} is not a number") from None
        if not math.isfinite(weights[key]) or weights[key] < 0:  # as typed: 1e400 is not "inf" to its writer
            raise ParameterError(f"--weight {key}={value} must be finite and non-negative")
    return weights


def _warn_failures(registry: Registry) -> None:
    for failure in registry.failures:
        print(f"hopsolve: warning: {failure}", file=sys.stderr)


def _cmd_plugins(args: argparse.Namespace, registry: Registry) -> int:
    def rows(table: dict, kind: str) -> list[dict[str, Any]]:
        out = []
        for entry in sorted(table.values(), key=lambda e: (getattr(e.cls, "problem", ""), e.name)):
            row = {"name": entry.name, "kind": kind, "description": getattr(entry.cls, "description", ""),
                   "plugin": entry.origin.plugin, "distribution": entry.origin.distribution,
                   "version": entry.origin.version}
            if kind == "problem":
                row["suffixes"] = list(getattr(entry.cls, "suffixes", ()))
            if kind == "baseline":
                row["problem"] = entry.cls.problem
                row["exact"] = bool(getattr(entry.cls, "exact", False))
            out.append(row)
        return out

    report = {
        "problems": rows(registry.problems, "problem"),
        "backends": rows(registry.backends, "backend"),
        "baselines": rows(registry.baselines, "baseline"),
        "commands": [{"name": n, "plugin": e.origin.plugin, "distribution": e.origin.distribution,
                      "version": e.origin.version} for n, e in sorted(registry.commands.items())],
        "failures": [{"plugin": f.plugin, "error": f.error} for f in registry.failures],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for section in ("problems", "backends", "baselines", "commands"):
        print(f"{section}:")
        for row in report[section]:
            target = f" [{row['problem']}]" if "problem" in row else ""
            if "suffixes" in row:  # they decide which problem reads a file: shown, not only in --json
                target = f" [{' '.join(row['suffixes'])}]" if row["suffixes"] else " [no suffix]"
            source = f"{row['distribution'] or row['plugin']} {row['version'] or ''}".strip()
            print(f"  {row['name']}{target}  ({source})  {row.get('description', '')}".rstrip())
    if report["failures"]:
        print("failures:")
        for row in report["failures"]:
            print(f"  {row['plugin']}: {row['error']}")
    return 0


REPLAY_SHOWN = 200
"""A replay value longer than this many characters is summarised on the terminal (a long run's ``replan`` lists
every change of its schedule: pla85900 at 60 s, 270 changes, 3,000 characters); ``--json`` prints it whole."""


def _replay_params(replay: dict[str, Any]) -> str:
    """The ``--param`` options that replay a timed run, each long value summarised (see :data:`REPLAY_SHOWN`)."""
    given = []
    for key, value in replay.items():
        if value == "":
            continue
        text = str(value)
        if len(text) > REPLAY_SHOWN:
            size = f"{text.count(',') + 1:,} changes" if key == "replan" else f"{len(text):,} characters"
            text = f"… ({size}; --json prints it whole under info.replay.{key})"
        given.append(f"--param {key}={text}")
    return " ".join(given)


COMPRESSED_NOTE_SHARE = 0.1
"""A run whose schedule a time limit compressed below this share of its planned length is noted."""


def _cut_short(result: Any) -> str | None:
    """A note when a time limit stopped a run before its schedule ended and short of the work its parameters
    planned (``info['work']`` below the replay's count of the same unit): such an answer can be far from a full
    run's (bSB on K2000 stopped after 10 of its 1000 steps: a cut of 8,236 where a full run gives 34,152). A run
    whose schedule was squeezed to fit the limit, and ended, is noted only when it kept less than
    :data:`COMPRESSED_NOTE_SHARE` of it (``bifurcation`` on a280 at 15 s: 10 of 1,000 steps, a tour 71% above
    the optimum): an anytime run compresses its schedule by design."""
    info = result.info
    unit, work = info.get("work_unit"), info.get("work")
    planned = (info.get("replay") or {}).get(unit, info.get("work_planned"))  # work_planned: exact's states
    if work is None or planned in (None, "") or int(work) >= int(planned):
        return None
    if info.get("no_round_note") and int(work) == 0:  # replica's tours: not one round fitted after the set-up
        return f"note: {info['no_round_note']}"
    if info.get("start") == "space-filling" and int(work) == 0:  # the limit stopped nothing: no sweep was started
        neighbours = result.params.get("neighbours")
        return ("note: building the candidate lists" + (f" ({neighbours} neighbours a city)" if neighbours else "")
                + " and the greedy start was projected not to fit the time limit, so this is the space-filling-curve "
                "tour, not annealed; a longer limit" + (" or fewer neighbours" if neighbours else "")
                + " gives an annealed run")
    if not info.get("timed_out"):
        if (info.get("schedule_compressed") and not info.get("interrupted")  # Ctrl-C, not the limit, cut it short
                and int(work) < COMPRESSED_NOTE_SHARE * int(planned)):
            return (f"note: to fit the time limit this run's schedule was compressed to {int(work):,} of its "
                    f"{int(planned):,} {unit}; a longer limit gives a fuller run")
        return None
    if "replay" not in info:  # an enumeration: the answer is only the best of the states it reached
        return (f"note: the time limit stopped this run after {int(work):,} of its {int(planned):,} {unit}: the "
                "best of those, not proven optimal; a longer limit gives the whole enumeration")
    return (f"note: the time limit stopped this run after {int(work):,} of its {int(planned):,} {unit}, before "
            "its schedule ended; a longer limit (or fewer reads) gives the whole run")


def _summary(result: Any) -> str:
    parts = [f"{result.instance} ({result.problem}) — {result.kind} {result.solver}, seed {result.seed}:",
             result.status]
    if result.objective is not None:
        parts.append(f"objective {result.objective:.12g}")  # 12 digits: tour lengths of 10⁸ in full
    if result.reference is not None:
        gap = f", gap {100 * result.gap:.2f}%" if result.gap is not None else ""
        if result.gap is None and result.absolute_gap is not None:
            gap = f", gap {result.absolute_gap:.12g} (absolute)"
        parts.append(f"(reference {result.reference:.12g}{gap})")
    if result.energy is not None:
        parts.append(f"energy {result.energy:.6g}")
    if result.reads:
        decoded = result.info.get("decoded_reads")
        shown = f"{decoded} decoded of {result.reads}" if decoded is not None else f"{result.reads}"
        parts.append(f"feasible reads {result.feasible_reads}/{shown}")
    if result.repaired:  # the status is the run's own state's; the solution shown is the repair's
        parts[1] = f"{result.status} state, repaired; the repair's"
    parts.append(f"in {result.wall_time_s:.2f} s")
    bad = {k: v for k, v in result.violations.items() if abs(v) > 1e-9}
    text = " ".join(parts)
    short = _cut_short(result)
    if short:
        text += f"\n{short}"
    if result.info.get("abandoned"):
        text += f"\nnote: {result.info['abandoned']}"
    if isinstance(result.info.get("note"), str):  # a baseline's word on its answer (BaselineOutcome.info['note'])
        text += f"\nnote: {result.info['note']}"
    if result.info.get("weights_note"):
        text += f"\nnote: {result.info['weights_note']}"
    if result.info.get("reference_note"):
        text += f"\nnote: {result.info['reference_note']}"
    # why a feasible answer is a timeout; a parameter that did nothing; the problem's word on its answer
    # (Solution.details["note"]); an answer a run reported on its way, which its final states lost
    for key in ("overrun", "tabu_note", "solution_note", "answer_from_progress"):
        if isinstance(result.info.get(key), str):
            text += f"\nnote: {result.info[key]}"
    if bad:
        text += "\nviolations: " + ", ".join(f"{k}={v:g}" for k, v in bad.items())
    replay = result.info.get("replay")
    # an interrupted run stopped where Ctrl-C fell, and a run with no read finished has nothing to replay
    if replay and result.params.get("time_limit") is not None and result.status != "interrupted" \
            and replay.get("reads", 1) != 0:
        text += f"\nreplay without the time limit: --seed {result.seed} {_replay_params(replay)}"
    if result.solution is not None:
        shown = result.solution if not isinstance(result.solution, list) or len(result.solution) <= 60 else (
            result.solution[:60] + [f"… ({len(result.solution) - 60:,} more: --out or --json has them all)"])
        if isinstance(result.solution, dict) and len(result.solution) > 60:  # a CQM's 400 variables filled a screen
            head = dict(list(result.solution.items())[:60])
            shown = f"{head} … ({len(result.solution) - 60:,} more: --out or --json has them all)"
        text += f"\nsolution: {' '.join(map(str, shown)) if isinstance(shown, list) else shown}"
    return text


IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".svgz", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")
"""What ``--plot`` writes (matplotlib's formats that need nothing beyond it)."""
PICTURE_SUFFIXES = IMAGE_SUFFIXES + (".pgf", ".raw", ".rgba", ".avif", ".gif", ".bmp")
"""Names of pictures, which ``--out`` (a solution as text) refuses: matplotlib's other formats and common ones."""


def check_output_path(path: str, what: str, suffixes: tuple[str, ...] | None = None, kind: str = "image type"
                      ) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder, a missing or read-only folder,
    or a suffix outside ``suffixes`` (the image types matplotlib writes, or a problem's solution formats)."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{what} must be a file, not a folder", path=path)
    folder = target.parent
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what}: {str(folder)!r} is a file, not a folder", path=path)
    if not folder.is_dir():
        raise UserError(f"{what}: the folder {str(folder)!r} does not exist", path=path)
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UserError(f"{what}: not writable", path=path)
    if not target.exists():  # what access() cannot tell (/proc, /sys, a read-only mount): create it, remove it
        try:
            with open(target, "x"):
                pass
        except OSError as exc:
            raise UserError(f"{what}: cannot create the file ({exc.strerror or exc})", path=path) from None
        target.unlink()
    if suffixes is not None and target.suffix.lower() not in suffixes:
        raise UserError(f"{what}: unknown {kind} {target.suffix or '(none)'!r}; use one of "
                        f"{', '.join(suffixes)}", path=path)


@contextmanager
def _writing(path: str, what: str) -> Iterator[None]:
    """Name the option whose file could not be written (a full disk, a folder removed during the solve)."""
    try:
        yield
    except OSError as exc:
        raise UserError(f"{what}: cannot write the file ({exc.strerror or exc})", path=path) from None


def check_can_plot() -> None:
    """Refuse ``--plot``, before any work, where matplotlib (extra ``plot``) is not installed."""
    try:
        import matplotlib  # noqa: F401 - only whether it imports
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'hopsolve[plot]'") from None


NO_ANSWER_LINE = "hopsolve: interrupted before the run had an answer: nothing to keep"


class _PreparingCtrlC:
    """Until the backend starts solving, Ctrl-C ends the process at once (exit 130, one line): the run has no
    answer yet, and a ``KeyboardInterrupt`` raised inside numba's compiler could land in one of LLVM's ctypes
    callbacks, where Python only prints it ("Exception ignored on calling ctypes callback function") and the
    compile goes on: the run then either ended in an internal error ("no compiled object yet") or ignored the
    Ctrl-C and ran its whole time limit. From the first ``{"stage": "solving"}`` update on (the backend's own
    Ctrl-C keeps its best answer) the previous handler is back. Only in the main thread with Python's own
    handler installed; elsewhere it does nothing."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.previous: Any = None

    def __enter__(self) -> _PreparingCtrlC:
        import signal

        if ctrl_c_raises_here():
            self.previous = signal.signal(signal.SIGINT, self._end_now)
        return self

    def _end_now(self, signum: int, frame: Any) -> None:
        self.progress.close()
        print(NO_ANSWER_LINE, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)

    def _restore(self) -> None:
        if self.previous is not None:
            import signal

            signal.signal(signal.SIGINT, self.previous)
            self.previous = None

    def observe(self, update: dict[str, Any]) -> None:
        """The solve's progress callback: restore Ctrl-C's handler once solving starts, then draw the bar."""
        if update.get("stage") == "solving":
            self._restore()
        self.progress(update)

    def __exit__(self, *exc: Any) -> None:
        self._restore()


WRITING_NOTE = "hopsolve: writing the answer in hand first; it ends once written"


def _say_no_solution(action: str, path: str, result: Any) -> None:
    """The one line on stderr of ``--out`` or ``--plot`` after a run without a solution (naming a file left there
    by an earlier run)."""
    stale = " (the file there is an earlier run's, left as it was)" if os.path.exists(path) else ""
    print(f"hopsolve: no solution to {action} to {os.path.abspath(path)}{stale}: the run found no valid candidate "
          f"(status {result.status})", file=sys.stderr)


def _write_answer(args: argparse.Namespace, problem: Any, result: Any, solution: Any, instance: Any) -> None:
    """Print the result and write ``--out``. A run that completed without a solution (a baseline that found
    none, or was stopped at its limit without one) has nothing to write: one line on stderr says so, the file is
    not created, and the run ends as it does without ``--out`` (it raised a user error, exit 2, as if the command
    had been wrong, after printing the result)."""
    try:  # first: a file that cannot be written loses no run
        print(result.to_json() if args.json else _summary(result), flush=True)
    except BrokenPipeError:  # the reader went away (``| head -1``): the files are still written, not lost in
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # silence with exit 0
    if args.out:
        if solution.value is None:
            _say_no_solution("write", args.out, result)
            return
        with _writing(args.out, "--out"):
            plugin_call("problem", problem, "write_solution",
                        lambda: problem.write_solution(instance, solution, args.out))
        print(f"hopsolve: wrote the solution to {os.path.abspath(args.out)}", file=sys.stderr)


def _draw_answer(args: argparse.Namespace, problem: Any, result: Any, solution: Any, instance: Any) -> None:
    """Draw ``--plot``. A run without a solution has nothing to draw: one line on stderr says so, as for
    ``--out`` (the problem's ``plot`` was handed no tour: an internal error, exit 1)."""
    if args.plot:
        plot = getattr(problem, "plot", None)
        if plot is None:
            raise UserError(f"problem {problem.name!r} cannot draw a solution", path=args.plot)
        if solution.value is None:
            _say_no_solution("draw", args.plot, result)
            return
        with _writing(args.plot, "--plot"):
            plugin_call("problem", problem, "plot", lambda: plot(instance, solution, args.plot))
        print(f"hopsolve: drew the solution to {os.path.abspath(args.plot)}", file=sys.stderr)


def _cmd_solve(args: argparse.Namespace, registry: Registry) -> int:
    from hopsolve.solving import solve_path
    from hopsolve.terminal import SolveProgress

    if not os.path.exists(args.path):
        raise UserError("no such file", path=args.path)
    if os.path.isdir(args.path):  # was "no problem plugin reads 'elsewhere'" for a folder without a suffix
        raise UserError("a folder, not an instance file (bench --instances takes folders)", path=args.path)
    if args.out:
        written = registry.problem(args.problem or registry.problem_for_path(args.path)).solution_suffixes
        check_output_path(args.out, "--out", written, "solution file type")
        if written is None and Path(args.out).suffix.lower() in PICTURE_SUFFIXES:  # a text grid was written into m.png
            raise UserError("--out writes the solution as text, not a picture: draw it with --plot (where the "
                            "problem can), and give --out another suffix", path=args.out)
    check_instance = None
    if args.plot:
        check_output_path(args.plot, "--plot", IMAGE_SUFFIXES)
        check_can_plot()
        problem_name = args.problem or registry.problem_for_path(args.path)
        if getattr(registry.problem(problem_name), "plot", None) is None:
            raise UserError(f"problem {problem_name!r} cannot draw a solution", path=args.plot)
        drawing = registry.problem(problem_name)
        check_plot = getattr(drawing, "check_plot", None)  # before the run, not after
        if check_plot is not None:
            def check_instance(instance: Any) -> None:
                plugin_call("problem", drawing, "check_plot", lambda: check_plot(instance))
    progress = SolveProgress()
    preparing = _PreparingCtrlC(progress) if not args.baseline else contextlib.nullcontext()
    try:
        with preparing:
            result, solution, instance = solve_path(
                registry, args.path, problem=args.problem, backend=args.backend, baseline=args.baseline,
                params=parse_assignments(args.param, "--param"), weights=_weights(args.weight), seed=args.seed,
                time_limit=args.time_limit, reads=args.reads, repair=args.repair,
                options=parse_assignments(args.option, "--option"),
                callback=None if args.baseline else getattr(preparing, "observe", progress),
                check_instance=check_instance,
            )
    except KeyboardInterrupt:  # a run with an answer returns it, marked interrupted: this one had none yet
        progress.close()
        print(NO_ANSWER_LINE, file=sys.stderr)
        _end_if_abandoned()
        return 130
    finally:
        progress.close()
    problem = registry.problem(result.problem)
    # the answer in hand is written whole: a second Ctrl-C while 600 KB of --json were printing cut them off (a
    # drawing, which can take long, may still be interrupted)
    with ctrl_c_deferred(WRITING_NOTE):
        _write_answer(args, problem, result, solution, instance)
    _draw_answer(args, problem, result, solution, instance)
    code = 130 if result.status == "interrupted" else 0
    _end_if_abandoned(code)  # a baseline left unfinished at the time limit
    return code


def _file_name(text: str) -> str:
    """An argparse type for a file or folder name: an empty one (``--out "$UNSET"``) was taken as no option and
    the run went on without writing what was asked for."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name")
    return text


def _add_solve(sub: Any) -> None:
    p = sub.add_parser("solve", help="solve one instance with a backend or a baseline")
    p.add_argument("path", type=_file_name, help="instance file (problem inferred from its suffix)")
    p.add_argument("--problem", help="problem plugin name (when the suffix is ambiguous)")
    solver = p.add_mutually_exclusive_group()
    solver.add_argument("--backend", help="backend name (default: the problem's own, anneal for tsp; 'hopsolve "
                                          "plugins' lists them)")
    solver.add_argument("--baseline", help="baseline name (e.g. ortools-routing for tsp; 'hopsolve plugins' lists "
                                           "each problem's)")
    p.add_argument("--seed", type=int, help="random seed (recorded in the result)")
    p.add_argument("--time-limit", type=float,
                   help="seconds, reading and decoding included (compiling not); for tsp, maxcut and cqm (anytime "
                        "problems) a budget the run fills, else a cap on the solver's own budget; without "
                        "it the budget is in sweeps or steps: the same seed, the same answer")
    p.add_argument("--reads", type=int, help="independent reads (restarts)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="solver parameter (repeatable)")
    p.add_argument("--weight", action="append", metavar="TERM=VALUE", help="energy term weight (repeatable)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="encoding option of the problem (repeatable)")
    p.add_argument("--repair", action="store_true", help="mend an invalid final state (reported as repaired)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--out", type=_file_name, help="write the solution in the problem's own format")
    p.add_argument("--plot", type=_file_name, help="draw the solution to an image file (extra 'plot')")


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="run a grid of instances × solvers × seeds, appending results to JSONL")
    p.add_argument("--config", type=_file_name, help="a TOML suite (see benchmarks/suites/); --seeds, --time-limit, "
                   "--problem, --option and --weight override its values (options and weights key by key)")
    p.add_argument("--instances", nargs="+", type=_file_name, metavar="PATH", help="instance files or folders")
    p.add_argument("--problem", help="problem plugin (default: inferred from each file's suffix)")
    p.add_argument("--solvers", help="comma-separated backends/baselines (backend:NAME or baseline:NAME if both)")
    p.add_argument("--param", action="append", metavar="SOLVER.KEY=VALUE", help="solver parameter (repeatable)")
    p.add_argument("--seeds", type=int, help="run seeds 1..N (default 1)")
    p.add_argument("--time-limit", type=float, help="seconds per run")
    p.add_argument("--out", required=True, type=_file_name,
                   help="results file (JSONL); rerun with the same file to resume")
    p.add_argument("--jobs", type=int, help="local worker processes (default, and at most: cores)")
    p.add_argument("--executor", choices=("local", "dask"),
                   help="where tasks run (default: local; dask where --scheduler or --workers is given)")
    p.add_argument("--workers", type=int,
                   help="workers of a local Dask cluster (default, and at most: cores; implies --executor dask)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, tcp://host:port (implies --executor "
                                       "dask)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="encoding option of the problem (repeatable)")
    p.add_argument("--weight", action="append", metavar="TERM=VALUE", help="energy term weight (repeatable)")
    p.add_argument("--trace", action="store_true",
                   help="keep each run's anytime curve (best objective against time) in its record")
    p.add_argument("--retry-errors", action="store_true",
                   help="on resume, run again the tasks recorded as errors, and those the local watchdog stopped "
                        "(their new records are kept)")


def _add_warmup(sub: Any) -> None:
    sub.add_parser("warmup", help="compile every kernel ahead of time (a first solve does this untimed anyway)")


def _cmd_warmup(args: argparse.Namespace, registry: Registry) -> int:
    from hopsolve.warmup import warm_everything

    failed = 0
    for name, seconds in warm_everything(registry).items():
        if isinstance(seconds, str):  # a plugin's failure, in one line; the others were compiled
            print(f"hopsolve: error: {seconds}", file=sys.stderr)
            failed += 1
        else:
            print(f"{name}: {seconds:.1f} s")
    return EXIT_USER_ERROR if failed else 0


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="summarise results files: gaps, feasibility, times, anytime curves")
    p.add_argument("results", nargs="+", type=_file_name, help="JSONL files written by hopsolve bench (read together)")
    p.add_argument("--format", choices=("md", "csv"), default="md",
                   help="the tables as markdown (md, the default) or CSV rows (csv: both tables, a first "
                        "column 'table' saying which: instance or solver)")
    p.add_argument("--plot", type=_file_name, help="draw anytime curves and performance profiles to this image, and "
                                                   "each instance's curve to NAME-instances.EXT (extra 'plot')")
    p.add_argument("--target-gap", type=float, default=1.0,
                   help="the gap (%%) a run must reach to count as solved in the time profile (default 1)")


def _tell(line: str) -> None:
    """A line of ``bench``'s own on stderr; where nobody reads stderr any more (``2>&1 | head``) it is dropped,
    and the sweep, its records and its exit code go on as they would."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def _check_scheduler_address(address: str) -> None:
    """Refuse at once a ``--scheduler`` that cannot be an address: an empty one ran the bench locally, and a port
    past 65535 waited out the 10 s connection timeout before failing."""
    if not address.strip():
        raise UserError("--scheduler: an empty address; give the Dask scheduler's, tcp://host:port")
    host_port = address.split("://", 1)[-1]
    port = host_port.rsplit(":", 1)[1] if ":" in host_port and not host_port.endswith("]") else None
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise UserError(f"--scheduler {address!r}: the port must be a number from 1 to 65535, got {port!r}")


def _bench_executor(args: argparse.Namespace) -> str:
    """Where ``bench`` runs its tasks: ``--executor`` if given, else Dask where ``--scheduler`` or ``--workers``
    asks for it, else locally. Options that the chosen executor would ignore are refused, not dropped."""
    if args.scheduler is not None:
        _check_scheduler_address(args.scheduler)
    executor = args.executor or ("dask" if args.scheduler or args.workers is not None else "local")
    if executor == "local" and (args.scheduler or args.workers is not None):
        raise UserError(f"{'--scheduler' if args.scheduler else '--workers'} is for --executor dask, not local")
    if executor == "dask" and args.jobs is not None:
        raise UserError("--jobs is for --executor local: a Dask run has --workers (a local cluster) or the "
                        "scheduler's own workers")
    if args.scheduler and args.workers is not None:
        raise UserError("--workers sizes a local Dask cluster; with --scheduler the cluster's own workers run the "
                        "tasks")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    return executor


def _at_most_cores(flag: str, asked: int | None, cores: int) -> int | None:
    """The processes ``bench`` starts on this machine (``--jobs``, a local Dask cluster's ``--workers``), held to
    its ``cores``, saying so: the runs are CPU-bound, so more gain nothing, and timed ones sharing a core do less
    work (``--jobs 1000`` on 2 cores did 3–6 times fewer sweeps; ``--workers 100000`` started workers until it was
    killed). ``None`` (not given) stays ``None``."""
    if asked is None or asked <= cores:
        return asked
    _tell(f"hopsolve bench: {flag} {asked} is more than this machine's {cores} cores; running {cores} at a time "
          "(runs sharing a core would be slower, and timed ones would do less work)")
    return cores


def _cmd_bench(args: argparse.Namespace, registry: Registry) -> int:
    from hopsolve.bench.executors import execute, usable_cores
    from hopsolve.bench.grid import build_grid, grid_from_toml, solvers_from_cli
    from hopsolve.bench.progress import Progress
    from hopsolve.bench.store import ResultStore

    check_output_path(args.out, "--out")
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds: seeds must be a positive count (seeds 1..N), got {args.seeds}")
    options = parse_assignments(args.option, "--option") or None
    weights = _weights(args.weight) or None
    if args.config:
        mixed = [flag for flag, given in (("--instances", args.instances), ("--solvers", args.solvers),
                                          ("--param", args.param)) if given]
        if mixed:  # the suite names its own: they were ignored without a word
            raise UserError(f"{' and '.join(mixed)} cannot be combined with --config (the suite names its "
                            "instances, solvers and parameters; --seeds, --time-limit, --problem, --option and "
                            "--weight override it)")
        grid = grid_from_toml(registry, args.config, {"seeds": args.seeds, "time_limit": args.time_limit,
                                                      "problem": args.problem, "options": options,
                                                      "weights": weights})
    else:
        if not args.instances or not args.solvers:
            raise UserError("hopsolve bench needs --config, or --instances and --solvers")
        grid = build_grid(registry, instances=args.instances, solvers=solvers_from_cli(args.solvers, args.param),
                          seeds=args.seeds if args.seeds is not None else 1, problem=args.problem,
                          time_limit=args.time_limit, options=options, weights=weights)
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    executor = _bench_executor(args)
    cores = usable_cores()
    if executor == "local":
        args.jobs = _at_most_cores("--jobs", args.jobs, cores)
    elif not args.scheduler:  # a local Dask cluster, started on this machine
        args.workers = _at_most_cores("--workers", args.workers, cores)
    if args.trace:
        grid = dataclasses.replace(grid, trace=True)
    store = ResultStore(args.out)
    finished = store.finished()
    if store.torn_bytes:  # a run killed mid-write: its task runs again
        _tell(f"hopsolve bench: removed a torn last line ({store.torn_bytes} bytes, a run killed while writing) "
              f"from {args.out}; its task runs again")
    if args.retry_errors:  # errors, and tasks the watchdog stopped (a timeout without an answer, its error said)
        finished = {key: record for key, record in finished.items() if record.get("status") != "error"
                    and not (record.get("status") == "timeout" and record.get("error"))}
    every = grid.tasks(legacy=bool(finished))  # once: 100,000 tasks took 24 s before the first line (built 3 times)
    tasks = [t for t in every if t.key not in finished and not any(key in finished for key in t.legacy)]
    total = len(every)
    progress = Progress(total, total - len(tasks))
    _tell(f"hopsolve bench: {total} task{'' if total == 1 else 's'}, {total - len(tasks)} already in {args.out}, "
          f"{len(tasks)} to run")

    failed = []

    def on_result(record: dict[str, Any]) -> None:
        store.append(record)
        progress.update(record)
        if record.get("status") == "error":
            failed.append(record)

    try:
        execute(tasks, on_result, executor=executor, jobs=args.jobs, scheduler=args.scheduler,
                workers=args.workers)
    except KeyboardInterrupt:
        _tell(f"\nhopsolve bench: interrupted after {progress.done}/{total} tasks; rerun the same command to resume")
        _end_if_abandoned()
        return 130
    if failed:
        first = failed[0]
        _tell(f"hopsolve bench: {len(failed)} of {len(tasks)} tasks ended in error (first: {first.get('instance')} "
              f"{first.get('label')}: {str(first.get('error', '')).splitlines()[-1] if first.get('error') else ''}); "
              f"fix the cause and rerun with --retry-errors")
        return 1
    earlier = sum(1 for task in every if finished.get(task.key, {}).get("status") == "error")
    if earlier:  # a resume that ran the rest is not a clean sweep: the errors of earlier runs are still the file's
        _tell(f"hopsolve bench: {earlier} task{'' if earlier == 1 else 's'} in {args.out} ended in error in an "
              "earlier run and {} not run again; --retry-errors runs {} again".format(
                  "was" if earlier == 1 else "were", "it" if earlier == 1 else "them"))
        return 1
    return 0


def _cmd_report(args: argparse.Namespace, registry: Registry) -> int:
    from hopsolve.bench.report import latest_records, load_records, plot, render, summarise

    if not (math.isfinite(args.target_gap) and args.target_gap >= 0):
        raise UserError(f"--target-gap must be a gap in percent, at least 0, got {args.target_gap}")
    if args.plot:
        check_output_path(args.plot, "--plot", IMAGE_SUFFIXES)
        check_can_plot()
    first: dict[str, str] = {}
    for path in args.results:  # the order typed, each file at its first place (later files' records win)
        first.setdefault(os.path.realpath(path), path)
    paths = list(first.values())
    if len(paths) < len(args.results):
        print("hopsolve: note: a results file given twice is read once", file=sys.stderr)
    loaded = [load_records(path, allow_empty=len(paths) > 1) for path in paths]
    for path, found in zip(paths, loaded):
        if not found:  # one empty file among others (a bench that had not finished a task yet)
            print(f"hopsolve: note: {path} has no results yet; left out", file=sys.stderr)
    if not any(loaded):
        raise UserError("no results in these files", path=paths[0])
    records, notes = latest_records(loaded)
    for note in notes:
        print(f"hopsolve: note: {note}", file=sys.stderr)
    senses = {name: getattr(entry.cls, "sense", "min") for name, entry in registry.problems.items()}
    rows, overall = summarise(records, senses)
    print(render(rows, overall, args.format), end="")
    if args.plot:
        for written in plot(records, rows, args.plot, senses, target_gap=args.target_gap / 100.0):
            print(f"hopsolve: drew {os.path.abspath(written)}", file=sys.stderr)
        if not any((r.get("info") or {}).get("anytime") for r in records):
            print("hopsolve: note: no anytime curves in these records (bench without --trace): the plot has the "
                  "profiles only", file=sys.stderr)
    return 0


def _version() -> str:
    import importlib.metadata as metadata

    try:
        return metadata.version("hopsolve")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"


def build_parser(registry: Registry) -> argparse.ArgumentParser:
    """The full parser, with commands that plugins add through ``hopsolve_commands``."""
    parser = _Parser(prog="hopsolve", description="Hopfield-network heuristics for combinatorial optimisation.",
                     epilog="exit codes: 0 done; 1 hopsolve's internal error, or a bench with failed tasks; 2 a bad "
                            "file, parameter or plugin, or a run too large (one line on stderr); 130 interrupted "
                            "(Ctrl-C; the answer in hand is printed)")
    parser.add_argument("--version", action="version", version=f"hopsolve {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("plugins", help="list problems, backends, baselines and load failures")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_solve(sub)
    _add_bench(sub)
    _add_report(sub)
    _add_warmup(sub)
    for name, (help_text, configure, _run) in registry.command_specs.items():
        if name in sub.choices:
            continue
        configure(sub.add_parser(name, help=help_text))
    return parser


BUILTIN_COMMANDS = {"plugins": _cmd_plugins, "solve": _cmd_solve, "bench": _cmd_bench, "report": _cmd_report,
                    "warmup": _cmd_warmup}


def _end_if_abandoned(code: int = 130) -> None:
    """End the process at once, exit code ``code``, where a solver abandoned by a second Ctrl-C (130) or at its time
    limit (a baseline that cannot stop by itself) is still running in its thread
    (:func:`hopsolve.interrupt.abandoned_work`): a C++ solver torn down by the interpreter's exit aborts it
    ("terminate called without an active exception", exit code 134), and a Python one would hold the exit until
    it ended."""
    if abandoned_work():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hopsolve`` console script."""
    try:
        registry = build_registry()
        args = build_parser(registry).parse_args(argv)
        if args.command != "plugins":
            _warn_failures(registry)
        if args.command in BUILTIN_COMMANDS:
            return BUILTIN_COMMANDS[args.command](args, registry)
        return int(registry.command_specs[args.command][2](args) or 0)
    except UserError as exc:
        print(f"hopsolve: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("hopsolve: interrupted", file=sys.stderr)
        _end_if_abandoned()
        return 130
    except BrokenPipeError:  # the reader went away (``hopsolve ... | head``): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except HopsolveError as exc:
        print(f"hopsolve: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError as exc:  # sizes are checked before allocating, but the machine may have less than they allow
        detail = f" ({exc})" if str(exc) else ""
        print(f"hopsolve: error: out of memory{detail}: this run needs more memory than the process may use; try "
              "a smaller instance, fewer reads or another backend", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # the file system or the device, not hopsolve: a full disk, a missing directory
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hopsolve: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:  # noqa: BLE001 - one line for the user; HOPSOLVE_DEBUG=1 shows the traceback
        if switched_on("HOPSOLVE_DEBUG"):
            raise
        print(f"hopsolve: internal error: {type(exc).__name__}: {exc} (set HOPSOLVE_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
