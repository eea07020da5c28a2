// Hand-vectorised distance kernels for LightlyCore's greedy samplers (docs/selection.md §4).
//
// Every kernel reproduces the Swift path of Sources/LightlySampling/Kernels.swift bit for
// bit (same summation order per row, same reduction tree, float64 CORAL objective), so picks do
// not depend on which path ran. float16 rows (`_f16`, IEEE binary16 bit patterns) are converted
// to float32 exactly and then treated like float32 rows.
#ifndef LIGHTLY_KERNELS_H
#define LIGHTLY_KERNELS_H
#include <stdint.h>

/// 1 when this CPU runs the kernels below (x86-64 with AVX-512F, or with AVX2, FMA and F16C),
/// else 0 (the Swift loops run instead). The choice is made once, at the first call; the
/// environment variable LIGHTLY_KERNELS=avx2|baseline lowers it (for tests and benchmarks).
/// Both kernel families give bit-identical results.
int lk_dist16_available(void);

/// Tests: switch the kernels to 0 = baseline (Swift loops), 1 = AVX2, 2 = AVX-512 (never above
/// what the CPU supports; ignored then). Returns the previous choice. Both C families give the
/// same bits, so other work running at the same time only changes speed.
int lk_kernels_set_isa_for_tests(int isa);

/// Which code the run-time dispatch picks on this CPU: "avx512f", "avx2+fma" or "baseline".
const char *lk_runtime_isa(void);
/// The LIGHTLY_TARGET_CPU the Swift hot loops were built for ("portable" by default).
const char *lk_build_target_cpu(void);

/// Preselected-set initialisation (Kernels.blockedMinInit): the 8 dot-product accumulators of
/// one 16×8 tile. `panel` holds 16 rows dimension-major (`panel[16·j + l]` = element j of row
/// l), `p` 8 float32 rows of length d one after the other. Writes
/// `acc[16·u + l] = Σ_j panel[16·j + l]·p[u·d + j]`, summed in order j = 0, 1, … per lane.
/// With FMA (AVX-512F or AVX2+FMA CPUs) each step is one fused multiply-add, so both give the
/// same bits; on other CPUs a multiply and an add (rounded twice).
void lk_init_tile16x8(const float *panel, const float *p, long d, float *acc);
/// The squared norms of the 16 panel rows, `out[l] = Σ_j panel[16·j + l]²` with the
/// arithmetic of lk_init_tile16x8.
void lk_init_norms16(const float *panel, long d, float *out);
/// One block of Kernels.blockedMinInit: the 16 panel rows (their ids in `xIdx[0..15]`, −1 for
/// padding) against `tiles` tiles of 8 P rows (`pb`: tile t's rows at `pb + 8·t·d`, their squared
/// norms in `pn[8·t ..]` and ids in `pi[8·t ..]`). Per pair: d2 = max(‖x‖² + ‖p‖² − 2·x·p, 0) with
/// the norms and dot products of the two functions above; where d2 < 1e-4·(‖x‖² + ‖p‖²) the pair
/// is recomputed directly, Σ_j (x_j − p_j)² in order (duplicates get exactly 0); a pair with
/// equal ids counts as +inf when `excludeSelf` ≠ 0. Then `m[l] = min(m[l], min over P)` for
/// l < `valid`. No FMA outside the dot products, so the result depends only on whether the CPU
/// has FMA, not on the build.
void lk_init_block16(const float *panel, long d, const float *pb, const float *pn, const int32_t *pi,
                     long tiles, const int32_t *xIdx, int excludeSelf, long valid, float *m);

/// Squared distances of the 16 rows at positions p ..< p+16 to `c`, written to `out[0..15]`.
/// Row q is `base + row(q)·d` with row(q) = rowOf[q] (or q when rowOf is NULL). `d` must be a
/// positive multiple of 16. The summation order is exactly that of Kernels.rowAcc + the
/// transposed reduction of Kernels.passChunk (bit-identical to Kernels.hsum per row).
void lk_dist16_f32(const float *base, const uint32_t *rowOf, long p, const float *c, long d, float *out);
void lk_dist16_f16(const uint16_t *base, const uint32_t *rowOf, long p, const float *c, long d, float *out);

/// CORESET pass over the 16-row blocks of positions lo ..< hi (stops before a partial
/// block): m[q] = min(m[q], dist2(row(q), c)), and per lane l of `bestV`/`bestI` (16 each,
/// in/out) the first position with the largest m (strict >; taken rows hold m = −1).
/// Returns the first position not processed. Same arithmetic as Kernels.passChunk.
long lk_pass_diversity_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI);
long lk_pass_diversity_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                           long lo, long hi, float *bestV, int32_t *bestI);

/// CORAL pass (equal strengths): the same min update, then per position the objective
/// o = (W + w[q])·(D + m[q]) in float64 (−inf for taken rows), tracked per lane in
/// `bestO`/`bestI` (16 each, in/out; lane l < 8 sees positions ≡ l mod 16, lane 8 + l
/// positions ≡ 8 + l) as the first position with the largest o (strict >).
/// Returns the first position not processed.
long lk_pass_product_f32(const float *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI);
long lk_pass_product_f16(const uint16_t *base, const uint32_t *rowOf, const float *c, long d, float *m,
                         const double *w, double W, double D, long lo, long hi,
                         double *bestO, int64_t *bestI);

/// Lazy greedy steps: min over the float32 centers j ..< j+lim (1 ≤ lim ≤ 16; rows j ..< j+16
/// must be readable) of their squared distance to x, bit-identical to lk_dist16_f32 per
/// distance. Only where lk_dist16_available(); elsewhere returns +inf.
float lk_min_dist16_f32(const float *centers, long j, const float *x, long d, long lim);

/// Lazy greedy steps: the first position q in p ..< hi with m[q] ≥ t, or hi.
long lk_next_ge_f32(const float *m, long p, long hi, float t);
/// The same for CORAL's product bound: the first q with (W + w[q])·(D + m[q]) ≥ t in float64
/// (the operations of Kernels.productLanes, without contraction), or hi.
long lk_next_ge_product(const float *m, const double *w, double W, double D, long p, long hi, double t);

/// Asks the CPU to load `bytes` bytes from `p` into the caches (a hint; no effect on results).
void lk_prefetch(const void *p, long bytes);

/* Returns freed heap memory to the system (glibc `malloc_trim(0)`); a no-op elsewhere.
   After a large embedding upload the heap holds freed small allocations the job would
   otherwise sit on top of (docs/selection.md §14). */
#if defined(__GLIBC__)
#include <malloc.h>
static inline void lightly_release_free_heap(void) { (void)malloc_trim(0); }
#else
static inline void lightly_release_free_heap(void) {}
#endif

#endif
