/* Caller: pyglass/engine/potentials/pair.py, through extensions/pair.pyx (pyglass._ext.pair). */
/* SIMD pieces of the half-list pair kernel (extensions/pair.pyx).
 *
 * Coordinates and forces live in padded rows of 4 doubles (x, y, z, 0), so one neighbour is one
 * 256-bit load or one load-add-store. gather4u loads four neighbours' rows, transposes them into
 * the SoA lanes dx[0..3], dy, dz (separations from particle i) and forms u = r^2; after the law,
 * accumulate4 masks the lanes beyond the cutoff, sums i's force and the energy in registers
 * (pair_sums) and adds the four force rows -2 phi_u (dx, dy, dz) onto the neighbours. A half list
 * never lists a neighbour twice for one i, and the four adds are sequential, so the padding row
 * (repeated) is safe. Beside them: the per-step moves between (M, 3) rows and padded sorted rows,
 * and the virial over padded rows. Without AVX the same arithmetic runs as scalar code. */
#ifndef PYGLASS_PAIR_SIMD_H
#define PYGLASS_PAIR_SIMD_H
#if defined(__AVX__)
#include <immintrin.h>
#endif

/* The virial W = sum over rows of x (x) f (padded rows), returned as w[0..5] = W_xx, W_xy, W_xz,
 * W_yy, W_yz, W_zz: two vector accumulators per lane set, alternating rows (the FMA latency). */
#if defined(__AVX2__) && defined(__FMA__)
static inline void padded_virial(const double* xp4, const double* fp4, long n, double* w) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d b0 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd();
    long k = 0;
    for (; k + 1 < n; k += 2) {
        const __m256d r0 = _mm256_loadu_pd(xp4 + 4 * k), q0 = _mm256_loadu_pd(fp4 + 4 * k);
        const __m256d r1 = _mm256_loadu_pd(xp4 + 4 * k + 4), q1 = _mm256_loadu_pd(fp4 + 4 * k + 4);
        /* (x, x, x, y) * (fx, fy, fz, fy) and (y, z, -, -) * (fz, fz, -, -) */
        a0 = _mm256_fmadd_pd(_mm256_permute4x64_pd(r0, 0x40), _mm256_permute4x64_pd(q0, 0x64), a0);
        b0 = _mm256_fmadd_pd(_mm256_permute4x64_pd(r0, 0x09), _mm256_permute4x64_pd(q0, 0x0A), b0);
        a1 = _mm256_fmadd_pd(_mm256_permute4x64_pd(r1, 0x40), _mm256_permute4x64_pd(q1, 0x64), a1);
        b1 = _mm256_fmadd_pd(_mm256_permute4x64_pd(r1, 0x09), _mm256_permute4x64_pd(q1, 0x0A), b1);
    }
    for (; k < n; k++) {
        const __m256d r0 = _mm256_loadu_pd(xp4 + 4 * k), q0 = _mm256_loadu_pd(fp4 + 4 * k);
        a0 = _mm256_fmadd_pd(_mm256_permute4x64_pd(r0, 0x40), _mm256_permute4x64_pd(q0, 0x64), a0);
        b0 = _mm256_fmadd_pd(_mm256_permute4x64_pd(r0, 0x09), _mm256_permute4x64_pd(q0, 0x0A), b0);
    }
    double a[4], b[4];
    _mm256_storeu_pd(a, _mm256_add_pd(a0, a1));
    _mm256_storeu_pd(b, _mm256_add_pd(b0, b1));
    w[0] = a[0]; w[1] = a[1]; w[2] = a[2]; w[3] = a[3]; w[4] = b[0]; w[5] = b[1];
}
#else
static inline void padded_virial(const double* xp4, const double* fp4, long n, double* w) {
    double s[6] = {0, 0, 0, 0, 0, 0};
    for (long k = 0; k < n; k++) {
        const double* r = xp4 + 4 * k;
        const double* q = fp4 + 4 * k;
        s[0] += r[0] * q[0]; s[1] += r[0] * q[1]; s[2] += r[0] * q[2];
        s[3] += r[1] * q[1]; s[4] += r[1] * q[2]; s[5] += r[2] * q[2];
    }
    for (int a = 0; a < 6; a++)
        w[a] = s[a];
}
#endif

/* Rows (x, y, z) of an (M, 3) buffer in the order `order`, into padded rows (x, y, z, 0), and back
 * (the kernel's per-step gather and scatter of coordinates and forces). */
