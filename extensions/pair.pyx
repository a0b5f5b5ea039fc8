# cython: language_level=3
"""Pair-potential kernels: energy/forces/virial over a half neighbour list, and pair derivatives.

Positions are stored (M, 3) for local + ghost particles (z = 0 in 2D). A half list holds each
interacting pair once (Newton's third law); forces accumulate on ghosts too and the caller folds
them back onto their owners (domain.py).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt
from pairmodels cimport pair_phi_block, NPARAM, MODEL_LJ, MODEL_IPL, MODEL_LJ_POLY, MODEL_LJ_SF

cnp.import_array()

PARAMS_PER_PAIR = NPARAM
MODELS = {"lj": MODEL_LJ, "ipl": MODEL_IPL, "lj_poly": MODEL_LJ_POLY, "lj_sf": MODEL_LJ_SF}


cdef enum:
    BLOCK = 64   # pairs per law evaluation: scratch on the stack, in L1


cdef double _blocked_loop(Py_ssize_t M, const double* xp, const int* tp, double* fp, double* ep,
                          bint want_peratom, const int* offsets, const int* nb, const double* pp,
                          int ntypes, int model) noexcept nogil:
    """The pair loop of every model, written for SIMD. Each particle's neighbours are grouped by
    type (the list builder does this), so within a block the parameters are constants: gather the
    separations into contiguous scratch (scalar), evaluate the law over the block
    (pairmodels.pair_phi_block, vectorised), apply the cutoff as a mask and accumulate (vectorised:
    no branch to mispredict), then scatter the forces onto the neighbours (scalar)."""
    cdef int k, j, q, nq, b0, b1, bend, tj, ti
    cdef double xi, yi, zi, inside, fpair, e, fxi, fyi, fzi, eblock, rc2
    cdef double energy = 0.0
    cdef const double* p
    cdef double bx[BLOCK]
    cdef double by[BLOCK]
    cdef double bz[BLOCK]
    cdef double bu[BLOCK]
    cdef double be[BLOCK]
    cdef double bd[BLOCK]
    for k in range(M):
        b0 = offsets[k]
        bend = offsets[k + 1]
        if b0 == bend:
            continue
        xi = xp[3 * k]
        yi = xp[3 * k + 1]
        zi = xp[3 * k + 2]
        ti = tp[k] * ntypes
        fxi = 0.0
        fyi = 0.0
        fzi = 0.0
        while b0 < bend:
            tj = tp[nb[b0]]
            b1 = b0 + 1
            while b1 < bend and b1 - b0 < BLOCK and tp[nb[b1]] == tj:
                b1 += 1
            nq = b1 - b0
            p = pp + (ti + tj) * NPARAM
            rc2 = p[0]
            for q in range(nq):
                j = nb[b0 + q]
                bx[q] = xp[3 * j] - xi
                by[q] = xp[3 * j + 1] - yi
                bz[q] = xp[3 * j + 2] - zi
            for q in range(nq):
                bu[q] = bx[q] * bx[q] + by[q] * by[q] + bz[q] * bz[q]
            pair_phi_block(model, p, nq, bu, 1, be, bd, NULL, NULL)
            eblock = 0.0
            for q in range(nq):
                inside = 1.0 if bu[q] < rc2 else 0.0
                e = inside * be[q]
                fpair = -2.0 * inside * bd[q]
                eblock += e
                be[q] = e
                bd[q] = fpair
                fxi -= fpair * bx[q]
                fyi -= fpair * by[q]
                fzi -= fpair * bz[q]
            energy += eblock
            for q in range(nq):
                j = nb[b0 + q]
                fp[3 * j] += bd[q] * bx[q]
                fp[3 * j + 1] += bd[q] * by[q]
                fp[3 * j + 2] += bd[q] * bz[q]
            if want_peratom:
                for q in range(nq):
                    ep[k] += 0.5 * be[q]
                    ep[nb[b0 + q]] += 0.5 * be[q]
            b0 = b1
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
    cdef const double* pp = &params[0]
    with nogil:
        for k in range(M):
            i = order[k]
            xp[3 * k] = x[i, 0]
            xp[3 * k + 1] = x[i, 1]
            xp[3 * k + 2] = x[i, 2]
            tp[k] = types[i]
        energy = _blocked_loop(M, xp, tp, fp, ep, want_peratom, &offsets[0], nb, pp, ntypes, model)
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
    Returns an array (order + 1, n); zero beyond the cutoff. Pairs are evaluated in blocks of one
    type pair (the vectorised pair_phi_block, as in the force kernel)."""
    cdef Py_ssize_t n = r.shape[0], k, k2, q, nq
    cdef int ntypes = params.shape[0], a, b
    out_arr = np.zeros((order + 1, n))
    cdef double[:, ::1] res = out_arr
    cdef double bu[BLOCK]
    cdef double o0[BLOCK]
    cdef double o1[BLOCK]
    cdef double o2[BLOCK]
    cdef double o3[BLOCK]
    cdef Py_ssize_t idx[BLOCK]
    cdef double u, rr
    cdef const double* p
    with nogil:
        for a in range(ntypes):
            for b in range(ntypes):
                p = &params[a, b, 0]
                k = 0
                while k < n:
                    # the next block of pairs of this type pair inside the cutoff
                    nq = 0
                    while k < n and nq < BLOCK:
                        if ta[k] == a and tb[k] == b and r[k] * r[k] < p[0]:
                            idx[nq] = k
                            bu[nq] = r[k] * r[k]
                            nq += 1
                        k += 1
                    if nq == 0:
                        continue
                    pair_phi_block(model, p, <int>nq, bu, order, o0, o1, o2, o3)
                    for q in range(nq):
                        k2 = idx[q]
                        rr = r[k2]
                        u = bu[q]
                        res[0, k2] = o0[q]
                        if order >= 1:
                            res[1, k2] = 2.0 * rr * o1[q]
                        if order >= 2:
                            res[2, k2] = 2.0 * o1[q] + 4.0 * u * o2[q]
                        if order >= 3:
                            res[3, k2] = 12.0 * rr * o2[q] + 8.0 * rr * u * o3[q]
    return out_arr
