"""The large Gset graphs at a time limit: hopsolve's max-cut default against dwave-samplers given the same wall time.

For every instance of the suite (default ``benchmarks/suites/gset_large.toml``, G55–G81 at 60 s), one after the
other on the same machine:

- **hopsolve**: what ``hopsolve solve G.txt --time-limit T --seed S`` runs (the maxcut default, ``replica`` with
  annealed ladders and the anytime rule), through the library, compile time excluded as the CLI excludes it;
- **dwave-samplers** ``SimulatedAnnealingSampler`` (single-threaded C++, its own default β range), given the same
  wall time: its pace is timed first (four reads, doubling their sweeps until a run takes 0.5 s; then a
  quarter-length run of the plan this pace gives, since a short anneal spends more of its sweeps hot; neither is
  counted), then the same rule as ours, :func:`hopsolve.backends.replica.plan_anytime`, turns the limit into
  reads × sweeps; its wall time is that of the final ``sample_ising`` call;
- optionally (``--cpsat``) OR-Tools CP-SAT through ``hopsolve solve --baseline ortools-cpsat`` at the same limit
  (it refuses graphs of over 20,000 edges; recorded as refused).

    python benchmarks/bench_gset_large.py --out benchmarks/out/gset_large.jsonl [--suite S.toml]
        [--time-limit T] [--seed S] [--only G62,G81] [--cpsat]

Each finished run is appended to ``--out`` (JSONL); rerunning resumes. The Markdown table of every record in
``--out`` is printed at the end. Needs the ``bench`` extra (dwave-samplers).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np
import tomllib

from hopsolve import UserError, build_registry
from hopsolve.backends.replica import SPARSE_DEGREE, ReplicaParams, plan_anytime
from hopsolve.solving import solve_path

ROOT = Path(__file__).resolve().parents[1]
with (ROOT / "instances" / "gset" / "bks.csv").open(newline="") as _table:
    KIND = {row["name"]: row["type"] for row in csv.DictReader(_table)}  # random, planar or toroidal
TOROIDAL = {name for name, kind in KIND.items() if kind == "toroidal"}


def instances(suite: Path) -> tuple[list[Path], float]:
    config = tomllib.loads(suite.read_text())
    return [(suite.parent / p).resolve() for p in config["instances"]], float(config["time_limit"])


def ours(registry, path: Path, limit: float, seed: int) -> dict:
    result, _, _ = solve_path(registry, path, time_limit=limit, seed=seed)
    return {"solver": "hopsolve default", "cut": result.objective, "gap": result.gap, "wall_s": result.wall_time_s,
            "reads": result.reads, "sweeps": result.params.get("sweeps"),
            "sweeps_done": result.info.get("sweeps_done"), "backend": result.solver,
            "recombination": result.info.get("recombination")}


def peer(graph, limit: float, seed: int) -> dict:
    from dwave.samplers import SimulatedAnnealingSampler

    sampler = SimulatedAnnealingSampler()
    j = {(int(a), int(b)): float(w) for a, b, w in zip(graph.heads, graph.tails, graph.weights)}
    h = dict.fromkeys(range(graph.n), 0.0)
    sweeps = 16
    while True:
        began = time.perf_counter()
        sampler.sample_ising(h, j, num_reads=4, num_sweeps=sweeps, seed=seed)
        spent = time.perf_counter() - began
        if spent >= 0.5:
            break
        sweeps *= 2
    # a short anneal spends more of its sweeps hot (more accepted flips) than a long one: time a quarter-length
    # run of the plan, and plan again from that pace
    dense = 2 * len(graph.weights) > SPARSE_DEGREE * graph.n  # as replica decides (none of G55-G81 is)
    reads, planned = plan_anytime(spent / (4 * sweeps), limit, 1, ReplicaParams(), units=graph.n, dense=dense)
    began = time.perf_counter()
    sampler.sample_ising(h, j, num_reads=reads, num_sweeps=max(1, planned // 4), seed=seed)
    pace = (time.perf_counter() - began) / (reads * max(1, planned // 4))
    reads, planned = plan_anytime(pace, limit, 1, ReplicaParams(), units=graph.n, dense=dense)
    began = time.perf_counter()
    samples = sampler.sample_ising(h, j, num_reads=reads, num_sweeps=planned, seed=seed)
    wall = time.perf_counter() - began
    states = samples.record.sample
    cuts = (states[:, graph.heads] != states[:, graph.tails]) @ graph.weights
    return {"solver": "dwave-samplers", "cut": float(cuts.max()), "wall_s": wall, "reads": reads, "sweeps": planned}


def cpsat(registry, path: Path, limit: float, seed: int) -> dict:
    try:
        result, _, _ = solve_path(registry, path, baseline="ortools-cpsat", time_limit=limit, seed=seed)
    except UserError as exc:  # the baseline refuses graphs over its edge limit
        return {"solver": "ortools-cpsat", "cut": None, "gap": None, "wall_s": 0.0, "status": f"refused: {exc}"}
    return {"solver": "ortools-cpsat", "cut": result.objective, "gap": result.gap, "wall_s": result.wall_time_s,
            "status": result.status}


def table(records: list[dict]) -> str:
    by = {}
    for r in records:
        by.setdefault(r["instance"], {})[r["solver"]] = r
    solvers = ["hopsolve default", "dwave-samplers", "ortools-cpsat"]
    present = [s for s in solvers if any(s in v for v in by.values())]
    head = "| instance | kind | n | best known | " + " | ".join(
        f"{s} cut | gap % | reads × sweeps | wall s" if s != "ortools-cpsat" else f"{s} cut | gap % | wall s"
        for s in present) + " |"
    lines = [head, "|" + "---|" * (4 + sum(4 if s != "ortools-cpsat" else 3 for s in present))]
    for name in sorted(by, key=lambda s: int(s[1:])):
        runs = by[name]
        first = next(iter(runs.values()))
        cells = [name, KIND.get(name, first["kind"]), str(first["n"]), f"{first['bks']:g}"]
        for s in present:
            r = runs.get(s)
            if r is None or r["cut"] is None:
                cells += ["—"] * (4 if s != "ortools-cpsat" else 3)
                continue
            gap = 100 * (first["bks"] - r["cut"]) / first["bks"]
            cells += [f"{r['cut']:g}", f"{gap:.3f}"]
            if s != "ortools-cpsat":
                cells.append(f"{r['reads']} × {r['sweeps']:,}")
            cells.append(f"{r['wall_s']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    for group, names in (("G55–G61, G63, G64, G70 (random and planar)", [n for n in by if n not in TOROIDAL]),
                         ("toroidal G57, G62, G65–G67, G72, G77, G81", [n for n in by if n in TOROIDAL])):
        parts = []
        for s in present:
            gaps = [100 * (by[n][s]["bks"] - by[n][s]["cut"]) / by[n][s]["bks"] for n in names
                    if s in by[n] and by[n][s]["cut"] is not None]
            if gaps:
                parts.append(f"{s} mean gap {np.mean(gaps):.3f}% over {len(gaps)}")
        wins = sum(by[n]["hopsolve default"]["cut"] >= by[n]["dwave-samplers"]["cut"] for n in names
                   if "hopsolve default" in by[n] and "dwave-samplers" in by[n])
        both = sum("hopsolve default" in by[n] and "dwave-samplers" in by[n] for n in names)
        lines.append(f"\n{group}: " + "; ".join(parts) + f"; hopsolve ≥ dwave-samplers on {wins} of {both}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "benchmarks" / "suites" / "gset_large.toml")
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="")
    parser.add_argument("--cpsat", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    paths, suite_limit = instances(args.suite)
    limit = args.time_limit or suite_limit
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    registry = build_registry()
    problem = registry.problem("maxcut")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.out.exists():
        done = {(r["instance"], r["solver"]) for r in map(json.loads, args.out.read_text().splitlines())}
    print(f"machine: {platform.machine()}, {platform.python_version()}, limit {limit:g} s, seed {args.seed}")
    for path in paths:
        if only and path.stem not in only:
            continue
        instance = problem.read(path)
        graph = instance.data
        base = {"instance": path.stem, "n": graph.n, "bks": instance.reference, "limit": limit, "seed": args.seed,
                "kind": KIND.get(path.stem, "?")}
        for name in ("hopsolve default", "dwave-samplers", "ortools-cpsat"):
            if (path.stem, name) in done or (name == "ortools-cpsat" and not args.cpsat):
                continue
            if name == "hopsolve default":
                outcome = ours(registry, path, limit, args.seed)
            elif name == "dwave-samplers":
                outcome = peer(graph, limit, args.seed)
            else:
                outcome = cpsat(registry, path, limit, args.seed)
            record = {**base, **outcome}
            print(json.dumps(record), flush=True)
            with args.out.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
    print(table([json.loads(line) for line in args.out.read_text().splitlines()]))


if __name__ == "__main__":
    main()
