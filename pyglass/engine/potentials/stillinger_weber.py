"""Stillinger-Weber three-body potential (paper 2's tetrahedral glass former), with the analytic
Hessian and affine-shear derivatives the energy-landscape code needs.

Stillinger & Weber, Phys. Rev. B 31, 5262 (1985); docs/science.md §1:

    U = sum_{i<j} A eps [B (sigma/r)^p - (sigma/r)^q] exp(sigma/(r - a sigma))
      + sum_i sum_{j<k} lambda eps (cos theta_jik - cos0)^2
                        exp(gamma sigma/(r_ij - a sigma)) exp(gamma sigma/(r_ik - a sigma))

with A = 7.049556277, B = 0.6022245584, p = 4, q = 0, a = 1.80, gamma = 1.20, cos0 = -1/3 and
lambda = 18.75 (paper 2's choice instead of silicon's 21), cut at a sigma. Identical to LAMMPS
`pair_style sw` with the parameter line `eps sigma a lambda gamma cos0 A B p q 0`.
The kernels (energy/forces/virial, Hessian with its three-particle blocks, shear derivatives) are
in extensions/threebody.pyx and run over a full neighbour list of local + ghost rows.
"""
from __future__ import annotations

import numpy as np

from pyglass._ext import threebody as _tb
from pyglass.engine.potentials.base import ForceResult, NeighbourList, Potential, finish_result
from pyglass.registry import POTENTIALS


