"""Landscape benchmark (issue 6): pyglass against peers measured in the same run.

1. Modes: the 33 lowest non-zero eigenpairs of a Kob-Andersen 3D inherent structure (N = 8000,
   smoothed cutoff; ~4.7 M non-zeros): pyglass `lowest_modes` (grounded CHOLMOD factor + block
   Lanczos on M+) vs SLEPc Krylov-Schur + shift-invert with CHOLMOD, and vs scipy eigsh
   shift-invert (one run: it takes minutes). Also the factorisation alone (the floor).
2. Dipoles: kappa_ij of 1000 random interacting pairs, factorisation included, vs per-dipole PETSc
   CG (Jacobi, rtol 1e-8) timed on a few dipoles and scaled to 1000.
3. Large N: 30 lowest modes of a 2D soft-disk inherent structure with N = 10^5 (time, peak RSS).
4. 3D N = 10^5 (--only large3d): how the Cholesky factor grows with N (8000, 16000, 32000,
   extrapolated to 10^5) and the factor-free paths (krylov, LOBPCG + GAMG) timed on N = 8000.
5. --only krylov3d [--sizes 8000 32000 100000] [--ranks 1 2] [--k 30] [--tol 1e-8]: the factor-free
   'krylov' mode solver on KA 3D inherent structures, time and peak RSS per rank, 1 and 2 ranks; the
   eigenvalues go to $PYGLASS_BENCH_CACHE/krylov_ka3d_<N>_<ranks>_<tol>.npy for comparison.
6. --only cg3d [--sizes ...] [--ranks 1 2] [--pairs 1000] [--factor-max 32000]: kappa_ij of --pairs random
   pairs and G without a factor (block PCG, IC(0) / block-Jacobi IC(0) on row-major blocks, the library's default
   tolerances) on KA 3D inherent structures, time and peak RSS per rank, 1 and 2 ranks, each against the
   Cholesky factor (the peer, in its own process) where the factor fits (N <= --factor-max): time and
   the largest relative differences of kappa_ij and G.
   --model sw3d runs 5 and 6 on paper 2's Stillinger-Weber glass (rho 0.52) instead of KA.

BLAS threads: pyglass.engine.threads' policy (every core of a serial run); PYGLASS_BLAS_THREADS=1 measures
on one core. The threads in use are printed first; all three solvers share that BLAS.

Ratios are medians over --repeats runs. Inherent structures (builders + NoseHoover liquid,
quenched, Newton-polished) are cached in $PYGLASS_BENCH_CACHE (default /tmp/pyglass_bench).

    python scripts/bench_landscape.py [--repeats 3] [--skip-scipy] [--skip-large] [--n 8000]
"""
import argparse
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from _landscape_prep import inherent_structure  # noqa: E402
from pyglass import landscape  # noqa: E402
from pyglass.analysis.landscape.solvers import KSPSolver, PseudoInverse  # noqa: E402


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), times, out