#if defined(__AVX512F__) && defined(__AVX512VL__)
static inline void rows_to_padded(const double* x, const int* order, long n, double* xp4) {
    for (long k = 0; k < n; k++)
        _mm256_storeu_pd(xp4 + 4 * k, _mm256_maskz_loadu_pd(0x7, x + 3 * (long)order[k]));
}
static inline void padded_to_rows(const double* fp4, const int* order, long n, double* f) {
    for (long k = 0; k < n; k++)
        _mm256_mask_storeu_pd(f + 3 * (long)order[k], 0x7, _mm256_loadu_pd(fp4 + 4 * k));
}
#else
static inline void rows_to_padded(const double* x, const int* order, long n, double* xp4) {
    for (long k = 0; k < n; k++) {
        const double* r = x + 3 * (long)order[k];
        xp4[4 * k] = r[0];
        xp4[4 * k + 1] = r[1];
        xp4[4 * k + 2] = r[2];
        xp4[4 * k + 3] = 0.0;
    }
}
static inline void padded_to_rows(const double* fp4, const int* order, long n, double* f) {
    for (long k = 0; k < n; k++) {
        double* r = f + 3 * (long)order[k];
        r[0] = fp4[4 * k];
        r[1] = fp4[4 * k + 1];
        r[2] = fp4[4 * k + 2];
    }
}
#endif
#if defined(__AVX__)

/* Running sums of one particle's pair loop: its force (x, y, z) and the pair energy, four lanes. */
typedef struct { __m256d fx, fy, fz, e; } pair_sums;

static inline void sums_clear(pair_sums* a) {
    a->fx = a->fy = a->fz = a->e = _mm256_setzero_pd();
}

/* Adds the particle's force onto its row (one vector load-add-store, so a later 256-bit load of
 * the row is forwarded from the store) and returns its pair energy. */
static inline double sums_finish(const pair_sums* a, double* fi4) {
    /* horizontal sums of fx, fy, fz, e into the four lanes of one vector */
    const __m256d s01 = _mm256_hadd_pd(a->fx, a->fy);   /* fx0+fx1 fy0+fy1 fx2+fx3 fy2+fy3 */
    const __m256d s23 = _mm256_hadd_pd(a->fz, a->e);    /* fz0+fz1 e0+e1   fz2+fz3 e2+e3   */
    const __m256d sum = _mm256_add_pd(_mm256_permute2f128_pd(s01, s23, 0x20),
                                      _mm256_permute2f128_pd(s01, s23, 0x31));   /* fx fy fz e */
    const __m256d f = _mm256_blend_pd(sum, _mm256_setzero_pd(), 0x8);
    _mm256_storeu_pd(fi4, _mm256_add_pd(_mm256_loadu_pd(fi4), f));
    const __m128d hi = _mm256_extractf128_pd(sum, 1);   /* fz e */
    return _mm_cvtsd_f64(_mm_unpackhi_pd(hi, hi));
}

/* Four neighbours' separations from i, transposed into lanes, and u = r^2 into u[0..3]. */
static inline void gather4u(const double* xp4, const int* j, const double* xi4,
                            double* dx, double* dy, double* dz, double* u) {
    const __m256d xi = _mm256_loadu_pd(xi4);
    const __m256d r0 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[0]), xi);
    const __m256d r1 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[1]), xi);
    const __m256d r2 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[2]), xi);
    const __m256d r3 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[3]), xi);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1);
    const __m256d t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3);
    const __m256d t3 = _mm256_unpackhi_pd(r2, r3);
    const __m256d x = _mm256_permute2f128_pd(t0, t2, 0x20);
    const __m256d y = _mm256_permute2f128_pd(t1, t3, 0x20);
    const __m256d z = _mm256_permute2f128_pd(t0, t2, 0x31);
    _mm256_storeu_pd(dx, x);
    _mm256_storeu_pd(dy, y);
    _mm256_storeu_pd(dz, z);
    _mm256_storeu_pd(u, _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(x, x), _mm256_mul_pd(y, y)), _mm256_mul_pd(z, z)));
}

/* Four pairs after the law: lanes at u >= rc2 (beyond the cutoff, or the padding row) are masked
 * to zero; the energy and i's force are summed in a, and each neighbour's force
 * -2 phi_u (dx, dy, dz) added onto its row. With e_out, the masked pair energies are stored there. */
