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

/* Cosine cutoff factor of Behler's symmetry functions (DScribe's ACSF):
 * f_c(r) = (cos(pi r / rc) + 1) / 2 for r < rc, 0 beyond. */
static inline double sf_cosine_cutoff(double r, double rc) {
    return r < rc ? 0.5 * (cos(M_PI * r / rc) + 1.0) : 0.0;
}

/* Multiply the exponential rows E (nxi rows, stride nmax) of row j over k in [k0, k1) by
 * f_c(r_ij) f_c(r_ik) f_c(r_jk) (the angular functions' cosine-cutoff option). */
static void sf_cosine_weights(const double *dx, const double *dy, const double *dz, const double *r,
                              int j, int k0, int k1, double rc, int nxi, int nmax, double *E) {
    const double fj = sf_cosine_cutoff(r[j], rc);
    for (int k = k0; k < k1; k++) {
        double ex = dx[k] - dx[j], ey = dy[k] - dy[j], ez = dz[k] - dz[j];
        double w = fj * sf_cosine_cutoff(r[k], rc) * sf_cosine_cutoff(sqrt(ex * ex + ey * ey + ez * ez), rc);
        for (int u = 0; u < nxi; u++) E[(long)u * nmax + k] *= w;
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
                              double rc_cos, double *restrict acc, double *restrict s,
                              double *restrict c, double *restrict E) {
    const double *dx = nb, *dy = nb + nmax, *dz = nb + 2 * nmax, *r2 = nb + 3 * nmax, *r = nb + 4 * nmax;
    for (int j = 0; j + 1 < n; j++) {
        sf_triplet_row(dx, dy, dz, r2, r, j, j + 1, n, s, c);
        for (int u = 0; u < nxi; u++) sf_exp_row(s, inv_xi2[u], E + (long)u * nmax, j + 1, n);
        if (rc_cos > 0) sf_cosine_weights(dx, dy, dz, r, j, j + 1, n, rc_cos, nxi, nmax, E);
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

/* ---------------------------------------------------------------------------------------------
 * Fused angular kernel (AVX-512): the default grid's path.
 *
 * Per centre, per species block pair (X, Y) and neighbour j, the triplets (j, k) of one row are
 * done in two passes over k, 8 at a time:
 *   1. geometry and exponentials: c = u_j . u_k (unit vectors), s = r_ij^2 + r_ik^2 + r_jk^2
 *      = 2 r_ij^2 + 2 r_ik^2 - 2 r_ij r_ik c, and e_u = exp(-s / xi_u^2) * 2^SF_SHIFT for every
 *      distinct xi, stored in L1-resident rows;
 *   2. angular factors and sums: for each tile of 8 (lambda, zeta) "slots", the powers
 *      (1 + lambda c)^zeta by a chain of squarings and sum_k e_u p_m in registers (at most 4 x 8).
 * Split, every accumulator of pass 2 stays in a register and pass 1 (no loop-carried dependency)
 * overlaps iterations; in one loop the two were ~15% slower (register spills). Each row's register
 * sums are added to per-centre vector sums (two-level summation: ~1e-15 relative, where one long
 * chain per lane gave 1e-14). s from c loses nothing that matters: its rounding error grows with
 * r_ij^2 + r_ik^2, where e^-s is negligible in the sums. Slots: kind 0 -> p = 1 (zeta = 0); kind 1
 * -> p = 1 + lam c, then nsq squarings (zeta = 2^nsq); kind 2 -> the previous slot's p, then nsq
 * squarings (zeta = previous zeta * 2^nsq). used[u * ntile + t]: bit m set if (xi_u, slot m of
 * tile t) is a function of the grid (the others are not summed).
 *
 * The exponential, for 0 <= gamma s <= SF_FUSED_MAX_ARG: x = -gamma s = (k/16) ln2 + r with
 * k = round(16 x / ln2) (adding 1.5 * 2^48 rounds x / ln2 to sixteenths and leaves k mod 16 in the
 * low mantissa bits), r = -gamma (s + (k/16) ln2 / gamma), |r| <= ln2/32; e^x = 2^floor(k/16)
 * (vscalefpd) * 2^(k mod 16 / 16) (16-entry table in two registers, vpermt2pd, with 2^SF_SHIFT in
 * its exponent) * P(r), P of degree 5 (Chebyshev fit of e^r) written in s + (k/16) L so the powers
 * of gamma fold into its coefficients. Relative error < 5e-15 against libm (sf_exp: 3e-14); degree
 * 6 (< 1e-15) cost 12% more time, a 32-entry table (degree 5, < 1e-15) as much. The
 * caller checks max(gamma) * 6 r_ang^2 <= SF_FUSED_MAX_ARG (s <= r_ij^2 + r_ik^2 + (r_ij + r_ik)^2),
 * so no term underflows (libm's exp would give 0 below -745).
 * ------------------------------------------------------------------------------------------- */
#define SF_FUSED_MAX_ARG 700.0
#define SF_FUSED_MAXXI 4
#if defined(__AVX512F__)
#define SF_HAVE_FUSED 1
static const double sf_exp2_sixteenths[16] = {
    1.0, 1.0442737824274138403, 1.0905077326652576592, 1.1387886347566916537,
    1.1892071150027210667, 1.2418578120734840486, 1.2968395546510096659, 1.3542555469368927283,
    1.4142135623730950488, 1.4768261459394993114, 1.5422108254079408236, 1.6104903319492543082,
    1.6817928305074290861, 1.7562521603732994831, 1.8340080864093424635, 1.9152065613971472939};
/* e^r on |r| <= ln2/32, degree 5 (Chebyshev fit, relative error 4.5e-15), coefficients of r^0..r^5 */
static const double sf_exp_poly[6] = {1.0000000000000044, 1.0000000000000007, 0.49999999982801235,
                                      0.16666666664209706, 0.0416676441600394, 0.008333472974951229};

typedef struct {
    double k[SF_FUSED_MAXXI];       /* -gamma / ln2 */
    double L[SF_FUSED_MAXXI];       /* ln2 / gamma */
    double d[SF_FUSED_MAXXI][6];    /* sf_exp_poly[q] * (-gamma)^q */
} sf_fused_exp;

static void sf_fused_exp_init(sf_fused_exp *E, const double *gam, int nxi) {
    for (int u = 0; u < nxi; u++) {
        E->k[u] = -gam[u] * 1.4426950408889634074;
        E->L[u] = 0.69314718055994530942 / gam[u];
        double g = 1.0;
        for (int q = 0; q < 6; q++) { E->d[u][q] = sf_exp_poly[q] * g; g *= -gam[u]; }
    }
}

/* the table 2^(j/16) * 2^SF_SHIFT, j = 0..7 and 8..15 */
static inline __m512d sf_exp_table(int half) {
    return _mm512_castsi512_pd(_mm512_add_epi64(
        _mm512_castpd_si512(_mm512_loadu_pd(sf_exp2_sixteenths + 8 * half)),
        _mm512_set1_epi64((long long)SF_SHIFT << 52)));
}

/* exp(-gamma_u s) * 2^SF_SHIFT for 8 values of s, 0 <= gamma_u s <= 1160 */
static inline __attribute__((always_inline)) __m512d
sf_fused_exp8(__m512d s, const sf_fused_exp *E, int u, __m512d tab0, __m512d tab1) {
    const __m512d magic = _mm512_set1_pd(422212465065984.0);            /* 1.5 * 2^48 */
    __m512d t = _mm512_fmadd_pd(s, _mm512_set1_pd(E->k[u]), magic);
    __m512d kq = _mm512_sub_pd(t, magic);                                /* k / 16 */
    __m512d r = _mm512_fmadd_pd(kq, _mm512_set1_pd(E->L[u]), s);
    __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(E->d[u][5]), r, _mm512_set1_pd(E->d[u][4]));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(E->d[u][3]));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(E->d[u][2]));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(E->d[u][1]));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(E->d[u][0]));
    __m512d b = _mm512_permutex2var_pd(tab0, _mm512_castpd_si512(t), tab1);
    return _mm512_scalef_pd(_mm512_mul_pd(p, b), kq);
}

