/* Caller: pyglass/engine/potentials/pair.py, through extensions/pair.pyx (pyglass._ext.pair). */
/* Gather and scatter for the half-list pair kernel (extensions/pair.pyx).
 *
 * Coordinates and forces live in padded rows of 4 doubles (x, y, z, 0), so one neighbour is one
 * 256-bit load (gather) or one load-add-store (scatter). gather4 loads four neighbours' rows and
 * transposes them into the SoA lanes dx[0..3], dy, dz (separations from particle i); scatter4
 * forms the four force rows f * (dx, dy, dz) and adds them onto the neighbours. Without AVX the
 * same arithmetic runs as scalar code. A half list never lists a neighbour twice for one i, and
 * the four adds are sequential, so the padding row (repeated) is safe. */
#ifndef PYGLASS_PAIR_SIMD_H
#define PYGLASS_PAIR_SIMD_H
#if defined(__AVX__)
#include <immintrin.h>

static inline void gather4(const double* xp4, const int* j, const double* xi4,
                           double* dx, double* dy, double* dz) {
    const __m256d xi = _mm256_loadu_pd(xi4);
    const __m256d r0 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[0]), xi);
    const __m256d r1 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[1]), xi);
    const __m256d r2 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[2]), xi);
    const __m256d r3 = _mm256_sub_pd(_mm256_loadu_pd(xp4 + 4 * (long)j[3]), xi);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1);   /* x0 x1 z0 z1 */
    const __m256d t1 = _mm256_unpackhi_pd(r0, r1);   /* y0 y1 .  .  */
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3);   /* x2 x3 z2 z3 */
    const __m256d t3 = _mm256_unpackhi_pd(r2, r3);   /* y2 y3 .  .  */
    _mm256_storeu_pd(dx, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dy, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dz, _mm256_permute2f128_pd(t0, t2, 0x31));
}

static inline void scatter4(double* fp4, const int* j, const double* f,
                            const double* dx, const double* dy, const double* dz) {
    const __m256d c = _mm256_loadu_pd(f);
    const __m256d fx = _mm256_mul_pd(c, _mm256_loadu_pd(dx));
    const __m256d fy = _mm256_mul_pd(c, _mm256_loadu_pd(dy));
    const __m256d fz = _mm256_mul_pd(c, _mm256_loadu_pd(dz));
    const __m256d zero = _mm256_setzero_pd();
    const __m256d a0 = _mm256_unpacklo_pd(fx, fy);   /* fx0 fy0 fx2 fy2 */
    const __m256d a1 = _mm256_unpackhi_pd(fx, fy);   /* fx1 fy1 fx3 fy3 */
    const __m256d a2 = _mm256_unpacklo_pd(fz, zero); /* fz0 0 fz2 0 */
    const __m256d a3 = _mm256_unpackhi_pd(fz, zero); /* fz1 0 fz3 0 */
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

static inline void scatter4(double* fp4, const int* j, const double* f,
                            const double* dx, const double* dy, const double* dz) {
    for (int q = 0; q < 4; q++) {
        double* r = fp4 + 4 * (long)j[q];
        r[0] += f[q] * dx[q];
        r[1] += f[q] * dy[q];
        r[2] += f[q] * dz[q];
    }
}
#endif
#endif
