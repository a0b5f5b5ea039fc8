#!/usr/bin/env python
"""Benchmark of the TRSP Gillespie loop: events per second on L = 20 (3D), m = 4, T = 0.47.

Compares, in the same run and on the same model:
  1. the production loop (Cython, binary sum tree: O(log N_c) selection and update);
  2. the same Cython loop with a linear O(N_c) scan for the selection (isolates the data
     structure from everything else);
  3. a naive Gillespie written here in numpy: every event recomputes the cumulative sum of
     all N_c rates and searches it (O(N_c) selection), then applies the same kick operator.
Each figure is the median of several repetitions; ratios are printed.  Goal (issue 5):
10^6 events in under a minute on one core.

usage: python scripts/bench_trsp.py [--deck inputs/trsp_ka.toml] [--T 0.47] [--events 100000]
"""
import argparse
import statistics
import time
from pathlib import Path

import sys

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's pyglass, also when another one is installed

from pyglass.analysis.lattice import TRSPModel  # noqa: E402


def naive_gillespie(model: TRSPModel, n_events: int, rng: np.random.Generator) -> float:
    """O(N_c)-per-event reference: numpy cumsum + searchsorted, same kick and rate law."""
    S = model.sample_equilibrium()
    clusters = model.clusters
    bare = model.bare_rate
    L3 = np.array(model.lattice.shape3)

    def cluster_rates(c):
        X = S[clusters.sites[c]].mean(axis=-1)
        return bare.A0 / bare.duration * np.exp(bare.gamma0 * X - bare.delta0 * X * X)

    rates = cluster_rates(np.arange(clusters.n))
    t = 0.0
    for _ in range(n_events):
        cumulative = np.cumsum(rates)                      # O(N_c) every event
        total = cumulative[-1]
        t += -np.log(1.0 - rng.random()) / total
        c = int(np.searchsorted(cumulative, rng.random() * total, side="right"))
        c = min(c, clusters.n - 1)
        op = model.operators[clusters.orientation[c]]
        coords = np.mod(clusters.anchor[c] + op.offsets, L3)
        region = (coords[:, 0] * L3[1] + coords[:, 1]) * L3[2] + coords[:, 2]
        n = op.n_kicked
        x = S[region] - model.mu
        dS = op.mean_kick + op.response @ x + op.noise @ rng.standard_normal(n)
        S[region[:n]] += dS
        touched = np.unique(clusters.site_clusters[region[:n]])
        rates[touched] = cluster_rates(touched)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deck", default=str(ROOT / "inputs" / "trsp_ka.toml"))
    ap.add_argument("--T", type=float, default=0.47)
    ap.add_argument("--events", type=int, default=100_000, help="events per timed tree run")
    ap.add_argument("--naive-events", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    model = TRSPModel.from_file(args.deck, T=args.T, seed=1)
    lat = model.lattice
    print(f"TRSP benchmark: L={lat.L}, d={lat.d}, m={model.m}, T={args.T}, N={lat.N}, "
          f"clusters={model.clusters.n}, kicked sites/event={model.operators[0].n_kicked}, "
          f"coupling shell={model.operators[0].info['n_shell']}")

    def rate_of(fn, n):
        out = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn(n)
            out.append(n / (time.perf_counter() - start))
        return statistics.median(out)

    tree = rate_of(lambda n: model.run_events(n), args.events)
    scan = rate_of(lambda n: model.run_events(n, selection_linear=True), max(args.events // 5, 1000))
    rng = np.random.default_rng(2)
    naive = rate_of(lambda n: naive_gillespie(model, n, rng), args.naive_events)
    print(f"tree (Cython, O(log N_c))          : {tree:12.0f} events/s   "
          f"(10^6 events in {1e6 / tree:6.1f} s)")
    print(f"linear scan in the same Cython loop: {scan:12.0f} events/s   ratio tree/scan  = {tree / scan:6.2f}")
    print(f"naive numpy O(N_c) Gillespie       : {naive:12.0f} events/s   ratio tree/naive = {tree / naive:6.1f}")
    print(f"(median of {args.repeats} runs each)")


if __name__ == "__main__":
    main()
