# cython: language_level=3
# distutils: depends = extensions/softness_kernels.h
# Caller: pyglass/analysis/softness/structure_functions.py (as pyglass._ext.softness).
"""Structure-function kernels for ML softness (paper 4, App. A; pyglass.analysis.softness).

Radial:  G[i, X*n_mu + k] = sum_{j in X, r_ij < r_max} exp(-(r_ij - mu_k)^2 / (2 sigma^2)),
computed from a *half* neighbour list (each pair once, periodic images as ghost rows): the
Gaussian row of one pair is evaluated once (a SIMD loop over mu) and added to both ends.

Angular: Psi[i, P(X_j, X_k)*n_ang + a] = sum_{j<k; r_ij, r_ik < r_ang}
    exp(-(r_ij^2 + r_ik^2 + r_jk^2) / xi_a^2) (1 + lambda_a cos theta_jik)^zeta_a,
from a full list (every neighbour of i). Neighbours of i are gathered sorted by species, so for a
fixed j the k > j of one species are a contiguous block; for each j the exponential rows (one per
distinct xi) are computed over k, then one pass over k evaluates the powers of all distinct
(lambda, zeta) "lanes" at once and accumulates every (xi, lane) sum of the block
(`sf_angular_centre` in softness_kernels.h; AVX-512: one register per 8 lanes).
"""
import numpy as np
cimport cython
from libc.math cimport sqrt

cdef extern from "softness_kernels.h" nogil:
    void sf_gauss_row(double r, const double* mu, int n, double a, double* w)
    void sf_add_row(double* dst, const double* src, int n)
    void sf_exp_row(const double* s, double a, double* e, int k0, int k1)
    void sf_triplet_row(const double* dx, const double* dy, const double* dz, const double* r2,
                        const double* r, int j, int k0, int k1, double* s, double* c)
    int SF_NL
    void sf_angular_centre(int n, int nmax, const double* nb, const int* ntyp, const long* tstart,
                           int ntypes, int nxi, const double* inv_xi2, int ntile, const double* lam,
                           const int* zeta, int maxbit, const int* pair_index, double* acc,
                           double* s, double* c, double* E)

#: lanes of (lambda, zeta) evaluated together by angular_lanes
LANES = SF_NL


#: the kernels accumulate e^x * 2^SHIFT (softness_kernels.h); callers multiply by 2^-SHIFT
SHIFT = 600


def radial_half(const double[:, ::1] x, const int[::1] types_all, const int[::1] owner,
                const int[::1] order, const int[::1] offsets, const int[::1] neighbours,
                Py_ssize_t nlocal, double rmax2, const double[::1] mu, double inv2s2,
                double[:, ::1] G, double[::1] w):
    """Add every listed pair's Gaussians, times 2^SHIFT, to G (N, n_types*n_mu) at both ends. `w` is scratch of
    length n_mu. Returns the number of pairs inside r_max."""
    cdef Py_ssize_t m = offsets.shape[0] - 1
    cdef Py_ssize_t nmu = mu.shape[0]
    cdef Py_ssize_t p, q, i, jrow, j, ti, tj
    cdef double dx, dy, dz, r
    cdef long npairs = 0
    for p in range(m):
        i = order[p]
        if i >= nlocal:
            continue
        ti = types_all[i]
        for q in range(offsets[p], offsets[p + 1]):
            jrow = order[neighbours[q]]
            dx = x[jrow, 0] - x[i, 0]
            dy = x[jrow, 1] - x[i, 1]
            dz = x[jrow, 2] - x[i, 2]
            r = dx * dx + dy * dy + dz * dz
            if r >= rmax2:
                continue
            npairs += 1
            r = sqrt(r)
            j = owner[jrow]
            tj = types_all[jrow]
            sf_gauss_row(r, &mu[0], <int>nmu, inv2s2, &w[0])
            sf_add_row(&G[i, tj * nmu], &w[0], <int>nmu)
            sf_add_row(&G[j, ti * nmu], &w[0], <int>nmu)
    return npairs