def bench_modes(s, pot, h, k, repeats, skip_scipy):
    print(f"\n== modes: {k} lowest non-zero eigenpairs, KA 3D N={s.N}, nnz={h.nnz / 1e6:.2f} M")
    t_ours, to, ours = timed(lambda: landscape.lowest_modes(s, pot, k=k, method="block", backend="cholmod",
                                                             hessian_matrix=h, tol=1e-8), repeats)
    t_fac = ours.info["factor_s"]
    print(f"grounded CHOLMOD factorisation (inside the last run): {t_fac:.2f} s")
    print(f"pyglass block Lanczos on grounded CHOLMOD M+: {t_ours:.2f} s  {np.round(to, 2)}  info={ {a: b for a, b in ours.info.items() if a != 'residuals'} }")
    t_slepc, ts, slepc = timed(lambda: landscape.lowest_modes(s, pot, k=k, method="slepc", backend="cholmod",
                                                               hessian_matrix=h, tol=1e-8), repeats)
    print(f"SLEPc Krylov-Schur + sinvert (CHOLMOD): {t_slepc:.2f} s  {np.round(ts, 2)}")
    print(f"max rel eigenvalue difference pyglass vs SLEPc: "
          f"{np.max(np.abs(ours.eigenvalues / slepc.eigenvalues - 1)):.2e}")
    print(f"RATIO pyglass/SLEPc+CHOLMOD = {t_ours / t_slepc:.3f}   (target <= 0.75)")
    print(f"RATIO pyglass/factorisation = {t_ours / t_fac:.3f}   (goal <= 1.2)")
    if not skip_scipy:
        import scipy.sparse.linalg as spla
        from threadpoolctl import threadpool_limits
        from pyglass.engine.threads import BUNDLED_BLAS_PREFIXES, available_cores
        # scipy alone here: its bundled OpenBLAS gets every core (pyglass keeps it at one thread
        # beside the system OpenBLAS, pyglass.engine.threads.single_blas_pool)
        with threadpool_limits(limits={p: available_cores() for p in BUNDLED_BLAS_PREFIXES}):
            t = time.perf_counter()
            w, _ = spla.eigsh(h.tocsc(), k=k + 3, sigma=-1e-3, which="LM", tol=1e-8)
            t_scipy = time.perf_counter() - t
        w = np.sort(w)[3:]
        print(f"scipy eigsh shift-invert (1 run): {t_scipy:.1f} s; max rel diff {np.max(np.abs(w / ours.eigenvalues - 1)):.1e}")
        print(f"RATIO scipy/pyglass = {t_scipy / t_ours:.1f}   (target >= 15)")


def bench_dipoles(s, pot, h, n_pairs, repeats, n_cg):
    print(f"\n== dipoles: kappa_ij of {n_pairs} random pairs, KA 3D N={s.N}")
    pairs = landscape.random_pairs(s, pot, n_pairs, seed=1)

    def ours():
        return landscape.dipole_stiffness(s, pot, pairs, backend="cholmod", hessian_matrix=h, block=250)
    t_ours, to, kappa = timed(ours, repeats)
    print(f"pyglass factor once + block solves: {t_ours:.2f} s  {np.round(to, 2)}")
    ksp = KSPSolver(h, 3, rtol=1e-8, pc="jacobi")
    dv = landscape.dipole_vectors(s, pairs[:n_cg])
    per = []
    for c in range(n_cg):
        t = time.perf_counter()
        z = ksp.solve(dv[:, c])
        per.append(time.perf_counter() - t)
        kc = dv[:, c] @ z / (z @ z)
        assert abs(kc / kappa[c] - 1) < 1e-4, (kc, kappa[c])
    t_cg = float(np.median(per)) * n_pairs
    print(f"PETSc CG (Jacobi, rtol 1e-8): {np.median(per):.2f} s per dipole (median of {n_cg}, "
          f"{int(np.median(ksp.iterations))} iterations) -> {t_cg:.0f} s for {n_pairs}")
    print(f"RATIO CG/pyglass = {t_cg / t_ours:.0f}   (target >= 50, goal 100)")


def bench_large(k):
    print("\n== large N: 2D soft disks N=100000 (smooth cutoff 2.5), "f"{k} lowest modes")
    s, pot = inherent_structure("disks2d", 100000)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    h = landscape.hessian(s, pot)
    t_h = time.perf_counter() - t
    t = time.perf_counter()
    m = landscape.lowest_modes(s, pot, k=k, method="scipy", backend="cholmod", hessian_matrix=h)
    t_m = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"Hessian {t_h:.1f} s (nnz {h.nnz / 1e6:.1f} M); modes {t_m:.1f} s; peak RSS {rss / 2**20:.2f} GiB "
          f"(before modes {rss0 / 2**20:.2f} GiB); lowest omega^2 {m.eigenvalues[:3]}; info "
          f"{ {a: b for a, b in m.info.items() if a != 'residuals'} }")