static inline void accumulate4(double* fp4, const int* j, const double* e, const double* dphi,
                               const double* u, double rc2, const double* dx, const double* dy,
                               const double* dz, pair_sums* a, double* e_out) {
    const __m256d inside = _mm256_cmp_pd(_mm256_loadu_pd(u), _mm256_set1_pd(rc2), _CMP_LT_OQ);
    const __m256d em = _mm256_and_pd(inside, _mm256_loadu_pd(e));
    const __m256d c = _mm256_and_pd(inside, _mm256_mul_pd(_mm256_set1_pd(-2.0), _mm256_loadu_pd(dphi)));
    const __m256d fx = _mm256_mul_pd(c, _mm256_loadu_pd(dx));
    const __m256d fy = _mm256_mul_pd(c, _mm256_loadu_pd(dy));
    const __m256d fz = _mm256_mul_pd(c, _mm256_loadu_pd(dz));
    a->e = _mm256_add_pd(a->e, em);
    a->fx = _mm256_sub_pd(a->fx, fx);
    a->fy = _mm256_sub_pd(a->fy, fy);
    a->fz = _mm256_sub_pd(a->fz, fz);
    if (e_out)
        _mm256_storeu_pd(e_out, em);
    const __m256d zero = _mm256_setzero_pd();
    const __m256d a0 = _mm256_unpacklo_pd(fx, fy);
    const __m256d a1 = _mm256_unpackhi_pd(fx, fy);
    const __m256d a2 = _mm256_unpacklo_pd(fz, zero);
    const __m256d a3 = _mm256_unpackhi_pd(fz, zero);
    double* p0 = fp4 + 4 * (long)j[0];
    double* p1 = fp4 + 4 * (long)j[1];
    double* p2 = fp4 + 4 * (long)j[2];
    double* p3 = fp4 + 4 * (long)j[3];
    _mm256_storeu_pd(p0, _mm256_add_pd(_mm256_loadu_pd(p0), _mm256_permute2f128_pd(a0, a2, 0x20)));
    _mm256_storeu_pd(p1, _mm256_add_pd(_mm256_loadu_pd(p1), _mm256_permute2f128_pd(a1, a3, 0x20)));
    _mm256_storeu_pd(p2, _mm256_add_pd(_mm256_loadu_pd(p2), _mm256_permute2f128_pd(a0, a2, 0x31)));
    _mm256_storeu_pd(p3, _mm256_add_pd(_mm256_loadu_pd(p3), _mm256_permute2f128_pd(a1, a3, 0x31)));
}

#else

static inline void gather4(const double* xp4, const int* j, const double* xi4,
                           double* dx, double* dy, double* dz) {
    for (int q = 0; q < 4; q++) {
        const double* r = xp4 + 4 * (long)j[q];
        dx[q] = r[0] - xi4[0];
        dy[q] = r[1] - xi4[1];
        dz[q] = r[2] - xi4[2];
    }
}

typedef struct { double fx[4], fy[4], fz[4], e[4]; } pair_sums;

static inline void sums_clear(pair_sums* a) {
    for (int q = 0; q < 4; q++)
        a->fx[q] = a->fy[q] = a->fz[q] = a->e[q] = 0.0;
}

static inline double sums_finish(const pair_sums* a, double* fi4) {
    fi4[0] += (a->fx[0] + a->fx[2]) + (a->fx[1] + a->fx[3]);
    fi4[1] += (a->fy[0] + a->fy[2]) + (a->fy[1] + a->fy[3]);
    fi4[2] += (a->fz[0] + a->fz[2]) + (a->fz[1] + a->fz[3]);
    return (a->e[0] + a->e[2]) + (a->e[1] + a->e[3]);
}

static inline void gather4u(const double* xp4, const int* j, const double* xi4,
                            double* dx, double* dy, double* dz, double* u) {
    gather4(xp4, j, xi4, dx, dy, dz);
    for (int q = 0; q < 4; q++)
        u[q] = dx[q] * dx[q] + dy[q] * dy[q] + dz[q] * dz[q];
}

static inline void accumulate4(double* fp4, const int* j, const double* e, const double* dphi,
                               const double* u, double rc2, const double* dx, const double* dy,
                               const double* dz, pair_sums* a, double* e_out) {
    for (int q = 0; q < 4; q++) {
        const int in = u[q] < rc2;
        const double em = in ? e[q] : 0.0, c = in ? -2.0 * dphi[q] : 0.0;
        double* r = fp4 + 4 * (long)j[q];
        a->e[q] += em;
        a->fx[q] -= c * dx[q];
        a->fy[q] -= c * dy[q];
        a->fz[q] -= c * dz[q];
        r[0] += c * dx[q];
        r[1] += c * dy[q];
        r[2] += c * dz[q];
        if (e_out)
            e_out[q] = em;
    }
}
#endif
#endif
