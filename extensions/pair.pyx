# cython: language_level=3
# distutils: depends = extensions/pair_simd.h extensions/pairmodels.pxd
# Caller: pyglass/engine/potentials/pair.py (as pyglass._ext.pair).
"""Pair-potential kernels: energy/forces/virial over a half neighbour list, and pair derivatives.

Positions are stored (M, 3) for local + ghost particles (z = 0 in 2D). A half list holds each
interacting pair once (Newton's third law); forces accumulate on ghosts too and the caller folds
them back onto their owners (domain.py).
"""
import numpy as np
cimport numpy as cnp
from libc.string cimport memset
from pairmodels cimport pair_phi_block, NPARAM, MODEL_LJ, MODEL_IPL, MODEL_LJ_POLY, MODEL_LJ_SF

cnp.import_array()

PARAMS_PER_PAIR = NPARAM
MODELS = {"lj": MODEL_LJ, "ipl": MODEL_IPL, "lj_poly": MODEL_LJ_POLY, "lj_sf": MODEL_LJ_SF}


cdef extern from "pair_simd.h" nogil:
    ctypedef struct pair_sums:
        pass
    void sums_clear(pair_sums* a)
    double sums_finish(const pair_sums* a, double* fi4)
    void gather4u(const double* xp4, const int* j, const double* xi4, double* dx, double* dy, double* dz,
                  double* u)
    void accumulate4(double* fp4, const int* j, const double* e, const double* dphi, const double* u,
                     double rc2, const double* dx, const double* dy, const double* dz, pair_sums* a,
                     double* e_out)
    void rows_to_padded(const double* x, const int* order, long n, double* xp4)
    void padded_to_rows(const double* fp4, const int* order, long n, double* f)
    void padded_virial(const double* xp4, const double* fp4, long n, double* w)

cdef enum:
    BLOCK = 64   # pairs per law evaluation (a multiple of 4): scratch on the stack, in L1

#: coordinates of the padding row that fills a type block up to a multiple of 4 lanes: far from
#: every particle (u ~ 3e20, every law finite there), so the cutoff mask zeroes its lanes
cdef double PAD_COORDINATE = 1e10


cdef double _blocked_loop(const int* active, Py_ssize_t n_active, const double* xp4, const int* tp,
                          double* fp4, double* ep, bint want_peratom, const int* segments, const int* nb,
                          const double* pp, int ntypes, int model) noexcept nogil:
    """The pair loop of every model, written for SIMD. The list holds each particle's neighbours
    grouped by type and padded to multiples of 4 with the padding row M (neighbours.pyx), so
    within a group the parameters are constants. Rows are padded to 4 doubles (x, y, z, 0). Per
    block of a group: four neighbours at a time are loaded, transposed into SoA scratch and their
    squared separations formed (pair_simd.h:gather4u); the law is evaluated over the block
    (pairmodels.pair_phi_block, vectorised by the compiler from the one scalar definition); then
    four at a time the cutoff is applied as a mask, i's force and the energy summed in registers,
    and the neighbours' forces added back one row each (accumulate4). Three passes over the
    block, no branch on the data."""
    cdef int k, q, nq, b0, b1, t, ti
    cdef double rc2
    cdef double energy = 0.0
    cdef const double* p
    cdef const double* xi4
    cdef double bx[BLOCK]
    cdef double by[BLOCK]
    cdef double bz[BLOCK]
    cdef double bu[BLOCK]
    cdef double be[BLOCK]
    cdef double bd[BLOCK]
    cdef pair_sums sums
    cdef Py_ssize_t a
    for a in range(n_active):     # the rows with neighbours (local particles), in cell order
        k = active[a]
        xi4 = &xp4[4 * k]      # its padded row (x, y, z, 0), read with one vector load
        ti = tp[k] * ntypes
        sums_clear(&sums)
        for t in range(ntypes):
            p = pp + (ti + t) * NPARAM
            rc2 = p[0]
            b0 = segments[k * ntypes + t]
            b1 = segments[k * ntypes + t + 1]
            while b0 < b1:
                nq = b1 - b0 if b1 - b0 < BLOCK else BLOCK
                for q in range(0, nq, 4):
                    gather4u(xp4, &nb[b0 + q], xi4, &bx[q], &by[q], &bz[q], &bu[q])
                pair_phi_block(model, p, nq, bu, 1, be, bd, NULL, NULL)
                for q in range(0, nq, 4):
                    accumulate4(fp4, &nb[b0 + q], &be[q], &bd[q], &bu[q], rc2, &bx[q], &by[q], &bz[q],
                                &sums, &be[q] if want_peratom else NULL)
                if want_peratom:
                    for q in range(nq):
                        ep[k] += 0.5 * be[q]
                        ep[nb[b0 + q]] += 0.5 * be[q]
                b0 += nq
        energy += sums_finish(&sums, &fp4[4 * k])
    return energy


