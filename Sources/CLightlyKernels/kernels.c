#include "lightly_kernels.h"
#pragma clang fp contract(off)

#include <stdlib.h>
#include <string.h>

// 16-lane clang vectors: one vector per 16 rows whatever the CPU (one zmm register, two ymm or
// four xmm/NEON registers). A function that passes one by value must have the caller's target
// attributes (clang rejects a 512-bit vector argument between an AVX-512 caller and a callee
// without), so the operations every variant shares are macros.
#pragma clang diagnostic ignored "-Wpsabi"
typedef float lk_vf __attribute__((ext_vector_type(16)));
typedef int32_t lk_vi __attribute__((ext_vector_type(16)));
#define LK_LOAD16(x) ({ lk_vf v_; memcpy(&v_, (x), sizeof v_); v_; })
/// Per lane: m ? a : b (m is a comparison result, all ones or all zeros per lane).
#define LK_SEL(m, a, b) ((lk_vf)((((lk_vi)(a)) & (m)) | (((lk_vi)(b)) & ~(m))))

// Which kernels run: chosen once from the CPU (cpuid via __builtin_cpu_supports). The environment
// variable LIGHTLY_KERNELS=avx2|baseline lowers the choice (tests and benchmarks use it to run
// the AVX2 and the Swift paths on an AVX-512 machine); it never raises it.
enum { LK_BASELINE = 0, LK_AVX2 = 1, LK_AVX512 = 2 };
static int lk_detect_isa(void) {
    int isa = LK_BASELINE;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) isa = LK_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        isa = LK_AVX2;
#endif
    const char *want = getenv("LIGHTLY_KERNELS");
    if (want && strcmp(want, "avx2") == 0 && isa > LK_AVX2) isa = LK_AVX2;
    if (want && strcmp(want, "baseline") == 0) isa = LK_BASELINE;
    return isa;
}
static int lk_isa_cache = -1;   // every thread computes the same value; relaxed atomics suffice
static int lk_isa(void) {
    int isa = __atomic_load_n(&lk_isa_cache, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = lk_detect_isa();
        __atomic_store_n(&lk_isa_cache, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

int lk_dist16_available(void) { return lk_isa() != LK_BASELINE; }

int lk_kernels_set_isa_for_tests(int isa) {
    int before = lk_isa();
    if (isa >= LK_BASELINE && isa <= lk_detect_isa()) __atomic_store_n(&lk_isa_cache, isa, __ATOMIC_RELAXED);
    return before;
}

const char *lk_runtime_isa(void) {
    switch (lk_isa()) {
    case LK_AVX512: return "avx512f";
    case LK_AVX2: return "avx2+fma";
    default: return "baseline";
    }
}

#if defined(__x86_64__)
#include <immintrin.h>


#define LK_T __attribute__((target("avx512f"), always_inline)) static inline

// Element loaders: 16 consecutive elements as float32. float16 → float32 is exact
// (vcvtph2ps), so a float16 row gives the same result as its float32 conversion.
LK_T __m512 load_f32(const float *x, long j) { return _mm512_loadu_ps(x + j); }
LK_T __m512 load_f16(const uint16_t *x, long j) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + j)));
}

/// Per-row accumulator before the horizontal reduction (Kernels.rowAcc for d % 16 == 0).
/// x − c is computed as fma(x, 1, −c): one rounding of the exact x − c, so bit-identical to
/// the subtraction, but it issues on the FMA pipes and leaves the add pipes to the reduction.
#define LK_ROW_ACC(NAME, T, LOAD)                                                             \
LK_T __m512 NAME(const T *x, const float *c, long d) {                                       \
    __m512 z = _mm512_setzero_ps();                                                          \
    if (d == 16) { __m512 e = _mm512_fmadd_ps(LOAD(x, 0), _mm512_set1_ps(1.0f), _mm512_sub_ps(z, _mm512_loadu_ps(c))); \
                   return _mm512_mul_ps(e, e); }                                             \
    if (d == 32) {                                                                           \
        __m512 e0 = _mm512_fmadd_ps(LOAD(x, 0), _mm512_set1_ps(1.0f), _mm512_sub_ps(z, _mm512_loadu_ps(c)));      \
        __m512 e1 = _mm512_fmadd_ps(LOAD(x, 16), _mm512_set1_ps(1.0f), _mm512_sub_ps(z, _mm512_loadu_ps(c + 16))); \
        return _mm512_add_ps(_mm512_mul_ps(e0, e0), _mm512_mul_ps(e1, e1));                  \
    }                                                                                        \
    __m512 a[8] = {z, z, z, z, z, z, z, z};                                                  \
    long j = 0;                                                                              \
    _Pragma("clang loop unroll(disable)")                                                    \
    for (; j + 128 <= d; j += 128) {                                                         \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int q = 0; q < 8; q++) {                                                        \
            __m512 e = _mm512_fmadd_ps(LOAD(x, j + 16 * q), _mm512_set1_ps(1.0f),            \
                                       _mm512_sub_ps(z, _mm512_loadu_ps(c + j + 16 * q)));   \
            a[q] = _mm512_add_ps(a[q], _mm512_mul_ps(e, e));                                 \
        }                                                                                    \
    }                                                                                        \
    if (j + 64 <= d) {                                                                       \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int q = 0; q < 4; q++) {                                                        \
            __m512 e = _mm512_fmadd_ps(LOAD(x, j + 16 * q), _mm512_set1_ps(1.0f),            \
                                       _mm512_sub_ps(z, _mm512_loadu_ps(c + j + 16 * q)));   \
            a[q] = _mm512_add_ps(a[q], _mm512_mul_ps(e, e));                                 \
        }                                                                                    \
        j += 64;                                                                             \
    }                                                                                        \
    if (j + 32 <= d) {                                                                       \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int q = 0; q < 2; q++) {                                                        \
            __m512 e = _mm512_fmadd_ps(LOAD(x, j + 16 * q), _mm512_set1_ps(1.0f),            \
                                       _mm512_sub_ps(z, _mm512_loadu_ps(c + j + 16 * q)));   \
            a[4 + q] = _mm512_add_ps(a[4 + q], _mm512_mul_ps(e, e));                         \
        }                                                                                    \
        j += 32;                                                                             \
    }                                                                                        \
    if (j + 16 <= d) {                                                                       \
        __m512 e = _mm512_fmadd_ps(LOAD(x, j), _mm512_set1_ps(1.0f), _mm512_sub_ps(z, _mm512_loadu_ps(c + j))); \
        a[6] = _mm512_add_ps(a[6], _mm512_mul_ps(e, e));                                     \
        j += 16;                                                                             \
    }                                                                                        \
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])), \
                         _mm512_add_ps(_mm512_add_ps(a[4], a[5]), _mm512_add_ps(a[6], a[7]))); \
}
LK_ROW_ACC(row_acc_f32, float, load_f32)
LK_ROW_ACC(row_acc_f16, uint16_t, load_f16)

