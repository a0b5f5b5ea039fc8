"""Benchmark: the 266 structure functions of paper 4 (App. A grid: 2 x 100 radial Gaussians,
3 x 22 angular functions, r_max = r_max_angular = 5.0) of one N = 8000 3D Kob-Andersen-like frame
on one core, against DScribe's ACSF (C++; the same Gaussian radial and angular families with
Behler's cosine cutoff factor) at the same grid and cutoff, measured in the same run.

    python scripts/bench_structure_functions.py [--n 8000] [--repeats 3] [--centres 100]

DScribe runs in its own venv (`make dscribe-venv`; $PYGLASS_DSCRIBE_PYTHON overrides the
interpreter) through a subprocess on the same configuration; it is timed on --centres centres
per call (a whole frame would take ~15 minutes) and scaled to N. Times are medians of --repeats;
CPU times (process_time) are printed beside wall times because the machine is shared. Also
printed: our general angular kernel (the path for grids the fused one cannot hold) in the same
run. The configuration is a jittered simple-cubic lattice at rho = 1.2, 80:20 (builders.lattice):
the cost depends only on the neighbour counts (~630 within 5.0), which match the liquid's.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ("He", "Ne")          # species 0, 1 for ASE/DScribe (ordered by atomic number)


def dscribe_python() -> str:
    exe = os.environ.get("PYGLASS_DSCRIBE_PYTHON") or str(ROOT / ".venv-dscribe" / "bin" / "python")
    if not Path(exe).exists():
        sys.exit(f"DScribe interpreter {exe} not found: run `make dscribe-venv` or set PYGLASS_DSCRIBE_PYTHON")
    return exe


def median_times(fn, repeats):
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return float(np.median(wall)), float(np.median(cpu)), out


def dscribe_worker(path, centres, repeats):
    """Runs under DScribe's interpreter: time ACSF.create on `centres` atoms of the saved frame."""
    from ase import Atoms
    from dscribe.descriptors import ACSF
    d = np.load(path)
    L = d["box"]
    atoms = Atoms([SYMBOLS[t] for t in d["types"]], positions=d["positions"], cell=L, pbc=True)
    g2 = [[1 / (2 * float(d["sigma"]) ** 2), float(m)] for m in d["mu"]]
    g4 = [[1 / xi ** 2, int(z), lam] for xi, lam, z in d["angular"]]
    acsf = ACSF(species=list(SYMBOLS), r_cut=float(d["r_max"]), g2_params=g2, g4_params=g4, periodic=True)
    idx = np.random.default_rng(0).choice(len(atoms), centres, replace=False).tolist()
    wall, cpu, X = median_times(lambda: acsf.create(atoms, centers=idx, n_jobs=1), repeats)
    print(json.dumps({"wall": wall, "cpu": cpu, "centres": centres, "features": int(X.shape[1])}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--centres", type=int, default=100, help="centres per DScribe call (scaled to N)")
    ap.add_argument("--dscribe-worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dscribe_worker:
        return dscribe_worker(a.dscribe_worker, a.centres, a.repeats)

    sys.path.insert(0, str(ROOT))
    from pyglass import builders, softness
    s = builders.lattice(a.n, 1.2, 3, (0.8, 0.2), seed=1, jitter=0.08)
    sf = softness.StructureFunctions()
    print(f"N = {s.N}, box {s.box.lengths[0]:.2f}, {sf}")
    with tempfile.TemporaryDirectory() as tmp:
        frame = os.path.join(tmp, "frame.npz")
        np.savez(frame, positions=s.positions, box=s.box.lengths, types=s.types, sigma=sf.sigma, mu=sf.mu,
                 r_max=sf.r_max, angular=np.array(sf.angular))
        ours_wall, ours_cpu, X = median_times(lambda: sf.compute(s), a.repeats)
        sf._kernel = "general"
        gen_wall, gen_cpu, Xg = median_times(lambda: sf.compute(s), a.repeats)
        sf._kernel = "auto"
        run = subprocess.run([dscribe_python(), __file__, "--dscribe-worker", frame, "--centres", str(a.centres),
                              "--repeats", str(a.repeats)], capture_output=True, text=True, check=True)
    ds = json.loads(run.stdout.strip().splitlines()[-1])
    scale = s.N / ds["centres"]
    big = np.abs(Xg) > 1e-290                  # relative differences of subnormal tails are meaningless
    dev = np.max(np.abs(X - Xg)[big] / np.abs(Xg)[big])
    print(f"pyglass, {X.shape[1]} functions, whole frame: wall {ours_wall:6.2f} s   CPU {ours_cpu:6.2f} s")
    print(f"pyglass, general angular kernel:          wall {gen_wall:6.2f} s   CPU {gen_cpu:6.2f} s   "
          f"(max rel diff {dev:.1e})")
    print(f"DScribe ACSF, {ds['features']} features, {ds['centres']} centres: wall {ds['wall']:6.2f} s   CPU "
          f"{ds['cpu']:6.2f} s  -> per frame (x{scale:.0f}) wall {ds['wall'] * scale:7.1f} s")
    print(f"ratio DScribe / pyglass per frame: wall {ds['wall'] * scale / ours_wall:5.0f}x   "
          f"CPU {ds['cpu'] * scale / ours_cpu:5.0f}x   (medians of {a.repeats})")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (2-core machine: timings are shared)")


if __name__ == "__main__":
    main()
