"""An inherent structure with its Hessian and factorisation, computed once and shared by every
landscape calculation on it (modes, dipole stiffness, G, pseudoharmonic modes): the deck's
landscape stages on one quenched configuration use one `InherentStructure`.

The memory budget that decides whether to factorise is in `landscape.memory`.
"""
from __future__ import annotations

from pyglass.analysis.landscape.memory import GIB, available_memory, factor_fits, factor_memory_estimate


class InherentStructure:
    """A whole (gathered) inherent structure and its potential; the Hessian, the pseudo-inverse
    factorisation and the lowest modes are computed on first use and kept."""

    def __init__(self, system, potential, backend: str = "auto"):
        self.system = system
        self.potential = potential
        self.backend = backend
        self._hessian = None
        self._pinv = None
        self._cg = None
        self._modes = {}

    @property
    def hessian(self):
        if self._hessian is None:
            from pyglass.analysis.landscape.hessian import hessian
            self._hessian = hessian(self.system, self.potential)
        return self._hessian

    def pseudo_inverse(self):
        """The factorised M+ (one Cholesky factorisation, reused)."""
        if self._pinv is None:
            from pyglass.analysis.landscape.solvers import PseudoInverse
            self._pinv = PseudoInverse(self.hessian, self.system.dim, backend=self.backend)
        return self._pinv

    def modes(self, k: int, method: str = "auto", tol: float = 1e-8, seed: int = 0):
        """`landscape.lowest_modes` on this structure, sharing the Hessian and the factor."""
        key = (int(k), method, float(tol), int(seed))
        if key not in self._modes:
            from pyglass.analysis.landscape.modes import choose_method, lowest_modes
            chosen, why = choose_method(self.system.N, self.system.dim, self._pinv is not None) \
                if method == "auto" else (method, "")
            m = lowest_modes(self.system, self.potential, k=k, method=chosen, tol=tol, backend=self.backend,
                             hessian_matrix=self.hessian, seed=seed,
                             pseudo_inverse=self.pseudo_inverse() if chosen in ("block", "scipy") else None)
            if why:
                m.info["choice"] = why
            self._modes[key] = m
        return self._modes[key]

    def linear_solver(self, method: str = "auto"):
        """(solver of M+ b, why) for the dipole and shear-modulus solves: 'factor' (the shared Cholesky
        factor), 'cg' (block PCG without a factor, deflated by the lowest modes already computed here),
        or 'auto' (the factor when one is at hand or its estimated size fits, else 'cg')."""
        if method not in LINEAR_METHODS:
            raise ValueError(f"method must be one of {LINEAR_METHODS}, got {method!r}")
        why = ""
        if method == "auto":
            method, why = choose_linear_method(self.system.N, self.system.dim, self._pinv is not None)
        if method == "factor":
            return self.pseudo_inverse(), why
        if self._cg is None:
            from pyglass.analysis.landscape.solvers import BlockPCG
            deflation = None
            with_vectors = [m for m in self._modes.values() if m.vectors is not None]
            if with_vectors:
                m = max(with_vectors, key=len)
                deflation = (m.eigenvalues, m.vectors.reshape(len(m), -1).T)
            self._cg = BlockPCG(self.hessian, self.system.dim, deflation=deflation)
        return self._cg, why

    def shear_modulus(self, return_parts: bool = False, method: str = "auto"):
        from pyglass.analysis.landscape.elasticity import shear_modulus
        solver, _ = self.linear_solver(method)
        return shear_modulus(self.system, self.potential, solver=solver, hessian_matrix=self.hessian,
                             return_parts=return_parts)

    def dipole_stiffness(self, pairs, method: str = "auto", tol: float | None = None):
        """kappa_ij of the pairs; `tol`: kappa's relative accuracy on the cg path (default dipoles.CG_TOL)."""
        from pyglass.analysis.landscape.dipoles import CG_TOL, dipole_stiffness
        solver, _ = self.linear_solver(method)
        return dipole_stiffness(self.system, self.potential, pairs, hessian_matrix=self.hessian, solver=solver,
                                tol=CG_TOL if tol is None else tol)


LINEAR_METHODS = ("auto", "factor", "cg")


def choose_linear_method(n: int, dim: int, have_factor: bool = False):
    """(method, why) for the dipole and shear-modulus solves with method='auto': the Cholesky factor when
    one is at hand, below 600 rows, or when its estimated size fits 80 % of the memory available
    (`factor_fits`); else block PCG ('cg')."""
    if have_factor:
        return "factor", "auto: factor (one is at hand)"
    if n * dim <= 600:
        return "factor", f"auto: factor ({n * dim} rows <= 600)"
    est, avail = factor_memory_estimate(n, dim) / GIB, available_memory() / GIB
    if factor_fits(n, dim):
        return "factor", f"auto: factor (estimated at {est:.3g} GiB; {avail:.3g} GiB available)"
    return "cg", (f"auto: cg (block PCG; a factor, estimated at {est:.3g} GiB, does not fit in 80 % of the "
                  f"{avail:.3g} GiB available)")