def bench_large_3d(k, sizes=(8000, 16000, 32000)):
    """The 3D N = 10^5 question, measured where it can be: (1) growth of the CHOLMOD factor of KA 3D
    Hessians with N (on H + c I with c the Gershgorin bound: the same sparsity, SPD for any
    configuration, so no inherent structure is needed at the larger sizes), each size in a fresh
    process so peak RSS is per size; (2) the factor-free path (LOBPCG + GAMG) on the N = 8000
    inherent structure, checked against the block-Lanczos eigenvalues."""
    import subprocess
    print(f"\n== 3D large-N path: CHOLMOD factor growth (KA 3D, sizes {list(sizes)})")
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--factor-probe", str(n)], capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        rows.append(tuple(float(v) for v in out.stdout.split()[-4:]))
        lnz, t_f, t_8, rss = rows[-1]
        print(f"N={n}: nnz(L) {lnz / 1e6:.0f} M ({lnz * 8 / 2**30:.2f} GiB), factor {t_f:.1f} s, "
              f"8-column solve {t_8:.2f} s, peak RSS {rss:.2f} GiB", flush=True)
    n = np.array(sizes, float)
    for j, name in ((0, "nnz(L)"), (1, "factor time"), (3, "peak RSS")):
        slope = np.polyfit(np.log(n[-2:]), np.log([r[j] for r in rows[-2:]]), 1)[0]
        print(f"  {name} grows as N^{slope:.2f} between the two largest sizes -> N = 10^5: "
              f"{rows[-1][j] * (1e5 / n[-1]) ** slope:.3g} {'s' if j == 1 else ('GiB' if j == 3 else '')}")
    s, pot = inherent_structure("ka3d", 8000)
    h = landscape.hessian(s, pot)
    t = time.perf_counter()
    ref = landscape.lowest_modes(s, pot, k=k, method="block", hessian_matrix=h)
    print(f"block Lanczos on the factor, {k} modes of the N=8000 IS: {time.perf_counter() - t:.1f} s")
    for method in ("krylov", "lobpcg"):
        t = time.perf_counter()
        m = landscape.lowest_modes(s, pot, k=k, method=method, hessian_matrix=h, tol=1e-8)
        print(f"{method}, {k} modes of the N=8000 IS: {time.perf_counter() - t:.1f} s, max rel eigenvalue "
              f"difference to block Lanczos {np.max(np.abs(m.eigenvalues / ref.eigenvalues - 1)):.1e}", flush=True)


def krylov_3d(sizes, k, ranks, tol=1e-8, model="ka3d"):
    """The factor-free mode solver (method 'krylov') on KA 3D inherent structures of the given sizes, on
    each rank count in `ranks` (a fresh `mpirun` process per run: time and peak RSS per rank)."""
    import subprocess
    print(f"\n== factor-free modes (SLEPc Krylov-Schur, no factor): {model}, {k} modes, tol {tol:g}")
    for n in sizes:
        inherent_structure(model, n, newton=False)          # cached before the timed processes start
        for p in ranks:
            cmd = [sys.executable, __file__, "--krylov-worker", str(n), "--k", str(k), "--tol", str(tol),
                   "--model", model]
            if p > 1:
                cmd = ["mpirun", "--oversubscribe", "-n", str(p)] + cmd
            env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode:
                raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
            print(f"N={n}, {p} rank(s): {out.stdout.strip().splitlines()[-1]}", flush=True)


def krylov_worker(n, k, tol, model="ka3d"):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    s, pot = inherent_structure(model, n, newton=False)
    t = time.perf_counter()
    mat = landscape.petsc_hessian(s, pot, comm if comm.Get_size() > 1 else None)
    t_h = time.perf_counter() - t
    t = time.perf_counter()
    vals, _, info = landscape.slepc_lowest(mat, 3, k, tol=tol, solver=None)
    t_m = time.perf_counter() - t
    rss = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, op=MPI.MAX)
    np.save(os.path.join(os.environ.get("PYGLASS_BENCH_CACHE", "/tmp/pyglass_bench"),
                         f"krylov_{model}_{n}_{comm.Get_size()}_{tol:g}.npy"), vals)
    if comm.Get_rank() == 0:
        print(f"Hessian {t_h:.1f} s, modes {t_m:.1f} s ({info['iterations']} restarts), peak RSS per rank "
              f"{rss:.2f} GiB, lowest {vals[:3]}, 30th {vals[-1]:.6g}")


