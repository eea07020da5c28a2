// The distance kernels of one x86-64 family, included by kernels.c once per family (no include
// guard). Before each inclusion kernels.c defines:
//   LK_SUF            name suffix of this family (avx512, avx2): function f becomes f_avx512, …
//   LK_FN             attributes of the inlined helpers (always_inline + the family's target)
//   LK_ENTRY          attributes of the entry points (the family's target)
//   LK_UNROLL_SMALL   1 to unroll the 16-row pair loop for d ≤ 64
//   LK_SUB_AS_ADD     1 to compute x − c as x + (0 − c) (see diff)
// Written once on 16-lane clang vectors: with AVX-512F a 16-lane vector is one zmm register,
// with AVX2 two ymm registers. Every lane does the same operations in the same order (x − c,
// squares, the same accumulators, the pairwise `combine` tree, float64 objective) as
// Kernels.passChunk, so both families give the same bits; only the instructions differ.
// Helpers pass vectors by value, so they carry the family's target (clang rejects a 512-bit
// vector argument between functions with different AVX-512 features).

// Element loaders: 16 consecutive elements as float32. float16 → float32 is exact
// (vcvtph2ps), so a float16 row gives the same result as its float32 conversion.
LK_FN lk_vf LK_N(ld_f32)(const float *x, long j) { return LK_LOAD16(x + j); }
LK_FN lk_vf LK_N(ld_f16)(const uint16_t *x, long j) {
    lk_vh h; memcpy(&h, x + j, sizeof h);
    return __builtin_convertvector(h, lk_vf);
}
/// x − c[j ..< j+16] for the row accumulator. With LK_SUB_AS_ADD it is computed as x + (0 − c):
/// the same square (the two differ only in the sign of a zero difference), but LLVM keeps 0 − c
/// out of the row loop and folds the row's load into the add, which it cannot do for x − c (on
/// AVX-512: one instruction less per 16 elements, the code of the former intrinsics kernels).
LK_FN lk_vf LK_N(diff)(lk_vf x, const float *c, long j) {
    return LK_SUB_AS_ADD ? x + ((lk_vf)0.0f - LK_LOAD16(c + j)) : x - LK_LOAD16(c + j);
}
LK_FN void LK_N(lk_store16)(float *x, lk_vf v) { memcpy(x, &v, sizeof v); }
LK_FN lk_vi LK_N(lk_seli)(lk_vi m, lk_vi a, lk_vi b) { return (a & m) | (b & ~m); }
LK_FN lk_vd LK_N(lk_seld)(lk_vl m, lk_vd a, lk_vd b) { return (lk_vd)(((lk_vl)a & m) | ((lk_vl)b & ~m)); }
LK_FN lk_vl LK_N(lk_sell)(lk_vl m, lk_vl a, lk_vl b) { return (a & m) | (b & ~m); }
LK_FN lk_vf8 LK_N(lk_lo)(lk_vf v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }
LK_FN lk_vf8 LK_N(lk_hi)(lk_vf v) { return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15); }
LK_FN lk_vl LK_N(lk_mask_lo)(lk_vi m) { return __builtin_convertvector(__builtin_shufflevector(m, m, 0, 1, 2, 3, 4, 5, 6, 7), lk_vl); }
LK_FN lk_vl LK_N(lk_mask_hi)(lk_vi m) { return __builtin_convertvector(__builtin_shufflevector(m, m, 8, 9, 10, 11, 12, 13, 14, 15), lk_vl); }

