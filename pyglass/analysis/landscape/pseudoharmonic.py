"""Pseudoharmonic modes (paper 2, App. B; Richard et al., PRL 126, 015501 (2021)).

Cost C(z) = (M:zz)^2 / sum_<ij> (z_ij . z_ij)^2 over the interacting pairs, z_ij = z_j - z_i.
C is homogeneous of degree 0 and blind to uniform translations, so it is minimised without
constraints (scipy nonlinear CG) and the result normalised and made translation-free. Gradient:
grad C = 4 kappa M z / D - (kappa^2 / D^2) grad D, kappa = M:zz, D = sum (z_ij.z_ij)^2,
grad_j D = +4 (z_ij.z_ij) z_ij, grad_i D = -4 (z_ij.z_ij) z_ij (for unnormalised z as written,
kappa = z.Mz). Starts (paper 2, App. B): "for each interacting pair of particles ij we calculate
the dipole response z^ij (Eq. A3), which we use as an initial condition to minimize the cost
function [...] to obtain a pseudoharmonic mode. [...] We show the twelve excitations with the
smallest stiffness". That is the default (`n_starts=None`); `n_starts=k` is the shortcut that
starts only from the k softest dipole responses (`starts="softest"`) or from k interacting pairs drawn
at random (`starts="random"`, seeded: a sample of the paper's starts that is blind to kappa_ij, so the
modes found say something about where kappa is soft). The softest distinct results are kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize as so

from pyglass.analysis.landscape.dipoles import dipole_responses
from pyglass.analysis.landscape.hessian import hessian, interacting_pairs, translation_basis
from pyglass.analysis.landscape.modes import participation_ratio


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
    stiffness of the dipole response each started from, the pair it started from, and how many
    starts were minimised in all."""
    vectors: np.ndarray
    stiffness: np.ndarray
    cost: np.ndarray
    participation_ratio: np.ndarray
    centres: np.ndarray
    start_stiffness: np.ndarray
    start_pairs: np.ndarray = None
    n_starts: int = 0


def minimise_pseudoharmonic(cost: PseudoharmonicCost, z0, gtol: float = 1e-8, max_iter: int = 5000):
    """Minimise C from z0 by nonlinear CG (scipy); returns the unit, translation-free minimiser."""
    z0 = np.asarray(z0, float).ravel()
    z0 = z0 / np.linalg.norm(z0)
    res = so.minimize(cost.value_and_gradient, z0, jac=True, method="CG",
                      options={"gtol": gtol * cost(z0), "maxiter": max_iter})
    t = translation_basis(cost.n, cost.dim)
    z = res.x - t @ (t.T @ res.x)
    return z / np.linalg.norm(z)


def pseudoharmonic_modes(system, pot, n_starts: int | None = None, n_keep: int = 12, overlap: float = 0.9,
                         hessian_matrix=None, backend: str = "auto", gtol: float = 1e-8, block: int = 64,
                         pool: int | None = None, starts: str = "softest", seed: int = 0) -> PseudoharmonicModes:
    """Pseudoharmonic modes from dipole-response starts (module docstring).

    n_starts=None (default, paper 2): start from the dipole response of every interacting pair, so
    the cost is one minimisation of C per pair (~ N z/2 of them; minutes for N of a few hundred,
    use a replica group per sample for large N). n_starts=k: start only from the k softest dipole
    responses (kappa_ij smallest), the old shortcut, or with starts="random" from k pairs drawn
    without replacement (numpy seed `seed`). Results that overlap (|z_a . z_b| > overlap)
    with a softer one are dropped; the n_keep softest distinct ones are returned. Responses are
    solved in blocks of `block` pairs through one factorisation and minimised as they come; at
    most `pool` (default 4 n_keep) distinct candidates are held, so memory stays O(pool dN)."""
    from pyglass.analysis.landscape.solvers import PseudoInverse
    h = hessian(system, pot) if hessian_matrix is None else hessian_matrix
    pairs = interacting_pairs(system, pot)
    solver = PseudoInverse(h, system.dim, backend=backend)
    if n_starts is None:
        start = pairs
    else:
        if int(n_starts) < 1:
            raise ValueError(f"n_starts must be None (every interacting pair) or >= 1, got {n_starts}")
        if starts == "random":
            pick = np.random.default_rng(seed).choice(len(pairs), min(int(n_starts), len(pairs)), replace=False)
            start = pairs[np.sort(pick)]
        elif starts == "softest":
            kappa, _ = dipole_responses(system, pot, pairs, solver=solver, block=block)
            start = pairs[np.argsort(kappa, kind="stable")[:int(n_starts)]]
        else:
            raise ValueError(f"starts must be 'softest' or 'random', got {starts!r}")
    cap = max(int(n_keep), 4 * int(n_keep) if pool is None else int(pool))
    cost = PseudoharmonicCost(h, pairs, system.dim)
    cands = []          # dicts: z, kappa, cost, start kappa, start pair
    for b0 in range(0, len(start), block):
        _, z0 = dipole_responses(system, pot, start[b0: b0 + block], solver=solver, block=block)
        for c in range(z0.shape[1]):
            z = minimise_pseudoharmonic(cost, z0[:, c], gtol=gtol)
            new = {"z": z, "kappa": float(z @ (h @ z)), "cost": cost(z),
                   "start": float(z0[:, c] @ (h @ z0[:, c]) / (z0[:, c] @ z0[:, c])), "pair": start[b0 + c]}
            same = [k for k, o in enumerate(cands) if abs(o["z"] @ z) > overlap]
            if any(cands[k]["kappa"] <= new["kappa"] for k in same):
                continue                      # a softer version of this mode is held already
            cands = [o for k, o in enumerate(cands) if k not in same] + [new]
            if len(cands) > cap:
                cands.sort(key=lambda o: o["kappa"])
                cands = cands[:cap]
    cands.sort(key=lambda o: o["kappa"])
    keep = cands[:n_keep]
    vec = np.array([o["z"] for o in keep]).reshape(len(keep), system.N, system.dim)
    return PseudoharmonicModes(vec, np.array([o["kappa"] for o in keep]), np.array([o["cost"] for o in keep]),
                               participation_ratio(vec), np.argmax(np.einsum("kia,kia->ki", vec, vec), axis=1),
                               np.array([o["start"] for o in keep]),
                               np.array([o["pair"] for o in keep], np.int64).reshape(-1, 2), len(start))
