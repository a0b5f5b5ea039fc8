#!/usr/bin/env python
"""Quenches at large N: pyglass FIRE and CG against LAMMPS `minimize` (fire, cg) on the same starts,
measured in the same run; the numbers behind the minimiser defaults (ARCHITECTURE.md, "Minimisers").

Kob-Andersen LJ (rho = 1.2, shifted at 2.5 sigma_ab, LAMMPS `pair_modify shift yes`), two starts per N:
  push-off : builders.lattice(jitter=0.05) to max|F_ia| <= 1e-2 (what a deck's push-off stage does);
  IS       : a liquid (the pushed-off lattice after NVT at T = 0.6) to max|F_ia| <= --is-ftol
             (inherent-structure quench; LAMMPS may stop earlier on its line search: its reason is shown).
LAMMPS uses `min_modify norm inf` so that its ftol is pyglass's max|F_ia|, etol = 0, and the same
iteration cap. Iteration counts are deterministic; times are medians of --repeats (shared machine).

  python scripts/bench_quench.py [--n 8000 27000] [--repeats 3] [--is-ftol 1e-8] [--md-steps 2000]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _reference import LAMMPS_KA_SETUP, run_lammps  # noqa: E402

import pyglass  # noqa: E402
from pyglass import builders  # noqa: E402
from pyglass.engine.integrators import NoseHoover  # noqa: E402
from pyglass.engine.minimizers import FIRE, ConjugateGradient  # noqa: E402
from pyglass.engine.potentials import KobAndersen  # noqa: E402

MAX_ITER = 200_000
LAMMPS_MIN = LAMMPS_KA_SETUP + """min_style {style}
min_modify norm inf
thermo 100000
minimize 0.0 {ftol} {maxiter} {maxeval}
"""


def lammps_quench(workdir, style, ftol):
    """(iterations, seconds, stop reason) of LAMMPS `minimize` on workdir/start.data."""
    screen = run_lammps(LAMMPS_MIN.format(style=style, ftol=ftol, maxiter=MAX_ITER, maxeval=10 * MAX_ITER),
                        workdir, args=("-sf", "opt"))
    it = int(re.search(r"Iterations, force evaluations\s*=\s*(\d+)", screen).group(1))
    wall = float(re.findall(r"Loop time of ([0-9.eE+-]+) on", screen)[-1])
    reason = re.search(r"Stopping criterion = (.*)", screen).group(1).strip()
    return it, wall, reason


def pyglass_quench(data, kind, ftol):
    system = pyglass.io.read_lammps_data(data)
    mini = FIRE(ftol=ftol, max_iterations=MAX_ITER) if kind == "fire" else \
        ConjugateGradient(ftol=ftol, max_iterations=MAX_ITER)
    t0 = time.perf_counter()
    res = mini.minimize(system, KobAndersen())
    return res.iterations, time.perf_counter() - t0, f"{res.reason.value} (max|F| {res.max_force:.1e})"


def compare(label, data, workdir, ftol, repeats):
    print(f"{label}: to max|F_ia| <= {ftol:g}, median of {repeats}", flush=True)
    rows = {}
    for style in ("fire", "cg"):
        pg_t, lm_t = [], []
        for _ in range(repeats):   # interleaved, so load from other jobs hits both codes alike
            pg_it, t, pg_reason = pyglass_quench(data, style, ftol)
            pg_t.append(t)
            lm_it, t, lm_reason = lammps_quench(workdir, style, ftol)
            lm_t.append(t)
        pg, lm = statistics.median(pg_t), statistics.median(lm_t)
        rows[style] = (pg_it, pg)
        print(f"  {style:4s} pyglass {pg_it:7d} it {pg:8.2f} s  [{pg_reason}]\n"
              f"       LAMMPS  {lm_it:7d} it {lm:8.2f} s  [{lm_reason}]   time LAMMPS/pyglass = {lm / pg:.2f}",
              flush=True)
    print(f"  pyglass FIRE/CG time = {rows['fire'][1] / rows['cg'][1]:.2f}", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[8000, 27000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--is-ftol", type=float, default=1e-8)
    ap.add_argument("--md-steps", type=int, default=2000)
    args = ap.parse_args(argv)
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "start.data"
            start = builders.lattice(n, 1.2, 3, (0.8, 0.2), seed=1, jitter=0.05)
            pyglass.io.write_lammps_data(start, data)
            compare(f"KA N={n} push-off from a jittered lattice", data, Path(tmp), 1e-2, args.repeats)
            FIRE(ftol=1e-2).minimize(start, KobAndersen())
            start.thermalize(0.6, 1)
            NoseHoover(0.005, 0.6, 0.5).run(start, KobAndersen(), args.md_steps)
            pyglass.io.write_lammps_data(start, data)
            compare(f"KA N={n} inherent structure from the liquid at T = 0.6 ({args.md_steps} NVT steps)", data,
                    Path(tmp), args.is_ftol, args.repeats)


if __name__ == "__main__":
    main()
