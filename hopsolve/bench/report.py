"""Summaries of a results file: per instance × solver, and each solver over all instances."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from hopsolve.errors import UserError
from hopsolve.result import relative_gap
from hopsolve.textio import check_input_file


def load_records(path: str | Path, allow_empty: bool = False) -> list[dict[str, Any]]:
    """The records of a results file. A torn last line (a bench killed while writing it, which bench removes on
    its next resume) is skipped with a note on stderr, not refused; a file without records is refused unless
    ``allow_empty`` (one empty file among others is then skipped by the caller)."""
    path = Path(path)
    if not path.exists():
        raise UserError("no such results file", path=path)
    if path.is_dir():
        raise UserError("a folder, not a results file: name the .jsonl files written by hopsolve bench "
                        "(e.g. FOLDER/*.jsonl)", path=path)
    check_input_file(path)
    records = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError("not a UTF-8 results file", path=path) from None
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) and not text.endswith("\n") and (records or allow_empty):  # torn, as a kill
                # leaves it (a file of that line alone is an empty one: among others, left out)
                print(f"hopsolve: note: {path}: skipped its torn last line (a bench killed while writing it; "
                      "bench removes it on its next resume)", file=sys.stderr)
                break
            raise UserError("not a JSON line", path=path, line=number) from None
        if not isinstance(record, dict) or "status" not in record:
            raise UserError("not a hopsolve result record", path=path, line=number)
        problem = _bad_field(record)
        if problem:
            raise UserError(f"not a hopsolve result record: {problem}", path=path, line=number)
        records.append(record)
    if not records and not allow_empty:
        raise UserError("no results in the file", path=path)
    return records


def latest_records(files: list[list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The records to report from the files' records (in the order given) and notes on what was left out or
    mixed: a task's newest record only (a rerun with ``--retry-errors`` appends a task's new record after its
    error, and both were counted), and a note for each label that covers several configurations (different
    parameters, time limits, options or weights appended to one results file were merged into one row)."""
    latest: dict[str, dict[str, Any]] = {}
    order: list[Any] = []
    for records in files:
        for record in records:
            key = record.get("task")
            if key is None:  # not from bench: kept as it is
                order.append(record)
                continue
            if key not in latest:
                order.append(key)
            latest[key] = record
    kept = [latest[item] if isinstance(item, str) else item for item in order]
    notes = []
    superseded = sum(len(records) for records in files) - len(kept)
    if superseded:
        notes.append(f"{superseded} record{'s' if superseded != 1 else ''} of tasks that have a later record "
                     "(a rerun) left out: each task counts once, with its latest record")
    configs: dict[str, set[str]] = defaultdict(set)
    for record in kept:
        if record.get("config"):
            configs[str(record.get("label") or record.get("solver"))].add(record["config"])
    for label, seen in sorted(configs.items()):
        if len(seen) > 1:
            notes.append(f"label {label!r} covers {len(seen)} configurations (parameters, time limits, options or "
                         "weights differ), reported as one row: give each its own label in the suite, or report "
                         "their files apart")
    return kept, notes


NUMBER_FIELDS = ("objective", "gap", "reference", "absolute_gap", "wall_time_s")
"""Fields a report computes with: each a finite number or null (``wall_time_s`` also not negative)."""

TEXT_FIELDS = ("status", "instance", "solver", "label", "problem", "kind")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _bad_field(record: dict[str, Any]) -> str | None:
    """What makes ``record`` unusable by the report (a field of the wrong type), or None: a hand-edited or foreign
    record gave an internal error ("'<' not supported between 'float' and 'str'") or entered the table as it was
    (a negative wall time, ``feasible: "yes"``)."""
    for name in NUMBER_FIELDS:
        value = record.get(name)
        if value is not None and not _is_number(value):
            return f"field {name!r} is not a finite number ({json.dumps(value)})"
    if record.get("wall_time_s") is not None and record["wall_time_s"] < 0:
        return f"field 'wall_time_s' is negative ({record['wall_time_s']})"
    for name in TEXT_FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str) or (name == "status" and value is None):
            return f"field {name!r} is not text ({json.dumps(value)})"
    if record.get("feasible") is not None and not isinstance(record["feasible"], bool):
        return f"field 'feasible' is not true or false ({json.dumps(record['feasible'])})"
    info = record.get("info")
    if info is not None and not isinstance(info, dict):
        return "field 'info' is not an object"
    points = (info or {}).get("anytime")
    if points is not None and not (isinstance(points, list) and all(
            isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in points)):
        return "field 'info.anytime' is not a list of [seconds, objective] pairs"
    return None


