"""Summaries of a results file: per instance × solver, and each solver over all instances."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any

from hopsolve.errors import UserError


def load_records(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise UserError("no such results file", path=path)
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise UserError("not a JSON line", path=path, line=number) from None
        if not isinstance(record, dict) or "status" not in record:
            raise UserError("not a hopsolve result record", path=path, line=number)
        records.append(record)
    if not records:
        raise UserError("no results in the file", path=path)
    return records


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
        groups[(str(r.get("instance")), str(r.get("label") or r.get("solver")))].append(r)
    rows = []
    for (instance, label), runs in sorted(groups.items()):
        sense = senses.get(str(runs[0].get("problem")), "min")
        feasible = [r for r in runs if r.get("feasible")]
        objectives = [r["objective"] for r in feasible if r.get("objective") is not None]
        gaps = [r["gap"] for r in feasible if r.get("gap") is not None]
        best = (min if sense == "min" else max)(objectives) if objectives else None
        rows.append({
            "instance": instance, "solver": label, "kind": runs[0].get("kind"), "runs": len(runs),
            "feasible_rate": len(feasible) / len(runs), "best_objective": best,
            "median_objective": median(objectives) if objectives else None,
            "reference": runs[0].get("reference"), "best_gap_pct": 100 * min(gaps) if gaps else None,
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


def render(rows: list[dict], overall: list[dict], fmt: str) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    lines = ["### Hopfield backends against the baselines", "",
             "| solver | kind | instances | runs | feasible | mean median gap % | mean best gap % | median time s "
             "| errors/timeouts |", "|---|---|---|---|---|---|---|---|---|"]
    for o in overall:
        lines.append(f"| {o['solver']} | {o['kind']} | {o['instances']} | {o['runs']} | "
                     f"{100 * o['feasible_rate']:.0f}% | {_fmt(o['mean_median_gap_pct'], 3)} | "
                     f"{_fmt(o['mean_best_gap_pct'], 3)} | {_fmt(o['median_time_s'], 3)} | {o['errors']} |")
    lines += ["", "### Per instance", "",
              "| instance | solver | runs | feasible | best | median | reference | best gap % | median gap % "
              "| median time s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['instance']} | {r['solver']} | {r['runs']} | {100 * r['feasible_rate']:.0f}% | "
                     f"{_fmt(r['best_objective'], 8)} | {_fmt(r['median_objective'], 8)} | "
                     f"{_fmt(r['reference'], 8)} | {_fmt(r['best_gap_pct'], 3)} | {_fmt(r['median_gap_pct'], 3)} | "
                     f"{_fmt(r['median_time_s'], 3)} |")
    return "\n".join(lines) + "\n"


def plot(records: list[dict[str, Any]], rows: list[dict], path: str | Path) -> None:
    """Gap against time for every run, and the feasibility rate of every solver (extra ``plot``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'hopsolve[plot]'") from None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = sorted({str(r.get("label") or r.get("solver")) for r in records})
    for label in labels:
        pts = [(r["wall_time_s"], 100 * r["gap"]) for r in records
               if (r.get("label") or r.get("solver")) == label and r.get("gap") is not None]
        if pts:
            xs, ys = zip(*pts)
            left.scatter(xs, ys, label=label, s=14)
    left.set_xlabel("wall time (s)")
    left.set_ylabel("gap to reference (%)")
    left.set_title("gap against time")
    left.legend(fontsize=8)
    rates = defaultdict(list)
    for row in rows:
        rates[row["solver"]].append(row["feasible_rate"])
    right.bar(list(rates), [100 * sum(v) / len(v) for v in rates.values()], color="tab:green")
    right.set_ylabel("feasible runs (%)")
    right.set_title("feasibility rate")
    right.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
