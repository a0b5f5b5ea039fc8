"""Athermal shear modulus and shear stress (SCIENCE.md section 3).

G = (1/V) [d2U/dgamma^2 - Xi . M+ . Xi] for simple shear x -> x + gamma y at an inherent structure
(Born term minus the non-affine relaxation), sigma_xy = (1/V) dU/dgamma; the non-affine
displacement per unit strain is -M+ Xi. 2D and 3D (V is the area in 2D).
"""
from __future__ import annotations

import numpy as np

from pyglass.landscape.hessian import affine_shear_derivatives, hessian, shear_stress  # noqa: F401


def _pinv(system, pot, solver, backend, hessian_matrix):
    if solver is not None:
        return solver
    from pyglass.landscape.solvers import PseudoInverse
    h = hessian(system, pot) if hessian_matrix is None else hessian_matrix
    return PseudoInverse(h, system.dim, backend=backend)


def nonaffine_response(system, pot, solver=None, backend: str = "auto", hessian_matrix=None) -> np.ndarray:
    """Linear-response non-affine displacement per unit shear strain, -M+ Xi, as (N, d)."""
    _, xi = affine_shear_derivatives(system, pot)
    pinv = _pinv(system, pot, solver, backend, hessian_matrix)
    return -pinv(xi.ravel()).reshape(system.N, system.dim)


def shear_modulus(system, pot, solver=None, backend: str = "auto", hessian_matrix=None,
                  return_parts: bool = False):
    """Athermal shear modulus G = (Born - Xi.M+.Xi)/V at an inherent structure.

    With return_parts, returns (G, born/V, nonaffine/V) where G = born/V - nonaffine/V."""
    born, xi = affine_shear_derivatives(system, pot)
    pinv = _pinv(system, pot, solver, backend, hessian_matrix)
    x = xi.ravel()
    relax = float(x @ pinv(x))
    v = system.box.volume
    g = (born - relax) / v
    return (g, born / v, relax / v) if return_parts else g
