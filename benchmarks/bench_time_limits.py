"""Time limits kept: every shipped instance through ``hopsolve solve FILE --backend B --time-limit T``, one process
each, and how far past ``T`` it ran.

    python benchmarks/bench_time_limits.py --backends tank --time-limit 1 [--folders tsplib,gset,...]
        [--only G81,pr1002,...] [--out benchmarks/out/time_limits.jsonl]
    python benchmarks/bench_time_limits.py --report A.jsonl B.jsonl ...   # the summary of runs already made

The limit covers reading and encoding, not compiling or loading the kernels (``info['compile_s']``) nor the
interpreter's start-up and imports. So for each run the script reports the time the limit governs, the result's
``wall_time_s`` (which counts from reading the file since commit ``38904b6``, 2026-11-28; until the twenty-fourth
session this script still added ``read_time_s`` to it, counting the read twice), its overrun ``max(0, that − T) /
T``, and the whole process's wall time beside it. A run the size checks refuse before any work (exit 2, one line) is
listed as refused with its message; any other exit, or a process still running at ``10·T + 120`` s, is a failure.
Prints a Markdown summary per backend and folder and the worst runs; appends one JSON line per run to ``--out`` (a
rerun skips what is there).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
SUFFIXES = {".tsp", ".txt", ".dat", ".qubo", ".patterns", ".lp"}
TOLERANCE = 0.05
PROBLEM_OF_FOLDER = {"orlib-assign": "assignment"}  # .txt is max-cut's suffix too


def shipped(folders: list[str]) -> list[Path]:
    """Every instance file under ``instances/<folder>`` (tables of optima, tours and READMEs left out)."""
    paths = []
    for folder in folders:
        for path in sorted((INSTANCES / folder).iterdir()):
            if path.suffix in SUFFIXES and path.name.lower() != "readme.txt":
                paths.append(path)
    return paths


def run_one(path: Path, backend: str, limit: float, seed: int) -> dict:
    command = [sys.executable, "-m", "hopsolve", "solve", str(path), "--backend", backend, "--time-limit", str(limit),
               "--seed", str(seed), "--json"]
    if path.parent.name in PROBLEM_OF_FOLDER:
        command += ["--problem", PROBLEM_OF_FOLDER[path.parent.name]]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10 * limit + 120)
    except subprocess.TimeoutExpired:
        return {"outcome": "hung", "process_s": time.perf_counter() - started}
    process_s = time.perf_counter() - started
    if done.returncode == 2:
        return {"outcome": "refused", "message": done.stderr.strip().splitlines()[-1][:200], "process_s": process_s}
    if done.returncode != 0:
        return {"outcome": f"exit {done.returncode}", "message": done.stderr.strip()[-300:], "process_s": process_s}
    result = json.loads(done.stdout)
    info = result["info"]
    governed = result["wall_time_s"]  # reading included (the clock starts before the file is read)
    return {"outcome": "ran", "status": result["status"], "governed_s": governed,
            "overrun": max(0.0, governed - limit) / limit, "compile_s": info.get("compile_s"),
            "process_s": process_s, "timed_out": info.get("timed_out")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tank")
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--folders", default="tsplib,tsplib-large,gset,qaplib,orlib-assign,qubo,memory,cqm")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="comma-separated instance names (file stems) to run, e.g. G81,pr1002")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "time_limits.jsonl")
    parser.add_argument("--report", type=Path, nargs="+",
                        help="only print the summary of these JSONL files (a later line for the same backend, "
                             "instance and limit replaces an earlier one, e.g. a rerun after a fix)")
    args = parser.parse_args(argv)
    if args.report:
        merged: dict[tuple, dict] = {}
        for path in args.report:
            for line in path.read_text().splitlines():
                row = json.loads(line)
                merged[row["backend"], row["instance"], row["limit"]] = row
        report(list(merged.values()))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    seen = {}
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            seen[row["backend"], row["instance"], row["limit"]] = row
    rows = []
    for backend in args.backends.split(","):
        for path in shipped(args.folders.split(",")):
            if args.only and path.stem not in args.only.split(","):
                continue
            key = (backend, str(path.relative_to(ROOT)), args.time_limit)
            if key not in seen:
                row = {"backend": backend, "instance": key[1], "limit": args.time_limit,
                       **run_one(path, backend, args.time_limit, args.seed)}
                with args.out.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                seen[key] = row
                print(f"{backend} {path.name}: {row['outcome']} "
                      f"{row.get('governed_s', float('nan')):.3f} s (process {row['process_s']:.1f} s)", flush=True)
            rows.append(seen[key])
    report(rows)
    return 0


def _median(values: list[float]) -> str:
    return f"{values[len(values) // 2]:.2f}" if values else "–"


def report(rows: list[dict]) -> None:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["backend"], row["instance"].split("/")[1]].append(row)
    print("\n| backend | folder | runs | ran | refused (size) | failed | within 5% | worst overrun | median governed s "
          "| median process s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (backend, folder), group in sorted(groups.items()):
        ran = [r for r in group if r["outcome"] == "ran"]
        refused = sum(r["outcome"] == "refused" for r in group)
        failed = len(group) - len(ran) - refused
        within = sum(r["overrun"] <= TOLERANCE for r in ran)
        worst = max((r["overrun"] for r in ran), default=0.0)
        governed = sorted(r["governed_s"] for r in ran)
        process = sorted(r["process_s"] for r in ran)
        print(f"| {backend} | {folder} | {len(group)} | {len(ran)} | {refused} | {failed} | {within}/{len(ran)} | "
              f"{100 * worst:.1f}% | {_median(governed)} | {_median(process)} |")
    worst_runs = sorted((r for r in rows if r["outcome"] == "ran"), key=lambda r: -r["overrun"])[:5]
    print("\nWorst runs: " + "; ".join(f"{r['backend']} {Path(r['instance']).name} {r['governed_s']:.3f} s"
                                       for r in worst_runs))
    for row in rows:
        if row["outcome"] not in ("ran", "refused"):
            print(f"FAILED {row['backend']} {row['instance']}: {row['outcome']} {row.get('message', '')}")


if __name__ == "__main__":
    raise SystemExit(main())
