"""Throughput and quality of ``anneal`` against dwave-samplers' SimulatedAnnealingSampler, same models, same run.

Models: a random max-cut graph with 800 nodes and 19,176 unit edges (the size of Gset G1) and a dense
1000-variable QUBO with U(-1, 1) weights. Both samplers do 10 reads × 1000 sweeps with the same β range (the
peer's default range, computed by the peer) so the comparison is per update and per cut, not per schedule.

    python benchmarks/bench_anneal_speed.py [--reads 10] [--sweeps 1000] [--repeats 3]

Needs the ``bench`` extra (``pip install -e '.[bench]'``). Prints a Markdown table; paste it into RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import networkx as nx
import numpy as np
import scipy.sparse as sp

from hopsolve import Energy
from hopsolve.backends.anneal import AnnealBackend, AnnealParams


def maxcut_graph(seed: int = 1, nodes: int = 800, edges: int = 19176) -> nx.Graph:
    return nx.gnm_random_graph(nodes, edges, seed=seed)


def maxcut_energy(graph: nx.Graph) -> Energy:
    """Ising energy whose minimum is the max cut: J_ij = +1 on edges (dimod form), i.e. W = -1."""
    n = graph.number_of_nodes()
    rows, cols = zip(*graph.edges())
    w = sp.coo_matrix((np.full(len(rows), -1.0), (rows, cols)), shape=(n, n))
    return Energy.from_hopfield((w + w.T).tocsr(), np.zeros(n), 0.0, "spin")


def cut_values(graph: nx.Graph, states: np.ndarray) -> np.ndarray:
    edges = np.array(graph.edges())
    return (states[:, edges[:, 0]] != states[:, edges[:, 1]]).sum(axis=1)


def dense_qubo(n: int = 1000, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.triu(rng.uniform(-1, 1, (n, n)))


def time_call(fn, repeats: int):
    best = None
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t
        best = elapsed if best is None else min(best, elapsed)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=10)
    parser.add_argument("--sweeps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality-seeds", type=int, default=10, help="seeds for the quality comparison")
    args = parser.parse_args()
    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    peer = SimulatedAnnealingSampler()
    ours = AnnealBackend()
    rows = []

    graph = maxcut_graph()
    energy = maxcut_energy(graph)
    bqm = dimod.BinaryQuadraticModel.from_ising({}, {(u, v): 1.0 for u, v in graph.edges()})
    cases = [("max-cut 800 nodes / 19,176 edges", energy, bqm, graph)]
    q = dense_qubo()
    cases.append(("dense QUBO 1000 vars, U(-1,1)", Energy.from_qubo(q),
                  dimod.BinaryQuadraticModel.from_qubo({(i, j): q[i, j] for i, j in zip(*np.nonzero(q))}), None))

    for label, model, peer_bqm, g in cases:
        n = model.num_variables
        updates = n * args.sweeps * args.reads
        # the peer's own default β range, so both run the same schedule
        peer_probe = peer.sample(peer_bqm, num_reads=1, num_sweeps=1, seed=0)
        beta_min, beta_max = peer_probe.info["beta_range"]
        order = list(range(n))

        def run_peer(peer_bqm=peer_bqm, beta_min=beta_min, beta_max=beta_max):
            return peer.sample(peer_bqm, num_reads=args.reads, num_sweeps=args.sweeps, seed=7,
                               beta_range=(beta_min, beta_max), beta_schedule_type="geometric")

        def run_ours(threads, model=model, beta_min=beta_min, beta_max=beta_max):
            params = AnnealParams(reads=args.reads, sweeps=args.sweeps, beta_min=beta_min, beta_max=beta_max,
                                  keep_best=False, threads=threads)
            return ours.solve(model, params, seed=7)

        ours.solve(model, AnnealParams(reads=2, sweeps=2, threads=1), seed=0)  # compile / load cache
        t_peer, _ = time_call(run_peer, args.repeats)
        t_one, _ = time_call(lambda: run_ours(1), args.repeats)
        t_two, _ = time_call(lambda: run_ours(2), args.repeats)
        values: dict[str, list[np.ndarray]] = {"peer (its defaults)": [], "ours (defaults)": [],
                                               "ours (typical hot end)": [],
                                               "ours (peer's β range, final states)": []}
        for seed in range(args.quality_seeds):
            peer_set = peer.sample(peer_bqm, num_reads=args.reads, num_sweeps=args.sweeps, seed=seed)
            peer_states = np.array([[rec[v] for v in order] for rec in peer_set.record.sample])
            runs = {
                "peer (its defaults)": (peer_states + 1) // 2 if g is None else peer_states,
                "ours (defaults)": ours.solve(model, AnnealParams(reads=args.reads, sweeps=args.sweeps),
                                              seed=seed).states,
                "ours (typical hot end)": ours.solve(model, AnnealParams(reads=args.reads, sweeps=args.sweeps,
                                                                         hot_end="typical"), seed=seed).states,
                "ours (peer's β range, final states)": ours.solve(model, AnnealParams(
                    reads=args.reads, sweeps=args.sweeps, beta_min=beta_min, beta_max=beta_max, keep_best=False),
                    seed=seed).states,
            }
            for name, states in runs.items():
                values[name].append(cut_values(g, states) if g is not None else model.energies(states))
        what, best = ("cut", np.max) if g is not None else ("energy", np.min)
        quality = "; ".join(f"{name}: mean {np.concatenate(v).mean():.2f}, best {best(np.concatenate(v)):.2f}"
                            for name, v in values.items())
        quality = f"{what} over {args.quality_seeds * args.reads} reads — {quality}"
        rows.append((label, updates / t_peer / 1e6, updates / t_one / 1e6, updates / t_two / 1e6,
                     t_peer / t_one, t_peer / t_two, quality))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}; reads={args.reads}, sweeps={args.sweeps}, best of {args.repeats}")
    print()
    print("| model | peer Mupd/s | ours 1 thread Mupd/s | ours 2 threads Mupd/s | ratio 1 thread | ratio 2 threads "
          "| quality (same run) |")
    print("|---|---|---|---|---|---|---|")
    for label, p, o1, o2, r1, r2, quality in rows:
        print(f"| {label} | {p:.1f} | {o1:.1f} | {o2:.1f} | {r1:.2f}× | {r2:.2f}× | {quality} |")


if __name__ == "__main__":
    main()
