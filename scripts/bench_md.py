#!/usr/bin/env python
"""MD throughput: pyglass vs LAMMPS on the same configuration, measured in the same run.

Each model against its closest LAMMPS equivalent, Nose-Hoover NVT (tau = 0.5, dt = 0.005), skin 0.3
with neighbour checks every step in both codes, equal masses:
  ka          Kob-Andersen 3D (rho = 1.2, T = 0.6), shifted at 2.5 sigma_ab: LAMMPS `lj/cut` with `-sf opt`
  soft-disks  paper 1's 2D soft disks (rho = 0.765, T = 0.4), (sigma_ab/r)^12 shifted at 4.5:
              LAMMPS `pair_style table` (4000 points, linear in r, from pyglass's own law) + enforce2d
  ipl         paper 2's IPL (3D, rho = 0.82, T = 0.6), smoothed r^-10: LAMMPS `pair_style table`
  mblj        paper 2's mBLJ (3D, rho = 1.2, T = 1.0), AA/BB cut at 1.5, shifted force linear in r:
              LAMMPS `lj/smooth/linear`
  sticky      paper 2's sticky spheres (3D, rho = 0.6, T = 1.0): LAMMPS `pair_style table`
For every rank count in --ranks both codes run --repeats times, interleaved run by run; the script
prints atom-steps/s (median), the ratio pyglass/LAMMPS, and the strong-scaling efficiency from 1
rank. pyglass on P ranks runs as `mpirun -n P python bench_md.py --worker ...` (spatial
decomposition), LAMMPS as `mpiexec -n P lmp` from the reference venv (MPICH). pyglass's ranks yield
the core while they wait (OMPI_MCA_mpi_yield_when_idle=1, as `make test`) unless that variable is set;
A/B runs at N = 32000 showed no difference beyond the machine's run-to-run spread.

  python scripts/bench_md.py [--models ka soft-disks ipl mblj sticky] [--n 8000] [--steps 1000] [--repeats 3] [--ranks 1 2]
                             [--baseline CHECKOUT]

--baseline CHECKOUT: a third code in the same interleaved runs, pyglass as another checkout has it (a
git worktree at an earlier commit, its extensions built): that checkout's own scripts/bench_md.py
runs as the worker with PYTHONPATH=CHECKOUT, so "before" and "after" share the configuration, the
LAMMPS runs and the machine's load.

--split [--skin 0.3]: instead of the comparison, where a pyglass step's time goes on each rank count of --ranks
(median over --repeats runs of rank 0's split): the pair kernel, neighbour-list builds, ghost
rebuilds (with migration under MPI), per-step ghost updates and force folding (communication under
MPI; on one rank the ghost refresh, the fold being part of the pair kernel), and the rest
(integrator kernels and Python). Each part is timed by wrapping its function, so the parts add up
to the measured wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _reference import LAMMPS_KA_SETUP, lammps_loop_time, lammps_pair_table, run_lammps  # noqa: E402

import pyglass  # noqa: E402
from pyglass import builders  # noqa: E402
from pyglass.engine.integrators import NoseHoover  # noqa: E402
from pyglass.engine.potentials import IPL10, MBLJ, KobAndersen, SoftDisks2D, StickySpheres  # noqa: E402

LAMMPS_KA = LAMMPS_KA_SETUP + """timestep 0.005
fix 1 all nvt temp {T} {T} 0.5
thermo {steps}
run {steps}
"""
LAMMPS_TABLE = """units lj
atom_style atomic
dimension {dim}
boundary p p p
read_data start.data
mass * 1.0
{pair}
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
timestep 0.005
fix 1 all nvt temp {T} {T} 0.5
{enforce2d}
thermo {steps}
run {steps}
"""
MPIRUN = ["mpirun", "--oversubscribe", "--bind-to", "none"]

# paper 2's mBLJ as inputs/kapteijns_2021_mblj.toml runs it (cutoffs in sigma_ab)
MBLJ_EPS, MBLJ_SIGMA = [[1.0, 1.5], [1.5, 0.5]], [[1.0, 0.8], [0.8, 0.88]]
MBLJ_CUT = [[1.5, 2.5], [2.5, 1.5 / 0.88]]


def paper2_mblj(skin=0.3):
    return MBLJ(MBLJ_EPS, MBLJ_SIGMA, MBLJ_CUT, smoothing="linear-force-shift", skin=skin)


def lammps_mblj():
    pot = paper2_mblj()
    lines = [f"pair_style lj/smooth/linear {pot.cutoff}"]
    for a in range(2):
        for b in range(a, 2):
            lines.append(f"pair_coeff {a + 1} {b + 1} {MBLJ_EPS[a][b]} {MBLJ_SIGMA[a][b]} {pot.cutoffs[a, b]}")
    return "\n".join(lines)


# model: (label, dim, density, composition, T, pyglass potential, LAMMPS equivalent); densities
# from the papers' decks, temperatures liquid states (throughput barely depends on them)
MODELS = {
    "ka": ("KA 3D", 3, 1.2, (0.8, 0.2), 0.6, KobAndersen, "lj/cut/opt"),
    "soft-disks": ("2D soft disks", 2, 0.765, (0.5, 0.5), 0.4, SoftDisks2D, "table"),
    "ipl": ("IPL 3D", 3, 0.82, (0.5, 0.5), 0.6, IPL10, "table"),
    "mblj": ("mBLJ 3D", 3, 1.2, (0.8, 0.2), 1.0, paper2_mblj, "lj/smooth/linear"),
    "sticky": ("sticky spheres 3D", 3, 0.6, (0.5, 0.5), 1.0, StickySpheres, "table"),
}


def equilibrated(model, n, seed=1, steps=1500):
    _, dim, rho, comp, T, make_potential, _ = MODELS[model]
    s = builders.lattice(n, rho, dim, comp, seed=seed, jitter=0.02)
    s.thermalize(T, seed)
    NoseHoover(0.005, T, 0.5).run(s, make_potential(), steps)
    return s


def worker(data, steps, repeats, model="ka"):
    """Time pyglass on this MPI communicator; rank 0 prints the rates as JSON."""
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    T, make_potential = MODELS[model][4], MODELS[model][5]
    rates = []
    for _ in range(repeats):
        whole = pyglass.io.read_lammps_data(data)
        local = pyglass.engine.comm.distribute(whole, world)
        stats = NoseHoover(0.005, T, 0.5).run(local, make_potential(), steps)
        rates.append(world.allreduce(stats.wall, op=MPI.MAX))
    if world.Get_rank() == 0:
        print(json.dumps([whole.N * steps / w for w in rates]))


SPLIT_PARTS = ("pair kernel", "neighbour build", "ghost rebuild/migration", "ghost update/fold")


def split_worker(data, steps, repeats, skin=0.3, model="ka"):
    """Rank 0 prints, as JSON, the per-step seconds of each part (SPLIT_PARTS + 'rest') for each run."""
    import time
    from mpi4py import MPI
    from pyglass import domain as D
    from pyglass.engine.potentials import base as B
    from pyglass.engine.potentials import pair as PP
    world = MPI.COMM_WORLD
    spent = dict.fromkeys(SPLIT_PARTS, 0.0)
    calls = dict.fromkeys(SPLIT_PARTS, 0)

    def timed(fn, part):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[part] += time.perf_counter() - t
                calls[part] += 1
        return wrapper

    import types
    kernels = types.SimpleNamespace(**{k: getattr(PP._pair, k) for k in dir(PP._pair) if not k.startswith("__")})
    kernels.compute_pair_forces = timed(PP._pair.compute_pair_forces, "pair kernel")
    PP._pair = kernels                  # the extension module's functions, the force kernel timed
    B.NeighbourList.build = timed(B.NeighbourList.build, "neighbour build")
    for cls in (D.Domain, D.DecomposedDomain):
        rebuild = cls.rebuild
        cls.rebuild = timed(rebuild, "ghost rebuild/migration")
        if "forward" in cls.__dict__:
            cls.forward = timed(cls.forward, "ghost update/fold")
        if "fold_forces" in cls.__dict__:
            cls.fold_forces = timed(cls.fold_forces, "ghost update/fold")
    # one rank: the ghost refresh is one kernel (the fold happens inside the pair kernel)
    domain_kernels = types.SimpleNamespace(**{k: getattr(D._nb, k) for k in dir(D._nb) if not k.startswith("__")})
    domain_kernels.refresh_ghosts = timed(D._nb.refresh_ghosts, "ghost update/fold")
    D._nb = domain_kernels
    runs = []
    for _ in range(repeats):
        for k in spent:
            spent[k], calls[k] = 0.0, 0
        local = pyglass.engine.comm.distribute(pyglass.io.read_lammps_data(data), world)
        stats = NoseHoover(0.005, MODELS[model][4], 0.5).run(local, MODELS[model][5](skin=skin), steps)
        row = {k: v / steps for k, v in spent.items()}
        row["rest"] = stats.wall / steps - sum(row.values())
        row["wall"] = stats.wall / steps
        row["builds"] = calls["neighbour build"]
        runs.append(row)
    if world.Get_rank() == 0:
        print(json.dumps(runs))


def run_worker(ranks, *args, checkout=None):
    """This script (or `checkout`'s own bench_md.py, importing that checkout's pyglass) with worker
    arguments on `ranks` MPI ranks; the JSON its rank 0 prints last."""
    script = Path(checkout) / "scripts" / "bench_md.py" if checkout else Path(__file__).resolve()
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_mpi_yield_when_idle=os.environ.get("OMPI_MCA_mpi_yield_when_idle", "1"),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if checkout:
        env["PYTHONPATH"] = str(Path(checkout).resolve())
    cmd = [sys.executable, str(script)] + [str(a) for a in args]
    if ranks > 1:
        cmd = MPIRUN + ["-n", str(ranks)] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"pyglass worker failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_pyglass(data, steps, repeats, ranks, model="ka", checkout=None):
    rates = run_worker(ranks, "--worker", data, "--steps", steps, "--repeats", repeats, "--model", model,
                       checkout=checkout)
    return statistics.median(rates), rates


def lammps_input(model, workdir, steps):
    """LAMMPS input and command-line arguments for a model's closest equivalent."""
    _, dim, _, _, T, make_potential, _ = MODELS[model]
    if model == "ka":
        return LAMMPS_KA.format(steps=steps, T=T), ("-sf", "opt")
    if model == "mblj":
        pair = lammps_mblj()
    else:
        pair = lammps_pair_table(make_potential(), Path(workdir) / f"{model}.table")
    return LAMMPS_TABLE.format(dim=dim, pair=pair, T=T, steps=steps,
                               enforce2d="fix 2 all enforce2d" if dim == 2 else ""), ()