/* pass 1 for 8 neighbours k = kk..kk+7 (mask mk) of row j: c and e_u into the rows at q */
#define SF_FUSED_PASS1(MK, KK, Q)                                                                     \
    do {                                                                                             \
        const __mmask8 mk_ = (MK);                                                                   \
        const int kk_ = (KK), q_ = (Q);                                                              \
        __m512d c = _mm512_mul_pd(uxj, _mm512_maskz_loadu_pd(mk_, ux + kk_));                        \
        c = _mm512_fmadd_pd(uyj, _mm512_maskz_loadu_pd(mk_, uy + kk_), c);                           \
        c = _mm512_fmadd_pd(uzj, _mm512_maskz_loadu_pd(mk_, uz + kk_), c);                           \
        __m512d R = _mm512_add_pd(R2j, _mm512_maskz_loadu_pd(mk_, R2 + kk_));                        \
        __m512d s = _mm512_fnmadd_pd(_mm512_mul_pd(rj2, _mm512_maskz_loadu_pd(mk_, rr + kk_)), c, R); \
        _mm512_storeu_pd(crow + q_, c);                                                              \
        _Pragma("GCC unroll 4") for (int u = 0; u < NXI; u++) {                                     \
            __m512d e = sf_fused_exp8(s, &EX, u, tab0, tab1);                                        \
            if (mk_ != 0xFF) e = _mm512_maskz_mov_pd(mk_, e);                                        \
            _mm512_storeu_pd(erow + (long)u * rstride + q_, e);                                      \
        }                                                                                            \
    } while (0)

