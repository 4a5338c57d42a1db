"""TSPLIB at real sizes: hopsolve's default (anneal on the tour energy) against OR-Tools routing (guided local
search, same time limit) and LKH-3 through ``elkai`` (the ``bench`` extra; non-commercial licence, reference
only), each in its own process with peak RSS from ``/usr/bin/time -v``.

    python benchmarks/bench_tsp_large.py --time-limit 60 pr1002 d1291 ... [--peers ortools,elkai] [--seed 1]

Instances are looked up in ``instances/tsplib`` and ``instances/tsplib-large``. hopsolve and OR-Tools run through
the CLI (``hopsolve solve FILE --time-limit T`` and ``--baseline ortools-routing``): the limit covers reading and
encoding. elkai has no time limit: it runs LKH-3 with ``runs=1`` and its time is reported as it is; its tour is
scored by hopsolve's TSPLIB distances. Prints a Markdown table and appends JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = (ROOT / "instances" / "tsplib", ROOT / "instances" / "tsplib-large")

ELKAI_SCRIPT = """
import sys, time, json, numpy as np, elkai
from hopsolve_tsp.tsplib import read_tsplib
inst = read_tsplib(sys.argv[1])
start = time.perf_counter()
# LKH-3 on the exact TSPLIB distances (elkai takes an integer matrix: n² memory, so large n is out of its reach)
tour = elkai.DistanceMatrix(inst.distances.tolist()).solve_tsp(runs=1)
wall = time.perf_counter() - start
tour = np.array(tour[:-1] if tour[0] == tour[-1] and len(tour) > inst.dimension else tour)
print(json.dumps({"objective": int(inst.tour_length(tour)), "wall_time_s": wall}))
"""


def find(name: str) -> Path:
    for folder in FOLDERS:
        path = folder / f"{name}.tsp"
        if path.exists():
            return path
    raise SystemExit(f"no instance {name}")


def timed(command: list[str], timeout: float) -> tuple[dict | None, float, float, str]:
    """(JSON printed, wall seconds, peak RSS MB, stderr tail) of one process under /usr/bin/time -v."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as log:
        started = time.perf_counter()
        try:
            run = subprocess.run(["/usr/bin/time", "-v", "-o", log.name, *command], capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, time.perf_counter() - started, float("nan"), "timed out"
        wall = time.perf_counter() - started
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", Path(log.name).read_text())
        peak = int(rss.group(1)) / 1024 if rss else float("nan")
    try:
        return json.loads(run.stdout), wall, peak, run.stderr[-300:]
    except json.JSONDecodeError:
        return None, wall, peak, run.stderr[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instances", nargs="+")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peers", default="ortools,elkai", help="comma list of ortools, elkai (or empty)")
    parser.add_argument("--elkai-max-cities", type=int, default=6000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "tsp_large.jsonl")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    hopsolve = [sys.executable, "-m", "hopsolve.cli", "solve"]
    print("| instance | n | optimum | solver | length | gap | wall s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.instances:
        path = find(name)
        runs = [("hopsolve anneal", [*hopsolve, str(path), "--time-limit", str(args.time_limit), "--seed",
                                     str(args.seed), "--json"])]
        if "ortools" in peers:
            runs.append(("ortools-routing (GLS)", [*hopsolve, str(path), "--baseline", "ortools-routing",
                                                   "--time-limit", str(args.time_limit), "--json"]))
        for label, command in runs:
            record, wall, peak, err = timed(command, 3 * args.time_limit + 600)
            emit(args, name, label, record, wall, peak, err)
        if "elkai" in peers:
            n = int(re.search(r"DIMENSION\s*:\s*(\d+)", path.read_text()).group(1))
            if n > args.elkai_max_cities:
                print(f"| {name} | {n} | | LKH-3 (elkai) | not run (n > {args.elkai_max_cities}) | | | |")
                continue
            record, wall, peak, err = timed([sys.executable, "-c", ELKAI_SCRIPT, str(path)], 3600)
            emit(args, name, "LKH-3 (elkai, runs=1)", record, wall, peak, err)


def emit(args, name, label, record, wall, peak, err) -> None:
    from hopsolve_tsp.tsplib import read_tsplib

    from hopsolve import build_registry

    path = find(name)
    instance = build_registry().problem("tsp").read(path)
    reference = instance.reference
    n = read_tsplib(path).dimension
    if record is None:
        print(f"| {name} | {n} | {reference:.0f} | {label} | failed: {err.strip()[-80:]} | | {wall:.1f} | {peak:.0f} |")
        return
    objective = record["objective"]
    gap = (objective - reference) / reference if reference else float("nan")
    print(f"| {name} | {n} | {reference:.0f} | {label} | {objective:.0f} | {100 * gap:.2f}% | {wall:.1f} | "
          f"{peak:.0f} |", flush=True)
    with args.out.open("a") as out:
        out.write(json.dumps({"instance": name, "n": n, "solver": label, "objective": objective, "gap": gap,
                              "wall_s": wall, "peak_rss_mb": peak, "time_limit": args.time_limit,
                              "seed": args.seed}) + "\n")


if __name__ == "__main__":
    main()
