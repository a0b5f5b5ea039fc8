"""Benchmark: structure functions (paper 4 App. A grid) on N = 10^4 3D Kob-Andersen-like
configurations, pyglass.analysis.softness (Cython kernels) against a vectorised numpy/scipy
implementation measured in the same run (median of a few repeats). Also checks that both agree.

    PYTHONPATH=. python scripts/bench_softness.py [--n 10000] [--repeats 3] [--angular-sample 40]

The configuration is a jittered simple-cubic lattice at ρ = 1.2, 80:20 (builders.lattice); the
structure functions' cost depends only on the neighbour counts, which match the liquid's. The numpy
angular reference loops over a sample of centres (vectorised over their neighbour pairs) and is
scaled to N; the comparison of values uses the same sample.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from pyglass import builders, softness


def numpy_radial(x, L, types, nt, mu, sigma, r_max, chunk=200_000):
    tree = cKDTree(x, boxsize=L)
    pairs = tree.query_pairs(r_max, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    dr = x[j] - x[i]
    dr -= L * np.round(dr / L)
    r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
    n = len(x)
    G = np.zeros((n, nt * len(mu)))
    for a in range(0, len(r), chunk):
        sl = slice(a, a + chunk)
        E = np.exp(-(r[sl, None] - mu[None, :]) ** 2 / (2 * sigma ** 2))
        ii, jj = i[sl], j[sl]
        for X in range(nt):
            # row i gets E where j is of species X, row j where i is
            rows = np.concatenate([ii[types[jj] == X], jj[types[ii] == X]])
            sel = np.concatenate([np.flatnonzero(types[jj] == X), np.flatnonzero(types[ii] == X)])
            A = sparse.csr_matrix((np.ones(len(rows)), (rows, sel)), shape=(n, len(r[sl])))
            G[:, X * len(mu):(X + 1) * len(mu)] += A @ E
    return G


def numpy_angular(x, L, types, nt, angular, r_ang, centres):
    tree = cKDTree(x, boxsize=L)
    pairs = [(a, b) for a in range(nt) for b in range(a, nt)]
    out = np.zeros((len(centres), len(pairs) * len(angular)))
    for row, i in enumerate(centres):
        nb = np.array([k for k in tree.query_ball_point(x[i], r_ang) if k != i], int)
        dr = x[nb] - x[i]
        dr -= L * np.round(dr / L)
        r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
        a, b = np.triu_indices(len(nb), 1)
        s = r[a] ** 2 + r[b] ** 2 + np.sum((dr[b] - dr[a]) ** 2, 1)
        c = np.einsum("ij,ij->i", dr[a], dr[b]) / (r[a] * r[b])
        ta, tb = np.minimum(types[nb[a]], types[nb[b]]), np.maximum(types[nb[a]], types[nb[b]])
        pidx = ta * nt - ta * (ta - 1) // 2 + (tb - ta)
        for f, (xi, lam, z) in enumerate(angular):
            v = np.exp(-s / xi ** 2) * (1 + lam * c) ** z
            out[row, np.arange(len(pairs)) * len(angular) + f] = np.bincount(pidx, v, minlength=len(pairs))
    return out


def median_time(fn, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--angular-sample", type=int, default=40,
                    help="centres for the numpy angular reference (x3 for the 3.0 cutoff)")
    a = ap.parse_args()
    s = builders.lattice(a.n, 1.2, 3, (0.8, 0.2), seed=1, jitter=0.08)
    x, L, types = s.positions, s.box.lengths, s.types
    sf = softness.StructureFunctions()
    print(f"N = {s.N}, box {L[0]:.2f}, {sf}")
    t_rad, G = median_time(lambda: sf.compute_radial(s), a.repeats)
    t_np_rad, Gn = median_time(lambda: numpy_radial(x, L, types, s.n_types, sf.mu, sf.sigma, sf.r_max),
                               max(1, a.repeats - 1))
    err_r = np.max(np.abs(G - Gn) / np.maximum(np.abs(Gn), 1e-300))
    print(f"radial  ({G.shape[1]:3d} columns): pyglass {t_rad:7.3f} s   numpy/scipy {t_np_rad:7.3f} s   "
          f"speed-up {t_np_rad / t_rad:5.1f}x   max rel diff {err_r:.1e}")
    rng = np.random.default_rng(0)
    for r_ang, reps, n_c in ((sf.r_max, 1, a.angular_sample),
                             (softness.FAST_R_MAX_ANGULAR, a.repeats, 3 * a.angular_sample)):
        sfa = softness.StructureFunctions(r_max_angular=r_ang)
        sfa.compute_radial(s)
        t_ang, P = median_time(lambda: sfa.compute_angular(s), reps)
        centres = rng.choice(s.N, n_c, replace=False)
        t_c, Pn = median_time(lambda: numpy_angular(x, L, types, s.n_types, sfa.angular, r_ang, centres), 1)
        t_np = t_c * s.N / n_c
        err = np.max(np.abs(P[centres] - Pn) / np.maximum(np.abs(Pn), 1e-300))
        print(f"angular ({P.shape[1]:3d} columns, r_max_angular = {r_ang}): pyglass {t_ang:7.3f} s   numpy "
              f"{t_np:7.1f} s (from {n_c} centres)   speed-up {t_np / t_ang:5.1f}x   max rel diff {err:.1e}")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (2-core machine: timings are shared)")


if __name__ == "__main__":
    main()