def angular_lanes(const double[:, ::1] x, const int[::1] types_all, const int[::1] order,
                  const int[::1] offsets, const int[::1] neighbours, Py_ssize_t nlocal, int ntypes,
                  double rang2,
                  const double[::1] inv_xi2, const double[::1] lam, const int[::1] zeta,
                  const int[:, ::1] pair_index, double[:, ::1] acc):
    """Angular sums of every local particle for every (species pair, xi, lane):
    acc[i, ((P * n_xi + u) * n_tile + t) * LANES + m] += sum_{j<k} exp(-s/xi_u^2) (1 + lam c)^zeta
    (times 2^SHIFT) with (lam, zeta) = lane t*LANES + m (lam, zeta padded to whole tiles).
    The full neighbour list is read in its cell-sorted CSR form (order, offsets, neighbours).
    Returns the number of triplets."""
    cdef Py_ssize_t nxi = inv_xi2.shape[0], nl = lam.shape[0]
    cdef int ntile = <int>(nl // SF_NL)
    cdef Py_ssize_t m = offsets.shape[0] - 1
    cdef Py_ssize_t p, i, q, n, kk, tb, jrow, nmax = 1
    cdef long ntrip = 0
    cdef double dx, dy, dz, r2
    cdef int maxbit = 0, zz
    if nl % SF_NL != 0 or ntile == 0:
        raise ValueError(f"lam/zeta must fill whole tiles of {SF_NL} lanes")
    for q in range(nl):
        zz = zeta[q]
        while zz >> (maxbit + 1):
            maxbit += 1
    for p in range(m):
        n = offsets[p + 1] - offsets[p]
        if n > nmax:
            nmax = n
    cdef double[:, ::1] nb = np.zeros((5, nmax))
    cdef double[::1] sbuf = np.zeros(nmax)
    cdef double[::1] cbuf = np.zeros(nmax)
    cdef double[::1] E = np.zeros(max(nxi, 1) * nmax)
    cdef long[::1] start = np.zeros(ntypes + 1, np.int_)
    cdef Py_ssize_t[::1] fill = np.zeros(ntypes, np.intp)
    cdef int[::1] ntyp = np.zeros(nmax, np.int32)
    cdef int[::1] pidx = np.ascontiguousarray(np.asarray(pair_index), dtype=np.int32).ravel()
    for p in range(m):
        i = order[p]
        if i >= nlocal:
            continue
        for tb in range(ntypes + 1):
            start[tb] = 0
        n = 0
        for q in range(offsets[p], offsets[p + 1]):
            jrow = order[neighbours[q]]
            dx = x[jrow, 0] - x[i, 0]
            dy = x[jrow, 1] - x[i, 1]
            dz = x[jrow, 2] - x[i, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 < rang2:
                start[types_all[jrow] + 1] += 1
                n += 1
        for tb in range(ntypes):
            start[tb + 1] += start[tb]
            fill[tb] = start[tb]
        for q in range(offsets[p], offsets[p + 1]):
            jrow = order[neighbours[q]]
            dx = x[jrow, 0] - x[i, 0]
            dy = x[jrow, 1] - x[i, 1]
            dz = x[jrow, 2] - x[i, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 < rang2:
                tb = types_all[jrow]
                kk = fill[tb]
                fill[tb] += 1
                nb[0, kk] = dx
                nb[1, kk] = dy
                nb[2, kk] = dz
                nb[3, kk] = r2
                nb[4, kk] = sqrt(r2)
                ntyp[kk] = <int>tb
        ntrip += n * (n - 1) // 2
        if n > 1:
            sf_angular_centre(<int>n, <int>nmax, &nb[0, 0], &ntyp[0], &start[0], ntypes, <int>nxi,
                              &inv_xi2[0], ntile, &lam[0], &zeta[0], maxbit, &pidx[0], &acc[i, 0],
                              &sbuf[0], &cbuf[0], &E[0])
    return ntrip