@POTENTIALS.register("stillinger-weber")
class StillingerWeber(Potential):
    """Single-species Stillinger-Weber potential in 2D or 3D (2D: the same law in the plane).

    Parameters follow docs/science.md §1; `skin` is the neighbour-list skin."""

    name = "stillinger-weber"

    def __init__(self, lam: float = 18.75, epsilon: float = 1.0, sigma: float = 1.0, A: float = 7.049556277,
                 B: float = 0.6022245584, p: float = 4, q: float = 0, a: float = 1.8, gamma: float = 1.2,
                 skin: float = 0.3, costheta0: float = -1.0 / 3.0):
        for key, val in (("lam", lam), ("A", A), ("B", B), ("p", p), ("q", q), ("gamma", gamma)):
            if not np.isfinite(val) or val < 0:
                raise ValueError(f"Stillinger-Weber parameter {key} must be finite and >= 0, got {val}")
        for key, val in (("epsilon", epsilon), ("sigma", sigma), ("a", a)):
            if not np.isfinite(val) or val <= 0:
                raise ValueError(f"Stillinger-Weber parameter {key} must be finite and > 0, got {val}")
        if not -1.0 <= costheta0 <= 1.0:
            raise ValueError(f"Stillinger-Weber parameter costheta0 must lie in [-1, 1], got {costheta0}")
        self.lam, self.epsilon, self.sigma = float(lam), float(epsilon), float(sigma)
        self.A, self.B, self.p, self.q = float(A), float(B), float(p), float(q)
        self.a, self.gamma, self.costheta0 = float(a), float(gamma), float(costheta0)
        self.skin = float(skin)
        self.cutoff = self.a * self.sigma
        self.cutoffs = np.full((1, 1), self.cutoff)
        self.type_names = ["A"]
        self.n_types = 1
        self.params = np.array([self.epsilon, self.sigma, self.A, self.B, self.p, self.q, self.cutoff,
                                self.lam, self.gamma, self.costheta0], float)
        assert len(self.params) == _tb.NPARAM
        self.neighbour_list = NeighbourList(self.cutoffs, self.skin, half=False)

    #: exp(sigma/(r - a sigma)) cutoff factors: every derivative vanishes at r = a sigma
    cutoff_continuity = 3

    def describe(self) -> dict:
        return {"name": self.name, "lam": self.lam, "epsilon": self.epsilon, "sigma": self.sigma,
                "A": self.A, "B": self.B, "p": self.p, "q": self.q, "a": self.a, "gamma": self.gamma,
                "costheta0": self.costheta0, "cutoff": self.cutoff, "skin": self.skin}

    def two_body(self, r, order: int = 1) -> np.ndarray:
        """phi2(r) = A eps [B (sigma/r)^p - (sigma/r)^q] exp(sigma/(r - a sigma)) and its first r-derivative
        at distances r: (order + 1, n), zero at and beyond the cutoff a sigma (the kernel's two-body term,
        extensions/threebody.pyx: sw_two; paper 2's Fig. 12 asks where it is attractive, phi2' > 0)."""
        if order not in (0, 1):
            raise ValueError("order must be 0 or 1")
        r = np.atleast_1d(np.asarray(r, float))
        out = np.zeros((order + 1, r.size))
        w = r - self.cutoff
        inside = w < 0
        ri, wi = r[inside], w[inside]
        ex = np.exp(self.sigma / wi)
        s = self.sigma / ri
        sp, sq = self.B * s ** self.p, s ** self.q
        ae = self.A * self.epsilon
        out[0, inside] = ae * (sp - sq) * ex
        if order >= 1:
            out[1, inside] = ae * ex * ((-self.p * sp + self.q * sq) / ri - (sp - sq) * self.sigma / wi ** 2)
        return out

    # ------------------------------------------------------------------------------ helpers
    def _prepare(self, system):
        self.check_system(system)
        if system.n_types > 1:
            raise ValueError(f"{self.name} is a single-species potential but the system has species "
                             f"{system.type_names}")
        nl = self.neighbour_list
        nl.update(system)
        return nl

    # ------------------------------------------------------------------------------ forces
    def compute(self, system, per_particle: bool = False) -> ForceResult:
        nl = self._prepare(system)
        m = system.N + system.n_ghost
        f_all = np.empty((m, 3))
        vir = np.zeros(9)
        pe = np.zeros(m) if per_particle else np.zeros(0)
        energy = _tb.sw_compute(system._x, system.N, *nl.row_csr(system), self.params, f_all, vir, pe)
        return finish_result(self, system, energy, f_all, vir, pe, per_particle)

    # ------------------------------------------------------------------------------ landscape
    def hessian_coo(self, system):
        """Analytic Hessian d2U/dx dx of the local particles as COO triplets (rows, cols, vals),
        indices into the d*N vector (x0, y0, [z0], x1, ...); duplicates are summed by scipy
        (`scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(d*N, d*N))`). Includes the
        three-particle blocks of the three-body term; periodic images map onto their owners."""
        nl = self._prepare(system)
        m = system.N + system.n_ghost
        owner = np.ascontiguousarray(system.domain.owner(np.arange(m)), dtype=np.int64)
        return _tb.sw_hessian(system._x, system.N, *nl.row_csr(system), owner, self.params, system.dim)

    def affine_shear_derivatives(self, system):
        """Simple shear x -> x + g y applied affinely to particles and images: returns
        (d2U/dg2, Xi) with Xi = d2U/dg dx (N, d), i.e. minus d(forces)/dg along the affine path.
        (The pair formula of docs/science.md §3 differentiates with respect to reference
        coordinates, which adds e_y F_x per particle; the two agree at mechanical equilibrium, F = 0.)"""
        nl = self._prepare(system)
        m = system.N + system.n_ghost
        xi = np.empty((m, 3))
        d2 = _tb.sw_shear(system._x, system.N, *nl.row_csr(system), self.params, xi)
        system.domain.fold_forces(xi)
        return float(d2), xi[: system.N, : system.dim].copy()

    def interacting_pairs(self, system) -> np.ndarray:
        """(M, 2) array of local particle pairs (i < j, unique) closer than the cutoff a sigma
        under the periodic images (minimum image, or any image in a small box)."""
        nl = self._prepare(system)
        i, j = nl.pairs(system)
        x = system._x
        dr = x[j] - x[i]
        inside = np.einsum("ij,ij->i", dr, dr) < self.cutoff ** 2
        oi, oj = i[inside], system.domain.owner(j[inside])
        keep = oi < oj
        pairs = np.stack([oi[keep], oj[keep]], axis=1).astype(np.int64)
        return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)