/* pass 2 over one row for tile t: a[u][m] += sum_q e_u(q) p_m(q) */
#define SF_FUSED_PASS2(T)                                                                             \
    do {                                                                                             \
        const int *kd = kind + (T) * SF_NL, *ns = nsq + (T) * SF_NL;                                 \
        const double *lt = lam + (T) * SF_NL;                                                        \
        unsigned use[SF_FUSED_MAXXI];                                                                \
        _Pragma("GCC unroll 4") for (int u = 0; u < NXI; u++) use[u] = used[u * ntile + (T)];       \
        /* the tail lanes of the rows hold c = 0 and e = 0: whole vectors are summed */             \
        for (int q = 0; q < len; q += 8) {                                                           \
            const __m512d c = _mm512_loadu_pd(crow + q);                                             \
            __m512d e[SF_FUSED_MAXXI];                                                               \
            _Pragma("GCC unroll 4") for (int u = 0; u < NXI; u++)                                   \
                e[u] = _mm512_loadu_pd(erow + (long)u * rstride + q);                                \
            __m512d p = one;                                                                         \
            _Pragma("GCC unroll 8") for (int m = 0; m < SF_NL; m++) {                                \
                __m512d pm = one;                                                                    \
                if (kd[m] != 0) {                                                                    \
                    if (kd[m] == 1)   /* 1 + lam c; lam = +-1 on the add pipes */                    \
                        p = lt[m] == 1.0 ? _mm512_add_pd(one, c)                                     \
                          : lt[m] == -1.0 ? _mm512_sub_pd(one, c)                                    \
                          : _mm512_fmadd_pd(_mm512_set1_pd(lt[m]), c, one);                          \
                    for (int w = 0; w < ns[m]; w++) p = _mm512_mul_pd(p, p);                         \
                    pm = p;                                                                          \
                }                                                                                    \
                _Pragma("GCC unroll 4") for (int u = 0; u < NXI; u++)                               \
                    if (use[u] >> m & 1) a[u][m] = _mm512_fmadd_pd(e[u], pm, a[u][m]);              \
            }                                                                                        \
        }                                                                                            \
    } while (0)

/* add the register sums a to the centre's vector sums of tile t */
#define SF_FUSED_FLUSH(T)                                                                             \
    do {                                                                                             \
        _Pragma("GCC unroll 4") for (int u = 0; u < NXI; u++) {                                     \
            __m512d *b_ = blk + ((long)u * ntile + (T)) * SF_NL;                                     \
            _Pragma("GCC unroll 8") for (int m = 0; m < SF_NL; m++)                                  \
                if (used[u * ntile + (T)] >> m & 1) b_[m] = _mm512_add_pd(b_[m], a[u][m]);           \
        }                                                                                            \
    } while (0)

