# cython: language_level=3
"""Sparse kernels on row-major blocks of vectors, for serial block CG (landscape/solvers.py:BlockPCG):
the product of a CSR matrix with a block, and the incomplete Cholesky IC(0) preconditioner.

Applied one right-hand side at a time, each of them streams the matrix or the factor from memory
once per column (PETSc's ICC(0) was 60 % of a block-CG solve at N = 10^5); here one pass over the
matrix serves the whole block, and the inner loop runs over the block's columns, contiguous in a
row-major block, so it vectorises. IC(0) keeps the sparsity of the lower triangle: L L^T ~ A.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt

cnp.import_array()


def ic0(const int[::1] indptr, const int[::1] indices, const double[::1] data, double shift):
    """IC(0) of the lower triangle (CSR, column indices sorted, diagonal last in each row) of a
    symmetric matrix whose diagonal is scaled by (1 + shift). Returns (L values on the same
    pattern, -1), or (partial, i) when the pivot of row i is not positive (retry with a larger
    shift)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    L_arr = np.empty(data.shape[0])
    w_arr = np.zeros(n)
    cdef double[::1] L = L_arr
    cdef double[::1] w = w_arr
    cdef Py_ssize_t i, p, q, s, e, k
    cdef double v, d, diag
    cdef Py_ssize_t failed = -1
    with nogil:
        for i in range(n):
            s = indptr[i]
            e = indptr[i + 1]
            for p in range(s, e):
                w[indices[p]] = data[p]
            diag = data[e - 1] * (1.0 + shift)
            d = diag
            for p in range(s, e - 1):
                k = indices[p]
                v = w[k]
                for q in range(indptr[k], indptr[k + 1] - 1):
                    v -= L[q] * w[indices[q]]
                v = v / L[indptr[k + 1] - 1]
                w[k] = v
                L[p] = v
                d -= v * v
            for p in range(s, e):
                w[indices[p]] = 0.0
            if not d > 1e-12 * diag:
                failed = i
                break
            L[e - 1] = sqrt(d)
    return L_arr, failed


def ic0_apply(const int[::1] indptr, const int[::1] indices, const double[::1] L, double[:, ::1] z):
    """z <- (L L^T)^-1 z in place for a row-major block z (n, m): forward then backward
    substitution, one pass over L each for all m columns."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, m = z.shape[1]
    cdef Py_ssize_t i, p, k, c, e
    cdef double lik, inv
    with nogil:
        for i in range(n):
            e = indptr[i + 1] - 1
            for p in range(indptr[i], e):
                k = indices[p]
                lik = L[p]
                for c in range(m):
                    z[i, c] -= lik * z[k, c]
            inv = 1.0 / L[e]
            for c in range(m):
                z[i, c] *= inv
        for i in range(n - 1, -1, -1):
            e = indptr[i + 1] - 1
            inv = 1.0 / L[e]
            for c in range(m):
                z[i, c] *= inv
            for p in range(indptr[i], e):
                k = indices[p]
                lik = L[p]
                for c in range(m):
                    z[k, c] -= lik * z[i, c]


def csr_matmat(const int[::1] indptr, const int[::1] indices, const double[::1] data,
               const double[:, ::1] x, double[:, ::1] y):
    """y = A x for a CSR matrix A and a row-major block x (n, m): one pass over A for all m columns."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, m = x.shape[1]
    cdef Py_ssize_t i, p, k, c
    cdef double a
    with nogil:
        for i in range(n):
            for c in range(m):
                y[i, c] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                k = indices[p]
                a = data[p]
                for c in range(m):
                    y[i, c] += a * x[k, c]