/// Kernels.combine: [a0+a1, a2+a3, …, a14+a15, b0+b1, …, b14+b15].
LK_T __m512 combine(__m512 a, __m512 b) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_add_ps(_mm512_permutex2var_ps(a, ev, b), _mm512_permutex2var_ps(a, od, b));
}

/// Distances of the 16 rows at positions p ..< p+16, reduced with the same tree as
/// Kernels.passChunk: rows are combined pairwise as soon as both are done (8 live vectors),
/// then 4, 2, 1 — the order of the additions is that of combine(combine(…)) in Swift.
/// The pair loop is unrolled only for d ≤ 64: for larger rows the unrolled schedule measured
/// 1.6× slower on DRAM-resident data (100k×128, one thread) and the rolled loop 1.5× faster
/// than the Swift loop.
#define LK_PAIR(ROWACC, i)                                                                   \
    do {                                                                                     \
        long r0 = rowOf ? (long)rowOf[p + 2 * (i)] : p + 2 * (i);                            \
        long r1 = rowOf ? (long)rowOf[p + 2 * (i) + 1] : p + 2 * (i) + 1;                    \
        __m512 v0 = ROWACC(base + r0 * d, c, d);                                             \
        __m512 v1 = ROWACC(base + r1 * d, c, d);                                             \
        t[i] = combine(v0, v1);                                                              \
    } while (0)
#define LK_DIST16(NAME, T, ROWACC)                                                           \
LK_T __m512 NAME(const T *base, const uint32_t *rowOf, long p, const float *c, long d) {     \
    __m512 t[8];                                                                             \
    if (d <= 64) {                                                                           \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int i = 0; i < 8; i++) LK_PAIR(ROWACC, i);                                      \
    } else {                                                                                 \
        _Pragma("clang loop unroll(disable)")                                                \
        for (int i = 0; i < 8; i++) LK_PAIR(ROWACC, i);                                      \
    }                                                                                        \
    __m512 u0 = combine(t[0], t[1]), u1 = combine(t[2], t[3]);                               \
    __m512 u2 = combine(t[4], t[5]), u3 = combine(t[6], t[7]);                               \
    return combine(combine(u0, u1), combine(u2, u3));                                        \
}
LK_DIST16(dist16_f32, float, row_acc_f32)
LK_DIST16(dist16_f16, uint16_t, row_acc_f16)

/// m = min(m, dd) for one block; returns the new m (taken rows keep −1).
LK_T __m512 update_min(float *m, long p, __m512 dd) {
    __m512 mv = _mm512_loadu_ps(m + p);
    mv = _mm512_mask_mov_ps(mv, _mm512_cmp_ps_mask(dd, mv, _CMP_LT_OQ), dd);
    _mm512_storeu_ps(m + p, mv);
    return mv;
}

// CORESET: per lane the first position with the largest m (strict >).
#define LK_PASS_DIV(NAME, T, DIST)                                                           \
LK_T long NAME(const T *base, const uint32_t *rowOf, const float *c, long D, float *m,        \
               long lo, long hi, float *bestV, int32_t *bestI) {                             \
    __m512 bV = _mm512_loadu_ps(bestV);                                                      \
    __m512i bI = _mm512_loadu_si512(bestI);                                                  \
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); \
    long p = lo;                                                                             \
    while (p + 16 <= hi) {                                                                   \
        /* Runs of up to 16 blocks: distances and min updates, then the argmax from m (in    \
           L1), as in the CORAL pass. */                                                     \
        long e = p + ((hi - p) / 16 < 16 ? (hi - p) / 16 : 16) * 16;                         \
        for (long q = p; q < e; q += 16) update_min(m, q, DIST(base, rowOf, q, c, D));       \
        for (long q = p; q < e; q += 16) {                                                   \
            __m512 mv = _mm512_loadu_ps(m + q);                                              \
            __mmask16 better = _mm512_cmp_ps_mask(mv, bV, _CMP_GT_OQ);                       \
            bV = _mm512_mask_mov_ps(bV, better, mv);                                         \
            bI = _mm512_mask_mov_epi32(bI, better, _mm512_add_epi32(_mm512_set1_epi32((int32_t)q), lane)); \
        }                                                                                    \
        p = e;                                                                               \
    }                                                                                        \
    _mm512_storeu_ps(bestV, bV);                                                             \
    _mm512_storeu_si512(bestI, bI);                                                          \
    return p;                                                                                \
}
LK_PASS_DIV(pass_div_f32, float, dist16_f32)
LK_PASS_DIV(pass_div_f16, uint16_t, dist16_f16)

