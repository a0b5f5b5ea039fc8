"""Dipole responses and dipole stiffness (paper 2, Kapteijns et al. 2021, App. A; docs/science.md §3).

For an interacting pair (i, j): d_ij = (1/sqrt 2) dr_ij/dx (unit vector in R^dN: +n/sqrt2 on j,
-n/sqrt2 on i, n = r_ij/|r_ij|), the response z = M+ d in the translation-free space, and
kappa_ij = (d . M+ d) / (d . M+^2 d) = (d . z) / (z . z).

The default path factorises the Hessian once (solvers.PseudoInverse: grounded Cholesky) and solves
the right-hand sides in blocks. Without a factor (N where none fits): `method='cg'` runs block
preconditioned CG on many dipoles at once (solvers.BlockPCG), each dipole stopped when its kappa_ij is
accurate to about `tol` relative, serially or on the ranks of `comm` (every rank holds the whole system,
as for `petsc_hessian`); `method='ksp'` solves one dipole at a time by PETSc CG to a residual `rtol`;
`method='dense'` uses a dense pseudo-inverse (the test oracle).
"""
from __future__ import annotations

import numpy as np

from pyglass.analysis.landscape.hessian import hessian, interacting_pairs

METHODS = ("factor", "cg", "ksp", "dense")
FACTOR_BLOCK = 128     # right-hand sides per block of a factor's triangular solves (cg: solvers.CG_BLOCK)
CG_TOL = 1e-6      # relative accuracy of kappa_ij on the factor-free path (its two forms each to CG_TOL/2)


def _check_pairs(system, pairs):
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be an (M, 2) integer array, got shape {pairs.shape} dtype {pairs.dtype}")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= system.N):
        raise ValueError(f"pairs index particles outside 0..{system.N - 1}")
    if np.any(pairs[:, 0] == pairs[:, 1]):
        k = int(np.flatnonzero(pairs[:, 0] == pairs[:, 1])[0])
        raise ValueError(f"pairs[{k}] = {pairs[k].tolist()} joins a particle to itself")
    return pairs.astype(np.int64)


def dipole_vectors(system, pairs) -> np.ndarray:
    """Unit dipole vectors d_ij as columns of a dense (dN, M) array (n from the minimum image)."""
    pairs = _check_pairs(system, pairs)
    d, n = system.dim, system.N
    x = system.positions
    nvec = system.box.minimum_image(x[pairs[:, 1]] - x[pairs[:, 0]])
    nvec /= np.linalg.norm(nvec, axis=1)[:, None]
    out = np.zeros((n * d, len(pairs)))
    cols = np.arange(len(pairs))
    for a in range(d):
        out[pairs[:, 1] * d + a, cols] = nvec[:, a] / np.sqrt(2.0)
        out[pairs[:, 0] * d + a, cols] = -nvec[:, a] / np.sqrt(2.0)
    return out


def dipole_responses(system, pot, pairs, method: str = "factor", backend: str = "auto", block: int | None = None,
                     hessian_matrix=None, solver=None, rtol: float = 1e-10, tol: float = CG_TOL):
    """(kappa (M,), responses z (dN, M)) for the given pairs; see the module docstring (serial)."""
    kappa, z = _solve(system, pot, pairs, method, backend, block, hessian_matrix, solver, rtol, tol, None, keep=True)
    return kappa, z


def _solve(system, pot, pairs, method, backend, block, hessian_matrix, solver, rtol, tol, comm, keep):
    from pyglass.analysis.landscape import solvers as S
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    pairs = _check_pairs(system, pairs)
    if solver is None:
        if method == "cg":
            solver = S.BlockPCG.for_system(system, pot, comm, hessian_matrix, tol=tol, block=block or S.CG_BLOCK)
        elif comm is not None:
            raise ValueError(f"comm: only method 'cg' runs distributed, got method {method!r}")
        else:
            h = hessian(system, pot) if hessian_matrix is None else hessian_matrix
            if method == "factor":
                solver = S.PseudoInverse(h, system.dim, backend=backend, block=block or FACTOR_BLOCK)
            elif method == "ksp":
                solver = S.KSPSolver(h, system.dim, rtol=rtol)
            else:
                pinv = S.dense_pseudo_inverse(h, system.dim)
                solver = lambda b: pinv @ b  # noqa: E731
    iterative = isinstance(solver, S.BlockPCG)
    if block is None:
        block = solver.block if iterative else FACTOR_BLOCK
    kappa = np.empty(len(pairs))
    zs = [] if keep else None
    for s in range(0, len(pairs), block):
        dv = dipole_vectors(system, pairs[s: s + block])
        if iterative:       # this rank's rows; the dot products are summed over the ranks
            dv = solver.local_rows(dv)
            z = solver.solve(dv, tol=tol / 2)    # q1 = d.z and q2 = z.z each to tol/2: kappa = q1/q2 to tol
            kappa[s: s + block] = solver.dots(dv, z) / solver.dots(z, z)
        else:
            z = solver(dv)
            kappa[s: s + block] = np.einsum("ij,ij->j", dv, z) / np.einsum("ij,ij->j", z, z)
        if keep:
            zs.append(z)
    return kappa, (np.hstack(zs) if keep and zs else None)


