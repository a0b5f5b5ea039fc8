/* Caller: pyglass/analysis/softness/structure_functions.py, through extensions/softness.pyx. */
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
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

/* Angular functions of one centre, fused over (lambda, zeta) "lanes" (SF_NL per tile).
 * nb: neighbour columns dx, dy, dz, r2, r (stride nmax), sorted by species, tstart[ntypes + 1];
 * ntyp[k] species of neighbour k; inv_xi2[nxi]; lam[ntile*SF_NL], zeta[ntile*SF_NL] (padding
 * lanes: lam = 0, zeta = 0); pair_index[ntypes*ntypes]; acc[(npairs*nxi*ntile)*SF_NL] gets
 * sum over j<k of exp(-s/xi_u^2) (1 + lam_m c)^zeta_m (times 2^SF_SHIFT) for the species pair
 * of (j, k); scratch s, c (nmax) and E (nxi*nmax). For each j the exponential rows are computed
 * vectorised over k, then one pass over k evaluates all lanes' powers at once (binary powering
 * vectorised over lanes) and adds e_u(k) * p(k) to the accumulators. */
#define SF_NL 8
static void sf_angular_centre(int n, int nmax, const double *restrict nb, const int *restrict ntyp,
                              const long *restrict tstart, int ntypes, int nxi,
                              const double *restrict inv_xi2, int ntile, const double *restrict lam,
                              const int *restrict zeta, int maxbit, const int *restrict pair_index,
                              double *restrict acc, double *restrict s, double *restrict c,
                              double *restrict E) {
    const double *dx = nb, *dy = nb + nmax, *dz = nb + 2 * nmax, *r2 = nb + 3 * nmax, *r = nb + 4 * nmax;
    for (int j = 0; j + 1 < n; j++) {
        sf_triplet_row(dx, dy, dz, r2, r, j, j + 1, n, s, c);
        for (int u = 0; u < nxi; u++) sf_exp_row(s, inv_xi2[u], E + (long)u * nmax, j + 1, n);
        for (int tb = 0; tb < ntypes; tb++) {
            int k0 = (int)tstart[tb] > j + 1 ? (int)tstart[tb] : j + 1, k1 = (int)tstart[tb + 1];
            if (k1 <= k0) continue;
            double *blk = acc + (long)pair_index[ntyp[j] * ntypes + tb] * nxi * ntile * SF_NL;
            for (int t = 0; t < ntile; t++) {
                const double *lt = lam + t * SF_NL;
                const int *zt = zeta + t * SF_NL;
#if defined(__AVX512F__)
                /* one zmm holds the 8 lanes; accumulators stay in registers over the block */
                if (SF_NL == 8 && nxi <= 4) {
                    __mmask8 bm[32];
                    for (int bit = 0; bit <= maxbit; bit++) {
                        int mk = 0;
                        for (int m = 0; m < 8; m++) mk |= ((zt[m] >> bit) & 1) << m;
                        bm[bit] = (__mmask8)mk;
                    }
                    const __m512d one = _mm512_set1_pd(1.0), vlam = _mm512_loadu_pd(lt);
                    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
                    const double *e0 = E, *e1 = E + (nxi > 1 ? nmax : 0),
                                 *e2 = E + (nxi > 2 ? 2L * nmax : 0), *e3 = E + (nxi > 3 ? 3L * nmax : 0);
                    for (int bit = maxbit + 1; bit < 5; bit++) bm[bit] = 0;
                    const int nbit = maxbit < 5 ? 5 : maxbit + 1;   /* a constant trip count unrolls */
                    for (int k = k0; k < k1; k++) {
                        __m512d b = _mm512_fmadd_pd(vlam, _mm512_set1_pd(c[k]), one);
                        __m512d p = one;
                        if (nbit == 5) {
#pragma GCC unroll 5
                            for (int bit = 0; bit < 5; bit++) {
                                p = _mm512_mask_mul_pd(p, bm[bit], p, b);
                                b = _mm512_mul_pd(b, b);
                            }
                        } else {
                            for (int bit = 0; bit < nbit; bit++) {
                                p = _mm512_mask_mul_pd(p, bm[bit], p, b);
                                b = _mm512_mul_pd(b, b);
                            }
                        }
                        a0 = _mm512_fmadd_pd(_mm512_set1_pd(e0[k]), p, a0);
                        a1 = _mm512_fmadd_pd(_mm512_set1_pd(e1[k]), p, a1);
                        a2 = _mm512_fmadd_pd(_mm512_set1_pd(e2[k]), p, a2);
                        a3 = _mm512_fmadd_pd(_mm512_set1_pd(e3[k]), p, a3);
                    }
                    __m512d av[4] = {a0, a1, a2, a3};
                    for (int u = 0; u < nxi; u++) {
                        double *a = blk + ((long)u * ntile + t) * SF_NL;
                        _mm512_storeu_pd(a, _mm512_add_pd(_mm512_loadu_pd(a), av[u]));
                    }
                    continue;
                }
#endif
                for (int k = k0; k < k1; k++) {
                    double b[SF_NL], p[SF_NL];
                    const double ck = c[k];
#pragma omp simd
                    for (int m = 0; m < SF_NL; m++) { b[m] = 1.0 + lt[m] * ck; p[m] = 1.0; }
                    for (int bit = 0; bit <= maxbit; bit++) {
#pragma omp simd
                        for (int m = 0; m < SF_NL; m++) {
                            p[m] = ((zt[m] >> bit) & 1) ? p[m] * b[m] : p[m];
                            b[m] = b[m] * b[m];
                        }
                    }
                    for (int u = 0; u < nxi; u++) {
                        const double e = E[(long)u * nmax + k];
                        double *a = blk + ((long)u * ntile + t) * SF_NL;
#pragma omp simd
                        for (int m = 0; m < SF_NL; m++) a[m] += e * p[m];
                    }
                }
            }
        }
    }
}
#endif
