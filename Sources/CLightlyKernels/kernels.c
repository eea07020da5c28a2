#include "lightly_kernels.h"
#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

int lk_dist16_available(void) { return __builtin_cpu_supports("avx512f") ? 1 : 0; }

#define LK_T __attribute__((target("avx512f"), always_inline)) static inline

/// Per-row accumulator before the horizontal reduction (Kernels.rowAcc for d % 16 == 0).
LK_T __m512 row_acc(const float *x, const float *c, long d) {
    // x − c as fma(x, 1, −c): one rounding of the exact x − c, so bit-identical to the
    // subtraction, but it issues on the FMA pipes and leaves the add pipes to the reduction.
#define DF(j) _mm512_fmadd_ps(_mm512_loadu_ps(x + (j)), _mm512_set1_ps(1.0f), _mm512_sub_ps(_mm512_setzero_ps(), _mm512_loadu_ps(c + (j))))
#define SQ(a, j) do { __m512 e_ = DF(j); a = _mm512_add_ps(a, _mm512_mul_ps(e_, e_)); } while (0)
    if (d == 16) { __m512 e = DF(0); return _mm512_mul_ps(e, e); }
    if (d == 32) { __m512 e0 = DF(0), e1 = DF(16); return _mm512_add_ps(_mm512_mul_ps(e0, e0), _mm512_mul_ps(e1, e1)); }
    __m512 z = _mm512_setzero_ps();
    __m512 a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
    long j = 0;
    for (; j + 128 <= d; j += 128) {
        SQ(a0, j); SQ(a1, j + 16); SQ(a2, j + 32); SQ(a3, j + 48);
        SQ(a4, j + 64); SQ(a5, j + 80); SQ(a6, j + 96); SQ(a7, j + 112);
    }
    if (j + 64 <= d) { SQ(a0, j); SQ(a1, j + 16); SQ(a2, j + 32); SQ(a3, j + 48); j += 64; }
    if (j + 32 <= d) { SQ(a4, j); SQ(a5, j + 16); j += 32; }
    if (j + 16 <= d) { SQ(a6, j); j += 16; }
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                         _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
#undef SQ
#undef DF
}

/// Kernels.combine: [a0+a1, a2+a3, …, a14+a15, b0+b1, …, b14+b15].
LK_T __m512 combine(__m512 a, __m512 b) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_add_ps(_mm512_permutex2var_ps(a, ev, b), _mm512_permutex2var_ps(a, od, b));
}

#define LK_BODY(D)                                                                           \
    do {                                                                                     \
        __m512 v[16];                                                                        \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int i = 0; i < 16; i++) {                                                       \
            long r = rowOf ? (long)rowOf[p + i] : p + i;                                     \
            v[i] = row_acc(base + r * (D), c, (D));                                          \
        }                                                                                    \
        __m512 t0 = combine(v[0], v[1]), t1 = combine(v[2], v[3]);                          \
        __m512 t2 = combine(v[4], v[5]), t3 = combine(v[6], v[7]);                          \
        __m512 t4 = combine(v[8], v[9]), t5 = combine(v[10], v[11]);                        \
        __m512 t6 = combine(v[12], v[13]), t7 = combine(v[14], v[15]);                      \
        __m512 u0 = combine(t0, t1), u1 = combine(t2, t3), u2 = combine(t4, t5), u3 = combine(t6, t7); \
        _mm512_storeu_ps(out, combine(combine(u0, u1), combine(u2, u3)));                   \
    } while (0)

LK_T __m512 dist16(const float *base, const uint32_t *rowOf, long p, const float *c, long d) {
    __m512 res;
    float *out = (float *)&res;
    switch (d) {
    case 16: LK_BODY(16); break;
    case 32: LK_BODY(32); break;
    case 64: LK_BODY(64); break;
    case 128: LK_BODY(128); break;
    default: LK_BODY(d); break;
    }
    return res;
}

LK_T long pass_div(const float *base, const uint32_t *rowOf, const float *c, long D, float *m,
                   long lo, long hi, float *bestV, int32_t *bestI) {
    __m512 bV = _mm512_loadu_ps(bestV);
    __m512i bI = _mm512_loadu_si512(bestI);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    long p = lo;
    for (; p + 16 <= hi; p += 16) {
        __m512 dd = dist16(base, rowOf, p, c, D);
        __m512 mv = _mm512_loadu_ps(m + p);
        mv = _mm512_mask_mov_ps(mv, _mm512_cmp_ps_mask(dd, mv, _CMP_LT_OQ), dd);   // min(m, dd)
        _mm512_storeu_ps(m + p, mv);
        __mmask16 better = _mm512_cmp_ps_mask(mv, bV, _CMP_GT_OQ);
        bV = _mm512_mask_mov_ps(bV, better, mv);
        bI = _mm512_mask_mov_epi32(bI, better, _mm512_add_epi32(_mm512_set1_epi32((int32_t)p), lane));
    }
    _mm512_storeu_ps(bestV, bV);
    _mm512_storeu_si512(bestI, bI);
    return p;
}

__attribute__((target("avx512f")))
long lk_pass_diversity_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    switch (d) {
    case 16: return pass_div(base, rowOf, c, 16, m, lo, hi, bestV, bestI);
    case 32: return pass_div(base, rowOf, c, 32, m, lo, hi, bestV, bestI);
    case 64: return pass_div(base, rowOf, c, 64, m, lo, hi, bestV, bestI);
    case 128: return pass_div(base, rowOf, c, 128, m, lo, hi, bestV, bestI);
    default: return pass_div(base, rowOf, c, d, m, lo, hi, bestV, bestI);
    }
}

__attribute__((target("avx512f")))
void lk_dist16_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    switch (d) {
    case 16: LK_BODY(16); break;
    case 32: LK_BODY(32); break;
    case 64: LK_BODY(64); break;
    case 128: LK_BODY(128); break;
    default: LK_BODY(d); break;
    }
}
#else
int lk_dist16_available(void) { return 0; }
long lk_pass_diversity_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    (void)base; (void)rowOf; (void)c; (void)d; (void)m; (void)hi; (void)bestV; (void)bestI;
    return lo;
}
void lk_dist16_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    (void)base; (void)rowOf; (void)p; (void)c; (void)d; (void)out;
}
#endif