def compute_pair_forces(const double[:, ::1] x, const int[::1] sorted_types, int nlocal,
                        const int[::1] order, const int[::1] active, const int[::1] segments,
                        const int[::1] neigh, const double[::1] params, int ntypes, int model,
                        double[:, ::1] f, double[::1] virial, double[::1] peratom,
                        double[:, ::1] xs, double[:, ::1] fs, const int[::1] fold_source,
                        const int[::1] row_position):
    """Forces into f (M, 3; overwritten), the virial tensor W = sum r_ij (x) f_ij into virial[9],
    and, if peratom has length > 0, half of each pair energy onto each partner (M rows).
    The list is in cell-sorted order (see neighbours.build_verlet_list): coordinates are gathered
    into that order (rows padded to 4 doubles, plus the padding row M, where the list's padding
    entries point), the pair loop runs on contiguous memory, and forces are scattered back.
    sorted_types (M + 1) are the rows' types in that order and active the sorted positions with
    neighbours (local particles) (NeighbourList.sorted_types, .active: fixed between builds); xs and fs (M + 1, 4) are scratch kept by the caller between steps (no
    allocation per step). With fold_source (one rank: ghost g images local row fold_source[g];
    row_position[r] is row r's sorted position) only the local rows of f are written: each
    particle's force plus those of its ghosts, added in ghost order (Domain.fold_forces's sum).
    Returns the total energy of the listed pairs."""
    cdef Py_ssize_t M = x.shape[0]
    cdef int i, k, a
    cdef double energy = 0.0
    cdef double w[6]
    cdef bint want_peratom = peratom.shape[0] > 0
    cdef bint fold = fold_source.shape[0] > 0
    cdef Py_ssize_t g
    if fold and (row_position.shape[0] < M or fold_source.shape[0] != M - nlocal):
        raise ValueError(f"folding needs one source per ghost row ({M - nlocal}) and {M} row positions")
    if xs.shape[0] < M + 1 or fs.shape[0] < M + 1 or xs.shape[1] != 4 or fs.shape[1] != 4 \
            or sorted_types.shape[0] < M + 1:
        raise ValueError(f"pair kernel scratch must hold {M + 1} rows of 4 and {M + 1} types")
    es_arr = np.zeros(M + 1 if want_peratom else 1)
    cdef double* xp = &xs[0, 0]
    cdef double* fp = &fs[0, 0]
    cdef const int* tp = &sorted_types[0]
    cdef double* ep = <double*> cnp.PyArray_DATA(es_arr)
    cdef const int* nb = &neigh[0] if neigh.shape[0] > 0 else NULL
    cdef const double* pp = &params[0]
    with nogil:
        rows_to_padded(&x[0, 0], &order[0], M, xp)
        for a in range(3):
            xp[4 * M + a] = PAD_COORDINATE
        xp[4 * M + 3] = 0.0
        memset(fp, 0, (M + 1) * 4 * sizeof(double))
        energy = _blocked_loop(&active[0] if active.shape[0] else NULL, active.shape[0], xp, tp, fp, ep,
                               want_peratom, &segments[0], nb, pp, ntypes, model)
        # virial W = sum_pairs r_ij (x) f_ij = sum over all rows (local and ghost, before folding)
        # of x (x) f, since f_i = -f_j: 9 M operations instead of 6 per pair
        padded_virial(xp, fp, M, w)
        if fold:
            for i in range(nlocal):
                k = row_position[i]
                f[i, 0] = fp[4 * k]
                f[i, 1] = fp[4 * k + 1]
                f[i, 2] = fp[4 * k + 2]
            for g in range(fold_source.shape[0]):
                i = fold_source[g]
                k = row_position[nlocal + g]
                f[i, 0] += fp[4 * k]
                f[i, 1] += fp[4 * k + 1]
                f[i, 2] += fp[4 * k + 2]
        else:
            padded_to_rows(fp, &order[0], M, &f[0, 0])
        if want_peratom:
            for k in range(M):
                peratom[order[k]] = ep[k]
    virial[0] = w[0]
    virial[1] = w[1]
    virial[2] = w[2]
    virial[3] = w[1]
    virial[4] = w[3]
    virial[5] = w[4]
    virial[6] = w[2]
    virial[7] = w[4]
    virial[8] = w[5]
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
