#!/usr/bin/env python
"""Quenches: pyglass FIRE and CG against LAMMPS `minimize` (fire, cg) on the same starts, measured in
the same run; the numbers behind the minimiser defaults (ARCHITECTURE.md, "Minimisers").

Kob-Andersen LJ (rho = 1.2, shifted at 2.5 sigma_ab, LAMMPS `pair_modify shift yes`), two starts per N:
  push-off : builders.lattice(jitter=0.05) to max|F_ia| <= 1e-2 (what a deck's push-off stage does);
  IS       : a liquid (the pushed-off lattice after NVT at T = 0.6) to max|F_ia| <= --is-ftol
             (inherent-structure quench; LAMMPS may stop earlier on its line search: its reason is shown).
LAMMPS uses `min_modify norm inf` so that its ftol is pyglass's max|F_ia|, etol = 0, and the same
iteration cap. Iteration counts are deterministic; times are medians of --repeats (shared machine).
With --configs K the IS quench runs on K liquid configurations --spacing NVT steps apart, and the
summary gives, per minimiser, the medians over the configurations of the time ratio LAMMPS/pyglass
and of the iteration counts (the shifted KA's basins make the count vary from one start to the next).

  python scripts/bench_quench.py [--n 8000 27000] [--repeats 3] [--is-ftol 1e-8] [--md-steps 2000]
  python scripts/bench_quench.py --n 1000 --starts liquid --configs 5 [--spacing 1000]
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
        rows[style] = ((pg_it, pg), (lm_it, lm))
        print(f"  {style:4s} pyglass {pg_it:7d} it {pg:8.2f} s  [{pg_reason}]\n"
              f"       LAMMPS  {lm_it:7d} it {lm:8.2f} s  [{lm_reason}]   time LAMMPS/pyglass = {lm / pg:.2f}",
              flush=True)
    print(f"  pyglass FIRE/CG time = {rows['fire'][0][1] / rows['cg'][0][1]:.2f}", flush=True)
    return rows


def summarize(label, per_config):
    """Medians over configurations of each minimiser's time ratio and iteration counts."""
    print(f"{label}: medians over {len(per_config)} configurations", flush=True)
    for style in ("fire", "cg"):
        ratios = [lm[1] / pg[1] for pg, lm in (c[style] for c in per_config)]
        pg_it = [pg[0] for pg, _ in (c[style] for c in per_config)]
        lm_it = [lm[0] for _, lm in (c[style] for c in per_config)]
        print(f"  {style:4s} time LAMMPS/pyglass = {statistics.median(ratios):.2f} (per configuration "
              f"{', '.join(f'{r:.2f}' for r in ratios)}); iterations pyglass {statistics.median(pg_it):.0f}, "
              f"LAMMPS {statistics.median(lm_it):.0f}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[8000, 27000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--is-ftol", type=float, default=1e-8)
    ap.add_argument("--md-steps", type=int, default=2000)
    ap.add_argument("--starts", nargs="+", choices=("push-off", "liquid"), default=["push-off", "liquid"])
    ap.add_argument("--configs", type=int, default=1, help="liquid configurations quenched (IS start)")
    ap.add_argument("--spacing", type=int, default=1000, help="NVT steps between the liquid configurations")
    args = ap.parse_args(argv)
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "start.data"
            start = builders.lattice(n, 1.2, 3, (0.8, 0.2), seed=1, jitter=0.05)
            pyglass.io.write_lammps_data(start, data)
            if "push-off" in args.starts:
                compare(f"KA N={n} push-off from a jittered lattice", data, Path(tmp), 1e-2, args.repeats)
            if "liquid" not in args.starts:
                continue
            FIRE(ftol=1e-2).minimize(start, KobAndersen())
            start.thermalize(0.6, 1)
            nvt = NoseHoover(0.005, 0.6, 0.5)
            nvt.run(start, KobAndersen(), args.md_steps)
            per_config = []
            for k in range(args.configs):
                if k:
                    nvt.run(start, KobAndersen(), args.spacing)
                pyglass.io.write_lammps_data(start, data)
                steps = args.md_steps + k * args.spacing
                per_config.append(compare(f"KA N={n} inherent structure from the liquid at T = 0.6 ({steps} NVT steps)",
                                          data, Path(tmp), args.is_ftol, args.repeats))
            if args.configs > 1:
                summarize(f"KA N={n} inherent structures to max|F_ia| <= {args.is_ftol:g}", per_config)


if __name__ == "__main__":
    main()
