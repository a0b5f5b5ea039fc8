# cython: language_level=3
# distutils: depends = extensions/softness_kernels.h
"""Structure-function kernels for ML softness (paper 4, App. A; pyglass.softness).

Radial:  G[i, X*n_mu + k] = sum_{j in X, r_ij < r_max} exp(-(r_ij - mu_k)^2 / (2 sigma^2)),
computed from a *half* neighbour list (each pair once, periodic images as ghost rows): the
Gaussian row of one pair is evaluated once (a SIMD loop over mu) and added to both ends.

Angular: Psi[i, P(X_j, X_k)*n_ang + a] = sum_{j<k; r_ij, r_ik < r_ang}
    exp(-(r_ij^2 + r_ik^2 + r_jk^2) / xi_a^2) (1 + lambda_a cos theta_jik)^zeta_a,
from a full list (every neighbour of i). Neighbours of i are gathered sorted by species, so for a
fixed j the k > j of one species are a contiguous block and each function is a dot product of an
exponential row (one per distinct xi) with a power row (one per distinct (lambda, zeta)).
"""
import numpy as np
cimport cython
from libc.math cimport sqrt

cdef extern from "softness_kernels.h" nogil:
    void sf_gauss_row(double r, const double* mu, int n, double a, double* w)
    void sf_add_row(double* dst, const double* src, int n)
    void sf_exp_row(const double* s, double a, double* e, int k0, int k1)
    void sf_pow_row(const double* c, double lam, int z, double* p, double* b, int k0, int k1)
    double sf_dot(const double* a, const double* b, int k0, int k1)
    void sf_triplet_row(const double* dx, const double* dy, const double* dz, const double* r2,
                        const double* r, int j, int k0, int k1, double* s, double* c)


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


def angular_full(const double[:, ::1] x, const int[::1] types_all, const int[::1] row_offsets,
                 const int[::1] row_neighbours, Py_ssize_t nlocal, int ntypes, double rang2,
                 const double[::1] inv_xi2, const double[::1] lam, const int[::1] zeta,
                 const int[::1] fn_xi, const int[::1] fn_lz, const int[:, ::1] pair_index,
                 double[:, ::1] Psi):
    """Add the angular functions of every local particle, times 2^SHIFT, to Psi (N, n_pairs*n_ang).
    inv_xi2: 1/xi^2 per distinct xi; (lam, zeta): distinct (lambda, zeta) combinations; function
    a uses inv_xi2[fn_xi[a]] and (lam, zeta)[fn_lz[a]]. pair_index[X, Y] = species-pair block.
    Returns the number of triplets (i; j < k) inside the cutoff."""
    cdef Py_ssize_t nxi = inv_xi2.shape[0], nlz = lam.shape[0], nang = fn_xi.shape[0]
    cdef Py_ssize_t i, q, n, jj, kk, a, u, mlz, tb, k0, k1, blk, nmax = 1
    cdef Py_ssize_t jrow
    cdef long ntrip = 0
    cdef double dx, dy, dz, r2
    for i in range(nlocal):
        n = row_offsets[i + 1] - row_offsets[i]
        if n > nmax:
            nmax = n
    # neighbour columns (dx, dy, dz, r2, r) sorted by species; rows of scratch
    cdef double[:, ::1] nb = np.zeros((5, nmax))
    cdef double[::1] sbuf = np.zeros(nmax)
    cdef double[::1] cbuf = np.zeros(nmax)
    cdef double[::1] bbuf = np.zeros(nmax)
    cdef double[:, ::1] E = np.zeros((max(nxi, 1), nmax))
    cdef double[:, ::1] P = np.zeros((max(nlz, 1), nmax))
    cdef Py_ssize_t[::1] start = np.zeros(ntypes + 1, np.intp)
    cdef Py_ssize_t[::1] fill = np.zeros(ntypes, np.intp)
    cdef int[::1] ntyp = np.zeros(nmax, np.int32)
    for i in range(nlocal):
        # gather i's neighbours inside r_ang, counting-sorted by species
        for tb in range(ntypes + 1):
            start[tb] = 0
        n = 0
        for q in range(row_offsets[i], row_offsets[i + 1]):
            jrow = row_neighbours[q]
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
        for q in range(row_offsets[i], row_offsets[i + 1]):
            jrow = row_neighbours[q]
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
        for jj in range(n - 1):
            ntrip += n - 1 - jj
            sf_triplet_row(&nb[0, 0], &nb[1, 0], &nb[2, 0], &nb[3, 0], &nb[4, 0], <int>jj,
                           <int>(jj + 1), <int>n, &sbuf[0], &cbuf[0])
            for u in range(nxi):
                sf_exp_row(&sbuf[0], inv_xi2[u], &E[u, 0], <int>(jj + 1), <int>n)
            for mlz in range(nlz):
                sf_pow_row(&cbuf[0], lam[mlz], zeta[mlz], &P[mlz, 0], &bbuf[0], <int>(jj + 1), <int>n)
            for tb in range(ntypes):
                k0 = start[tb]
                if k0 < jj + 1:
                    k0 = jj + 1
                k1 = start[tb + 1]
                if k1 <= k0:
                    continue
                blk = pair_index[ntyp[jj], tb] * nang
                for a in range(nang):
                    Psi[i, blk + a] += sf_dot(&E[fn_xi[a], 0], &P[fn_lz[a], 0], <int>k0, <int>k1)
    return ntrip
