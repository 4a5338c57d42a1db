"""Tour runs at the edges a reviewer met: many reads of the largest TSPs scored after the deadline, limits of
0.05 s, and ``fix_first`` (a pinned tour). Each case is one ``hopsolve solve ... --json`` in its own process (a
user's command; the numba cache warm from an untimed first run of each backend), one after the other; prints a
Markdown row per case: the status, the gap, the solver's ``wall_time_s`` (what the limit covers) and the
process's wall time.

    python benchmarks/tour_run_edges.py [--seeds 1,2,3] [--skip CASE,...]

Run it from the repository root with the package installed (``pip install -e .``), or with
``PYTHONPATH=.:plugins`` for another commit's worktree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CASES = {
    "kroA100-anneal-0.05": ["instances/tsplib/kroA100.tsp", "--time-limit", "0.05"],
    "kroA100-replica-0.05": ["instances/tsplib/kroA100.tsp", "--backend", "replica", "--time-limit", "0.05"],
    "pla85900-replica-1041reads-5": ["instances/tsplib-large/pla85900.tsp", "--backend", "replica", "--reads",
                                     "1041", "--time-limit", "5"],
    "rl11849-anneal-1000reads-5": ["instances/tsplib-large/rl11849.tsp", "--reads", "1000", "--time-limit", "5"],
    "berlin52-fix_first-anneal": ["instances/tsplib/berlin52.tsp", "--option", "fix_first=true"],
    "berlin52-fix_first-replica": ["instances/tsplib/berlin52.tsp", "--option", "fix_first=true", "--backend",
                                   "replica"],
    "a280-fix_first-replica-5": ["instances/tsplib/a280.tsp", "--option", "fix_first=true", "--backend", "replica",
                                 "--time-limit", "5"],
    "pla85900-fix_first-anneal-10": ["instances/tsplib-large/pla85900.tsp", "--option", "fix_first=true",
                                     "--time-limit", "10"],
}


def _run(args: list[str], seed: int) -> str:
    command = [sys.executable, "-m", "hopsolve.cli", "solve", *args, "--seed", str(seed), "--json"]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    process = time.perf_counter() - began
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return f"exit {done.returncode}: {last[:100]} | | {process:.2f}"
    result = json.loads(done.stdout)
    gap = result.get("gap")
    gap_text = f"{100 * gap:.2f}%" if gap is not None else "–"
    return f"{result['status']} | {gap_text} | {result['wall_time_s']:.3f} | {process:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--skip", default="")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    for backend in ("anneal", "replica"):  # compile or load the kernels once, untimed
        subprocess.run([sys.executable, "-m", "hopsolve.cli", "solve", "instances/tsplib/burma14.tsp", "--backend",
                        backend, "--param", "sweeps=100"], capture_output=True)
    print("| case | seed | status | gap | solver s | process s |")
    print("|---|---|---|---|---|---|")
    for name, case in CASES.items():
        if name in skip:
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            print(f"| {name} | {seed} | {_run(case, seed)} |", flush=True)


if __name__ == "__main__":
    main()