// CORAL with equal strengths: o = (W + w)·(D + m) in float64, −inf for taken rows; per lane
// the first position with the largest o (strict >). Lanes 0–7 hold rows p..p+7, 8–15 the rest.
#define LK_PASS_PROD(NAME, T, DIST)                                                          \
LK_T long NAME(const T *base, const uint32_t *rowOf, const float *c, long D, float *m,        \
               const double *w, double W, double Dsum, long lo, long hi,        \
               double *bestO, int64_t *bestI) {                                              \
    __m512d oLo = _mm512_loadu_pd(bestO), oHi = _mm512_loadu_pd(bestO + 8);                  \
    __m512i iLo = _mm512_loadu_si512(bestI), iHi = _mm512_loadu_si512(bestI + 8);            \
    const __m512i lane8 = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);                         \
    const __m512d vW = _mm512_set1_pd(W), vD = _mm512_set1_pd(Dsum);                         \
    const __m512d ninf = _mm512_set1_pd(-__builtin_inf());                                      \
    long p = lo;                                                                             \
    while (p + 16 <= hi) {                                                                   \
        /* Runs of up to 16 blocks: first the distances and min updates, then the objective  \
           from m (now in L1). Two loops keep the register pressure of each low; the result \
           is the same as one fused loop (every lane still sees its positions in order). */ \
        long e = p + ((hi - p) / 16 < 16 ? (hi - p) / 16 : 16) * 16;                         \
        for (long q = p; q < e; q += 16) update_min(m, q, DIST(base, rowOf, q, c, D));       \
        for (long q = p; q < e; q += 16) {                                                   \
            __m512 mv = _mm512_loadu_ps(m + q);                                              \
            __mmask16 taken = _mm512_cmp_ps_mask(mv, _mm512_setzero_ps(), _CMP_LT_OQ);       \
            __m512d mlo = _mm512_cvtps_pd(_mm512_castps512_ps256(mv));                       \
            __m512d mhi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(mv), 1))); \
            __m512d olo = _mm512_mul_pd(_mm512_add_pd(vW, _mm512_loadu_pd(w + q)), _mm512_add_pd(vD, mlo));     \
            __m512d ohi = _mm512_mul_pd(_mm512_add_pd(vW, _mm512_loadu_pd(w + q + 8)), _mm512_add_pd(vD, mhi)); \
            olo = _mm512_mask_mov_pd(olo, (__mmask8)taken, ninf);                            \
            ohi = _mm512_mask_mov_pd(ohi, (__mmask8)(taken >> 8), ninf);                     \
            __mmask8 blo = _mm512_cmp_pd_mask(olo, oLo, _CMP_GT_OQ);                         \
            __mmask8 bhi = _mm512_cmp_pd_mask(ohi, oHi, _CMP_GT_OQ);                         \
            oLo = _mm512_mask_mov_pd(oLo, blo, olo);                                         \
            oHi = _mm512_mask_mov_pd(oHi, bhi, ohi);                                         \
            __m512i b = _mm512_add_epi64(_mm512_set1_epi64(q), lane8);                       \
            iLo = _mm512_mask_mov_epi64(iLo, blo, b);                                        \
            iHi = _mm512_mask_mov_epi64(iHi, bhi, _mm512_add_epi64(b, _mm512_set1_epi64(8))); \
        }                                                                                    \
        p = e;                                                                               \
    }                                                                                        \
    _mm512_storeu_pd(bestO, oLo); _mm512_storeu_pd(bestO + 8, oHi);                          \
    _mm512_storeu_si512(bestI, iLo); _mm512_storeu_si512(bestI + 8, iHi);                    \
    return p;                                                                                \
}
LK_PASS_PROD(pass_prod_f32, float, dist16_f32)
LK_PASS_PROD(pass_prod_f16, uint16_t, dist16_f16)

// Public entry points: specialise the common dimensions so the row loop is fully unrolled
// and the center stays in registers.
#define LK_SPECIALISE(CALL)                                                                  \
    switch (d) {                                                                             \
    case 16: return CALL(16);                                                                \
    case 32: return CALL(32);                                                                \
    case 64: return CALL(64);                                                                \
    case 128: return CALL(128);                                                              \
    case 256: return CALL(256);                                                              \
    case 512: return CALL(512);                                                              \
    default: return CALL(d);                                                                 \
    }

