/* Caller: pyglass/analysis/landscape/solvers.py, through extensions/sparse_block.pyx. */
/* Inner loops of extensions/sparse_block.pyx: a symmetric positive semi-definite matrix with
 * D x D blocks (one per pair of particles, D the spatial dimension, BSR layout) times a row-major
 * block of m vectors, and the IC(0) sweeps with the same layout.
 *
 * Why blocks of D rows: all D rows of a particle have the same columns, so one pass over the
 * multiplied rows of a neighbour serves all D result rows. With one row at a time, every stored
 * entry streamed a whole row of the block of vectors (2 KB at m = 256) from L2: 38 GB per product at
 * N = 32 000 KA 3D, the bound of the product (0.6 s per iteration). With D rows at a time it is D
 * times less. The D result rows stay in L1 across the pass over their blocks; each inner loop runs
 * over the m contiguous columns and vectorises. (Tiling the columns into register accumulators was
 * slower still: 4-line strided chunks of each multiplied row defeat the prefetcher.)
 */
#ifndef PYGLASS_SPARSE_BLOCK_KERNELS_H
#define PYGLASS_SPARSE_BLOCK_KERNELS_H
#include <stddef.h>

#define SB_ROW(v, r, m) ((v) + (size_t)(r) * (size_t)(m))

/* y = A x. A: nb block rows, block_ptr/block_col BSR, vals (nblocks, D, D) row-major. */
#define SB_DEFINE_MATMAT(D)                                                                     \
static inline void sb_bsr_matmat_##D(ptrdiff_t nb, const int *block_ptr, const int *block_col,  \
                                     const double *vals, const double *x, double *y,            \
                                     ptrdiff_t m) {                                             \
    for (ptrdiff_t block_row = 0; block_row < nb; block_row++) {                                \
        double *restrict yr[D];                                                                 \
        for (int r = 0; r < D; r++) {                                                           \
            yr[r] = SB_ROW(y, D * block_row + r, m);                                            \
            for (ptrdiff_t c = 0; c < m; c++) yr[r][c] = 0.0;                                   \
        }                                                                                       \
        for (ptrdiff_t p = block_ptr[block_row]; p < block_ptr[block_row + 1]; p++)             \
            SB_BLOCK_##D(yr, vals + (size_t)p * D * D, x, block_col[p], m, +);                  \
    }                                                                                           \
}

/* acc_r[c] (+/-)= sum_s a[r][s] x[D J + s][c] for the D rows r of a block. */
#define SB_BLOCK_3(acc, a, x, J, m, OP)                                                          \
    do {                                                                                        \
        const double *restrict x0 = SB_ROW(x, 3 * (size_t)(J), m), *restrict x1 = x0 + (m),     \
                     *restrict x2 = x1 + (m);                                                   \
        double *restrict y0 = (acc)[0], *restrict y1 = (acc)[1], *restrict y2 = (acc)[2];       \
        const double a00 = (a)[0], a01 = (a)[1], a02 = (a)[2], a10 = (a)[3], a11 = (a)[4],      \
                     a12 = (a)[5], a20 = (a)[6], a21 = (a)[7], a22 = (a)[8];                    \
        _Pragma("omp simd")                                                                     \
        for (ptrdiff_t c = 0; c < (m); c++) {                                                   \
            const double u = x0[c], v = x1[c], w = x2[c];                                       \
            y0[c] OP##= a00 * u + a01 * v + a02 * w;                                            \
            y1[c] OP##= a10 * u + a11 * v + a12 * w;                                            \
            y2[c] OP##= a20 * u + a21 * v + a22 * w;                                            \
        }                                                                                       \
    } while (0)

#define SB_BLOCK_2(acc, a, x, J, m, OP)                                                          \
    do {                                                                                        \
        const double *restrict x0 = SB_ROW(x, 2 * (size_t)(J), m), *restrict x1 = x0 + (m);     \
        double *restrict y0 = (acc)[0], *restrict y1 = (acc)[1];                                \
        const double a00 = (a)[0], a01 = (a)[1], a10 = (a)[2], a11 = (a)[3];                    \
        _Pragma("omp simd")                                                                     \
        for (ptrdiff_t c = 0; c < (m); c++) {                                                   \
            const double u = x0[c], v = x1[c];                                                  \
            y0[c] OP##= a00 * u + a01 * v;                                                      \
            y1[c] OP##= a10 * u + a11 * v;                                                      \
        }                                                                                       \
    } while (0)

SB_DEFINE_MATMAT(2)
SB_DEFINE_MATMAT(3)

/* Solve the D rows zr of a block row against its triangular diagonal block d (D x D, row-major):
   lower (forward sweep, rows in order) or upper (backward sweep, rows in reverse). */
static inline void sb_solve_diagonal(double *restrict const *zr, const double *d, int D, int lower,
                                     ptrdiff_t m) {
    for (int k = 0; k < D; k++) {
        const int r = lower ? k : D - 1 - k;
        double *restrict zt = zr[r];
        for (int s = 0; s < D; s++) {
            if (lower ? s >= r : s <= r)
                continue;
            const double a = d[r * D + s];
            const double *restrict zs = zr[s];
            _Pragma("omp simd")
            for (ptrdiff_t c = 0; c < m; c++) zt[c] -= a * zs[c];
        }
        const double inv = 1.0 / d[r * D + r];
        _Pragma("omp simd")
        for (ptrdiff_t c = 0; c < m; c++) zt[c] *= inv;
    }
}