def time_lammps(workdir, n, steps, repeats, ranks, model="ka"):
    text, args = lammps_input(model, workdir, steps)
    rates = []
    for _ in range(repeats):
        screen = run_lammps(text, workdir, args=args, nprocs=ranks)
        rates.append(n * steps / lammps_loop_time(screen))
    return statistics.median(rates), rates


def print_split(data, args):
    for p in args.ranks:
        runs = run_worker(p, "--split-worker", data, "--steps", args.steps, "--repeats", args.repeats,
                          "--skin", args.skin, "--model", args.models[0])
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{MODELS[args.models[0]][0]} N={args.n}, skin {args.skin:g}, {p} rank(s), rank 0, median of {args.repeats} runs of {args.steps} steps: "
              f"{med['wall'] * 1e3:.2f} ms per step")
        for k in SPLIT_PARTS + ("rest",):
            print(f"  {k:26s} {med[k] * 1e3:7.3f} ms  {med[k] / med['wall']:6.1%}")
        per_build = med["neighbour build"] * args.steps / max(med["builds"], 1)
        print(f"  neighbour builds: {med['builds']:.0f} in {args.steps} steps, {per_build * 1e3:.1f} ms each "
              f"({per_build / med['pair kernel']:.1f} force evaluations)")


def _fmt(rates):
    return "[" + ", ".join(f"{r / 1e6:.3f}" for r in rates) + "]"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["ka"], choices=sorted(MODELS))
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1])
    ap.add_argument("--baseline", help="another checkout of pyglass, timed in the same runs (see above)")
    ap.add_argument("--split", action="store_true", help="where pyglass's step time goes (first of --models; see above)")
    ap.add_argument("--skin", type=float, default=0.3, help="--split: neighbour-list skin (A/B of the build cost)")
    ap.add_argument("--model", default="ka", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--split-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.steps, args.repeats, args.model)
    if args.split_worker:
        return split_worker(args.split_worker, args.steps, args.repeats, args.skin, args.model)

    for model in args.models[:1] if args.split else args.models:
        label, lammps_style = MODELS[model][0], MODELS[model][6]
        print(f"preparing {label} N={args.n} at T={MODELS[model][4]} ...", flush=True)
        system = equilibrated(model, args.n)
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "start.data"
            pyglass.io.write_lammps_data(system, data)
            if args.split:
                return print_split(data, args)
            for p in args.ranks:
                # interleave the two codes run by run, so load from other jobs hits both alike
                pg_runs, lm_runs, base_runs = [], [], []
                for _ in range(args.repeats):
                    if args.baseline:
                        base_runs += time_pyglass(data, args.steps, 1, p, model, args.baseline)[1]
                    pg_runs += time_pyglass(data, args.steps, 1, p, model)[1]
                    lm_runs += time_lammps(Path(tmp), system.N, args.steps, 1, p, model)[1]
                pg = (statistics.median(pg_runs), pg_runs)
                lm = (statistics.median(lm_runs), lm_runs)
                results[p] = (pg, lm)
                print(f"{label} N={system.N}, {args.steps} NVT steps, {p} rank(s), median of {args.repeats}:")
                print(f"  pyglass {pg[0] / 1e6:.3f} M atom-steps/s  runs {_fmt(pg[1])}")
                print(f"  LAMMPS  {lm[0] / 1e6:.3f} M atom-steps/s  runs {_fmt(lm[1])}  ({lammps_style})")
                print(f"  ratio pyglass/LAMMPS = {pg[0] / lm[0]:.2f}", flush=True)
                if args.baseline:
                    base = statistics.median(base_runs)
                    print(f"  baseline {base / 1e6:.3f} M atom-steps/s  runs {_fmt(base_runs)}  ({args.baseline})")
                    print(f"  ratio baseline/LAMMPS = {base / lm[0]:.2f}, pyglass/baseline = {pg[0] / base:.2f}",
                          flush=True)
        if 1 in results:
            for p in args.ranks:
                if p > 1:
                    e_pg = results[p][0][0] / (p * results[1][0][0])
                    e_lm = results[p][1][0] / (p * results[1][1][0])
                    print(f"  strong-scaling efficiency 1 -> {p} ranks: pyglass {e_pg:.0%}, LAMMPS {e_lm:.0%}")


if __name__ == "__main__":
    main()