def dipole_stiffness(system, pot, pairs, method: str = "factor", backend: str = "auto", block: int | None = None,
                     hessian_matrix=None, solver=None, rtol: float = 1e-10, tol: float = CG_TOL,
                     comm=None) -> np.ndarray:
    """kappa_ij = (d.M+ d)/(d.M+^2 d) for an (M, 2) int array of pairs -> (M,), on every rank of `comm`
    (method 'cg' only) or serially."""
    return _solve(system, pot, pairs, method, backend, block, hessian_matrix, solver, rtol, tol, comm, keep=False)[0]


def local_dipole_stiffness(system, pot, **kwargs) -> np.ndarray:
    """kappa_i = mean of kappa_ij over particle i's interacting pairs (N,) (NaN for none)."""
    pairs = interacting_pairs(system, pot)
    kappa = dipole_stiffness(system, pot, pairs, **kwargs)
    total = np.bincount(pairs[:, 0], kappa, system.N) + np.bincount(pairs[:, 1], kappa, system.N)
    count = np.bincount(pairs.ravel(), minlength=system.N)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def random_pairs(system, pot, n_pairs: int, seed: int) -> np.ndarray:
    """n_pairs distinct interacting pairs drawn uniformly (reproducible from seed)."""
    pairs = interacting_pairs(system, pot)
    if not 1 <= n_pairs <= len(pairs):
        raise ValueError(f"n_pairs must be in 1..{len(pairs)} (interacting pairs), got {n_pairs}")
    idx = np.random.default_rng(seed).choice(len(pairs), n_pairs, replace=False)
    return pairs[np.sort(idx)]


def mesoelastic_fit(T, a0, kappa, tau, t0, min_tau: float = 5.0) -> dict:
    """Paper 2's mesoelastic relation (Eq. 3), ln(tau_alpha/t0) = (l a0)^2 kappa(T)/T + ln t, fitted by
    least squares in x = a0^2 kappa/T over the states with tau_alpha/t0 >= `min_tau` (the relation
    holds in the viscous regime; the paper: from tau_alpha ~ 10 t0). Arrays over states: T, the length
    a0 and time t0 units, the mean dipole stiffness kappa, tau_alpha (NaN: not measured, left out).

    Returns {"n": states fitted}, and with at least three: x, y, slope, intercept, r2, max_res (largest
    |residual| in ln tau), l = sqrt(slope) and t = exp(intercept) with their 1-sigma errors dl and
    dt_log (of ln t); l, t, dl, dt_log are NaN when the slope is not positive."""
    from scipy.stats import linregress
    T, a0, kappa, tau, t0 = (np.asarray(v, float) for v in (T, a0, kappa, tau, t0))
    with np.errstate(invalid="ignore"):
        use = np.isfinite(tau) & (tau / t0 >= min_tau)
    out = {"n": int(use.sum())}
    if out["n"] < 3:
        return out
    x = a0[use] ** 2 * kappa[use] / T[use]
    y = np.log(tau[use] / t0[use])
    fit = linregress(x, y)
    res = y - (fit.intercept + fit.slope * x)
    out.update(x=x, y=y, slope=fit.slope, intercept=fit.intercept, r2=fit.rvalue ** 2,
               max_res=float(np.max(np.abs(res))))
    if fit.slope <= 0:
        out.update(l=np.nan, t=np.nan, dl=np.nan, dt_log=np.nan)
    else:
        out.update(l=float(np.sqrt(fit.slope)), dl=float(fit.stderr / (2 * np.sqrt(fit.slope))),
                   t=float(np.exp(fit.intercept)), dt_log=float(fit.intercept_stderr))
    return out