__attribute__((target("avx512f")))
static long pass_diversity_f32_avx512(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
#define CALL(D) pass_div_f32(base, rowOf, c, D, m, lo, hi, bestV, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}

__attribute__((target("avx512f")))
static long pass_diversity_f16_avx512(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
#define CALL(D) pass_div_f16(base, rowOf, c, D, m, lo, hi, bestV, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}

__attribute__((target("avx512f")))
static long pass_product_f32_avx512(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
#define CALL(DIM) pass_prod_f32(base, rowOf, c, DIM, m, w, W, D, lo, hi, bestO, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}

__attribute__((target("avx512f")))
static long pass_product_f16_avx512(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
#define CALL(DIM) pass_prod_f16(base, rowOf, c, DIM, m, w, W, D, lo, hi, bestO, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}

// lk_dist16_*: the specialised block distance, stored once (a void function cannot
// `return` the specialised call the way the passes do).
LK_T __m512 dist16_any_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d) {
#define CALL(D) dist16_f32(base, rowOf, p, c, D)
    LK_SPECIALISE(CALL)
#undef CALL
}
LK_T __m512 dist16_any_f16(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d) {
#define CALL(D) dist16_f16(base, rowOf, p, c, D)
    LK_SPECIALISE(CALL)
#undef CALL
}

__attribute__((target("avx512f")))
static void dist16_f32_avx512(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    _mm512_storeu_ps(out, dist16_any_f32(base, rowOf, p, c, d));
}

__attribute__((target("avx512f")))
static void dist16_f16_avx512(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    _mm512_storeu_ps(out, dist16_any_f16(base, rowOf, p, c, d));
}
/// Lazy steps: the smallest distance from x to the float32 centers j ..< j + lim (lim ≤ 16),
/// with the plain pass's arithmetic (the center list is read as the "rows", x as the center:
/// c − x rounds like x − c).
__attribute__((target("avx512f")))
static float min_dist16_f32_avx512(const float *centers, long j, const float *x, long d, long lim) {
    __m512 v = dist16_any_f32(centers, NULL, j, x, d);
    return _mm512_mask_reduce_min_ps((__mmask16)((1u << lim) - 1u), v);
}

// MARK: - The same kernels for AVX2+FMA+F16C CPUs (no AVX-512)
//
// Written once with 16-lane clang vectors (two ymm registers each) and compiled for AVX2. Every
// lane does exactly the operations of the AVX-512 code above in the same order (x − c, squares,
// the same accumulators, the same pairwise `combine` tree, float64 objective), so the results are
// bit-identical; only the instructions differ.
// The helpers pass 16-lane vectors by value; they are always inlined into AVX2 functions, so the
// ABI warning about 512-bit vectors without AVX-512 does not apply.
#define LK_G __attribute__((target("avx2,fma,f16c"), always_inline)) static inline
typedef double lk_vd __attribute__((ext_vector_type(8)));
typedef int64_t lk_vl __attribute__((ext_vector_type(8)));
typedef _Float16 lk_vh __attribute__((ext_vector_type(16)));
typedef float lk_vf8 __attribute__((ext_vector_type(8)));
typedef int32_t lk_vi8 __attribute__((ext_vector_type(8)));

LK_G lk_vf g_load_f32(const float *x, long j) { lk_vf v; memcpy(&v, x + j, sizeof v); return v; }
LK_G lk_vf g_load_f16(const uint16_t *x, long j) {
    lk_vh h; memcpy(&h, x + j, sizeof h);
    return __builtin_convertvector(h, lk_vf);   // exact (vcvtph2ps)
}
LK_G void g_store_f32(float *x, lk_vf v) { memcpy(x, &v, sizeof v); }
LK_G lk_vf g_sel(lk_vi m, lk_vf a, lk_vf b) { return (lk_vf)(((lk_vi)a & m) | ((lk_vi)b & ~m)); }
LK_G lk_vi g_seli(lk_vi m, lk_vi a, lk_vi b) { return (a & m) | (b & ~m); }
LK_G lk_vd g_seld(lk_vl m, lk_vd a, lk_vd b) { return (lk_vd)(((lk_vl)a & m) | ((lk_vl)b & ~m)); }
LK_G lk_vl g_sell(lk_vl m, lk_vl a, lk_vl b) { return (a & m) | (b & ~m); }
LK_G lk_vf8 g_lo(lk_vf v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }
LK_G lk_vf8 g_hi(lk_vf v) { return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15); }
LK_G lk_vl g_mask_lo(lk_vi m) { return __builtin_convertvector(__builtin_shufflevector(m, m, 0, 1, 2, 3, 4, 5, 6, 7), lk_vl); }
LK_G lk_vl g_mask_hi(lk_vi m) { return __builtin_convertvector(__builtin_shufflevector(m, m, 8, 9, 10, 11, 12, 13, 14, 15), lk_vl); }

#define LK_G_ROW_ACC(NAME, T, LOAD)                                                           \
LK_G lk_vf NAME(const T *x, const float *c, long d) {                                         \
    if (d == 16) { lk_vf e = LOAD(x, 0) - g_load_f32(c, 0); return e * e; }                   \
    if (d == 32) {                                                                           \
        lk_vf e0 = LOAD(x, 0) - g_load_f32(c, 0), e1 = LOAD(x, 16) - g_load_f32(c, 16);       \
        return e0 * e0 + e1 * e1;                                                            \
    }                                                                                        \
    lk_vf a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                   \
    long j = 0;                                                                              \
    _Pragma("clang loop unroll(disable)")                                                    \
    for (; j + 128 <= d; j += 128) {                                                         \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int q = 0; q < 8; q++) {                                                        \
            lk_vf e = LOAD(x, j + 16 * q) - g_load_f32(c, j + 16 * q);                       \
            a[q] = a[q] + e * e;                                                             \
        }                                                                                    \
    }                                                                                        \
    if (j + 64 <= d) {                                                                       \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int q = 0; q < 4; q++) {                                                        \
            lk_vf e = LOAD(x, j + 16 * q) - g_load_f32(c, j + 16 * q);                       \
            a[q] = a[q] + e * e;                                                             \
        }                                                                                    \
        j += 64;                                                                             \
    }                                                                                        \
    if (j + 32 <= d) {                                                                       \
        _Pragma("clang loop unroll(full)")                                                   \
        for (int q = 0; q < 2; q++) {                                                        \
            lk_vf e = LOAD(x, j + 16 * q) - g_load_f32(c, j + 16 * q);                       \
            a[4 + q] = a[4 + q] + e * e;                                                     \
        }                                                                                    \
        j += 32;                                                                             \
    }                                                                                        \
    if (j + 16 <= d) {                                                                       \
        lk_vf e = LOAD(x, j) - g_load_f32(c, j);                                             \
        a[6] = a[6] + e * e;                                                                 \
        j += 16;                                                                             \
    }                                                                                        \
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));                \
}
LK_G_ROW_ACC(g_row_acc_f32, float, g_load_f32)
LK_G_ROW_ACC(g_row_acc_f16, uint16_t, g_load_f16)

