// Hand-vectorised distance kernels for LightlyCore's greedy samplers (docs/selection.md §4).
//
// Every kernel reproduces the Swift path of Sources/LightlyCore/Sampling/Kernels.swift bit for
// bit (same summation order per row, same reduction tree, float64 CORAL objective), so picks do
// not depend on which path ran. float16 rows (`_f16`, IEEE binary16 bit patterns) are converted
// to float32 exactly and then treated like float32 rows.
#ifndef LIGHTLY_KERNELS_H
#define LIGHTLY_KERNELS_H
#include <stdint.h>

/// 1 when this CPU runs the kernels below (x86-64 with AVX-512F), else 0.
int lk_dist16_available(void);

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
/// distance. AVX-512 only (see lk_dist16_available); elsewhere returns +inf.
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