/// Per-row accumulator before the horizontal reduction (Kernels.rowAcc for d % 16 == 0).
/// The difference x − c comes from LK_N(diff).
#define LK_ROW_ACC(NAME, T, LOAD)                                                               \
LK_FN lk_vf NAME(long d, const T *x, const float *c) {                                          \
    if (d == 16) { lk_vf e = LK_N(diff)(LOAD(x, 0), c, 0); return e * e; }                      \
    if (d == 32) {                                                                              \
        lk_vf e0 = LK_N(diff)(LOAD(x, 0), c, 0), e1 = LK_N(diff)(LOAD(x, 16), c, 16);           \
        return e0 * e0 + e1 * e1;                                                               \
    }                                                                                           \
    lk_vf a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                      \
    long j = 0;                                                                                 \
    _Pragma("clang loop unroll(disable)")                                                       \
    for (; j + 128 <= d; j += 128) {                                                            \
        _Pragma("clang loop unroll(full)")                                                      \
        for (int q = 0; q < 8; q++) {                                                           \
            lk_vf e = LK_N(diff)(LOAD(x, j + 16 * q), c, j + 16 * q);                           \
            a[q] = a[q] + e * e;                                                                \
        }                                                                                       \
    }                                                                                           \
    if (j + 64 <= d) {                                                                          \
        _Pragma("clang loop unroll(full)")                                                      \
        for (int q = 0; q < 4; q++) {                                                           \
            lk_vf e = LK_N(diff)(LOAD(x, j + 16 * q), c, j + 16 * q);                           \
            a[q] = a[q] + e * e;                                                                \
        }                                                                                       \
        j += 64;                                                                                \
    }                                                                                           \
    if (j + 32 <= d) {                                                                          \
        _Pragma("clang loop unroll(full)")                                                      \
        for (int q = 0; q < 2; q++) {                                                           \
            lk_vf e = LK_N(diff)(LOAD(x, j + 16 * q), c, j + 16 * q);                           \
            a[4 + q] = a[4 + q] + e * e;                                                        \
        }                                                                                       \
        j += 32;                                                                                \
    }                                                                                           \
    if (j + 16 <= d) {                                                                          \
        lk_vf e = LK_N(diff)(LOAD(x, j), c, j);                                                 \
        a[6] = a[6] + e * e;                                                                    \
        j += 16;                                                                                \
    }                                                                                           \
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));                   \
}
LK_ROW_ACC(LK_N(row_acc_f32), float, LK_N(ld_f32))
LK_ROW_ACC(LK_N(row_acc_f16), uint16_t, LK_N(ld_f16))

/// Kernels.LK_N(combine): [a0+a1, a2+a3, …, a14+a15, b0+b1, …, b14+b15].
LK_FN lk_vf LK_N(combine)(lk_vf a, lk_vf b) {
    return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
         + __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

/// Distances of the 16 rows at positions p ..< p+16, reduced with the same tree as
/// Kernels.passChunk: rows are combined pairwise as soon as both are done (8 live vectors),
/// then 4, 2, 1 — the order of the additions is that of LK_N(combine)(LK_N(combine)(…)) in Swift.
/// `unrollSmall`: unroll the pair loop for d ≤ 64 (the AVX-512 family; for larger rows the
/// unrolled schedule measured 1.6× slower on DRAM-resident data, 100k×128, one thread).
#define LK_PAIR(ROWACC, i)                                                                      \
    do {                                                                                        \
        long r0 = rowOf ? (long)rowOf[p + 2 * (i)] : p + 2 * (i);                               \
        long r1 = rowOf ? (long)rowOf[p + 2 * (i) + 1] : p + 2 * (i) + 1;                       \
        t[i] = LK_N(combine)(ROWACC(d, base + r0 * d, c), ROWACC(d, base + r1 * d, c));         \
    } while (0)
#define LK_DIST16(NAME, T, ROWACC)                                                              \
LK_FN lk_vf NAME(long d, int unrollSmall, const T *base, const uint32_t *rowOf, long p, const float *c) { \
    lk_vf t[8];                                                                                 \
    if (unrollSmall && d <= 64) {                                                               \
        _Pragma("clang loop unroll(full)")                                                      \
        for (int i = 0; i < 8; i++) LK_PAIR(ROWACC, i);                                         \
    } else {                                                                                    \
        _Pragma("clang loop unroll(disable)")                                                   \
        for (int i = 0; i < 8; i++) LK_PAIR(ROWACC, i);                                         \
    }                                                                                           \
    lk_vf u0 = LK_N(combine)(t[0], t[1]), u1 = LK_N(combine)(t[2], t[3]);                       \
    lk_vf u2 = LK_N(combine)(t[4], t[5]), u3 = LK_N(combine)(t[6], t[7]);                       \
    return LK_N(combine)(LK_N(combine)(u0, u1), LK_N(combine)(u2, u3));                         \
}
LK_DIST16(LK_N(block_dist_f32), float, LK_N(row_acc_f32))
LK_DIST16(LK_N(block_dist_f16), uint16_t, LK_N(row_acc_f16))

/// m = min(m, dd) for one block (taken rows keep −1).
LK_FN void LK_N(update_min)(float *m, long p, lk_vf dd) {
    lk_vf mv = LK_LOAD16(m + p);
    LK_N(lk_store16)(m + p, LK_SEL(dd < mv, dd, mv));
}

/// A run of up to 16 blocks from position p (before hi): their distances and min updates.
/// The passes then read m of the run from L1. Returns the end of the run.
#define LK_MIN_RUN(NAME, T, DIST)                                                               \
LK_FN long NAME(long D, int unrollSmall, const T *base, const uint32_t *rowOf, const float *c,  \
                float *m, long p, long hi) {                                                    \
    long e = p + ((hi - p) / 16 < 16 ? (hi - p) / 16 : 16) * 16;                                \
    for (long q = p; q < e; q += 16) LK_N(update_min)(m, q, DIST(D, unrollSmall, base, rowOf, q, c)); \
    return e;                                                                                   \
}
LK_MIN_RUN(LK_N(min_run_f32), float, LK_N(block_dist_f32))
LK_MIN_RUN(LK_N(min_run_f16), uint16_t, LK_N(block_dist_f16))

// CORESET: per lane the first position with the largest m (strict >). Runs of up to 16 blocks:
// distances and min updates, then the argmax from m (now in L1).
#define LK_PASS_DIV(NAME, T, RUN)                                                               \
LK_FN long NAME(long D, int unrollSmall, const T *base, const uint32_t *rowOf, const float *c,  \
                    float *m, long lo, long hi, float *bestV, int32_t *bestI) {                 \
    lk_vf bV = LK_LOAD16(bestV);                                                                \
    lk_vi bI; memcpy(&bI, bestI, sizeof bI);                                                    \
    const lk_vi lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};                  \
    long p = lo;                                                                                \
    while (p + 16 <= hi) {                                                                      \
        long e = RUN(D, unrollSmall, base, rowOf, c, m, p, hi);                                 \
        for (long q = p; q < e; q += 16) {                                                      \
            lk_vf mv = LK_LOAD16(m + q);                                                        \
            lk_vi better = mv > bV;                                                             \
            bV = LK_SEL(better, mv, bV);                                                        \
            bI = LK_N(lk_seli)(better, (lk_vi)(int32_t)q + lane, bI);                           \
        }                                                                                       \
        p = e;                                                                                  \
    }                                                                                           \
    LK_N(lk_store16)(bestV, bV);                                                                \
    memcpy(bestI, &bI, sizeof bI);                                                              \
    return p;                                                                                   \
}
LK_PASS_DIV(LK_N(pass_div_f32), float, LK_N(min_run_f32))
LK_PASS_DIV(LK_N(pass_div_f16), uint16_t, LK_N(min_run_f16))

