"""Reference values of Behler symmetry functions from DScribe's ACSF for tests/test_softness.py
(StructureFunctions(cutoff="cosine") against them) -> tests/reference/dscribe_acsf.npz.

Run with DScribe's own venv (`make dscribe-venv`; $PYGLASS_DSCRIBE_PYTHON overrides):
    .venv-dscribe/bin/python scripts/make_dscribe_reference.py
The script needs only numpy, ASE and DScribe: it draws a small binary 3D configuration (seeded
rejection sampling in a periodic cube), computes DScribe's G2 and G4 for every atom at two cutoffs
(one below half the box, one above it, where images of a neighbour and of the atom itself count)
and stores the configuration, the parameters and DScribe's values in DScribe's conventions:
    G2_X(i; eta, R_s) = sum_{j in X} exp(-eta (r_ij - R_s)^2) f_c(r_ij)
    G4_XY(i; eta, zeta, lambda) = 2^(1 - zeta) sum_{j<k} (1 + lambda cos theta_jik)^zeta
                                  exp(-eta (r_ij^2 + r_ik^2 + r_jk^2)) f_c(r_ij) f_c(r_ik) f_c(r_jk)
with f_c(r) = (cos(pi r / r_cut) + 1) / 2 below r_cut. The test maps them to ours
(eta = 1/(2 sigma^2) and 1/xi^2, times 2^(zeta - 1)).
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference", "dscribe_acsf.npz")
N, DENSITY, FRACTION_A, MIN_DISTANCE, SEED = 90, 0.8, 0.7, 0.8, 11
SIGMA, MU = 0.1, np.round(np.arange(0.8, 2.41, 0.1), 10)
ANGULAR = [(xi, lam, zeta) for xi in (1.0, 1.3) for zeta in (1, 2, 4) for lam in (-1.0, 1.0)]
CUTOFFS = (2.2, 2.8)            # the box is ~4.8: 2.2 < L/2 < 2.8
SYMBOLS = ("He", "Ne")          # type 0, type 1 (DScribe orders species by atomic number)


def configuration():
    rng = np.random.default_rng(SEED)
    L = (N / DENSITY) ** (1 / 3)
    x = []
    while len(x) < N:
        p = rng.random(3) * L
        if x:
            d = np.asarray(x) - p
            d -= L * np.round(d / L)
            if np.min(np.einsum("ij,ij->i", d, d)) < MIN_DISTANCE ** 2:
                continue
        x.append(p)
    types = (np.arange(N) >= round(FRACTION_A * N)).astype(np.int32)
    return np.array(x), L, types


def main():
    from ase import Atoms
    from dscribe.descriptors import ACSF
    import dscribe
    x, L, types = configuration()
    atoms = Atoms([SYMBOLS[t] for t in types], positions=x, cell=[L, L, L], pbc=True)
    g2 = [[1 / (2 * SIGMA ** 2), m] for m in MU]
    g4 = [[1 / xi ** 2, zeta, lam] for xi, lam, zeta in ANGULAR]
    out = {"positions": x, "box": np.full(3, L), "types": types, "sigma": SIGMA, "mu": MU,
           "angular": np.array(ANGULAR), "cutoffs": np.array(CUTOFFS),
           "dscribe_version": np.array(getattr(dscribe, "__version__", "unknown"))}
    for rc in CUTOFFS:
        acsf = ACSF(species=list(SYMBOLS), r_cut=rc, g2_params=g2, g4_params=g4, periodic=True)
        X = acsf.create(atoms)
        ng2, ng4 = len(g2), len(g4)
        # DScribe's layout: per species [G1, G2...], then G4 per species pair (0,0), (1,0), (1,1)
        radial = np.stack([X[:, s * (1 + ng2) + 1:(s + 1) * (1 + ng2)] for s in range(2)], 1)
        off = 2 * (1 + ng2)
        angular = np.stack([X[:, off + p * ng4:off + (p + 1) * ng4] for p in range(3)], 1)
        out[f"g2_rc{rc}"], out[f"g4_rc{rc}"] = radial, angular
        print(f"r_cut = {rc}: G2 {radial.shape}, G4 {angular.shape}, G4 > 0 in {np.mean(angular > 0):.2f} of entries")
    np.savez_compressed(OUT, **out)
    print(f"wrote {os.path.normpath(OUT)} (N = {N}, L = {L:.3f})")


if __name__ == "__main__":
    main()