/* z <- (L L^T)^-1 z. L: BSR, each block row holding its blocks at columns J <= the row, the
   diagonal block (lower triangular) last; U = L^T: BSR, blocks J >= the row, the diagonal block
   (upper triangular) first. Both sweeps gather into the D rows of z being solved, which are then
   solved against the diagonal block (forward: rows in order, backward: in reverse). No variable
   is named I: numpy >= 2's headers include <complex.h>, which defines it as a macro. */
#define SB_DEFINE_IC0(D)                                                                        \
static inline void sb_bsr_ic0_apply_##D(ptrdiff_t nb, const int *l_ptr, const int *l_col,       \
                                        const double *l_vals, const int *u_ptr,                 \
                                        const int *u_col, const double *u_vals, double *z,      \
                                        ptrdiff_t m) {                                          \
    for (ptrdiff_t block_row = 0; block_row < nb; block_row++) {                                \
        double *restrict zr[D];                                                                 \
        for (int r = 0; r < D; r++) zr[r] = SB_ROW(z, D * block_row + r, m);                    \
        ptrdiff_t last = l_ptr[block_row + 1] - 1;                                              \
        for (ptrdiff_t p = l_ptr[block_row]; p < last; p++)                                     \
            SB_BLOCK_##D(zr, l_vals + (size_t)p * D * D, z, l_col[p], m, -);                    \
        sb_solve_diagonal(zr, l_vals + (size_t)last * D * D, D, 1, m);                          \
    }                                                                                           \
    for (ptrdiff_t block_row = nb - 1; block_row >= 0; block_row--) {                           \
        double *restrict zr[D];                                                                 \
        for (int r = 0; r < D; r++) zr[r] = SB_ROW(z, D * block_row + r, m);                    \
        ptrdiff_t first = u_ptr[block_row];                                                     \
        for (ptrdiff_t p = first + 1; p < u_ptr[block_row + 1]; p++)                            \
            SB_BLOCK_##D(zr, u_vals + (size_t)p * D * D, z, u_col[p], m, -);                    \
        sb_solve_diagonal(zr, u_vals + (size_t)first * D * D, D, 0, m);                         \
    }                                                                                           \
}

SB_DEFINE_IC0(2)
SB_DEFINE_IC0(3)

/* The vector updates of one CG iteration on row-major blocks (n rows, m columns), fused so that
   each array is streamed once per iteration (numpy took ~8 passes: a third of a block solve at
   N = 32 000 once the product and IC(0) were blocked). Per-column scalars are arrays of m. */

/* x += alpha p; r -= alpha ap; q1 = b.x and q2 = x.x of the updated x (column-wise, this
   rank's rows). */
static inline void sb_cg_step(ptrdiff_t n, ptrdiff_t m, const double *restrict alpha,
                              const double *restrict p, const double *restrict ap,
                              const double *restrict b, double *restrict x, double *restrict r,
                              double *restrict q1, double *restrict q2) {
    for (ptrdiff_t c = 0; c < m; c++) q1[c] = q2[c] = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const size_t o = (size_t)i * m;
        _Pragma("omp simd")
        for (ptrdiff_t c = 0; c < m; c++) {
            const double xi = x[o + c] + alpha[c] * p[o + c];
            x[o + c] = xi;
            r[o + c] -= alpha[c] * ap[o + c];
            q1[c] += b[o + c] * xi;
            q2[c] += xi * xi;
        }
    }
}

/* Column-wise u.v. */
static inline void sb_dots(ptrdiff_t n, ptrdiff_t m, const double *restrict u,
                           const double *restrict v, double *restrict out) {
    for (ptrdiff_t c = 0; c < m; c++) out[c] = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const size_t o = (size_t)i * m;
        _Pragma("omp simd")
        for (ptrdiff_t c = 0; c < m; c++) out[c] += u[o + c] * v[o + c];
    }
}

/* For the translation-free preconditioned residual z - mean: rz = r.z, and the sums over the
   rows of each Cartesian component a (rows i with i % dim == a) of z (zsum, dim x m) and of r
   (rsum), so that r.(z - mean) = rz - sum_a mean_a rsum_a. */
static inline void sb_cg_sums(ptrdiff_t n, ptrdiff_t m, int dim, const double *restrict r,
                              const double *restrict z, double *restrict rz,
                              double *restrict zsum, double *restrict rsum) {
    for (ptrdiff_t c = 0; c < m; c++) rz[c] = 0.0;
    for (ptrdiff_t c = 0; c < dim * m; c++) zsum[c] = rsum[c] = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const size_t o = (size_t)i * m;
        double *restrict zs = zsum + (size_t)(i % dim) * m, *restrict rs = rsum + (size_t)(i % dim) * m;
        _Pragma("omp simd")
        for (ptrdiff_t c = 0; c < m; c++) {
            rz[c] += r[o + c] * z[o + c];
            zs[c] += z[o + c];
            rs[c] += r[o + c];
        }
    }
}

/* p = (z - mean) + beta p, mean (dim x m) per Cartesian component. */
static inline void sb_cg_direction(ptrdiff_t n, ptrdiff_t m, int dim, const double *restrict z,
                                   const double *restrict mean, const double *restrict beta,
                                   double *restrict p) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const size_t o = (size_t)i * m;
        const double *restrict mu = mean + (size_t)(i % dim) * m;
        _Pragma("omp simd")
        for (ptrdiff_t c = 0; c < m; c++) p[o + c] = z[o + c] - mu[c] + beta[c] * p[o + c];
    }
}
#endif
