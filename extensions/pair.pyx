# cython: language_level=3
# distutils: depends = extensions/pair_simd.h extensions/pairmodels.pxd extensions/replicas.pxd
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
from replicas cimport *

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


cdef double _pair_forces(const double* x, Py_ssize_t M, int nlocal, const int* tp, const int* order,
                        const int* active, Py_ssize_t n_active, const int* segments, const int* nb,
                        const double* pp, int ntypes, int model, double* f, double* virial, double* xp,
                        double* fp, double* ep, bint want_peratom, const int* fold_source, Py_ssize_t n_fold,
                        bint fold, const int* row_position) noexcept nogil:
    """One replica's evaluation (compute_pair_forces's work, shared with the replica batch so both
    run the same arithmetic): gather into cell order, the pair loop, the virial (9 entries into
    `virial`), the forces scattered back (folded onto the N local rows with `fold`). Returns the
    energy."""
    cdef Py_ssize_t g
    cdef int i, k, a
    cdef double energy
    cdef double w[6]
    rows_to_padded(x, order, M, xp)
    for a in range(3):
        xp[4 * M + a] = PAD_COORDINATE
    xp[4 * M + 3] = 0.0
    memset(fp, 0, (M + 1) * 4 * sizeof(double))
    energy = _blocked_loop(active, n_active, xp, tp, fp, ep, want_peratom, segments, nb, pp, ntypes, model)
    # virial W = sum_pairs r_ij (x) f_ij = sum over all rows (local and ghost, before folding)
    # of x (x) f, since f_i = -f_j: 9 M operations instead of 6 per pair
    padded_virial(xp, fp, M, w)
    if fold:
        for i in range(nlocal):
            k = row_position[i]
            f[3 * i] = fp[4 * k]
            f[3 * i + 1] = fp[4 * k + 1]
            f[3 * i + 2] = fp[4 * k + 2]
        for g in range(n_fold):
            i = fold_source[g]
            k = row_position[nlocal + g]
            f[3 * i] += fp[4 * k]
            f[3 * i + 1] += fp[4 * k + 1]
            f[3 * i + 2] += fp[4 * k + 2]
    else:
        padded_to_rows(fp, order, M, f)
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
    cdef int k
    cdef double energy = 0.0
    cdef bint want_peratom = peratom.shape[0] > 0
    cdef bint fold = fold_source.shape[0] > 0
    if fold and (row_position.shape[0] < M or fold_source.shape[0] != M - nlocal):
        raise ValueError(f"folding needs one source per ghost row ({M - nlocal}) and {M} row positions")
    if xs.shape[0] < M + 1 or fs.shape[0] < M + 1 or xs.shape[1] != 4 or fs.shape[1] != 4 \
            or sorted_types.shape[0] < M + 1:
        raise ValueError(f"pair kernel scratch must hold {M + 1} rows of 4 and {M + 1} types")
    if virial.shape[0] < 9 or f.shape[0] < M:
        raise ValueError(f"the forces need {M} rows and the virial 9 entries")
    es_arr = np.zeros(M + 1 if want_peratom else 1)
    cdef double* ep = <double*> cnp.PyArray_DATA(es_arr)
    with nogil:
        energy = _pair_forces(&x[0, 0], M, nlocal, &sorted_types[0], &order[0],
                              &active[0] if active.shape[0] else NULL, active.shape[0], &segments[0],
                              &neigh[0] if neigh.shape[0] > 0 else NULL, &params[0], ntypes, model,
                              &f[0, 0], &virial[0], &xs[0, 0], &fs[0, 0], ep, want_peratom,
                              &fold_source[0] if fold else NULL, fold_source.shape[0], fold,
                              &row_position[0] if row_position.shape[0] else NULL)
        if want_peratom:
            for k in range(M):
                peratom[order[k]] = ep[k]
    return energy


# -- replica batches (pyglass/engine/replicas.py) ---------------------------------------------------

REPLICA_COLUMNS = RT_COLUMNS


cdef inline Py_ssize_t _address(const void* p) noexcept nogil:
    return <Py_ssize_t>p


