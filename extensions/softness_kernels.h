/* SIMD inner loops for extensions/softness.pyx.
 *
 * sf_exp(x) = e^x * 2^SF_SHIFT, an inlined exp for the SIMD loops: Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2, degree-13 Taylor polynomial (truncation < 2e-16), 2^(n + SF_SHIFT)
 * put in the exponent bits. Relative error <= 3e-14 against glibc's exp (the -ffast-math build
 * may reassociate the reduction). Why scaled: a Gaussian row at sigma = 0.05 has most lanes at
 * e^x < 2.2e-308, and producing or adding a subnormal costs a ~100-cycle microcode assist per
 * SIMD instruction (4.5x slower kernel; glibc's vector exp falls back to scalar code there).
 * Scaled by 2^600 every term down to libm's underflow (x = -745.13, below which exp is 0) is a
 * normal number; the caller multiplies the sums by 2^-600 once (exact, rounding only sums that
 * are themselves subnormal). Loops use `#pragma omp simd` (-fopenmp-simd). No fmax/fmin: under
 * -fno-finite-math-only they are library calls. */
#ifndef PYGLASS_SOFTNESS_KERNELS_H
#define PYGLASS_SOFTNESS_KERNELS_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#define SF_SHIFT 600
#define SF_EXP_ZERO (-745.1332191019412)   /* ln 2^-1075: libm's exp rounds to 0 below */

static inline double sf_exp(double x) {
    const double LOG2E = 1.4426950408889634, LN2_HI = 6.93147180369123816490e-01,
                 LN2_LO = 1.90821492927058770002e-10;
    double xc = x < SF_EXP_ZERO ? SF_EXP_ZERO : (x > 300.0 ? 300.0 : x);
    double n = floor(xc * LOG2E + 0.5);
    double r = (xc - n * LN2_HI) - n * LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t bits = (uint64_t)((int64_t)n + (1023 + SF_SHIFT)) << 52;
    double scale;
    memcpy(&scale, &bits, 8);
    return x < SF_EXP_ZERO ? 0.0 : p * scale;
}

/* w[k] = exp(-(r - mu[k])^2 * a) */
static inline void sf_gauss_row(double r, const double *restrict mu, int n, double a,
                                double *restrict w) {
#pragma omp simd
    for (int k = 0; k < n; k++) {
        double t = r - mu[k];
        w[k] = sf_exp(-t * t * a);
    }
}

/* dst[k] += src[k] */
static inline void sf_add_row(double *restrict dst, const double *restrict src, int n) {
#pragma omp simd
    for (int k = 0; k < n; k++) dst[k] += src[k];
}

/* e[k] = exp(-s[k] * a) for k in [k0, k1) */
static inline void sf_exp_row(const double *restrict s, double a, double *restrict e, int k0, int k1) {
#pragma omp simd
    for (int k = k0; k < k1; k++) e[k] = sf_exp(-s[k] * a);
}

/* p[k] = (1 + lam * c[k])^z for k in [k0, k1), z >= 0 an integer (binary powering, one SIMD
 * pass per bit); b is scratch. */
static inline void sf_pow_row(const double *restrict c, double lam, int z, double *restrict p,
                              double *restrict b, int k0, int k1) {
#pragma omp simd
    for (int k = k0; k < k1; k++) { p[k] = 1.0; b[k] = 1.0 + lam * c[k]; }
    while (z) {
        if (z & 1) {
#pragma omp simd
            for (int k = k0; k < k1; k++) p[k] *= b[k];
        }
        z >>= 1;
        if (z) {
#pragma omp simd
            for (int k = k0; k < k1; k++) b[k] *= b[k];
        }
    }
}

/* sum_k a[k] b[k] over [k0, k1) */
static inline double sf_dot(const double *restrict a, const double *restrict b, int k0, int k1) {
    double acc = 0.0;
#pragma omp simd reduction(+:acc)
    for (int k = k0; k < k1; k++) acc += a[k] * b[k];
    return acc;
}

/* Triplet geometry for a fixed j against k in [k0, k1): neighbour coordinates are stored by
 * column (dx, dy, dz, r2, r arrays). s[k] = r2_j + r2_k + |d_k - d_j|^2, c[k] = cos(theta_jik). */
static inline void sf_triplet_row(const double *restrict dx, const double *restrict dy,
                                  const double *restrict dz, const double *restrict r2,
                                  const double *restrict r, int j, int k0, int k1,
                                  double *restrict s, double *restrict c) {
    const double xj = dx[j], yj = dy[j], zj = dz[j], r2j = r2[j], rj = r[j];
#pragma omp simd
    for (int k = k0; k < k1; k++) {
        double ex = dx[k] - xj, ey = dy[k] - yj, ez = dz[k] - zj;
        s[k] = r2j + r2[k] + ex * ex + ey * ey + ez * ez;
        c[k] = (xj * dx[k] + yj * dy[k] + zj * dz[k]) / (rj * r[k]);
    }
}
#endif
