"""Held-out check of the max-cut anytime rule: reads of ``anytime_sweeps`` sweeps each, compared at one time limit.

Gset's G55–G81 are the graphs the issue's targets are measured on, so a default chosen on them would be tuned to
the test. This script makes graphs of the same families that are *not* Gset (rudy-like, fixed seeds): ±1 toroidal
grids and sparse random graphs with unit or ±1 weights, writes them in Gset's format under ``--folder``, and runs
``hopsolve solve G.txt --time-limit T --seed S --param anytime_sweeps=X`` for each value of ``--sweeps`` (or with
each of the parameter sets of ``--settings``, ``;`` between sets, ``,`` between a set's ``key=value`` pairs), the
settings alternating per graph and seed so that each meets the same load.

    python benchmarks/maxcut_heldout_ab.py --sweeps 20000,100000 --time-limit 60 --seeds 1 \
        --out benchmarks/out/maxcut_heldout_ab.jsonl
    python benchmarks/maxcut_heldout_ab.py --settings "cold_end=unit;cold_end=model" --graphs torus100x100,sparse10000 \
        --time-limit 60 --seeds 3 --out benchmarks/out/maxcut_heldout_cold.jsonl

Appends one JSON line per run to ``--out`` (a rerun skips what is there) and prints the cut of each setting per
graph, with its reads × sweeps, and how often each setting was best.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from hopsolve import build_registry
from hopsolve.solving import solve_path

ROOT = Path(__file__).resolve().parents[1]

# name: (kind, shape, edges or None, weights, seed); no Gset graph has these sizes and seeds
GRAPHS = {
    "torus80x100": ("torus", (80, 100), None, "pm1", 101),
    "torus100x100": ("torus", (100, 100), None, "pm1", 102),
    "random6000": ("random", (6000,), 15000, "one", 103),
    "random8000pm": ("random", (8000,), 20000, "pm1", 104),
    "sparse10000": ("random", (10000,), 10000, "one", 105),  # mean degree 2, as G70
    "random2000pm": ("random", (2000,), 20000, "pm1", 106),  # as G27–G31
    "torus40x50": ("torus", (40, 50), None, "pm1", 107),  # as G32–G34 (2000 nodes)
    "random2000": ("random", (2000,), 19990, "one", 108),  # as G22–G26
    "random800": ("random", (800,), 19176, "one", 109),  # as G1–G5
    "torus20x40": ("torus", (20, 40), None, "pm1", 110),  # as G11–G13 (800 nodes)
    "torus27x110one": ("torus", (27, 110), None, "one", 111),  # as G48–G50: unit weights, an odd side (optimum 5830)
    "random1000": ("random", (1000,), 9990, "one", 112),  # as G43–G47
    "random800pm": ("random", (800,), 19176, "pm1", 113),  # as G6–G10
    "torus30x100one": ("torus", (30, 100), None, "one", 114),  # as G48–G49: unit weights, both sides even (6000)
    "random2000b": ("random", (2000,), 19990, "one", 115),  # more of G22–G26's family
    "random2000c": ("random", (2000,), 19990, "one", 116),
    "random2000pmb": ("random", (2000,), 20000, "pm1", 117),  # more of G27–G31's family
    "random2000pmc": ("random", (2000,), 20000, "pm1", 118),
    # Gset's "planar" graphs are rudy's union of two planar graphs (mean degree about 12): two Delaunay
    # triangulations of independent random points on the same nodes, merged
    "planar800": ("planar", (800,), None, "one", 119),  # as G14–G17
    "planar1000": ("planar", (1000,), None, "one", 120),  # as G51–G54
    "planar800pm": ("planar", (800,), None, "pm1", 121),  # as G18–G21
    "planar2000": ("planar", (2000,), None, "one", 122),  # as G35–G38
    "planar2000pm": ("planar", (2000,), None, "pm1", 123),  # as G39–G42
}


def make_graph(kind: str, shape: tuple[int, ...], edges: int | None, weights: str, seed: int) -> str:
    """The graph in Gset's text form (``n m`` then ``i j w`` lines, 1-based)."""
    rng = np.random.default_rng(seed)
    if kind == "torus":
        rows, cols = shape
        n = rows * cols
        index = np.arange(n).reshape(rows, cols)
        heads = np.concatenate([index.ravel(), index.ravel()])
        tails = np.concatenate([np.roll(index, -1, axis=1).ravel(), np.roll(index, -1, axis=0).ravel()])
    elif kind == "planar":
        from scipy.spatial import Delaunay

        n = shape[0]
        pairs = set()
        for _ in range(2):
            for simplex in Delaunay(rng.random((n, 2))).simplices:
                for a, b in ((0, 1), (1, 2), (0, 2)):
                    u, v = int(simplex[a]), int(simplex[b])
                    pairs.add((min(u, v), max(u, v)))
        heads, tails = np.array(sorted(pairs)).T
    else:
        n = shape[0]
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < edges:
            a, b = (int(x) for x in rng.integers(0, n, 2))
            if a != b:
                pairs.add((min(a, b), max(a, b)))
        heads, tails = np.array(sorted(pairs)).T
    w = rng.choice([-1, 1], size=len(heads)) if weights == "pm1" else np.ones(len(heads), dtype=int)
    lines = [f"{n} {len(heads)}"] + [f"{a + 1} {b + 1} {c}" for a, b, c in zip(heads, tails, w)]
    return "\n".join(lines) + "\n"