LK_G lk_vf g_combine(lk_vf a, lk_vf b) {
    return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
         + __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

#define LK_G_DIST16(NAME, T, ROWACC)                                                         \
LK_G lk_vf NAME(const T *base, const uint32_t *rowOf, long p, const float *c, long d) {      \
    lk_vf t[8];                                                                              \
    _Pragma("clang loop unroll(disable)")                                                    \
    for (int i = 0; i < 8; i++) {                                                            \
        long r0 = rowOf ? (long)rowOf[p + 2 * i] : p + 2 * i;                                \
        long r1 = rowOf ? (long)rowOf[p + 2 * i + 1] : p + 2 * i + 1;                        \
        t[i] = g_combine(ROWACC(base + r0 * d, c, d), ROWACC(base + r1 * d, c, d));          \
    }                                                                                        \
    lk_vf u0 = g_combine(t[0], t[1]), u1 = g_combine(t[2], t[3]);                            \
    lk_vf u2 = g_combine(t[4], t[5]), u3 = g_combine(t[6], t[7]);                            \
    return g_combine(g_combine(u0, u1), g_combine(u2, u3));                                  \
}
LK_G_DIST16(g_dist16_f32, float, g_row_acc_f32)
LK_G_DIST16(g_dist16_f16, uint16_t, g_row_acc_f16)

LK_G lk_vf g_update_min(float *m, long p, lk_vf dd) {
    lk_vf mv = g_load_f32(m, p);
    mv = g_sel(dd < mv, dd, mv);
    g_store_f32(m + p, mv);
    return mv;
}

#define LK_G_PASS_DIV(NAME, T, DIST)                                                         \
LK_G long NAME(const T *base, const uint32_t *rowOf, const float *c, long D, float *m,        \
               long lo, long hi, float *bestV, int32_t *bestI) {                             \
    lk_vf bV = g_load_f32(bestV, 0);                                                         \
    lk_vi bI; memcpy(&bI, bestI, sizeof bI);                                                 \
    const lk_vi lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};               \
    long p = lo;                                                                             \
    while (p + 16 <= hi) {                                                                   \
        long e = p + ((hi - p) / 16 < 16 ? (hi - p) / 16 : 16) * 16;                         \
        for (long q = p; q < e; q += 16) g_update_min(m, q, DIST(base, rowOf, q, c, D));     \
        for (long q = p; q < e; q += 16) {                                                   \
            lk_vf mv = g_load_f32(m, q);                                                     \
            lk_vi better = mv > bV;                                                          \
            bV = g_sel(better, mv, bV);                                                      \
            bI = g_seli(better, (lk_vi)(int32_t)q + lane, bI);                               \
        }                                                                                    \
        p = e;                                                                               \
    }                                                                                        \
    g_store_f32(bestV, bV);                                                                  \
    memcpy(bestI, &bI, sizeof bI);                                                           \
    return p;                                                                                \
}
LK_G_PASS_DIV(g_pass_div_f32, float, g_dist16_f32)
LK_G_PASS_DIV(g_pass_div_f16, uint16_t, g_dist16_f16)

#define LK_G_PASS_PROD(NAME, T, DIST)                                                        \
LK_G long NAME(const T *base, const uint32_t *rowOf, const float *c, long D, float *m,        \
               const double *w, double W, double Dsum, long lo, long hi,                     \
               double *bestO, int64_t *bestI) {                                              \
    lk_vd oLo, oHi; lk_vl iLo, iHi;                                                          \
    memcpy(&oLo, bestO, sizeof oLo); memcpy(&oHi, bestO + 8, sizeof oHi);                    \
    memcpy(&iLo, bestI, sizeof iLo); memcpy(&iHi, bestI + 8, sizeof iHi);                    \
    const lk_vl lane8 = {0, 1, 2, 3, 4, 5, 6, 7};                                            \
    const lk_vd vW = (lk_vd)W, vD = (lk_vd)Dsum, ninf = (lk_vd)(-__builtin_inf());           \
    long p = lo;                                                                             \
    while (p + 16 <= hi) {                                                                   \
        long e = p + ((hi - p) / 16 < 16 ? (hi - p) / 16 : 16) * 16;                         \
        for (long q = p; q < e; q += 16) g_update_min(m, q, DIST(base, rowOf, q, c, D));     \
        for (long q = p; q < e; q += 16) {                                                   \
            lk_vf mv = g_load_f32(m, q);                                                     \
            lk_vi taken = mv < (lk_vf)0.0f;                                                  \
            lk_vd mlo = __builtin_convertvector(g_lo(mv), lk_vd);                            \
            lk_vd mhi = __builtin_convertvector(g_hi(mv), lk_vd);                            \
            lk_vd wlo, whi; memcpy(&wlo, w + q, sizeof wlo); memcpy(&whi, w + q + 8, sizeof whi); \
            lk_vd olo = (vW + wlo) * (vD + mlo), ohi = (vW + whi) * (vD + mhi);              \
            olo = g_seld(g_mask_lo(taken), ninf, olo);                                       \
            ohi = g_seld(g_mask_hi(taken), ninf, ohi);                                       \
            lk_vl blo = olo > oLo, bhi = ohi > oHi;                                          \
            oLo = g_seld(blo, olo, oLo);                                                     \
            oHi = g_seld(bhi, ohi, oHi);                                                     \
            lk_vl b = (lk_vl)(int64_t)q + lane8;                                             \
            iLo = g_sell(blo, b, iLo);                                                       \
            iHi = g_sell(bhi, b + 8, iHi);                                                   \
        }                                                                                    \
        p = e;                                                                               \
    }                                                                                        \
    memcpy(bestO, &oLo, sizeof oLo); memcpy(bestO + 8, &oHi, sizeof oHi);                    \
    memcpy(bestI, &iLo, sizeof iLo); memcpy(bestI + 8, &iHi, sizeof iHi);                    \
    return p;                                                                                \
}
LK_G_PASS_PROD(g_pass_prod_f32, float, g_dist16_f32)
LK_G_PASS_PROD(g_pass_prod_f16, uint16_t, g_dist16_f16)