def cg_3d(sizes, ranks, n_pairs, factor_max, model="ka3d"):
    """kappa_ij of n_pairs random pairs and G by block PCG (no factor) on 1 and 2 ranks, against the factor."""
    import subprocess
    print(f"\n== factor-free kappa_ij and G (block PCG): {model}, {n_pairs} random pairs")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cache = os.environ.get("PYGLASS_BENCH_CACHE", "/tmp/pyglass_bench")
    for n in sizes:
        inherent_structure(model, n, newton=False)          # cached before the timed processes start
        ref = None
        if n <= factor_max:
            out = subprocess.run([sys.executable, __file__, "--cg-worker", str(n), "--pairs", str(n_pairs),
                                  "--factor", "--model", model], capture_output=True, text=True, env=env)
            if out.returncode:
                raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
            print(f"N={n}, Cholesky factor (peer), 1 rank: {out.stdout.strip().splitlines()[-1]}", flush=True)
            ref = np.load(os.path.join(cache, f"kappa_{model}_{n}_{n_pairs}_factor.npz"))
        for p in ranks:
            cmd = [sys.executable, __file__, "--cg-worker", str(n), "--pairs", str(n_pairs), "--model", model]
            if p > 1:
                cmd = ["mpirun", "--oversubscribe", "-n", str(p)] + cmd
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode:
                raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
            line = out.stdout.strip().splitlines()[-1]
            got = np.load(os.path.join(cache, f"kappa_{model}_{n}_{n_pairs}_cg{p}.npz"))
            if ref is not None:
                line += (f"; vs factor: kappa max rel {np.max(np.abs(got['kappa'] / ref['kappa'] - 1)):.1e}, "
                         f"G rel {abs(got['G'] / ref['G'] - 1):.1e}, time ratio cg/factor "
                         f"{float(got['seconds']) / float(ref['seconds']):.1f}")
            if p > 1:
                one = os.path.join(cache, f"kappa_{model}_{n}_{n_pairs}_cg1.npz")
                if os.path.exists(one):
                    one = np.load(one)
                    line += (f"; vs 1 rank: kappa max rel {np.max(np.abs(got['kappa'] / one['kappa'] - 1)):.1e}, "
                             f"G rel {abs(got['G'] / one['G'] - 1):.1e}")
            print(f"N={n}, block PCG, {p} rank(s): {line}", flush=True)


def cg_worker(n, n_pairs, factor, model="ka3d"):
    from mpi4py import MPI
    from pyglass.analysis.landscape.solvers import BlockPCG
    comm = MPI.COMM_WORLD
    s, pot = inherent_structure(model, n, newton=False)
    pairs = landscape.random_pairs(s, pot, n_pairs, seed=1)
    t0 = time.perf_counter()
    if factor:
        h = landscape.hessian(s, pot)
        t_h = time.perf_counter() - t0
        t = time.perf_counter()
        solver = PseudoInverse(h, 3, backend="cholmod", block=128)
        t_s = time.perf_counter() - t
        its = "factor"
    else:
        # as the library runs it: the scipy Hessian on one rank, the distributed one on several
        solver = BlockPCG.for_system(s, pot, comm if comm.Get_size() > 1 else None)
        t_h = time.perf_counter() - t0
    t = time.perf_counter()
    g = landscape.shear_modulus(s, pot, solver=solver)
    t_g = time.perf_counter() - t
    g_its = "" if factor else f" ({solver.iterations[-1]} iterations)"
    t = time.perf_counter()
    kappa = landscape.dipole_stiffness(s, pot, pairs, solver=solver)
    t_k = time.perf_counter() - t
    if not factor:
        its = f"median {int(np.median(solver.iterations))} iterations"
    total = time.perf_counter() - t0
    rss = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, op=MPI.MAX)
    if comm.Get_rank() == 0:
        tag = "factor" if factor else f"cg{comm.Get_size()}"
        np.savez(os.path.join(os.environ.get("PYGLASS_BENCH_CACHE", "/tmp/pyglass_bench"),
                              f"kappa_{model}_{n}_{n_pairs}_{tag}.npz"), kappa=kappa, G=g, seconds=total)
        prep = f"Hessian {t_h:.1f} s, factorisation {t_s:.1f} s" if factor else f"Hessian and IC(0) {t_h:.1f} s"
        print(f"{prep}, G {t_g:.1f} s{g_its}, {n_pairs} kappa {t_k:.1f} s ({its}), "
              f"total {total:.1f} s, peak RSS per rank {rss:.2f} GiB, G = {g:.8g}, mean kappa {kappa.mean():.6g}")