static inline __attribute__((always_inline)) void
sf_fused_centre_impl(const int NXI, int nmax, const double *restrict nb, const long *restrict tstart,
                     int ntypes, const double *restrict gam, int ntile, const double *restrict lam,
                     const int *restrict kind, const int *restrict nsq, const unsigned *restrict used,
                     const int *restrict pair_index, double *restrict acc, double *restrict rows,
                     __m512d *restrict vsum) {
    const double *rr = nb, *R2 = nb + nmax, *ux = nb + 2L * nmax, *uy = nb + 3L * nmax,
                 *uz = nb + 4L * nmax;
    const long rstride = nmax + 8;
    double *crow = rows, *erow = rows + rstride;
    sf_fused_exp EX;
    sf_fused_exp_init(&EX, gam, NXI);
    const __m512d tab0 = sf_exp_table(0), tab1 = sf_exp_table(1);
    const __m512d one = _mm512_set1_pd(1.0);
    const int npairs = ntypes * (ntypes + 1) / 2;
    const long nvsum = (long)npairs * NXI * ntile * SF_NL;
    for (long q = 0; q < nvsum; q++) vsum[q] = _mm512_setzero_pd();
    for (int ta = 0; ta < ntypes; ta++) {
        for (int tb = ta; tb < ntypes; tb++) {
            __m512d *blk = vsum + (long)pair_index[ta * ntypes + tb] * NXI * ntile * SF_NL;
            for (int j = (int)tstart[ta]; j < (int)tstart[ta + 1]; j++) {
                const int k0 = ta == tb ? j + 1 : (int)tstart[tb], k1 = (int)tstart[tb + 1];
                const int len = k1 - k0;
                if (len <= 0) continue;
                {
                    const __m512d uxj = _mm512_set1_pd(ux[j]), uyj = _mm512_set1_pd(uy[j]),
                                  uzj = _mm512_set1_pd(uz[j]), R2j = _mm512_set1_pd(R2[j]),
                                  rj2 = _mm512_set1_pd(2.0 * rr[j]);
                    int q = 0;
                    for (; q + 8 <= len; q += 8) SF_FUSED_PASS1(0xFF, k0 + q, q);
                    if (q < len) SF_FUSED_PASS1((__mmask8)((1u << (len - q)) - 1), k0 + q, q);
                }
                /* register sums per row (kept over rows they would be live in pass 1 and spill) */
                for (int t = 0; t < ntile; t++) {
                    __m512d a[SF_FUSED_MAXXI][SF_NL];
                    _Pragma("GCC unroll 4") for (int u = 0; u < NXI; u++)
                        _Pragma("GCC unroll 8") for (int m = 0; m < SF_NL; m++) a[u][m] = _mm512_setzero_pd();
                    SF_FUSED_PASS2(t);
                    SF_FUSED_FLUSH(t);
                }
            }
        }
    }
    for (long q = 0; q < nvsum; q++) acc[q] += _mm512_reduce_add_pd(vsum[q]);
}

/* w[k] = exp(-(r - mu[k])^2 a) * 2^SF_SHIFT (sf_gauss_row's values to < 1e-15) with the table exp:
 * arguments below SF_EXP_ZERO give 0 as libm's exp does. */
static void sf_gauss_row_fast(double r, const double *restrict mu, int n, double a, double *restrict w) {
    const __m512d tab0 = sf_exp_table(0), tab1 = sf_exp_table(1);
    const __m512d vr = _mm512_set1_pd(r), smax = _mm512_set1_pd(-SF_EXP_ZERO / a);
    sf_fused_exp EX;
    sf_fused_exp_init(&EX, &a, 1);
    for (int k = 0; k < n; k += 8) {
        const __mmask8 mk = n - k >= 8 ? 0xFF : (__mmask8)((1u << (n - k)) - 1);
        __m512d t = _mm512_sub_pd(vr, _mm512_maskz_loadu_pd(mk, mu + k));
        __m512d s = _mm512_mul_pd(t, t);
        /* a s beyond libm's underflow: 0 (s clamped so the table exp stays in its range) */
        __mmask8 ok = _mm512_mask_cmp_pd_mask(mk, _mm512_mul_pd(s, _mm512_set1_pd(a)),
                                              _mm512_set1_pd(-SF_EXP_ZERO), _CMP_LE_OQ);
        s = _mm512_min_pd(s, smax);
        _mm512_mask_storeu_pd(w + k, mk, _mm512_maskz_mov_pd(ok, sf_fused_exp8(s, &EX, 0, tab0, tab1)));
    }
}