#define LK_AVX2_FN __attribute__((target("avx2,fma,f16c"))) static
LK_AVX2_FN long pass_diversity_f32_avx2(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                                        long lo, long hi, float *bestV, int32_t *bestI) {
#define CALL(D) g_pass_div_f32(base, rowOf, c, D, m, lo, hi, bestV, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}
LK_AVX2_FN long pass_diversity_f16_avx2(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                                        long lo, long hi, float *bestV, int32_t *bestI) {
#define CALL(D) g_pass_div_f16(base, rowOf, c, D, m, lo, hi, bestV, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}
LK_AVX2_FN long pass_product_f32_avx2(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                                      const double *w, double W, double D, long lo, long hi,
                                      double *bestO, int64_t *bestI) {
#define CALL(DIM) g_pass_prod_f32(base, rowOf, c, DIM, m, w, W, D, lo, hi, bestO, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}
LK_AVX2_FN long pass_product_f16_avx2(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                                      const double *w, double W, double D, long lo, long hi,
                                      double *bestO, int64_t *bestI) {
#define CALL(DIM) g_pass_prod_f16(base, rowOf, c, DIM, m, w, W, D, lo, hi, bestO, bestI)
    LK_SPECIALISE(CALL)
#undef CALL
}
LK_G lk_vf g_dist16_any_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d) {
#define CALL(D) g_dist16_f32(base, rowOf, p, c, D)
    LK_SPECIALISE(CALL)
#undef CALL
}
LK_G lk_vf g_dist16_any_f16(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d) {
#define CALL(D) g_dist16_f16(base, rowOf, p, c, D)
    LK_SPECIALISE(CALL)
#undef CALL
}
LK_AVX2_FN void dist16_f32_avx2(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    g_store_f32(out, g_dist16_any_f32(base, rowOf, p, c, d));
}
LK_AVX2_FN void dist16_f16_avx2(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    g_store_f32(out, g_dist16_any_f16(base, rowOf, p, c, d));
}
LK_AVX2_FN float min_dist16_f32_avx2(const float *centers, long j, const float *x, long d, long lim) {
    lk_vf v = g_dist16_any_f32(centers, NULL, j, x, d);
    float best = __builtin_inff();
    for (long l = 0; l < lim; l++) best = v[l] < best ? v[l] : best;
    return best;
}

// MARK: - Public entry points (x86-64): the AVX-512 or AVX2 kernel, as lk_isa() chose.

long lk_pass_diversity_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    switch (lk_isa()) {
    case LK_AVX512: return pass_diversity_f32_avx512(base, rowOf, c, d, m, lo, hi, bestV, bestI);
    case LK_AVX2: return pass_diversity_f32_avx2(base, rowOf, c, d, m, lo, hi, bestV, bestI);
    default: return lo;
    }
}
long lk_pass_diversity_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    switch (lk_isa()) {
    case LK_AVX512: return pass_diversity_f16_avx512(base, rowOf, c, d, m, lo, hi, bestV, bestI);
    case LK_AVX2: return pass_diversity_f16_avx2(base, rowOf, c, d, m, lo, hi, bestV, bestI);
    default: return lo;
    }
}
long lk_pass_product_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
    switch (lk_isa()) {
    case LK_AVX512: return pass_product_f32_avx512(base, rowOf, c, d, m, w, W, D, lo, hi, bestO, bestI);
    case LK_AVX2: return pass_product_f32_avx2(base, rowOf, c, d, m, w, W, D, lo, hi, bestO, bestI);
    default: return lo;
    }
}
long lk_pass_product_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
    switch (lk_isa()) {
    case LK_AVX512: return pass_product_f16_avx512(base, rowOf, c, d, m, w, W, D, lo, hi, bestO, bestI);
    case LK_AVX2: return pass_product_f16_avx2(base, rowOf, c, d, m, w, W, D, lo, hi, bestO, bestI);
    default: return lo;
    }
}
void lk_dist16_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    switch (lk_isa()) {
    case LK_AVX512: dist16_f32_avx512(base, rowOf, p, c, d, out); return;
    case LK_AVX2: dist16_f32_avx2(base, rowOf, p, c, d, out); return;
    default: return;
    }
}
void lk_dist16_f16(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    switch (lk_isa()) {
    case LK_AVX512: dist16_f16_avx512(base, rowOf, p, c, d, out); return;
    case LK_AVX2: dist16_f16_avx2(base, rowOf, p, c, d, out); return;
    default: return;
    }
}
float lk_min_dist16_f32(const float *centers, long j, const float *x, long d, long lim) {
    switch (lk_isa()) {
    case LK_AVX512: return min_dist16_f32_avx512(centers, j, x, d, lim);
    case LK_AVX2: return min_dist16_f32_avx2(centers, j, x, d, lim);
    default: return __builtin_inff();
    }
}
#else
float lk_min_dist16_f32(const float *centers, long j, const float *x, long d, long lim) {
    (void)centers; (void)j; (void)x; (void)d; (void)lim;
    return __builtin_inff();
}
long lk_pass_diversity_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    (void)base; (void)rowOf; (void)c; (void)d; (void)m; (void)hi; (void)bestV; (void)bestI;
    return lo;
}
long lk_pass_diversity_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    (void)base; (void)rowOf; (void)c; (void)d; (void)m; (void)hi; (void)bestV; (void)bestI;
    return lo;
}
long lk_pass_product_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
    (void)base; (void)rowOf; (void)c; (void)d; (void)m; (void)w; (void)W; (void)D; (void)hi;
    (void)bestO; (void)bestI;
    return lo;
}
long lk_pass_product_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
    (void)base; (void)rowOf; (void)c; (void)d; (void)m; (void)w; (void)W; (void)D; (void)hi;
    (void)bestO; (void)bestI;
    return lo;
}
void lk_dist16_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    (void)base; (void)rowOf; (void)p; (void)c; (void)d; (void)out;
}
void lk_dist16_f16(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    (void)base; (void)rowOf; (void)p; (void)c; (void)d; (void)out;
}
#endif

// Lazy-step filters (LazyGreedy.swift): the first position whose bound reaches t. The bound
// of the product is computed with the same float64 operations as the Swift side (no
// contraction), so both agree bit for bit.
static long next_ge_f32_scalar(const float *m, long p, long hi, float t) {
    for (; p < hi; p++)
        if (m[p] >= t) return p;
    return hi;
}

static long next_ge_product_scalar(const float *m, const double *w, double W, double D, long p, long hi,
                                   double t) {
    for (; p < hi; p++)
        if ((W + w[p]) * (D + (double)m[p]) >= t) return p;
    return hi;
}

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static long next_ge_f32_avx512(const float *m, long p, long hi, float t) {
    const __m512 vt = _mm512_set1_ps(t);
    while (p + 64 <= hi) {
        __mmask16 a = _mm512_cmp_ps_mask(_mm512_loadu_ps(m + p), vt, _CMP_GE_OQ);
        __mmask16 b = _mm512_cmp_ps_mask(_mm512_loadu_ps(m + p + 16), vt, _CMP_GE_OQ);
        __mmask16 c = _mm512_cmp_ps_mask(_mm512_loadu_ps(m + p + 32), vt, _CMP_GE_OQ);
        __mmask16 e = _mm512_cmp_ps_mask(_mm512_loadu_ps(m + p + 48), vt, _CMP_GE_OQ);
        if (a | b | c | e) break;
        p += 64;
    }
    while (p + 16 <= hi) {
        __mmask16 a = _mm512_cmp_ps_mask(_mm512_loadu_ps(m + p), vt, _CMP_GE_OQ);
        if (a) return p + __builtin_ctz(a);
        p += 16;
    }
    return next_ge_f32_scalar(m, p, hi, t);
}

