# cython: language_level=3
"""Pair-potential kernels: energy/forces/virial over a half neighbour list, and pair derivatives.

Positions are stored (M, 3) for local + ghost particles (z = 0 in 2D). A half list holds each
interacting pair once (Newton's third law); forces accumulate on ghosts too and the caller folds
them back onto their owners (domain.py).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt
from pairmodels cimport pair_phi, NPARAM, MODEL_LJ, MODEL_IPL, MODEL_LJ_POLY, MODEL_LJ_SF

cnp.import_array()

PARAMS_PER_PAIR = NPARAM
MODELS = {"lj": MODEL_LJ, "ipl": MODEL_IPL, "lj_poly": MODEL_LJ_POLY, "lj_sf": MODEL_LJ_SF}


cdef double _lj_blocked_loop(Py_ssize_t M, const double* xp, const int* tp, double* fp, double* ep,
                             bint want_peratom, const int* offsets, const int* nb, const double* pp,
                             int ntypes, double* buf) noexcept nogil:
    """LJ pair loop written for SIMD. Each particle's neighbours are grouped by type (the list
    builder does this), so within a block the parameters are constants: gather the separations
    into contiguous scratch (scalar), evaluate the law with the cutoff as a mask (vectorised by
    the compiler: no branch to mispredict), then scatter the forces (scalar)."""
    cdef int k, j, q, nq, jj, b0, b1, tj, ti
    cdef double xi, yi, zi, u, iu, s, s3, s6, e, fpair, inside, fxi, fyi, fzi, eblock
    cdef double rc2, e4, s2, c0, c2, c4
    cdef double energy = 0.0
    cdef const double* p
    cdef double* bx
    cdef double* by
    cdef double* bz
    cdef double* bf
    cdef double* be
    cdef int cap = 0
    for k in range(M):
        if offsets[k + 1] - offsets[k] > cap:
            cap = offsets[k + 1] - offsets[k]
    bx = buf
    by = buf + cap
    bz = buf + 2 * cap
    bf = buf + 3 * cap
    be = buf + 4 * cap
    for k in range(M):
        b0 = offsets[k]
        if b0 == offsets[k + 1]:
            continue
        xi = xp[3 * k]
        yi = xp[3 * k + 1]
        zi = xp[3 * k + 2]
        ti = tp[k] * ntypes
        fxi = 0.0
        fyi = 0.0
        fzi = 0.0
        while b0 < offsets[k + 1]:
            tj = tp[nb[b0]]
            b1 = b0 + 1
            while b1 < offsets[k + 1] and tp[nb[b1]] == tj:
                b1 += 1
            nq = b1 - b0
            p = pp + (ti + tj) * NPARAM
            rc2 = p[0]
            e4 = p[1]
            s2 = p[2]
            c0 = p[3]
            c2 = p[4]
            c4 = p[5]
            for q in range(nq):
                j = nb[b0 + q]
                bx[q] = xp[3 * j] - xi
                by[q] = xp[3 * j + 1] - yi
                bz[q] = xp[3 * j + 2] - zi
            eblock = 0.0
            for q in range(nq):
                u = bx[q] * bx[q] + by[q] * by[q] + bz[q] * bz[q]
                inside = 1.0 if u < rc2 else 0.0
                iu = 1.0 / u
                s = s2 * iu
                s3 = s * s * s
                s6 = s3 * s3
                e = inside * (e4 * (s6 - s3) + c0 + u * (c2 + u * c4))
                fpair = inside * (e4 * (12.0 * s6 - 6.0 * s3) * iu - 2.0 * (c2 + 2.0 * u * c4))
                eblock += e
                be[q] = e
                bf[q] = fpair
                fxi -= fpair * bx[q]
                fyi -= fpair * by[q]
                fzi -= fpair * bz[q]
            energy += eblock
            for q in range(nq):
                j = nb[b0 + q]
                fp[3 * j] += bf[q] * bx[q]
                fp[3 * j + 1] += bf[q] * by[q]
                fp[3 * j + 2] += bf[q] * bz[q]
            if want_peratom:
                for q in range(nq):
                    ep[k] += 0.5 * be[q]
                    ep[nb[b0 + q]] += 0.5 * be[q]
            b0 = b1
        fp[3 * k] += fxi
        fp[3 * k + 1] += fyi
        fp[3 * k + 2] += fzi
    return energy


cdef double _pair_loop(Py_ssize_t M, const double* xp, const int* tp, double* fp, double* ep,
                       bint want_peratom, const int* offsets, const int* nb, const double* pp, int ntypes,
                       int model) noexcept nogil:
    """The pair loop for every model, through pair_phi (LJ has its own SIMD loop above)."""
    cdef int k, j, jj, ti
    cdef double xi, yi, zi, dx, dy, dz, u, fx, fy, fz, fxi, fyi, fzi, fpair, e, s, s3, s6, iu
    cdef double energy = 0.0
    cdef const double* p
    cdef double out[4]
    for k in range(M):
        if offsets[k] == offsets[k + 1]:
            continue
        xi = xp[3 * k]
        yi = xp[3 * k + 1]
        zi = xp[3 * k + 2]
        ti = tp[k] * ntypes
        fxi = 0.0
        fyi = 0.0
        fzi = 0.0
        for jj in range(offsets[k], offsets[k + 1]):
            j = nb[jj]
            dx = xp[3 * j] - xi
            dy = xp[3 * j + 1] - yi
            dz = xp[3 * j + 2] - zi
            u = dx * dx + dy * dy + dz * dz
            p = pp + (ti + tp[j]) * NPARAM
            if u >= p[0]:
                continue
            pair_phi(model, p, u, 1, out)
            e = out[0]
            fpair = -2.0 * out[1]
            energy += e
            fx = fpair * dx
            fy = fpair * dy
            fz = fpair * dz
            fxi -= fx
            fyi -= fy
            fzi -= fz
            fp[3 * j] += fx
            fp[3 * j + 1] += fy
            fp[3 * j + 2] += fz
            if want_peratom:
                ep[k] += 0.5 * e
                ep[j] += 0.5 * e
        fp[3 * k] += fxi
        fp[3 * k + 1] += fyi
        fp[3 * k + 2] += fzi
    return energy


def compute_pair_forces(const double[:, ::1] x, const int[::1] types, int nlocal,
                        const int[::1] order, const int[::1] offsets, const int[::1] neigh,
                        const double[::1] params, int ntypes, int model,
                        double[:, ::1] f, double[::1] virial, double[::1] peratom):
    """Forces into f (M, 3; overwritten), the virial tensor W = sum r_ij (x) f_ij into virial[9],
    and, if peratom has length > 0, half of each pair energy onto each partner (M rows).
    The list is in cell-sorted order (see neighbours.build_verlet_list): coordinates are gathered
    into that order, the pair loop runs on contiguous memory, and forces are scattered back.
    Returns the total energy of the listed pairs."""
    cdef Py_ssize_t M = x.shape[0]
    cdef int i, k, a
    cdef double energy = 0.0
    cdef double w00 = 0.0, w01 = 0.0, w02 = 0.0, w11 = 0.0, w12 = 0.0, w22 = 0.0
    cdef bint want_peratom = peratom.shape[0] > 0
    xs_arr = np.empty((M, 3))
    fs_arr = np.zeros((M, 3))
    ts_arr = np.empty(M, dtype=np.int32)
    es_arr = np.zeros(M if want_peratom else 1)
    cdef double* xp = <double*> cnp.PyArray_DATA(xs_arr)
    cdef double* fp = <double*> cnp.PyArray_DATA(fs_arr)
    cdef int* tp = <int*> cnp.PyArray_DATA(ts_arr)
    cdef double* ep = <double*> cnp.PyArray_DATA(es_arr)
    cdef const int* nb = &neigh[0] if neigh.shape[0] > 0 else NULL
    scratch = np.empty(5 * (int(np.max(np.diff(offsets))) if M > 0 else 0) + 8)
    cdef double* bp = <double*> cnp.PyArray_DATA(scratch)
    cdef const double* pp = &params[0]
    with nogil:
        for k in range(M):
            i = order[k]
            xp[3 * k] = x[i, 0]
            xp[3 * k + 1] = x[i, 1]
            xp[3 * k + 2] = x[i, 2]
            tp[k] = types[i]
        if model == MODEL_LJ:
            energy = _lj_blocked_loop(M, xp, tp, fp, ep, want_peratom, &offsets[0], nb, pp, ntypes, bp)
        else:
            energy = _pair_loop(M, xp, tp, fp, ep, want_peratom, &offsets[0], nb, pp, ntypes, model)
        # virial W = sum_pairs r_ij (x) f_ij = sum over all rows (local and ghost, before folding)
        # of x (x) f, since f_i = -f_j: 9 M operations instead of 6 per pair
        for k in range(M):
            w00 += xp[3 * k] * fp[3 * k]
            w01 += xp[3 * k] * fp[3 * k + 1]
            w02 += xp[3 * k] * fp[3 * k + 2]
            w11 += xp[3 * k + 1] * fp[3 * k + 1]
            w12 += xp[3 * k + 1] * fp[3 * k + 2]
            w22 += xp[3 * k + 2] * fp[3 * k + 2]
        for k in range(M):
            i = order[k]
            f[i, 0] = fp[3 * k]
            f[i, 1] = fp[3 * k + 1]
            f[i, 2] = fp[3 * k + 2]
            if want_peratom:
                peratom[i] = ep[k]
    virial[0] = w00
    virial[1] = w01
    virial[2] = w02
    virial[3] = w01
    virial[4] = w11
    virial[5] = w12
    virial[6] = w02
    virial[7] = w12
    virial[8] = w22
    return energy


def pair_derivatives(int model, const double[:, :, ::1] params, const int[::1] ta, const int[::1] tb,
                     const double[::1] r, int order):
    """phi and its r-derivatives up to `order` (<= 3) for pairs of types (ta, tb) at distances r.
    Returns an array (order + 1, n); zero beyond the cutoff."""
    cdef Py_ssize_t n = r.shape[0], k
    out_arr = np.zeros((order + 1, n))
    cdef double[:, ::1] res = out_arr
    cdef double out[4]
    cdef double u, rr
    cdef const double* p
    with nogil:
        for k in range(n):
            rr = r[k]
            u = rr * rr
            p = &params[ta[k], tb[k], 0]
            if u >= p[0]:
                continue
            pair_phi(model, p, u, order, out)
            res[0, k] = out[0]
            if order >= 1:
                res[1, k] = 2.0 * rr * out[1]
            if order >= 2:
                res[2, k] = 2.0 * out[1] + 4.0 * u * out[2]
            if order >= 3:
                res[3, k] = 12.0 * rr * out[2] + 8.0 * rr * u * out[3]
    return out_arr
