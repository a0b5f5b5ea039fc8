/* Caller: pyglass/engine/potentials/base.py, through extensions/neighbours.pyx. */
/* Candidate selection and grouping for the Verlet-list builder (extensions/neighbours.pyx).
 *
 * select_row appends to hits[n..] the cell-sorted positions kk in [r0, r1) that are neighbours of
 * particle k at (xi, yi, zi), and their types to hit_types[n..]: squared distance below
 * cut2[ts[kk]], kk != k, and, with `check` (the half list's own cell layer), lying 'above' k:
 * dz > 0, or dz = 0 and dy > 0, or ... dx > 0, or an exact duplicate with kk > k. Coordinates are
 * SoA (xs, ys, zs). Returns the new count; the buffers hold one particle's hits and must have
 * room for every row plus 8. With AVX-512 (and at most 8 types) eight candidates are tested at
 * once, the cutoffs by type taken from one register by a permute (a gather from memory is slow on
 * AMD Zen 4) and the hits
 * compressed in a register and stored plainly (vpcompressd to memory is microcoded on Zen 4,
 * about ten times slower); otherwise the same test runs scalar, branch-free.
 *
 * group_by_type writes one particle's hits grouped by type, in the order found within a group,
 * each group padded to a multiple of 4 with pad_index when `pad`: the layout the force kernels
 * read (constant parameters per group, whole groups of four). */
#ifndef PYGLASS_NEIGHBOURS_SIMD_H
#define PYGLASS_NEIGHBOURS_SIMD_H
#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

static inline int select_row_scalar(const double* xs, const double* ys, const double* zs, const int* ts,
                                    int r0, int r1, int k, double xi, double yi, double zi,
                                    const double* cut2, int ntypes, int check, int* hits, int* hit_types,
                                    int n) {
    (void)ntypes;
    for (int kk = r0; kk < r1; kk++) {
        const double dx = xs[kk] - xi, dy = ys[kk] - yi, dz = zs[kk] - zi;
        int keep = (dx * dx + dy * dy + dz * dz < cut2[ts[kk]]) & (kk != k);
        if (check)
            keep &= (dz > 0) | ((dz == 0) & ((dy > 0) | ((dy == 0) & ((dx > 0) | ((dx == 0) & (kk > k))))));
        hits[n] = kk;
        hit_types[n] = ts[kk];
        n += keep;
    }
    return n;
}

/* Returns the number of entries written to out (the groups of types 0.. ntypes-1 one after the
 * other); starts[t] is where group t begins. out must have room for count + 4 ntypes + 8. */
static inline int group_by_type_scalar(const int* hits, const int* hit_types, int count, int ntypes,
                                       int pad, int pad_index, int* out, int* starts) {
    int m = 0;
    for (int t = 0; t < ntypes; t++) {
        starts[t] = m;
        for (int q = 0; q < count; q++) {
            out[m] = hits[q];
            m += hit_types[q] == t;          /* branch-free: the test is data-dependent */
        }
        while (pad && (m & 3))
            out[m++] = pad_index;
    }
    return m;
}

#if defined(__AVX512F__) && defined(__AVX512VL__)
static inline int select_row(const double* xs, const double* ys, const double* zs, const int* ts,
                             int r0, int r1, int k, double xi, double yi, double zi,
                             const double* cut2, int ntypes, int check, int* hits, int* hit_types,
                             int n) {
    if (ntypes > 8)     /* the cutoff table does not fit one register */
        return select_row_scalar(xs, ys, zs, ts, r0, r1, k, xi, yi, zi, cut2, ntypes, check, hits,
                                 hit_types, n);
    const __m512d vx = _mm512_set1_pd(xi), vy = _mm512_set1_pd(yi), vz = _mm512_set1_pd(zi);
    const __m512d zero = _mm512_setzero_pd();
    const __m512d table = _mm512_maskz_loadu_pd((__mmask8)((1u << ntypes) - 1u), cut2);
    const __m256i vk = _mm256_set1_epi32(k);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int kk = r0; kk < r1; kk += 8) {
        const int left = r1 - kk;
        const __mmask8 valid = left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1u);
        const __m512d dx = _mm512_sub_pd(_mm512_maskz_loadu_pd(valid, xs + kk), vx);
        const __m512d dy = _mm512_sub_pd(_mm512_maskz_loadu_pd(valid, ys + kk), vy);
        const __m512d dz = _mm512_sub_pd(_mm512_maskz_loadu_pd(valid, zs + kk), vz);
        const __m512d u = _mm512_fmadd_pd(dz, dz, _mm512_fmadd_pd(dy, dy, _mm512_mul_pd(dx, dx)));
        const __m256i t = _mm256_maskz_loadu_epi32(valid, ts + kk);
        const __m512d c2 = _mm512_permutexvar_pd(_mm512_cvtepu32_epi64(t), table);
        const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(kk), lane);
        __mmask8 keep = _mm512_mask_cmp_pd_mask(valid, u, c2, _CMP_LT_OQ)
                        & _mm256_cmpneq_epi32_mask(idx, vk);
        if (check) {
            const __mmask8 zp = _mm512_cmp_pd_mask(dz, zero, _CMP_GT_OQ), z0 = _mm512_cmp_pd_mask(dz, zero, _CMP_EQ_OQ);
            const __mmask8 yp = _mm512_cmp_pd_mask(dy, zero, _CMP_GT_OQ), y0 = _mm512_cmp_pd_mask(dy, zero, _CMP_EQ_OQ);
            const __mmask8 xp = _mm512_cmp_pd_mask(dx, zero, _CMP_GT_OQ), x0 = _mm512_cmp_pd_mask(dx, zero, _CMP_EQ_OQ);
            const __mmask8 later = _mm256_cmpgt_epi32_mask(idx, vk);
            keep &= zp | (z0 & (yp | (y0 & (xp | (x0 & later)))));
        }
        _mm256_storeu_si256((__m256i*)(hits + n), _mm256_maskz_compress_epi32(keep, idx));
        _mm256_storeu_si256((__m256i*)(hit_types + n), _mm256_maskz_compress_epi32(keep, t));
        n += __builtin_popcount((unsigned)keep);
    }
    return n;
}

static inline int group_by_type(const int* hits, const int* hit_types, int count, int ntypes,
                                int pad, int pad_index, int* out, int* starts) {
    int m = 0;
    for (int t = 0; t < ntypes; t++) {
        const __m256i vt = _mm256_set1_epi32(t);
        starts[t] = m;
        for (int q = 0; q < count; q += 8) {
            const int left = count - q;
            const __mmask8 valid = left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1u);
            const __mmask8 mine = _mm256_mask_cmpeq_epi32_mask(valid, _mm256_maskz_loadu_epi32(valid, hit_types + q), vt);
            _mm256_storeu_si256((__m256i*)(out + m),
                                _mm256_maskz_compress_epi32(mine, _mm256_maskz_loadu_epi32(valid, hits + q)));
            m += __builtin_popcount((unsigned)mine);
        }
        while (pad && (m & 3))
            out[m++] = pad_index;
    }
    return m;
}
#else
#define select_row select_row_scalar
#define group_by_type group_by_type_scalar
#endif
#endif