__attribute__((target("avx512f")))
static long next_ge_product_avx512(const float *m, const double *w, double W, double D, long p, long hi,
                                   double t) {
    const __m512d vW = _mm512_set1_pd(W), vD = _mm512_set1_pd(D), vt = _mm512_set1_pd(t);
    while (p + 16 <= hi) {
        __m512d mlo = _mm512_cvtps_pd(_mm256_loadu_ps(m + p));
        __m512d mhi = _mm512_cvtps_pd(_mm256_loadu_ps(m + p + 8));
        __m512d olo = _mm512_mul_pd(_mm512_add_pd(vW, _mm512_loadu_pd(w + p)), _mm512_add_pd(vD, mlo));
        __m512d ohi = _mm512_mul_pd(_mm512_add_pd(vW, _mm512_loadu_pd(w + p + 8)), _mm512_add_pd(vD, mhi));
        unsigned a = (unsigned)_mm512_cmp_pd_mask(olo, vt, _CMP_GE_OQ)
                   | ((unsigned)_mm512_cmp_pd_mask(ohi, vt, _CMP_GE_OQ) << 8);
        if (a) return p + __builtin_ctz(a);
        p += 16;
    }
    return next_ge_product_scalar(m, w, W, D, p, hi, t);
}
#endif

long lk_next_ge_f32(const float *m, long p, long hi, float t) {
#if defined(__x86_64__)
    if (lk_isa() == LK_AVX512) return next_ge_f32_avx512(m, p, hi, t);
#endif
    return next_ge_f32_scalar(m, p, hi, t);
}

long lk_next_ge_product(const float *m, const double *w, double W, double D, long p, long hi, double t) {
#if defined(__x86_64__)
    if (lk_isa() == LK_AVX512) return next_ge_product_avx512(m, w, W, D, p, hi, t);
#endif
    return next_ge_product_scalar(m, w, W, D, p, hi, t);
}