def _label(row: dict) -> str:
    """A row's setting (rows written before ``--settings`` existed carry only ``anytime_sweeps``)."""
    return row.get("setting") or f"anytime_sweeps={row['anytime_sweeps']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", default="20000,100000")
    parser.add_argument("--settings", default=None,
                        help="parameter sets to compare, e.g. 'cold_end=unit;cold_end=model' (instead of --sweeps)")
    parser.add_argument("--graphs", default=",".join(list(GRAPHS)[:4]), help="comma-separated names of GRAPHS")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=ROOT / "benchmarks" / "out" / "heldout")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "maxcut_heldout_ab.jsonl")
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    seen = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            seen.add((row["graph"], _label(row), row["seed"], row["limit"]))
    registry = build_registry()
    if args.settings:
        settings = [s.strip() for s in args.settings.split(";") if s.strip()]
    else:
        settings = [f"anytime_sweeps={int(x)}" for x in args.sweeps.split(",")]
    graphs = [g.strip() for g in args.graphs.split(",") if g.strip()]
    unknown = [g for g in graphs if g not in GRAPHS]
    if unknown:
        parser.error(f"--graphs: unknown {', '.join(unknown)} (choose from {', '.join(GRAPHS)})")
    for name in graphs:
        spec = GRAPHS[name]
        path = args.folder / f"{name}.txt"
        if not path.exists():
            path.write_text(make_graph(*spec))
        for seed in range(1, args.seeds + 1):
            order = settings if seed % 2 else settings[::-1]
            for setting in order:
                if (name, setting, seed, args.time_limit) in seen:
                    continue
                params = dict(pair.split("=", 1) for pair in setting.split(","))
                result, _, _ = solve_path(registry, path, time_limit=args.time_limit, seed=seed, params=params)
                row = {"graph": name, "setting": setting, "seed": seed, "limit": args.time_limit,
                       "cut": result.objective, "reads": result.reads, "sweeps": result.params.get("sweeps"),
                       "wall_s": result.wall_time_s, "load": os.getloadavg()[0],
                       "recombination": result.info.get("recombination")}
                with args.out.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in args.out.read_text().splitlines()]
    rows = [r for r in rows if r["limit"] == args.time_limit and _label(r) in settings]
    wins = dict.fromkeys(settings, 0)
    print(f"\n| graph | seed | {' | '.join(settings)} |")
    print("|---|---|" + "---|" * len(settings))
    for name in graphs:
        for seed in range(1, args.seeds + 1):
            cells = {_label(r): r for r in rows if r["graph"] == name and r["seed"] == seed}
            if len(cells) < len(settings):
                continue
            top = max(c["cut"] for c in cells.values())
            for s in settings:
                wins[s] += cells[s]["cut"] == top
            print(f"| {name} | {seed} | " + " | ".join(
                f"{cells[s]['cut']:g} ({cells[s]['reads']} × {cells[s]['sweeps']:,})" for s in settings) + " |")
    print("\nbest (ties count for both): " + ", ".join(f"{s}: {wins[s]}" for s in settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
