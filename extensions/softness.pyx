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
fixed j the k > j of one species are a contiguous block. Two kernels (softness_kernels.h):
`angular_fused` (AVX-512, at most SF_FUSED_MAXXI distinct xi, every zeta 0 or a power of two, no
exponential below e^-700: the default grid) vectorises over k, 8 triplets at a time, exponentials
and cosines in one pass, the (lambda, zeta) powers and all sums in registers in a second
(`sf_fused_centre`); `angular_lanes` (any grid, and the cosine-cutoff option) computes for each j the
exponential rows (one per distinct xi) over k, then one pass over k evaluates the powers of all
distinct (lambda, zeta) "lanes" at once and accumulates every (xi, lane) sum of the block
(`sf_angular_centre`; AVX-512: one register per 8 lanes).

Cosine cutoff (option, DScribe's ACSF form): rc_cos > 0 multiplies each radial term by
f_c(r_ij) and each triplet by f_c(r_ij) f_c(r_ik) f_c(r_jk), f_c(r) = (cos(pi r / rc) + 1) / 2 below rc.
"""
import numpy as np
cimport cython
from libc.math cimport sqrt, cos, floor, M_PI
from libc.stdint cimport uintptr_t

cdef extern from "softness_kernels.h" nogil:
    void sf_gauss_row(double r, const double* mu, int n, double a, double* w)
    void sf_gauss_row_fast(double r, const double* mu, int n, double a, double* w)
    void sf_add_row(double* dst, const double* src, int n)
    void sf_exp_row(const double* s, double a, double* e, int k0, int k1)
    void sf_triplet_row(const double* dx, const double* dy, const double* dz, const double* r2,
                        const double* r, int j, int k0, int k1, double* s, double* c)
    int SF_NL
    double SF_EXP_ZERO
    void sf_angular_centre(int n, int nmax, const double* nb, const int* ntyp, const long* tstart,
                           int ntypes, int nxi, const double* inv_xi2, int ntile, const double* lam,
                           const int* zeta, int maxbit, const int* pair_index, double rc_cos,
                           double* acc, double* s, double* c, double* E)
    int SF_HAVE_FUSED
    double SF_FUSED_MAX_ARG
    int SF_FUSED_MAXXI
    void sf_fused_centre(int nxi, int nmax, const double* nb, const long* tstart, int ntypes,
                         const double* gam, int ntile, const double* lam, const int* kind,
                         const int* nsq, const unsigned* used, const int* pair_index, double* acc,
                         double* rows, void* vsum)

#: lanes of (lambda, zeta) evaluated together by angular_lanes
LANES = SF_NL


#: the kernels accumulate e^x * 2^SHIFT (softness_kernels.h); callers multiply by 2^-SHIFT
SHIFT = 600

#: angular_fused is compiled in (AVX-512 build); FUSED_MAXXI distinct xi at most; every
#: exponential argument s / xi^2 at most FUSED_MAX_ARG (no underflow)
HAVE_FUSED = bool(SF_HAVE_FUSED)
FUSED_MAXXI = SF_FUSED_MAXXI
FUSED_MAX_ARG = SF_FUSED_MAX_ARG


def radial_full(const double[:, ::1] x, const int[::1] types_all, const int[::1] order,
                const int[::1] offsets, const int[::1] neighbours, Py_ssize_t nlocal, double rmax2,
                const double[::1] mu, double inv2s2, double[:, ::1] G, double[::1] w,
                double rc_cos=0.0, double step=0.0):
    """Add every local particle's Gaussians over its full neighbour list, times 2^SHIFT, to its own
    row of G (N, n_types*n_mu); `w` is scratch of length n_mu. Each pair is evaluated from both
    ends: the row being summed stays in L1, where a half list's write to the partner's row was a
    cache miss that cost more than the second evaluation (and the full list is the one the angular
    functions use). mu must be sorted ascending: only the centres with (r - mu)^2 / (2 sigma^2)
    inside the exponential's range are evaluated (about half of them at the default grid; found by
    arithmetic when step > 0, mu[k] = mu[0] + k step, else by bisection), the others being exactly
    0 there too. rc_cos > 0: each term times the cosine cutoff f_c(r). Returns the number of
    (ordered) pairs inside r_max."""
    cdef Py_ssize_t m = offsets.shape[0] - 1
    cdef int nmu = <int>mu.shape[0]
    cdef Py_ssize_t p, q, i, jrow, tj, k
    cdef int lo, hi, a, b, c
    cdef double dx, dy, dz, r, fc, half
    cdef long npairs = 0
    # a term is nonzero iff (r - mu)^2 inv2s2 <= -SF_EXP_ZERO; the window is widened by a relative
    # 1e-12 and the row's own test decides at its edges
    half = sqrt(-SF_EXP_ZERO / inv2s2) * (1.0 + 1e-12)
    for p in range(m):
        i = order[p]
        if i >= nlocal:
            continue
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
            if step > 0:               # evenly spaced: the window by arithmetic, one centre wider
                lo = <int>max(0.0, min(<double>nmu, floor((r - half - mu[0]) / step)))
                hi = <int>max(0.0, min(<double>nmu, floor((r + half - mu[0]) / step) + 2.0))
            else:
                a, b = 0, nmu          # lo = first mu >= r - half
                while a < b:
                    c = (a + b) >> 1
                    if mu[c] < r - half:
                        a = c + 1
                    else:
                        b = c
                lo = a
                b = nmu                # hi = first mu > r + half
                while a < b:
                    c = (a + b) >> 1
                    if mu[c] <= r + half:
                        a = c + 1
                    else:
                        b = c
                hi = a
            if hi <= lo:
                continue
            tj = types_all[jrow]
            sf_gauss_row_fast(r, &mu[lo], hi - lo, inv2s2, &w[0])
            if rc_cos > 0:
                fc = 0.5 * (cos(M_PI * r / rc_cos) + 1.0) if r < rc_cos else 0.0
                for k in range(hi - lo):
                    w[k] *= fc
            sf_add_row(&G[i, tj * nmu + lo], &w[0], hi - lo)
    return npairs


cdef Py_ssize_t _species_rows(const double[:, ::1] x, const int[::1] types_all, const int[::1] order,
                              const int[::1] neighbours, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t i, int ntypes,
                              double rang2, long[::1] start, Py_ssize_t[::1] fill, double[:, ::1] seen,
                              int[::1] seen_type, double[:, ::1] nb, int[::1] ntyp, bint fused) noexcept nogil:
    """The neighbours of centre i (entries lo..hi of the cell-sorted full list) within the angular
    cutoff, gathered sorted by species into the columns of nb: start[t] is where species t begins
    (start[ntypes] = their number, returned), ntyp[k] the species of column k. Rows (dx, dy, dz, r^2, r)
    for the general kernel, (r, 2 r^2, dx/r, dy/r, dz/r) for the fused one (fused=True). A counting sort:
    the first pass keeps each separation and species in `seen` (4 rows) and `seen_type`, the second
    places them (each separation formed once)."""
    cdef Py_ssize_t q, m, jrow, kk, tb, n = 0
    cdef double dx, dy, dz, r2, r
    for tb in range(ntypes + 1):
        start[tb] = 0
    for q in range(lo, hi):
        jrow = order[neighbours[q]]
        dx = x[jrow, 0] - x[i, 0]
        dy = x[jrow, 1] - x[i, 1]
        dz = x[jrow, 2] - x[i, 2]
        r2 = dx * dx + dy * dy + dz * dz
        if r2 < rang2:
            tb = types_all[jrow]
            start[tb + 1] += 1
            seen[0, n] = dx
            seen[1, n] = dy
            seen[2, n] = dz
            seen[3, n] = r2
            seen_type[n] = <int>tb
            n += 1
    for tb in range(ntypes):
        start[tb + 1] += start[tb]
        fill[tb] = start[tb]
    for m in range(n):
        tb = seen_type[m]
        kk = fill[tb]
        fill[tb] += 1
        ntyp[kk] = <int>tb
        dx, dy, dz, r2 = seen[0, m], seen[1, m], seen[2, m], seen[3, m]
        if fused:
            r = sqrt(r2)
            nb[0, kk] = r
            nb[1, kk] = 2.0 * r2
            nb[2, kk] = dx / r
            nb[3, kk] = dy / r
            nb[4, kk] = dz / r
        else:
            nb[0, kk] = dx
            nb[1, kk] = dy
            nb[2, kk] = dz
            nb[3, kk] = r2
            nb[4, kk] = sqrt(r2)
    return n


def angular_lanes(const double[:, ::1] x, const int[::1] types_all, const int[::1] order,
                  const int[::1] offsets, const int[::1] neighbours, Py_ssize_t nlocal, int ntypes,
                  double rang2,
                  const double[::1] inv_xi2, const double[::1] lam, const int[::1] zeta,
                  const int[:, ::1] pair_index, double[:, ::1] acc, double rc_cos=0.0):
    """Angular sums of every local particle for every (species pair, xi, lane):
    acc[i, ((P * n_xi + u) * n_tile + t) * LANES + m] += sum_{j<k} exp(-s/xi_u^2) (1 + lam c)^zeta
    (times 2^SHIFT) with (lam, zeta) = lane t*LANES + m (lam, zeta padded to whole tiles).
    The full neighbour list is read in its cell-sorted CSR form (order, offsets, neighbours).
    rc_cos > 0: each triplet times f_c(r_ij) f_c(r_ik) f_c(r_jk). Returns the number of triplets."""
    cdef Py_ssize_t nxi = inv_xi2.shape[0], nl = lam.shape[0]
    cdef int ntile = <int>(nl // SF_NL)
    cdef Py_ssize_t m = offsets.shape[0] - 1
    cdef Py_ssize_t p, i, q, n, nmax = 1
    cdef long ntrip = 0
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
    cdef double[:, ::1] seen = np.zeros((4, nmax))
    cdef int[::1] seen_type = np.zeros(nmax, np.int32)
    cdef int[::1] pidx = np.ascontiguousarray(np.asarray(pair_index), dtype=np.int32).ravel()
    for p in range(m):
        i = order[p]
        if i >= nlocal:
            continue
        n = _species_rows(x, types_all, order, neighbours, offsets[p], offsets[p + 1], i, ntypes, rang2,
                          start, fill, seen, seen_type, nb, ntyp, False)
        ntrip += n * (n - 1) // 2
        if n > 1:
            sf_angular_centre(<int>n, <int>nmax, &nb[0, 0], &ntyp[0], &start[0], ntypes, <int>nxi,
                              &inv_xi2[0], ntile, &lam[0], &zeta[0], maxbit, &pidx[0], rc_cos,
                              &acc[i, 0], &sbuf[0], &cbuf[0], &E[0])
    return ntrip


def angular_fused(const double[:, ::1] x, const int[::1] types_all, const int[::1] order,
                  const int[::1] offsets, const int[::1] neighbours, Py_ssize_t nlocal, int ntypes,
                  double rang2, const double[::1] gam, const double[::1] lam, const int[::1] kind,
                  const int[::1] nsq, const unsigned[::1] used, const int[:, ::1] pair_index,
                  double[:, ::1] acc):
    """The angular sums of angular_lanes (same acc layout, same 2^SHIFT scaling) by the fused kernel
    (`sf_fused_centre`): gam = 1/xi^2 (at most FUSED_MAXXI), per slot of each tile of LANES the
    recipe (kind, nsq) and lam, used = per (xi, tile) bit masks of the slots to sum. The caller
    checks HAVE_FUSED and that gam.max() * 6 * rang2 <= FUSED_MAX_ARG. Returns the number of triplets."""
    cdef Py_ssize_t nxi = gam.shape[0], nl = lam.shape[0]
    cdef int ntile = <int>(nl // SF_NL)
    cdef Py_ssize_t m = offsets.shape[0] - 1
    cdef Py_ssize_t p, i, n, nmax = 8
    cdef long ntrip = 0
    if not SF_HAVE_FUSED:
        raise RuntimeError("angular_fused needs an AVX-512 build (HAVE_FUSED is False)")
    if nl % SF_NL != 0 or ntile == 0 or kind.shape[0] != nl or nsq.shape[0] != nl:
        raise ValueError(f"lam, kind and nsq must fill whole tiles of {SF_NL} slots")
    if nxi < 1 or nxi > SF_FUSED_MAXXI or used.shape[0] != nxi * ntile:
        raise ValueError(f"1 to {SF_FUSED_MAXXI} xi values and one used mask per (xi, tile) needed")
    for p in range(m):
        n = offsets[p + 1] - offsets[p]
        if n > nmax:
            nmax = n
    nmax = (nmax + 7) // 8 * 8
    cdef double[:, ::1] nb = np.zeros((5, nmax))
    cdef double[::1] rows = np.zeros((nxi + 1) * (nmax + 8))
    cdef Py_ssize_t npairs = ntypes * (ntypes + 1) // 2
    cdef Py_ssize_t nvec = npairs * nxi * ntile * SF_NL
    vbuf = np.zeros(nvec * 8 + 8)             # 64-byte aligned vectors for the kernel's sums
    cdef double[::1] vb = vbuf
    cdef uintptr_t vaddr = (<uintptr_t>&vb[0] + 63) & ~(<uintptr_t>63)
    cdef long[::1] start = np.zeros(ntypes + 1, np.int_)
    cdef Py_ssize_t[::1] fill = np.zeros(ntypes, np.intp)
    cdef int[::1] ntyp = np.zeros(nmax, np.int32)
    cdef double[:, ::1] seen = np.zeros((4, nmax))
    cdef int[::1] seen_type = np.zeros(nmax, np.int32)
    cdef int[::1] pidx = np.ascontiguousarray(np.asarray(pair_index), dtype=np.int32).ravel()
    for p in range(m):
        i = order[p]
        if i >= nlocal:
            continue
        n = _species_rows(x, types_all, order, neighbours, offsets[p], offsets[p + 1], i, ntypes, rang2,
                          start, fill, seen, seen_type, nb, ntyp, True)
        ntrip += n * (n - 1) // 2
        if n > 1:
            sf_fused_centre(<int>nxi, <int>nmax, &nb[0, 0], &start[0], ntypes, &gam[0], ntile, &lam[0],
                            &kind[0], &nsq[0], &used[0], &pidx[0], &acc[i, 0], &rows[0], <void*>vaddr)
    return ntrip