def factor_probe(n):
    """(child process of bench_large_3d) nnz(L), factor s, 8-column solve s, peak RSS GiB."""
    import scipy.sparse as sp
    from pyglass import builders, potentials as P
    s = builders.lattice(n, 1.2, 3, (0.8, 0.2), seed=1, jitter=0.05)
    h = landscape.hessian(s, P.KobAndersen(smoothing="smooth"))
    c = 1.01 * float(abs(h).sum(axis=1).max())
    h = (h + c * sp.identity(h.shape[0])).tocsr()
    t = time.perf_counter()
    pinv = PseudoInverse(h, 3, backend="cholmod")
    t_f = time.perf_counter() - t
    b = np.random.default_rng(0).standard_normal((h.shape[0], 8))
    t = time.perf_counter()
    pinv.solve(b)
    t_8 = time.perf_counter() - t
    lnz = pinv._factor.getInfo()["nz_used"]
    print(lnz, t_f, t_8, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--k", type=int, default=33)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--cg-dipoles", type=int, default=5)
    ap.add_argument("--skip-scipy", action="store_true")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--only", choices=("modes", "dipoles", "large", "large3d", "krylov3d", "cg3d"), default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[8000, 32000, 100000], help="--only krylov3d")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="--only krylov3d")
    ap.add_argument("--tol", type=float, default=1e-8, help="--only krylov3d: SLEPc's relative residual tolerance")
    ap.add_argument("--model", choices=("ka3d", "sw3d"), default="ka3d",
                    help="--only krylov3d / cg3d: KA or paper 2's Stillinger-Weber (rho 0.52)")
    ap.add_argument("--factor-max", type=int, default=32000, help="--only cg3d: largest N compared with the factor")
    ap.add_argument("--factor-probe", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cg-worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--factor", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--krylov-worker", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.factor_probe:
        return factor_probe(a.factor_probe)
    if a.krylov_worker:
        return krylov_worker(a.krylov_worker, a.k, a.tol, a.model)
    if a.cg_worker:
        return cg_worker(a.cg_worker, a.pairs, a.factor, a.model)
    if a.only == "krylov3d":
        return krylov_3d(a.sizes, a.k, a.ranks, a.tol, a.model)
    if a.only == "cg3d":
        return cg_3d(a.sizes, a.ranks, a.pairs, a.factor_max, a.model)
    from pyglass.engine.threads import blas_info
    print("BLAS:", ", ".join(f"{b['internal_api']} ({b['threading_layer']}) {b['num_threads']} thread(s)"
                             for b in blas_info()))
    if a.only in (None, "modes", "dipoles"):
        s, pot = inherent_structure("ka3d", a.n)
        t = time.perf_counter()
        h = landscape.hessian(s, pot)
        print(f"Hessian assembly: {time.perf_counter() - t:.2f} s, {h.shape[0]} rows, nnz {h.nnz}")
        if a.only in (None, "modes"):
            bench_modes(s, pot, h, a.k, a.repeats, a.skip_scipy)
        if a.only in (None, "dipoles"):
            bench_dipoles(s, pot, h, a.pairs, a.repeats, a.cg_dipoles)
    if a.only in (None, "large") and not a.skip_large:
        bench_large(30)
    if a.only in (None, "large3d") and not a.skip_large:
        bench_large_3d(30)


if __name__ == "__main__":
    main()
