"""Reaching and polishing inherent structures for landscape work.

`quench` uses `pyglass.engine.minimizers.ConjugateGradient` (FIRE if CG stops unconverged) when that
package is present and scipy's L-BFGS otherwise;
`newton_refine` then takes Newton steps x <- x + M+ F with the grounded Cholesky factor
(solvers.PseudoInverse), which converge quadratically near a minimum: the max force reaches
round-off (~1e-13) in two or three steps, as finite-difference tests of G need.
"""
from __future__ import annotations

import numpy as np
import scipy.optimize as so

from pyglass.analysis.landscape.hessian import hessian


def _set_displacement(system, x0, images0, disp):
    system.images[:] = images0
    system.positions = x0 + disp.reshape(x0.shape)


def quench(system, pot, ftol: float = 1e-10, max_iter: int = 200000):
    """Minimise the energy in place. Returns (energy, max |F|, iterations)."""
    try:
        from pyglass.engine.minimizers import FIRE, ConjugateGradient
    except ImportError:
        FIRE = None
    if FIRE is not None:
        res = ConjugateGradient(ftol=ftol).minimize(system, pot)
        if not res.converged:
            res = FIRE(ftol=ftol).minimize(system, pot)
        return res.energy, res.max_force, res.iterations
    x0 = system.positions.copy()
    images0 = system.images.copy()

    def fun(disp):
        _set_displacement(system, x0, images0, disp)
        r = pot.compute(system)
        return r.energy, -r.forces.ravel()

    out = so.minimize(fun, np.zeros(x0.size), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": ftol, "ftol": 0.0, "maxcor": 20})
    _set_displacement(system, x0, images0, out.x)
    r = pot.compute(system)
    return r.energy, float(np.abs(r.forces).max()), int(out.nit)


def newton_refine(system, pot, ftol: float = 1e-12, max_iter: int = 10, backend: str = "auto"):
    """Newton steps x <- x + M+ F in place until max |F| <= ftol, or until the force stops
    decreasing at the round-off floor (below 1e-9). Start from a (nearly) converged inherent
    structure: far from one, Newton may head for a saddle. Returns max |F|."""
    from pyglass.analysis.landscape.solvers import PseudoInverse
    f = pot.forces(system)
    fmax = float(np.abs(f).max())
    for _ in range(max_iter):
        if fmax <= ftol:
            return fmax
        pinv = PseudoInverse(hessian(system, pot), system.dim, backend=backend)
        x_old = system.positions.copy()
        dx = pinv.solve(f.ravel()).reshape(system.N, system.dim)
        system.positions = x_old + dx
        f = pot.forces(system)
        new = float(np.abs(f).max())
        if new > 0.5 * fmax and fmax < 1e-9:  # round-off floor reached
            if new > fmax:
                system.positions = x_old
                new = float(np.abs(pot.forces(system)).max())
            return new
        fmax = new
    if fmax > ftol:
        raise RuntimeError(f"newton_refine: max force {fmax:.3g} > ftol={ftol:g} after {max_iter} steps")
    return fmax