// CORAL with equal strengths: o = (W + w)·(D + m) in float64, −inf for taken rows; per lane
// the first position with the largest o (strict >). Lanes 0–7 hold rows p..p+7, 8–15 the rest.
// Two loops per run (distances and min updates, then the objective from m) keep the register
// pressure of each low; the result is that of one fused loop (every lane sees its positions in order).
#define LK_PASS_PROD(NAME, T, RUN)                                                              \
LK_FN long NAME(long D, int unrollSmall, const T *base, const uint32_t *rowOf, const float *c,  \
                    float *m, const double *w, double W, double Dsum, long lo, long hi,         \
                    double *bestO, int64_t *bestI) {                                            \
    lk_vd oLo, oHi; lk_vl iLo, iHi;                                                             \
    memcpy(&oLo, bestO, sizeof oLo); memcpy(&oHi, bestO + 8, sizeof oHi);                       \
    memcpy(&iLo, bestI, sizeof iLo); memcpy(&iHi, bestI + 8, sizeof iHi);                       \
    const lk_vl lane8 = {0, 1, 2, 3, 4, 5, 6, 7};                                               \
    const lk_vd vW = (lk_vd)W, vD = (lk_vd)Dsum, ninf = (lk_vd)(-__builtin_inf());              \
    long p = lo;                                                                                \
    while (p + 16 <= hi) {                                                                      \
        long e = RUN(D, unrollSmall, base, rowOf, c, m, p, hi);                                 \
        for (long q = p; q < e; q += 16) {                                                      \
            lk_vf mv = LK_LOAD16(m + q);                                                        \
            lk_vi taken = mv < (lk_vf)0.0f;                                                     \
            lk_vd mlo = __builtin_convertvector(LK_N(lk_lo)(mv), lk_vd);                        \
            lk_vd mhi = __builtin_convertvector(LK_N(lk_hi)(mv), lk_vd);                        \
            lk_vd wlo, whi; memcpy(&wlo, w + q, sizeof wlo); memcpy(&whi, w + q + 8, sizeof whi); \
            lk_vd olo = (vW + wlo) * (vD + mlo), ohi = (vW + whi) * (vD + mhi);                 \
            olo = LK_N(lk_seld)(LK_N(lk_mask_lo)(taken), ninf, olo);                            \
            ohi = LK_N(lk_seld)(LK_N(lk_mask_hi)(taken), ninf, ohi);                            \
            lk_vl blo = olo > oLo, bhi = ohi > oHi;                                             \
            oLo = LK_N(lk_seld)(blo, olo, oLo);                                                 \
            oHi = LK_N(lk_seld)(bhi, ohi, oHi);                                                 \
            lk_vl b = (lk_vl)(int64_t)q + lane8;                                                \
            iLo = LK_N(lk_sell)(blo, b, iLo);                                                   \
            iHi = LK_N(lk_sell)(bhi, b + 8, iHi);                                               \
        }                                                                                       \
        p = e;                                                                                  \
    }                                                                                           \
    memcpy(bestO, &oLo, sizeof oLo); memcpy(bestO + 8, &oHi, sizeof oHi);                       \
    memcpy(bestI, &iLo, sizeof iLo); memcpy(bestI + 8, &iHi, sizeof iHi);                       \
    return p;                                                                                   \
}
LK_PASS_PROD(LK_N(pass_prod_f32), float, LK_N(min_run_f32))
LK_PASS_PROD(LK_N(pass_prod_f16), uint16_t, LK_N(min_run_f16))

