# cython: language_level=3
# Caller: pyglass/analysis/landscape/solvers.py (as pyglass._ext.sparse_block).
"""Sparse kernels on row-major blocks of vectors, for block CG (landscape/solvers.py:BlockPCG): the
product of a sparse matrix stored in d x d particle blocks (BSR) with a block of vectors, and the
incomplete Cholesky IC(0) preconditioner, factored on the scalar pattern and applied in blocks.

Applied one right-hand side at a time, each of them streams the matrix or the factor from memory
once per column (PETSc's ICC(0) was 60 % of a block-CG solve at N = 10^5); here one pass over the
matrix serves the whole block, and the inner loop runs over the block's columns, contiguous in a
row-major block, so it vectorises (the loops: sparse_block_kernels.h). IC(0) keeps the sparsity of
the lower triangle: L L^T ~ A.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt

cnp.import_array()

cdef extern from "sparse_block_kernels.h" nogil:
    void sb_bsr_matmat_2(Py_ssize_t nb, const int *block_ptr, const int *block_col, const double *vals,
                         const double *x, double *y, Py_ssize_t m)
    void sb_bsr_matmat_3(Py_ssize_t nb, const int *block_ptr, const int *block_col, const double *vals,
                         const double *x, double *y, Py_ssize_t m)
    void sb_bsr_ic0_apply_2(Py_ssize_t nb, const int *l_ptr, const int *l_col, const double *l_vals,
                            const int *u_ptr, const int *u_col, const double *u_vals, double *z, Py_ssize_t m)
    void sb_bsr_ic0_apply_3(Py_ssize_t nb, const int *l_ptr, const int *l_col, const double *l_vals,
                            const int *u_ptr, const int *u_col, const double *u_vals, double *z, Py_ssize_t m)
    void sb_cg_step(Py_ssize_t n, Py_ssize_t m, const double *alpha, const double *p, const double *ap,
                    const double *b, double *x, double *r, double *q1, double *q2)
    void sb_dots(Py_ssize_t n, Py_ssize_t m, const double *u, const double *v, double *out)
    void sb_cg_sums(Py_ssize_t n, Py_ssize_t m, int dim, const double *r, const double *z, double *rz,
                    double *zsum, double *rsum)
    void sb_cg_direction(Py_ssize_t n, Py_ssize_t m, int dim, const double *z, const double *mean,
                         const double *beta, double *p)


cdef tuple _bsr_arrays(matrix, int d):
    """(block_ptr, block_col, values (nblocks, d, d)) of a scipy sparse matrix in d x d blocks,
    block columns sorted in each block row."""
    import scipy.sparse as sp
    if d not in (2, 3):
        raise ValueError(f"blocks are 2 x 2 or 3 x 3 (the spatial dimension), got {d}")
    if matrix.shape[0] % d or matrix.shape[1] % d:
        raise ValueError(f"a {matrix.shape} matrix does not split into {d} x {d} blocks")
    bsr = sp.bsr_matrix(matrix, blocksize=(d, d))
    bsr.sort_indices()
    return (bsr.indptr.astype(np.int32), bsr.indices.astype(np.int32),
            np.ascontiguousarray(bsr.data, dtype=float))


cdef class BlockSparse:
    """A sparse matrix whose d x d blocks are stored whole (BSR; d the spatial dimension), to
    multiply row-major blocks of vectors: the d rows of a particle share their columns, so one pass
    over a neighbour's rows serves all d result rows (sparse_block_kernels.h)."""
    cdef readonly object block_ptr, block_col, values
    cdef readonly int d
    cdef readonly Py_ssize_t n_rows, n_cols

    def __init__(self, matrix, int d):
        self.block_ptr, self.block_col, self.values = _bsr_arrays(matrix, d)
        self.d = d
        self.n_rows, self.n_cols = matrix.shape

    def matmat(self, const double[:, ::1] x, double[:, ::1] y):
        """y = A x for row-major blocks x (n_cols, m) and y (n_rows, m)."""
        cdef const int[::1] bp = self.block_ptr, bc = self.block_col
        cdef const double[:, :, ::1] v = self.values
        cdef Py_ssize_t m = x.shape[1], nb = bp.shape[0] - 1
        if x.shape[0] != self.n_cols or y.shape[0] != self.n_rows or y.shape[1] != m:
            raise ValueError(f"x must be ({self.n_cols}, m) and y ({self.n_rows}, m), got "
                             f"({x.shape[0]}, {m}) and ({y.shape[0]}, {y.shape[1]})")
        if m == 0 or nb == 0:
            return
        if v.shape[0] == 0:
            y[:, :] = 0.0
            return
        with nogil:
            if self.d == 3:
                sb_bsr_matmat_3(nb, &bp[0], &bc[0], &v[0, 0, 0], &x[0, 0], &y[0, 0], m)
            else:
                sb_bsr_matmat_2(nb, &bp[0], &bc[0], &v[0, 0, 0], &x[0, 0], &y[0, 0], m)


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