def _instance_key(record: dict[str, Any]) -> tuple[str, str]:
    """An instance as a proof is about it: its problem and its file (its name where no path was recorded): by name
    alone a CQM's proven -117 was taken as the optimum of a QUBO file of the same name."""
    return str(record.get("problem")), str(record.get("instance_path") or record.get("instance"))


def _file_of(record: dict[str, Any]) -> str:
    """The instance a record is about, for grouping: its file (its name where no path was recorded). By name alone
    two files both named ``rand`` (a generated set) were one row mixing their objectives (best 303, median 13205.5)
    and one instance in the plots."""
    return str(record.get("instance_path") or record.get("instance"))


def _shown_names(records: list[dict[str, Any]]) -> dict[str, str]:
    """Each file's name in the tables: the instance's name, with its file where two files share one."""
    names: dict[str, str] = {}
    for r in records:
        names.setdefault(_file_of(r), str(r.get("instance")))
    shared = {name for name in names.values() if list(names.values()).count(name) > 1}
    return {key: f"{name} ({key})" if name in shared else name for key, name in names.items()}


def proven_optima(records: list[dict[str, Any]], senses: dict[str, str]) -> dict[tuple[str, str], float]:
    """Each instance's objective proven optimal by a solver in ``records`` (status ``optimal``: an exact solver's
    proof), for the instances whose records carry no reference, by :func:`_instance_key`; the best of them where
    several prove one (they agree unless a solver is wrong)."""
    found: dict[tuple[str, str], float] = {}
    for r in records:
        if r.get("status") == "optimal" and r.get("feasible") and r.get("objective") is not None \
                and r.get("reference") is None:
            instance, value = _instance_key(r), float(r["objective"])
            sense = senses.get(str(r.get("problem")), "min")
            old = found.get(instance)
            found[instance] = value if old is None else (min(old, value) if sense == "min" else max(old, value))
    return found


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def summarise(records: list[dict[str, Any]], senses: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """(rows per instance × solver, rows per solver)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(_file_of(r), str(r.get("label") or r.get("solver")))].append(r)
    proven = proven_optima(records, senses)
    shown = _shown_names(records)
    rows = []
    for (file, label), runs in sorted(groups.items(), key=lambda item: (shown[item[0][0]], item[0][1])):
        def known(key: str, runs: list[dict] = runs) -> Any:
            """The first run's value that is not null: an error record (written before the instance was read)
            has no problem, kind or reference, and coming first it blanked the reference and took max-cut's best
            cut for the smallest."""
            return next((r.get(key) for r in runs if r.get(key) is not None), None)

        sense = senses.get(str(known("problem")), "min")
        feasible = [r for r in runs if r.get("feasible")]
        objectives = [r["objective"] for r in feasible if r.get("objective") is not None]
        reference, source = known("reference"), "known"
        keys = {_instance_key(r) for r in runs}
        proofs = {proven[key] for key in keys if key in proven}
        if reference is None and len(keys) == 1 and proofs:  # an exact solver's proof in these results: without
            reference, source = proofs.pop(), "proven"  # it the tables showed no gap where the plot measured 266%
        gaps = [r["gap"] if r.get("gap") is not None else relative_gap(r["objective"], reference, sense)
                for r in feasible if r.get("objective") is not None]
        gaps = [g for g in gaps if g is not None]
        best = (min if sense == "min" else max)(objectives) if objectives else None
        rows.append({
            "instance": shown[file], "file": file, "solver": label, "kind": known("kind"), "runs": len(runs),
            "feasible_rate": len(feasible) / len(runs), "best_objective": best,
            "median_objective": median(objectives) if objectives else None,
            "reference": reference, "reference_source": source if reference is not None else None,
            "best_gap_pct": 100 * min(gaps) if gaps else None,
            "median_gap_pct": 100 * median(gaps) if gaps else None,
            "median_time_s": median(r.get("wall_time_s") or 0.0 for r in runs),
            "errors": sum(r.get("status") in ("error", "timeout") for r in runs),
        })
    by_solver: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_solver[row["solver"]].append(row)
    overall = []
    for label, items in sorted(by_solver.items()):
        gaps = [i["median_gap_pct"] for i in items if i["median_gap_pct"] is not None]
        best = [i["best_gap_pct"] for i in items if i["best_gap_pct"] is not None]
        overall.append({
            "solver": label, "kind": items[0]["kind"], "instances": len(items),
            "runs": sum(i["runs"] for i in items),
            "feasible_rate": sum(i["feasible_rate"] * i["runs"] for i in items) / sum(i["runs"] for i in items),
            "mean_median_gap_pct": sum(gaps) / len(gaps) if gaps else None,
            "mean_best_gap_pct": sum(best) / len(best) if best else None,
            "instances_with_gap": len(gaps),
            "median_time_s": median(i["median_time_s"] for i in items),
            "errors": sum(i["errors"] for i in items),
        })
    return rows, overall


def _cell(text: Any) -> str:
    """Text for a markdown table cell: a ``|`` in a label (``greedy | nn``) split the row."""
    return str(text).replace("|", "\\|")


def render(rows: list[dict], overall: list[dict], fmt: str) -> str:
    if fmt == "csv":  # both tables, as the markdown has them (the per-solver one was left out): one CSV whose
        out = io.StringIO()  # first column says which table a row is of, the other's columns empty
        fields = ["table", *rows[0], *(key for key in overall[0] if key not in rows[0])]
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows({"table": "instance", **r} for r in rows)
        writer.writerows({"table": "solver", **o} for o in overall)
        return out.getvalue()
    lines = ["### Hopfield backends against the baselines", "",
             "| solver | kind | instances | runs | feasible | mean median gap % | mean best gap % | median time s "
             "| errors/timeouts |", "|---|---|---|---|---|---|---|---|---|"]
    partial = False
    for o in overall:
        # a mean over fewer instances than the solver ran says so: a solver that failed its hardest instance
        # looked better than one that answered it (CP-SAT 14.2% over 2 of 3, nug12 left out without a word)
        covered = "" if o["instances_with_gap"] == o["instances"] or o["mean_median_gap_pct"] is None else \
            f" ({o['instances_with_gap']} of {o['instances']})"
        partial = partial or bool(covered)
        lines.append(f"| {_cell(o['solver'])} | {o['kind']} | {o['instances']} | {o['runs']} | "
                     f"{100 * o['feasible_rate']:.0f}% | {_fmt(o['mean_median_gap_pct'], 3)}{covered} | "
                     f"{_fmt(o['mean_best_gap_pct'], 3)}{covered} | {_fmt(o['median_time_s'], 3)} | {o['errors']} |")
    if partial:
        lines += ["", "(k of m): a mean over the k instances where the solver had a feasible answer with a gap, of "
                      "the m it ran"]
    lines += ["", "### Per instance", "",
              "| instance | solver | runs | feasible | best | median | reference | best gap % | median gap % "
              "| median time s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = " *" if r.get("reference_source") == "proven" else ""
        lines.append(f"| {_cell(r['instance'])} | {_cell(r['solver'])} | {r['runs']} | "
                     f"{100 * r['feasible_rate']:.0f}% | "
                     f"{_fmt(r['best_objective'], 8)} | {_fmt(r['median_objective'], 8)} | "
                     f"{_fmt(r['reference'], 8)}{mark} | {_fmt(r['best_gap_pct'], 3)} | "
                     f"{_fmt(r['median_gap_pct'], 3)} | {_fmt(r['median_time_s'], 3)} |")
    if any(r.get("reference_source") == "proven" for r in rows):
        lines += ["", "\\* no known optimum: the optimum a solver proved in these results (status optimal)"]
    return "\n".join(lines) + "\n"


def _curve(record: dict[str, Any]) -> list[tuple[float, float]]:
    """A run's improving ``(seconds, objective)`` points: its anytime trace, else its final result."""
    points = (record.get("info") or {}).get("anytime") or []
    if not points and record.get("feasible") and record.get("objective") is not None:
        points = [[record.get("wall_time_s") or 0.0, record["objective"]]]
    return [(float(t), float(v)) for t, v in points]


def _references(records: list[dict[str, Any]], senses: dict[str, str]) -> dict[str, tuple[float, str]]:
    """Each instance's reference (the known optimum, else the best objective any run reached) and sense."""
    known: dict[str, tuple[float, str]] = {}
    best: dict[str, tuple[float, str]] = {}
    for r in records:
        instance, sense = _file_of(r), senses.get(str(r.get("problem")), "min")
        if r.get("reference") is not None:
            known[instance] = (float(r["reference"]), sense)
        for _, value in _curve(r):
            old = best.get(instance)
            if old is None or (value < old[0] if sense == "min" else value > old[0]):
                best[instance] = (value, sense)
    return {**best, **known}


def _gap(value: float, reference: float, sense: str) -> float:
    worse = value - reference if sense == "min" else reference - value
    return max(0.0, worse / abs(reference)) if reference else (0.0 if worse <= 0 else float("inf"))


def anytime_gaps(records: list[dict[str, Any]], senses: dict[str, str], grid: np.ndarray
                 ) -> dict[str, dict[str, np.ndarray]]:
    """``{solver: {instance: gap at each time of grid}}`` (NaN before a run's first solution; the mean over a
    solver's runs on an instance)."""
    references = _references(records, senses)
    runs: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        instance = _file_of(r)
        if instance not in references:
            continue
        reference, sense = references[instance]
        curve = _curve(r)
        values = np.full(len(grid), np.nan)
        for t, v in curve:
            values[grid >= t] = _gap(v, reference, sense)
        runs[str(r.get("label") or r.get("solver"))][instance].append(values)
    return {solver: {inst: np.mean(np.array(v), axis=0) for inst, v in by_inst.items()}
            for solver, by_inst in runs.items()}


def time_profile(records: list[dict[str, Any]], senses: dict[str, str], target_gap: float
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Dolan & Moré's performance profile on the time to reach ``target_gap``: for ratios τ, the fraction of
    instances a solver reaches the target within τ × the fastest solver's time (∞ where it never does)."""
    references = _references(records, senses)
    first: dict[str, dict[str, float]] = defaultdict(dict)
    solvers = sorted({str(r.get("label") or r.get("solver")) for r in records})
    for r in records:
        instance = _file_of(r)
        if instance not in references:
            continue
        reference, sense = references[instance]
        label = str(r.get("label") or r.get("solver"))
        reached = [t for t, v in _curve(r) if _gap(v, reference, sense) <= target_gap + 1e-12]
        when = min(reached) if reached else float("inf")
        first[label][instance] = min(first[label].get(instance, float("inf")), max(when, 1e-6))
    instances = sorted(references)
    ratios = {s: [] for s in solvers}
    for instance in instances:
        best = min(first[s].get(instance, float("inf")) for s in solvers)
        for s in solvers:
            t = first[s].get(instance, float("inf"))
            ratios[s].append(t / best if np.isfinite(best) and np.isfinite(t) else float("inf"))
    finite = [x for v in ratios.values() for x in v if np.isfinite(x)]
    taus = np.geomspace(1.0, max(2.0, 1.05 * max(finite, default=2.0)), 200)
    return taus, {s: np.array([np.mean(np.array(ratios[s]) <= tau) for tau in taus]) for s in solvers}


def gap_profile(rows: list[dict], references: Mapping[str, tuple[float, str]]
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """For gaps τ (%), the fraction of a solver's instances whose best objective is within τ of the instance's
    reference (:func:`_references`: the known optimum, else the best objective any run reached, as the time
    profile measures; infeasible: never). Without a known optimum the row's own gap is ``None``, which drew every
    solver at 0 on such instances (every third-party, QUBO and CQM instance)."""
    by_solver: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        best, reference = row["best_objective"], references.get(row["file"])
        gap = (float("inf") if best is None or reference is None
               else 100 * _gap(float(best), reference[0], reference[1]))
        by_solver[row["solver"]].append(gap)
    finite = [g for gaps in by_solver.values() for g in gaps if np.isfinite(g)]
    taus = np.linspace(0.0, max(1e-9, max(finite, default=1.0)) * 1.05, 200)
    return taus, {s: np.array([np.mean(np.array(g) <= tau) for tau in taus]) for s, g in sorted(by_solver.items())}


def plot(records: list[dict[str, Any]], rows: list[dict], path: str | Path, senses: dict[str, str] | None = None,
         target_gap: float = 0.01) -> list[Path]:
    """Draw (extra ``plot``) to ``path``: the mean gap against time over all instances (anytime curves), the
    performance profile of the time to reach ``target_gap``, and the profile of the final gaps; and to
    ``NAME-instances.EXT`` each instance's gap against time. Records without anytime curves (bench run without
    ``--trace``) get a panel that says so and no per-instance file. Returns the files written."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'hopsolve[plot]'") from None
    senses = senses or {}
    path = Path(path)
    times = [t for r in records for t, _ in _curve(r)] or [1.0]
    grid = np.geomspace(max(min(times), 1e-3), max(max(times), 1e-2) * 1.01, 300)
    gaps = anytime_gaps(records, senses, grid)
    fig = Figure(figsize=(15, 4.5))
    overall, timing, final = fig.subplots(1, 3)
    # without bench --trace a record keeps only its final point: its "curve" is a flat line at its end, which drew
    # an anytime panel of flat lines over a few milliseconds of axis
    traced = any((r.get("info") or {}).get("anytime") for r in records)
    if not traced:
        overall.set_axis_off()
        overall.text(0.5, 0.5, "no anytime curves in these records:\nrun hopsolve bench with --trace to draw them",
                     ha="center", va="center", transform=overall.transAxes)
    for solver, by_instance in sorted(gaps.items()) if traced else ():
        stacked = np.array(list(by_instance.values()))
        defined = ~np.isnan(stacked).any(axis=0)  # every instance has a solution by then
        mean = np.where(defined, np.nanmean(np.where(np.isnan(stacked), 0, stacked), axis=0), np.nan)
        overall.step(grid, 100 * mean, where="post", label=solver)
    if traced:
        overall.set(xscale="log", xlabel="time (s)", ylabel="mean gap (%)", title="anytime: mean gap over instances")
        overall.legend(fontsize=8)
    taus, profile = time_profile(records, senses, target_gap)
    for solver, values in profile.items():
        timing.step(taus, values, where="post", label=solver)
    timing.set(xscale="log", xlabel="τ (time / fastest solver's time)", ylabel="fraction of instances",
               title=f"performance profile: time to {100 * target_gap:g}% gap", ylim=(0, 1.02))
    timing.legend(fontsize=8)
    gap_taus, gap_values = gap_profile(rows, _references(records, senses))
    for solver, values in gap_values.items():
        final.step(gap_taus, values, where="post", label=solver)
    final.set(xlabel="gap τ (%)", ylabel="fraction of instances", title="profile of the best gap", ylim=(0, 1.02))
    final.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    if not traced:  # each instance's gap against time: nothing to draw
        return [path]
    shown = _shown_names(records)
    instances = sorted({inst for by_instance in gaps.values() for inst in by_instance}, key=lambda f: shown[f])
    columns = int(np.ceil(np.sqrt(len(instances)))) or 1
    rows_needed = int(np.ceil(len(instances) / columns)) or 1
    each = Figure(figsize=(3.2 * columns, 2.6 * rows_needed))
    axes = np.atleast_1d(each.subplots(rows_needed, columns, squeeze=False)).ravel()
    for ax, instance in zip(axes, instances):
        for solver, by_instance in sorted(gaps.items()):
            if instance in by_instance:
                ax.step(grid, 100 * by_instance[instance], where="post", label=solver)
        ax.set(xscale="log", title=shown[instance])
        ax.tick_params(labelsize=7)
    for ax in axes[len(instances):]:
        ax.set_visible(False)
    if instances:
        axes[0].legend(fontsize=6)
    each.supxlabel("time (s)")
    each.supylabel("gap (%)")
    each.tight_layout()
    instances_path = path.with_name(f"{path.stem}-instances{path.suffix}")
    each.savefig(instances_path, dpi=90)
    return [path, instances_path]