// Entry points: specialise the common dimensions so the row loop is fully unrolled and the
// center stays in registers. `RESULT` is `return` or an assignment.
#define LK_SPECIALISE(RESULT, FN, ...)                                                          \
    switch (d) {                                                                                \
    case 16: RESULT FN(16, __VA_ARGS__); break;                                                 \
    case 32: RESULT FN(32, __VA_ARGS__); break;                                                 \
    case 64: RESULT FN(64, __VA_ARGS__); break;                                                 \
    case 128: RESULT FN(128, __VA_ARGS__); break;                                               \
    case 256: RESULT FN(256, __VA_ARGS__); break;                                               \
    case 512: RESULT FN(512, __VA_ARGS__); break;                                               \
    default: RESULT FN(d, __VA_ARGS__); break;                                                  \
    }

/// The kernels of one family, compiled for `TARGET`: the entry points below dispatch to them.
/// Lazy steps (min_dist16_f32_*): the smallest distance from x to the float32 centers
/// j ..< j + lim (lim ≤ 16), with the plain pass's arithmetic (the center list is read as the
/// "rows", x as the center: c − x rounds like x − c).
static LK_ENTRY long LK_N(pass_diversity_f32)(
        const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
        long lo, long hi, float *bestV, int32_t *bestI) {
    LK_SPECIALISE(return, LK_N(pass_div_f32), LK_UNROLL_SMALL, base, rowOf, c, m, lo, hi, bestV, bestI)
}
static LK_ENTRY long LK_N(pass_diversity_f16)(
        const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
        long lo, long hi, float *bestV, int32_t *bestI) {
    LK_SPECIALISE(return, LK_N(pass_div_f16), LK_UNROLL_SMALL, base, rowOf, c, m, lo, hi, bestV, bestI)
}
static LK_ENTRY long LK_N(pass_product_f32)(
        const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
        const double *w, double W, double D, long lo, long hi, double *bestO, int64_t *bestI) {
    LK_SPECIALISE(return, LK_N(pass_prod_f32), LK_UNROLL_SMALL, base, rowOf, c, m, w, W, D, lo, hi, bestO, bestI)
}
static LK_ENTRY long LK_N(pass_product_f16)(
        const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
        const double *w, double W, double D, long lo, long hi, double *bestO, int64_t *bestI) {
    LK_SPECIALISE(return, LK_N(pass_prod_f16), LK_UNROLL_SMALL, base, rowOf, c, m, w, W, D, lo, hi, bestO, bestI)
}
static LK_ENTRY void LK_N(dist16_f32)(
        const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    lk_vf v;
    LK_SPECIALISE(v =, LK_N(block_dist_f32), LK_UNROLL_SMALL, base, rowOf, p, c)
    LK_N(lk_store16)(out, v);
}
static LK_ENTRY void LK_N(dist16_f16)(
        const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d, float *out) {
    lk_vf v;
    LK_SPECIALISE(v =, LK_N(block_dist_f16), LK_UNROLL_SMALL, base, rowOf, p, c)
    LK_N(lk_store16)(out, v);
}
static LK_ENTRY float LK_N(min_dist16_f32)(
        const float *centers, long j, const float *x, long d, long lim) {
    lk_vf v;
    LK_SPECIALISE(v =, LK_N(block_dist_f32), LK_UNROLL_SMALL, centers, NULL, j, x)
    const lk_vi lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return __builtin_reduce_min(LK_SEL(lane < (lk_vi)(int32_t)lim, v, (lk_vf)__builtin_inff()));
}