void lk_prefetch(const void *p, long bytes) {
    const char *c = (const char *)p;
    for (long i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
}

// MARK: - Preselected-set initialisation (run-time dispatch)
//
// Kernels.blockedMinInit: one block of 16 X rows, packed dimension-major into a panel, against
// the 8-row tiles of a P chunk. The dot products of a 16×8 tile use FMA on AVX-512F and AVX2+FMA
// CPUs (every lane does the same sequence of operations whatever the vector width, 16, 2×8 or
// 4×4 lanes, so both give identical bits) and a multiply and an add on other CPUs. The rest of a
// tile (distance from the norms, near-duplicate guard, minimum) is one piece of code on 16-lane
// clang vectors, compiled into each variant.
#ifndef LIGHTLY_BUILD_TARGET_CPU
#define LIGHTLY_BUILD_TARGET_CPU "portable"
#endif
const char *lk_build_target_cpu(void) { return LIGHTLY_BUILD_TARGET_CPU; }

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static void init_tile_avx512(const float *panel, const float *p, long d, float *acc) {
    __m512 a[8];
    for (int u = 0; u < 8; u++) a[u] = _mm512_setzero_ps();
    for (long j = 0; j < d; j++) {
        __m512 xv = _mm512_loadu_ps(panel + 16 * j);
        _Pragma("clang loop unroll(full)")
        for (int u = 0; u < 8; u++) a[u] = _mm512_fmadd_ps(xv, _mm512_set1_ps(p[u * d + j]), a[u]);
    }
    for (int u = 0; u < 8; u++) _mm512_storeu_ps(acc + 16 * u, a[u]);
}

__attribute__((target("avx512f")))
static void init_norms_avx512(const float *panel, long d, float *out) {
    __m512 a = _mm512_setzero_ps();
    for (long j = 0; j < d; j++) {
        __m512 xv = _mm512_loadu_ps(panel + 16 * j);
        a = _mm512_fmadd_ps(xv, xv, a);
    }
    _mm512_storeu_ps(out, a);
}

// Two halves of 8 lanes: 8 accumulators + the panel vector fit the 16 ymm registers.
__attribute__((target("avx2,fma")))
static void init_tile_avx2(const float *panel, const float *p, long d, float *acc) {
    for (int h = 0; h < 2; h++) {
        __m256 a[8];
        for (int u = 0; u < 8; u++) a[u] = _mm256_setzero_ps();
        for (long j = 0; j < d; j++) {
            __m256 xv = _mm256_loadu_ps(panel + 16 * j + 8 * h);
            _Pragma("clang loop unroll(full)")
            for (int u = 0; u < 8; u++) a[u] = _mm256_fmadd_ps(xv, _mm256_set1_ps(p[u * d + j]), a[u]);
        }
        for (int u = 0; u < 8; u++) _mm256_storeu_ps(acc + 16 * u + 8 * h, a[u]);
    }
}

__attribute__((target("avx2,fma")))
static void init_norms_avx2(const float *panel, long d, float *out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (long j = 0; j < d; j++) {
        __m256 x0 = _mm256_loadu_ps(panel + 16 * j), x1 = _mm256_loadu_ps(panel + 16 * j + 8);
        a0 = _mm256_fmadd_ps(x0, x0, a0);
        a1 = _mm256_fmadd_ps(x1, x1, a1);
    }
    _mm256_storeu_ps(out, a0);
    _mm256_storeu_ps(out + 8, a1);
}
#endif

// Baseline: four quarters of 4 lanes (SSE on x86-64, NEON on arm64), multiply then add.
typedef float lk_v4 __attribute__((ext_vector_type(4)));
static inline lk_v4 lk_load4(const float *x) { lk_v4 v; __builtin_memcpy(&v, x, sizeof v); return v; }
static inline void lk_store4(float *x, lk_v4 v) { __builtin_memcpy(x, &v, sizeof v); }

static void init_tile_baseline(const float *panel, const float *p, long d, float *acc) {
    for (int h = 0; h < 4; h++) {
        lk_v4 a[8];
        for (int u = 0; u < 8; u++) a[u] = (lk_v4)0.0f;
        for (long j = 0; j < d; j++) {
            lk_v4 xv = lk_load4(panel + 16 * j + 4 * h);
            _Pragma("clang loop unroll(full)")
            for (int u = 0; u < 8; u++) a[u] = a[u] + xv * (lk_v4)p[u * d + j];
        }
        for (int u = 0; u < 8; u++) lk_store4(acc + 16 * u + 4 * h, a[u]);
    }
}

static void init_norms_baseline(const float *panel, long d, float *out) {
    for (int h = 0; h < 4; h++) {
        lk_v4 a = (lk_v4)0.0f;
        for (long j = 0; j < d; j++) {
            lk_v4 xv = lk_load4(panel + 16 * j + 4 * h);
            a = a + xv * xv;
        }
        lk_store4(out + 4 * h, a);
    }
}

/// One block against `tiles` tiles: per tile the dot products (`TILE`), then the tile's distances
/// folded into the running minimum `mv`, with the operations of the Swift code this replaced, in
/// its order (so every build and every variant gives the same bits): d2 = max(‖x‖² + ‖p‖² − 2·x·p,
/// 0) (Float.maximum); where d2 < 1e-4·(‖x‖² + ‖p‖²) the pair is recomputed directly,
/// Σ_j (x_j − p_j)² in order, so duplicates get exactly 0; the row itself is excluded (+inf) when
/// asked; mv = Float.minimum(mv, d2). Finally m = min(m, mv) for the valid rows.
#define LK_INIT_BLOCK(NAME, ATTR, TILE, NORMS)                                                \
ATTR void NAME(const float *panel, long d, const float *pb, const float *pn, const int32_t *pi, \
               long tiles, const int32_t *xIdx, int excludeSelf, long valid, float *m) {       \
    float nrm[16], acc[128];                                                                 \
    NORMS(panel, d, nrm);                                                                    \
    const lk_vf zero = (lk_vf)0.0f, inf = (lk_vf)__builtin_inff(), xn = LK_LOAD16(nrm);      \
    lk_vf mv = inf;                                                                          \
    lk_vi xi; memcpy(&xi, xIdx, sizeof xi);                                                  \
    for (long t = 0; t < tiles; t++) {                                                       \
        const float *p = pb + t * 8 * d;                                                     \
        TILE(panel, p, d, acc);                                                              \
        for (int u = 0; u < 8; u++) {                                                        \
            lk_vf sum = xn + (lk_vf)pn[8 * t + u];                                           \
            lk_vf v = sum - (lk_vf)2.0f * LK_LOAD16(acc + 16 * u);                           \
            lk_vf d2 = LK_SEL(v > zero, v, zero);                                            \
            lk_vi near = d2 < sum * (lk_vf)1e-4f;                                            \
            if (__builtin_reduce_or(near)) {                                                 \
                for (int l = 0; l < 16; l++) {                                               \
                    if (!near[l]) continue;                                                  \
                    float e2 = 0;                                                            \
                    for (long j = 0; j < d; j++) {                                           \
                        float e = panel[16 * j + l] - p[u * d + j];                          \
                        e2 += e * e;                                                         \
                    }                                                                        \
                    d2[l] = e2;                                                              \
                }                                                                            \
            }                                                                                \
            if (excludeSelf) d2 = LK_SEL(xi == (lk_vi)pi[8 * t + u], inf, d2);               \
            mv = LK_SEL(d2 < mv, d2, mv);                                                    \
        }                                                                                    \
    }                                                                                        \
    for (long l = 0; l < valid; l++)                                                         \
        if (mv[l] < m[l]) m[l] = mv[l];                                                      \
}
#if defined(__x86_64__)
LK_INIT_BLOCK(init_block_avx512, __attribute__((target("avx512f"))) static, init_tile_avx512, init_norms_avx512)
LK_INIT_BLOCK(init_block_avx2, __attribute__((target("avx2,fma"))) static, init_tile_avx2, init_norms_avx2)
#endif
LK_INIT_BLOCK(init_block_baseline, static, init_tile_baseline, init_norms_baseline)

void lk_init_tile16x8(const float *panel, const float *p, long d, float *acc) {
#if defined(__x86_64__)
    if (lk_isa() == LK_AVX512) { init_tile_avx512(panel, p, d, acc); return; }
    if (lk_isa() == LK_AVX2) { init_tile_avx2(panel, p, d, acc); return; }
#endif
    init_tile_baseline(panel, p, d, acc);
}

void lk_init_norms16(const float *panel, long d, float *out) {
#if defined(__x86_64__)
    if (lk_isa() == LK_AVX512) { init_norms_avx512(panel, d, out); return; }
    if (lk_isa() == LK_AVX2) { init_norms_avx2(panel, d, out); return; }
#endif
    init_norms_baseline(panel, d, out);
}

void lk_init_block16(const float *panel, long d, const float *pb, const float *pn, const int32_t *pi,
                     long tiles, const int32_t *xIdx, int excludeSelf, long valid, float *m) {
#if defined(__x86_64__)
    if (lk_isa() == LK_AVX512) { init_block_avx512(panel, d, pb, pn, pi, tiles, xIdx, excludeSelf, valid, m); return; }
    if (lk_isa() == LK_AVX2) { init_block_avx2(panel, d, pb, pn, pi, tiles, xIdx, excludeSelf, valid, m); return; }
#endif
    init_block_baseline(panel, d, pb, pn, pi, tiles, xIdx, excludeSelf, valid, m);
}
