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

// MARK: - Distance kernels: one body (distance_family.h) for AVX-512F and for AVX2+FMA+F16C
typedef double lk_vd __attribute__((ext_vector_type(8)));
typedef int64_t lk_vl __attribute__((ext_vector_type(8)));
typedef _Float16 lk_vh __attribute__((ext_vector_type(16)));
typedef float lk_vf8 __attribute__((ext_vector_type(8)));
#define LK_CAT2(a, b) a##_##b
#define LK_CAT(a, b) LK_CAT2(a, b)
#define LK_N(x) LK_CAT(x, LK_SUF)

#define LK_SUF avx512
#define LK_FN __attribute__((target("avx512f"), always_inline)) static inline
#define LK_ENTRY __attribute__((target("avx512f")))
#define LK_UNROLL_SMALL 1
#define LK_SUB_AS_ADD 1
#include "distance_family.h"
#undef LK_SUF
#undef LK_FN
#undef LK_ENTRY
#undef LK_UNROLL_SMALL
#undef LK_SUB_AS_ADD

#define LK_SUF avx2
#define LK_FN __attribute__((target("avx2,fma,f16c"), always_inline)) static inline
#define LK_ENTRY __attribute__((target("avx2,fma,f16c")))
#define LK_UNROLL_SMALL 0
#define LK_SUB_AS_ADD 0
#include "distance_family.h"
#undef LK_SUF
#undef LK_FN
#undef LK_ENTRY
#undef LK_UNROLL_SMALL
#undef LK_SUB_AS_ADD

// MARK: - Public entry points (x86-64): the AVX-512 or AVX2 kernel, as lk_isa() chose.
#define LK_KERNEL(FN) (lk_isa() == LK_AVX512 ? FN##_avx512 : FN##_avx2)
#define LK_HAVE_KERNELS (lk_isa() != LK_BASELINE)

long lk_pass_diversity_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    return LK_HAVE_KERNELS ? LK_KERNEL(pass_diversity_f32)(base, rowOf, c, d, m, lo, hi, bestV, bestI) : lo;
}
long lk_pass_diversity_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI) {
    return LK_HAVE_KERNELS ? LK_KERNEL(pass_diversity_f16)(base, rowOf, c, d, m, lo, hi, bestV, bestI) : lo;
}
long lk_pass_product_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
    return LK_HAVE_KERNELS ? LK_KERNEL(pass_product_f32)(base, rowOf, c, d, m, w, W, D, lo, hi, bestO, bestI) : lo;
}
long lk_pass_product_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI) {
    return LK_HAVE_KERNELS ? LK_KERNEL(pass_product_f16)(base, rowOf, c, d, m, w, W, D, lo, hi, bestO, bestI) : lo;
}
void lk_dist16_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    if (LK_HAVE_KERNELS) LK_KERNEL(dist16_f32)(base, rowOf, p, c, d, out);
}
void lk_dist16_f16(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    if (LK_HAVE_KERNELS) LK_KERNEL(dist16_f16)(base, rowOf, p, c, d, out);
}
float lk_min_dist16_f32(const float *centers, long j, const float *x, long d, long lim) {
    return LK_HAVE_KERNELS ? LK_KERNEL(min_dist16_f32)(centers, j, x, d, lim) : __builtin_inff();
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
