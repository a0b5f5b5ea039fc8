"""Athermal shear modulus and shear stress (docs/science.md §3).

G = (1/V) [d2U/dgamma^2 - Xi . M+ . Xi] for simple shear x -> x + gamma y at an inherent structure
(Born term minus the non-affine relaxation), sigma_xy = (1/V) dU/dgamma; the non-affine
displacement per unit strain is -M+ Xi. 2D and 3D (V is the area in 2D).
"""
from __future__ import annotations

import numpy as np

from pyglass.analysis.landscape.hessian import affine_shear_derivatives, hessian, shear_stress  # noqa: F401


METHODS = ("factor", "cg")
CG_TOL = 1e-9     # relative accuracy of G on the factor-free path (block CG stopped on Xi.M+Xi)


def _solver(system, pot, solver, backend, hessian_matrix, method="factor", comm=None):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if solver is not None:
        return solver
    from pyglass.analysis.landscape import solvers as S
    if method == "cg":
        return S.BlockPCG.for_system(system, pot, comm, hessian_matrix)
    if comm is not None:
        raise ValueError("comm: only method 'cg' runs distributed")
    h = hessian(system, pot) if hessian_matrix is None else hessian_matrix
    return S.PseudoInverse(h, system.dim, backend=backend)


def nonaffine_response(system, pot, solver=None, backend: str = "auto", hessian_matrix=None,
                       method: str = "factor", tol: float = 1e-8) -> np.ndarray:
    """Linear-response non-affine displacement per unit shear strain, -M+ Xi, as (N, d) (serial; with
    method 'cg' |M+ Xi|^2 and Xi.M+Xi are accurate to `tol` relative)."""
    from pyglass.analysis.landscape.solvers import BlockPCG
    _, xi = affine_shear_derivatives(system, pot)
    pinv = _solver(system, pot, solver, backend, hessian_matrix, method)
    z = pinv.solve(xi.ravel(), tol=tol) if isinstance(pinv, BlockPCG) else pinv(xi.ravel())
    return -z.reshape(system.N, system.dim)


def shear_modulus(system, pot, solver=None, backend: str = "auto", hessian_matrix=None,
                  return_parts: bool = False, method: str = "factor", tol: float = CG_TOL, comm=None):
    """Athermal shear modulus G = (Born - Xi.M+.Xi)/V at an inherent structure.

    method 'factor' (the Cholesky factor, serial) or 'cg' (block CG without a factor, stopped when G is
    accurate to `tol` relative; on every rank of `comm` or serially). With return_parts, returns
    (G, born/V, nonaffine/V) where G = born/V - nonaffine/V."""
    from pyglass.analysis.landscape.solvers import BlockPCG
    born, xi = affine_shear_derivatives(system, pot)
    pinv = _solver(system, pot, solver, backend, hessian_matrix, method, comm)
    x = xi.ravel()
    if isinstance(pinv, BlockPCG):
        x = pinv.local_rows(x)
        relax = float(pinv.dots(x, pinv.solve(x, norm=False, reference=born, tol=tol))[0])
    else:
        relax = float(x @ pinv(x))
    v = system.box.volume
    g = (born - relax) / v
    return (g, born / v, relax / v) if return_parts else g
