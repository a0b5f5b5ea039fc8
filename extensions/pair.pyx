# cython: language_level=3
"""Pair-potential kernels: energy/forces/virial over a half neighbour list, and pair derivatives.

Positions are stored (M, 3) for local + ghost particles (z = 0 in 2D). A half list holds each
interacting pair once (Newton's third law); forces accumulate on ghosts too and the caller folds
them back onto their owners (domain.py).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt
from pairmodels cimport pair_phi, NPARAM, MODEL_LJ, MODEL_IPL, MODEL_LJ_POLY

cnp.import_array()

PARAMS_PER_PAIR = NPARAM
MODELS = {"lj": MODEL_LJ, "ipl": MODEL_IPL, "lj_poly": MODEL_LJ_POLY}


def compute_pair_forces(const double[:, ::1] x, const int[::1] types, int nlocal,
                        const int[::1] offsets, const int[::1] neigh,
                        const double[::1] params, int ntypes, int model,
                        double[:, ::1] f, double[::1] virial, double[::1] peratom):
    """Accumulate forces into f (zeroed here), the virial tensor W = sum r_ij (x) f_ij into
    virial[9] (zeroed here), and, if peratom has length > 0, half of each pair energy onto each
    partner. Returns the total energy of the listed pairs."""
    cdef Py_ssize_t M = x.shape[0]
    cdef int i, j, jj, ti, tj, a
    cdef double xi, yi, zi, dx, dy, dz, u, fx, fy, fz, fxi, fyi, fzi, fpair, e, s, s3, s6, iu
    cdef double energy = 0.0
    cdef double w00 = 0, w01 = 0, w02 = 0, w11 = 0, w12 = 0, w22 = 0
    cdef const double* p
    cdef double out[4]
    cdef bint want_peratom = peratom.shape[0] > 0
    cdef double* fp = &f[0, 0]
    cdef const double* xp = &x[0, 0]
    cdef const int* tp = &types[0]
    cdef const int* nb = &neigh[0] if neigh.shape[0] > 0 else NULL
    cdef const double* pp = &params[0]
    with nogil:
        for i in range(M * 3):
            fp[i] = 0.0
        if want_peratom:
            for i in range(peratom.shape[0]):
                peratom[i] = 0.0
        for i in range(nlocal):
            xi = xp[3 * i]
            yi = xp[3 * i + 1]
            zi = xp[3 * i + 2]
            ti = tp[i] * ntypes
            fxi = 0.0
            fyi = 0.0
            fzi = 0.0
            for jj in range(offsets[i], offsets[i + 1]):
                j = nb[jj]
                dx = xp[3 * j] - xi
                dy = xp[3 * j + 1] - yi
                dz = xp[3 * j + 2] - zi
                u = dx * dx + dy * dy + dz * dz
                p = pp + (ti + tp[j]) * NPARAM
                if u >= p[0]:
                    continue
                if model == MODEL_LJ:
                    iu = 1.0 / u
                    s = p[2] * iu
                    s3 = s * s * s
                    s6 = s3 * s3
                    e = p[1] * (s6 - s3) + p[3] + u * (p[4] + u * p[5])
                    # fpair = -2 dphi/du: force on j is fpair * r_ij
                    fpair = 2.0 * p[1] * (6.0 * s6 - 3.0 * s3) * iu - 2.0 * (p[4] + 2.0 * u * p[5])
                else:
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
                w00 += dx * fx
                w01 += dx * fy
                w02 += dx * fz
                w11 += dy * fy
                w12 += dy * fz
                w22 += dz * fz
                if want_peratom:
                    peratom[i] += 0.5 * e
                    peratom[j] += 0.5 * e
            fp[3 * i] += fxi
            fp[3 * i + 1] += fyi
            fp[3 * i + 2] += fzi
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