def set_replica_row(Py_ssize_t[:, ::1] table, Py_ssize_t r, int nlocal, double[:, ::1] x, double[:, ::1] v,
                    double[:, ::1] f, const double[:, ::1] x0, const int[::1] ghost_source,
                    const double[:, ::1] ghost_shift, const int[::1] sorted_types, const int[::1] order,
                    const int[::1] active, const int[::1] segments, const int[::1] neigh, double[:, ::1] xs,
                    double[:, ::1] fs, const int[::1] row_position):
    """Row r of a replica table (extensions/replicas.pxd) from one replica's buffers, every shape
    checked here, once per rebuild, so the batch kernels trust the table. The caller keeps the arrays
    alive and rewrites the row whenever one of them is replaced."""
    cdef Py_ssize_t M = x.shape[0], n_ghost = ghost_source.shape[0]
    if table.shape[1] != RT_COLUMNS or not 0 <= r < table.shape[0]:
        raise ValueError(f"replica table must have {RT_COLUMNS} columns and a row {r}")
    if M != nlocal + n_ghost or v.shape[0] < nlocal or f.shape[0] < M or x0.shape[0] != nlocal \
            or ghost_shift.shape[0] != n_ghost or order.shape[0] < M or row_position.shape[0] < M \
            or sorted_types.shape[0] < M + 1 or xs.shape[0] < M + 1 or fs.shape[0] < M + 1 \
            or xs.shape[1] != 4 or fs.shape[1] != 4 or segments.shape[0] < 1 or nlocal < 1:
        raise ValueError(f"replica {r}: buffers do not match {nlocal} particles and {n_ghost} ghosts")
    table[r, RT_X] = _address(&x[0, 0])
    table[r, RT_V] = _address(&v[0, 0])
    table[r, RT_F] = _address(&f[0, 0])
    table[r, RT_X0] = _address(&x0[0, 0])
    table[r, RT_GHOST_SOURCE] = _address(&ghost_source[0]) if n_ghost else 0
    table[r, RT_GHOST_SHIFT] = _address(&ghost_shift[0, 0]) if n_ghost else 0
    table[r, RT_N_GHOST] = n_ghost
    table[r, RT_SORTED_TYPES] = _address(&sorted_types[0])
    table[r, RT_ORDER] = _address(&order[0])
    table[r, RT_ACTIVE] = _address(&active[0]) if active.shape[0] else 0
    table[r, RT_N_ACTIVE] = active.shape[0]
    table[r, RT_SEGMENTS] = _address(&segments[0])
    table[r, RT_NEIGHBOURS] = _address(&neigh[0]) if neigh.shape[0] else 0
    table[r, RT_XS] = _address(&xs[0, 0])
    table[r, RT_FS] = _address(&fs[0, 0])
    table[r, RT_ROW_POSITION] = _address(&row_position[0])
    table[r, RT_ROWS] = M


def compute_pair_forces_replicas(const Py_ssize_t[:, ::1] table, int nlocal, const double[::1] params, int ntypes,
                                 int model, double[::1] energies, double[:, ::1] virials):
    """compute_pair_forces, folded, for every replica of the table in one call: forces into each
    replica's RT_F rows, energies[r] and virials[r] (9). The same arithmetic as one replica at a
    time (_pair_forces). Returns the sum of the energies (one test of them all for finiteness)."""
    cdef Py_ssize_t r, R = table.shape[0]
    cdef double total = 0.0
    cdef const Py_ssize_t* row
    if table.shape[1] != RT_COLUMNS or energies.shape[0] < R or virials.shape[0] < R or virials.shape[1] != 9:
        raise ValueError(f"{R} replicas need {RT_COLUMNS} table columns, {R} energies and ({R}, 9) virials")
    if params.shape[0] < ntypes * ntypes * NPARAM:
        raise ValueError(f"the parameter table must hold {ntypes} x {ntypes} pairs")
    with nogil:
        for r in range(R):
            row = &table[r, 0]
            energies[r] = _pair_forces(<const double*>row[RT_X], row[RT_ROWS], nlocal,
                                       <const int*>row[RT_SORTED_TYPES], <const int*>row[RT_ORDER],
                                       <const int*>row[RT_ACTIVE], row[RT_N_ACTIVE], <const int*>row[RT_SEGMENTS],
                                       <const int*>row[RT_NEIGHBOURS], &params[0], ntypes, model,
                                       <double*>row[RT_F], &virials[r, 0], <double*>row[RT_XS], <double*>row[RT_FS],
                                       NULL, False, <const int*>row[RT_GHOST_SOURCE], row[RT_N_GHOST], True,
                                       <const int*>row[RT_ROW_POSITION])
            total += energies[r]
    return total


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