cdef class IC0Factor:
    """The IC(0) factor L (CSR values from `ic0`) ready to apply in d x d blocks: L by block rows for
    the forward sweep and L^T by block rows for the backward one, so that both sweeps gather into
    the d rows being solved (sparse_block_kernels.h)."""
    cdef readonly object l_ptr, l_col, l_vals, u_ptr, u_col, u_vals
    cdef readonly int d
    cdef readonly Py_ssize_t n

    def __init__(self, indptr, indices, L, int d):
        import scipy.sparse as sp
        n = len(indptr) - 1
        low = sp.csr_matrix((np.asarray(L, float), np.asarray(indices), np.asarray(indptr)), shape=(n, n))
        self.l_ptr, self.l_col, self.l_vals = _bsr_arrays(low, d)
        self.u_ptr, self.u_col, self.u_vals = _bsr_arrays(low.T.tocsr(), d)
        self.d, self.n = d, n

    def apply(self, double[:, ::1] z):
        """z <- (L L^T)^-1 z in place for a row-major block z (n, m)."""
        cdef const int[::1] lp = self.l_ptr, lc = self.l_col, up = self.u_ptr, uc = self.u_col
        cdef const double[:, :, ::1] lv = self.l_vals, uv = self.u_vals
        cdef Py_ssize_t nb = lp.shape[0] - 1, m = z.shape[1]
        if z.shape[0] != self.n:
            raise ValueError(f"z has {z.shape[0]} rows, the factor {self.n}")
        if nb == 0 or m == 0:
            return
        with nogil:
            if self.d == 3:
                sb_bsr_ic0_apply_3(nb, &lp[0], &lc[0], &lv[0, 0, 0], &up[0], &uc[0], &uv[0, 0, 0], &z[0, 0], m)
            else:
                sb_bsr_ic0_apply_2(nb, &lp[0], &lc[0], &lv[0, 0, 0], &up[0], &uc[0], &uv[0, 0, 0], &z[0, 0], m)


# The vector updates of a CG iteration on row-major (n, m) blocks, each array streamed once
# (sparse_block_kernels.h). Per-column results are local sums: the caller reduces them over ranks.

cdef _check_blocks(arrays, Py_ssize_t n, Py_ssize_t m):
    for a in arrays:
        if a.shape[0] != n or a.shape[1] != m:
            raise ValueError(f"blocks must all be ({n}, {m}), got {tuple(a.shape)}")


def cg_step(const double[::1] alpha, const double[:, ::1] p, const double[:, ::1] ap,
            const double[:, ::1] b, double[:, ::1] x, double[:, ::1] r):
    """x += alpha p, r -= alpha ap (alpha per column); returns (b.x, x.x) per column."""
    cdef Py_ssize_t n = p.shape[0], m = p.shape[1]
    _check_blocks((ap, b, x, r), n, m)
    if alpha.shape[0] != m:
        raise ValueError(f"alpha must have {m} entries, got {alpha.shape[0]}")
    q1, q2 = np.zeros(m), np.zeros(m)
    cdef double[::1] q1v = q1, q2v = q2
    if n and m:
        with nogil:
            sb_cg_step(n, m, &alpha[0], &p[0, 0], &ap[0, 0], &b[0, 0], &x[0, 0], &r[0, 0], &q1v[0], &q2v[0])
    return q1, q2


def dots(const double[:, ::1] u, const double[:, ::1] v):
    """Column-wise u.v."""
    cdef Py_ssize_t n = u.shape[0], m = u.shape[1]
    _check_blocks((v,), n, m)
    out = np.zeros(m)
    cdef double[::1] o = out
    if n and m:
        with nogil:
            sb_dots(n, m, &u[0, 0], &v[0, 0], &o[0])
    return out


def cg_sums(const double[:, ::1] r, const double[:, ::1] z, int dim):
    """(r.z per column, (dim, m) sums of z over the rows of each Cartesian component, the same of r)."""
    cdef Py_ssize_t n = r.shape[0], m = r.shape[1]
    _check_blocks((z,), n, m)
    rz, zsum, rsum = np.zeros(m), np.zeros((dim, m)), np.zeros((dim, m))
    cdef double[::1] rzv = rz
    cdef double[:, ::1] zs = zsum, rs = rsum
    if n and m:
        with nogil:
            sb_cg_sums(n, m, dim, &r[0, 0], &z[0, 0], &rzv[0], &zs[0, 0], &rs[0, 0])
    return rz, zsum, rsum


def cg_direction(const double[:, ::1] z, const double[:, ::1] mean, const double[::1] beta, double[:, ::1] p):
    """p = (z - mean) + beta p, mean (dim, m) per Cartesian component (row i is component i % dim)."""
    cdef Py_ssize_t n = z.shape[0], m = z.shape[1]
    _check_blocks((p,), n, m)
    if beta.shape[0] != m or mean.shape[1] != m:
        raise ValueError(f"beta and mean must have {m} columns")
    if n and m:
        with nogil:
            sb_cg_direction(n, m, mean.shape[0], &z[0, 0], &mean[0, 0], &beta[0], &p[0, 0])