/* The default grid's slots (lambda = -1, +1 each with zeta = 1, 2, 4, 16; no zeta = 16 at the third
 * xi): a copy of the loop with these recipes as constants unrolls without branches (~10% faster
 * than reading them at run time). */
static const int sf_default_kind[SF_NL] = {1, 2, 2, 2, 1, 2, 2, 2};
static const int sf_default_nsq[SF_NL] = {0, 1, 1, 2, 0, 1, 1, 2};
static const unsigned sf_default_used[3] = {0xFF, 0xFF, 0x77};

/* Angular sums of one centre (layout of sf_angular_centre) with nxi <= SF_FUSED_MAXXI distinct xi:
 * nb = 5 columns r, 2 r^2, ux, uy, uz (stride nmax) sorted by species (tstart); gam = 1/xi^2;
 * lam, kind, nsq: ntile * SF_NL slot recipes; used: nxi * ntile lane masks; rows: scratch of
 * (nxi + 1) * (nmax + 8) doubles; vsum: scratch of npairs * nxi * ntile * SF_NL vectors (64-byte
 * aligned). */
static void sf_fused_centre(int nxi, int nmax, const double *nb, const long *tstart, int ntypes,
                            const double *gam, int ntile, const double *lam, const int *kind,
                            const int *nsq, const unsigned *used, const int *pair_index, double *acc,
                            double *rows, void *vsum) {
    __m512d *v = (__m512d *)vsum;
    if (nxi == 3 && ntile == 1 && !memcmp(kind, sf_default_kind, sizeof sf_default_kind) &&
        !memcmp(nsq, sf_default_nsq, sizeof sf_default_nsq) &&
        !memcmp(used, sf_default_used, sizeof sf_default_used)) {
        sf_fused_centre_impl(3, nmax, nb, tstart, ntypes, gam, 1, lam, sf_default_kind, sf_default_nsq,
                             sf_default_used, pair_index, acc, rows, v);
        return;
    }
    switch (nxi) {
    case 1: sf_fused_centre_impl(1, nmax, nb, tstart, ntypes, gam, ntile, lam, kind, nsq, used, pair_index, acc, rows, v); break;
    case 2: sf_fused_centre_impl(2, nmax, nb, tstart, ntypes, gam, ntile, lam, kind, nsq, used, pair_index, acc, rows, v); break;
    case 3: sf_fused_centre_impl(3, nmax, nb, tstart, ntypes, gam, ntile, lam, kind, nsq, used, pair_index, acc, rows, v); break;
    default: sf_fused_centre_impl(4, nmax, nb, tstart, ntypes, gam, ntile, lam, kind, nsq, used, pair_index, acc, rows, v); break;
    }
}
#else
#define SF_HAVE_FUSED 0
static void sf_gauss_row_fast(double r, const double *restrict mu, int n, double a, double *restrict w) {
    sf_gauss_row(r, mu, n, a, w);
}
static void sf_fused_centre(int nxi, int nmax, const double *nb, const long *tstart, int ntypes,
                            const double *gam, int ntile, const double *lam, const int *kind,
                            const int *nsq, const unsigned *used, const int *pair_index, double *acc,
                            double *rows, void *vsum) {
    (void)nxi; (void)nmax; (void)nb; (void)tstart; (void)ntypes; (void)gam; (void)ntile; (void)lam;
    (void)kind; (void)nsq; (void)used; (void)pair_index; (void)acc; (void)rows; (void)vsum;
}
#endif
#endif
