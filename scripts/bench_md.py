#!/usr/bin/env python
"""MD throughput: pyglass vs LAMMPS on the same configuration, measured in the same run.

Kob-Andersen LJ (rho = 1.2, T = 0.6, Nose-Hoover tau = 0.5, dt = 0.005, skin 0.3, shifted at
2.5 sigma_ab); LAMMPS runs `lj/cut` with `-sf opt`. Prints atom-steps/s of each (median of
--repeats runs) and the ratio pyglass/LAMMPS. Also reports 2D soft disks (N = 1024) throughput.

  python scripts/bench_md.py [--n 8000] [--steps 1000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _reference import lammps_loop_time, run_lammps  # noqa: E402

import pyglass  # noqa: E402
from pyglass import builders  # noqa: E402
from pyglass.integrators import NoseHoover  # noqa: E402
from pyglass.potentials import KobAndersen, SoftDisks2D  # noqa: E402

LAMMPS_KA = """
units lj
atom_style atomic
boundary p p p
read_data start.data
mass 1 1.0
mass 2 1.0
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
pair_coeff 1 2 1.5 0.8 2.0
pair_coeff 2 2 0.5 0.88 2.2
pair_modify shift yes
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
timestep 0.005
fix 1 all nvt temp 0.6 0.6 0.5
thermo {steps}
run {steps}
"""


def equilibrated_ka(n, seed=1):
    s = builders.lattice(n, 1.2, 3, (0.8, 0.2), seed=seed, jitter=0.02)
    s.thermalize(0.6, seed)
    NoseHoover(0.005, 0.6, 0.5).run(s, KobAndersen(), 1500)
    return s


def time_pyglass(system, pot, steps, T, repeats):
    rates = []
    for _ in range(repeats):
        s = system.copy()
        stats = NoseHoover(0.005, T, 0.5).run(s, pot, steps)
        rates.append(stats.atom_steps_per_second)
    return statistics.median(rates), rates


def time_lammps(system, steps, repeats, nprocs=1):
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        pyglass.io.write_lammps_data(system, Path(tmp) / "start.data")
        for _ in range(repeats):
            screen = run_lammps(LAMMPS_KA.format(steps=steps), Path(tmp), args=("-sf", "opt"), nprocs=nprocs)
            rates.append(system.N * steps / lammps_loop_time(screen))
    return statistics.median(rates), rates


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-2d", action="store_true")
    args = ap.parse_args(argv)

    print(f"preparing KA N={args.n} at T=0.6 ...", flush=True)
    system = equilibrated_ka(args.n)
    pg, pg_all = time_pyglass(system, KobAndersen(), args.steps, 0.6, args.repeats)
    lm, lm_all = time_lammps(system, args.steps, args.repeats)
    print(f"KA 3D N={args.n}, {args.steps} NVT steps, one rank (median of {args.repeats}):")
    print(f"  pyglass {pg / 1e6:.3f} M atom-steps/s   runs: {[round(r / 1e6, 3) for r in pg_all]}")
    print(f"  LAMMPS  {lm / 1e6:.3f} M atom-steps/s   runs: {[round(r / 1e6, 3) for r in lm_all]}  (lj/cut/opt)")
    print(f"  ratio pyglass/LAMMPS = {pg / lm:.2f}")
    if not args.skip_2d:
        s2 = builders.lattice(1024, 0.85, 2, (0.5, 0.5), seed=3, jitter=0.02)
        s2.thermalize(0.4, 3)
        pot2 = SoftDisks2D(cutoff=2.5)
        NoseHoover(0.005, 0.4, 0.5).run(s2, pot2, 2000)
        r2, r2_all = time_pyglass(s2, pot2, 4 * args.steps, 0.4, args.repeats)
        print(f"2D soft disks N=1024, rho=0.85, T=0.4: pyglass {r2 / 1e6:.3f} M atom-steps/s "
              f"(runs {[round(r / 1e6, 3) for r in r2_all]})")


if __name__ == "__main__":
    main()
