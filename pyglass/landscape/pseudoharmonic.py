"""Pseudoharmonic modes (paper 2, App. B; Richard et al., PRL 126, 015501 (2021)).

Cost C(z) = (M:zz)^2 / sum_<ij> (z_ij . z_ij)^2 over the interacting pairs, z_ij = z_j - z_i.
C is homogeneous of degree 0 and blind to uniform translations, so it is minimised without
constraints (scipy nonlinear CG) and the result normalised and made translation-free. Gradient:
grad C = 4 kappa M z / D - (kappa^2 / D^2) grad D, kappa = M:zz, D = sum (z_ij.z_ij)^2,
grad_j D = +4 (z_ij.z_ij) z_ij, grad_i D = -4 (z_ij.z_ij) z_ij (for unnormalised z as written,
kappa = z.Mz). Starts: dipole responses of the softest pairs; the softest distinct results are kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize as so

from pyglass.landscape.dipoles import dipole_responses
from pyglass.landscape.hessian import hessian, interacting_pairs, translation_basis
from pyglass.landscape.modes import participation_ratio


class PseudoharmonicCost:
    """C(z) and its gradient for a Hessian and a set of interacting pairs."""

    def __init__(self, hessian_matrix, pairs, dim: int):
        self.h = hessian_matrix.tocsr()
        self.pairs = np.asarray(pairs, dtype=np.int64)
        self.dim = dim
        self.n = self.h.shape[0] // dim

    def parts(self, z):
        z = np.asarray(z, float).ravel()
        mz = self.h @ z
        kappa = float(z @ mz)
        zz = z.reshape(self.n, self.dim)
        zij = zz[self.pairs[:, 1]] - zz[self.pairs[:, 0]]
        q = np.einsum("ij,ij->i", zij, zij)
        dsum = float(q @ q)
        return kappa, mz, zij, q, dsum

    def __call__(self, z):
        kappa, _, _, _, dsum = self.parts(z)
        return kappa * kappa / dsum

    def gradient(self, z):
        kappa, mz, zij, q, dsum = self.parts(z)
        t = 4.0 * q[:, None] * zij
        gd = np.zeros((self.n, self.dim))
        for a in range(self.dim):
            gd[:, a] = np.bincount(self.pairs[:, 1], t[:, a], self.n) - np.bincount(self.pairs[:, 0], t[:, a], self.n)
        return 4.0 * kappa * mz / dsum - (kappa * kappa / dsum ** 2) * gd.ravel()

    def value_and_gradient(self, z):
        return self(z), self.gradient(z)


@dataclass
class PseudoharmonicModes:
    """Softest pseudoharmonic modes found: vectors (k, N, d) unit and translation-free, stiffness
    kappa = M:zz, cost C, participation ratio, centre (particle with the largest |z_i|), and the
    stiffness of the dipole response each started from."""
    vectors: np.ndarray
    stiffness: np.ndarray
    cost: np.ndarray
    participation_ratio: np.ndarray
    centres: np.ndarray
    start_stiffness: np.ndarray


def minimise_pseudoharmonic(cost: PseudoharmonicCost, z0, gtol: float = 1e-8, max_iter: int = 5000):
    """Minimise C from z0 by nonlinear CG (scipy); returns the unit, translation-free minimiser."""
    z0 = np.asarray(z0, float).ravel()
    z0 = z0 / np.linalg.norm(z0)
    res = so.minimize(cost.value_and_gradient, z0, jac=True, method="CG",
                      options={"gtol": gtol * cost(z0), "maxiter": max_iter})
    t = translation_basis(cost.n, cost.dim)
    z = res.x - t @ (t.T @ res.x)
    return z / np.linalg.norm(z)


def pseudoharmonic_modes(system, pot, n_starts: int = 24, n_keep: int = 12, overlap: float = 0.9,
                         hessian_matrix=None, backend: str = "auto", gtol: float = 1e-8) -> PseudoharmonicModes:
    """Start from the dipole responses of the n_starts softest interacting pairs, minimise C from
    each, drop results that overlap (|z_a . z_b| > overlap) with a softer one, keep n_keep."""
    h = hessian(system, pot) if hessian_matrix is None else hessian_matrix
    pairs = interacting_pairs(system, pot)
    kappa, _ = dipole_responses(system, pot, pairs, backend=backend, hessian_matrix=h)
    start = pairs[np.argsort(kappa)[:n_starts]]
    k0, z0 = dipole_responses(system, pot, start, backend=backend, hessian_matrix=h)
    cost = PseudoharmonicCost(h, pairs, system.dim)
    found, ks, cs, starts = [], [], [], []
    for c in range(z0.shape[1]):
        z = minimise_pseudoharmonic(cost, z0[:, c], gtol=gtol)
        found.append(z)
        ks.append(float(z @ (h @ z)))
        cs.append(cost(z))
        starts.append(float(z0[:, c] @ (h @ z0[:, c]) / (z0[:, c] @ z0[:, c])))
    order = np.argsort(ks)
    keep = []
    for a in order:
        if all(abs(found[a] @ found[b]) <= overlap for b in keep):
            keep.append(a)
        if len(keep) == n_keep:
            break
    vec = np.array([found[a] for a in keep]).reshape(len(keep), system.N, system.dim)
    return PseudoharmonicModes(vec, np.array(ks)[keep], np.array(cs)[keep], participation_ratio(vec),
                               np.argmax(np.einsum("kia,kia->ki", vec, vec), axis=1), np.array(starts)[keep])
