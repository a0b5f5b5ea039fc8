# cython: language_level=3
# Caller: pyglass/analysis/landscape/hessian.py (as pyglass._ext.hessian).
"""Hessian assembly kernels for pair potentials (docs/science.md §3).

For a pair with separation r = r_j - r_i, n = r/|r|, the d x d block
    K = phi'' n n^T + (phi'/r) (I - n n^T)
enters M_ii += K, M_jj += K, M_ij = M_ji -= K. The kernel writes these 4 d^2 entries per pair as
COO triplets (duplicates, e.g. several images of one pair in a small box, are summed by the CSR
conversion), so a pair whose two ends are the same particle (a self-image) cancels exactly.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()


def pair_hessian_coo(const long[::1] i, const long[::1] j, const double[:, ::1] dr,
                     const double[::1] r, const double[::1] phi1, const double[::1] phi2, int d):
    """COO triplets (rows, cols, vals) of the pair Hessian; 4 d^2 entries per pair, in the order
    (i,i), (j,j), (i,j), (j,i) blocks. dr is (P, 3) (z = 0 in 2D)."""
    cdef Py_ssize_t P = r.shape[0], p, a, b, base
    cdef Py_ssize_t dd = d * d
    rows_arr = np.empty(4 * P * dd, np.int64)
    cols_arr = np.empty(4 * P * dd, np.int64)
    vals_arr = np.empty(4 * P * dd, np.float64)
    cdef long[::1] rows = rows_arr
    cdef long[::1] cols = cols_arr
    cdef double[::1] vals = vals_arr
    cdef double n[3]
    cdef double rr, c1, c2, k
    cdef long ii, jj
    with nogil:
        for p in range(P):
            rr = r[p]
            for a in range(d):
                n[a] = dr[p, a] / rr
            c1 = phi1[p] / rr
            c2 = phi2[p] - c1
            ii = i[p] * d
            jj = j[p] * d
            base = 4 * p * dd
            for a in range(d):
                for b in range(d):
                    k = c2 * n[a] * n[b]
                    if a == b:
                        k = k + c1
                    rows[base + a * d + b] = ii + a
                    cols[base + a * d + b] = ii + b
                    vals[base + a * d + b] = k
                    rows[base + dd + a * d + b] = jj + a
                    cols[base + dd + a * d + b] = jj + b
                    vals[base + dd + a * d + b] = k
                    rows[base + 2 * dd + a * d + b] = ii + a
                    cols[base + 2 * dd + a * d + b] = jj + b
                    vals[base + 2 * dd + a * d + b] = -k
                    rows[base + 3 * dd + a * d + b] = jj + a
                    cols[base + 3 * dd + a * d + b] = ii + b
                    vals[base + 3 * dd + a * d + b] = -k
    return rows_arr, cols_arr, vals_arr
