#!/usr/bin/env bash
# Cross-checks the C kernels (Sources/CLightlyKernels) for arm64 Linux without an arm64 machine
# or Swift SDK:
#   1. compiles kernels.c for aarch64-linux-gnu with the toolchain's clang (-Wall -Wextra -Werror),
#      so the run-time dispatch and the baseline (NEON) code build for arm64;
#   2. links a small C test of the baseline kernels statically for aarch64 and runs it under
#      qemu-aarch64-static: the dispatch reports "baseline", the dot products, norms and the
#      preselected-init block equal a scalar reference bit for bit, the lazy-step filters find
#      the same positions as a plain loop, and the AVX entry points fall back as documented;
#   3. runs the same test natively on x86-64 with LIGHTLY_KERNELS=baseline (the same code path),
#      so a failure under qemu can be told from a wrong test.
# It does not build or run any Swift code for arm64 (that needs an arm64 Swift SDK).
#
# Needs (Debian): libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user-static.
#   scripts/check-arm64-kernels.sh            # fails when a package is missing
#   scripts/check-arm64-kernels.sh --install  # apt-get installs them first (root)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user-static)
if [ "${1:-}" = --install ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null
fi
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || { echo "missing package $p (run with --install)" >&2; exit 2; }
done
CC=${CC:-clang}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/test.c" <<'EOF'
// Baseline kernels against scalar references (multiply then add, no contraction).
#include "lightly_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#pragma clang fp contract(off)

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); } } while (0)

static uint64_t state = 0x9E3779B97F4A7C15ull;
static float rnd(void) {   // xorshift64*, uniform in [-1, 1)
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
    return (float)((state * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 23) - 1.0f;
}
static int same(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

int main(void) {
    CHECK(strcmp(lk_runtime_isa(), "baseline") == 0, "runtime isa %s", lk_runtime_isa());
    CHECK(lk_dist16_available() == 0, "dist16 available");
    for (long d = 1; d <= 130; d += 43) {
        float *panel = malloc(sizeof(float) * 16 * d), *p = malloc(sizeof(float) * 64 * d);
        float acc[128], nrm[16], pn[64];
        int32_t pi[64], xi[16];
        for (long i = 0; i < 16 * d; i++) panel[i] = rnd();
        for (long i = 0; i < 64 * d; i++) p[i] = rnd();
        // P row 5 duplicates X row 3 exactly, P row 9 nearly duplicates X row 7.
        for (long j = 0; j < d; j++) { p[5 * d + j] = panel[16 * j + 3]; p[9 * d + j] = panel[16 * j + 7] + 1e-6f; }
        for (int u = 0; u < 64; u++) { float s = 0; for (long j = 0; j < d; j++) s += p[u * d + j] * p[u * d + j]; pn[u] = s; pi[u] = 100 + u; }
        for (int l = 0; l < 16; l++) xi[l] = 100 + 2 * l;   // X row l is P row 2l (ids), for excludeSelf
        lk_init_tile16x8(panel, p, d, acc);
        lk_init_norms16(panel, d, nrm);
        for (int l = 0; l < 16; l++) {
            float s = 0;
            for (long j = 0; j < d; j++) s += panel[16 * j + l] * panel[16 * j + l];
            CHECK(same(nrm[l], s), "norm d=%ld l=%d", d, l);
            for (int u = 0; u < 8; u++) {
                float t = 0;
                for (long j = 0; j < d; j++) t += panel[16 * j + l] * p[u * d + j];
                CHECK(same(acc[16 * u + l], t), "tile d=%ld u=%d l=%d", d, u, l);
            }
        }
        for (int ex = 0; ex < 2; ex++) {
            float m[16], want[16];
            for (int l = 0; l < 16; l++) m[l] = want[l] = l == 2 ? 0.5f : INFINITY;
            lk_init_block16(panel, d, p, pn, pi, 8, xi, ex, 13, m);
            for (int l = 0; l < 13; l++) {
                float xn = 0, mv = INFINITY;
                for (long j = 0; j < d; j++) xn += panel[16 * j + l] * panel[16 * j + l];
                for (int u = 0; u < 64; u++) {
                    float dot = 0;
                    for (long j = 0; j < d; j++) dot += panel[16 * j + l] * p[u * d + j];
                    float sum = xn + pn[u], v = sum - 2.0f * dot, d2 = v > 0 ? v : 0;
                    if (d2 < sum * 1e-4f) {
                        d2 = 0;
                        for (long j = 0; j < d; j++) { float e = panel[16 * j + l] - p[u * d + j]; d2 += e * e; }
                    }
                    if (ex && xi[l] == pi[u]) d2 = INFINITY;
                    if (d2 < mv) mv = d2;
                }
                if (mv < want[l]) want[l] = mv;
            }
            for (int l = 0; l < 16; l++) CHECK(same(m[l], want[l]), "block d=%ld ex=%d l=%d: %g vs %g", d, ex, l, m[l], want[l]);
            CHECK(d < 2 || ex || m[3] == 0.0f, "exact duplicate d=%ld: %g", d, m[3]);
        }
        free(panel); free(p);
    }
    // Lazy-step filters.
    float mm[100]; double w[100];
    for (int i = 0; i < 100; i++) { mm[i] = rnd() + 1.0f; w[i] = (double)rnd() + 1.0; }
    for (float t = 0.5f; t < 2.0f; t += 0.25f) {
        long want = 100;
        for (long i = 7; i < 100; i++) if (mm[i] >= t) { want = i; break; }
        CHECK(lk_next_ge_f32(mm, 7, 100, t) == want, "next_ge t=%g", t);
        long wp = 100;
        for (long i = 3; i < 100; i++) if ((0.5 + w[i]) * (0.25 + (double)mm[i]) >= (double)t * 2) { wp = i; break; }
        CHECK(lk_next_ge_product(mm, w, 0.5, 0.25, 3, 100, (double)t * 2) == wp, "next_ge_product t=%g", t);
    }
    // Without the AVX kernels the passes do nothing and say so.
    float bv[16] = {0}; int32_t bi[16] = {0};
    CHECK(lk_pass_diversity_f32(mm, NULL, mm, 16, mm, 0, 96, bv, bi) == 0, "pass fallback");
    CHECK(isinf(lk_min_dist16_f32(mm, 0, mm, 16, 4)), "min_dist16 fallback");
    printf("%s: build %s, kernels %s: %s\n", __FILE__, lk_build_target_cpu(), lk_runtime_isa(),
           failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
EOF

inc=Sources/CLightlyKernels/include
arm=(--target=aarch64-linux-gnu -O2 -I"$inc" -ffp-contract=off)
start=$(date +%s)
echo "1. compile kernels.c for aarch64-linux-gnu"
"$CC" "${arm[@]}" -Wall -Wextra -Werror -c Sources/CLightlyKernels/kernels.c -o "$work/kernels-arm64.o"
echo "2. baseline kernel test, static aarch64 binary under qemu-aarch64-static"
"$CC" "${arm[@]}" -static -fuse-ld=lld "$work/test.c" Sources/CLightlyKernels/kernels.c -o "$work/test-arm64" -lm
file "$work/test-arm64" | sed 's/^[^:]*: /   /'
qemu-aarch64-static "$work/test-arm64"
echo "3. the same test natively (x86-64, LIGHTLY_KERNELS=baseline)"
"$CC" -O2 -I"$inc" -ffp-contract=off "$work/test.c" Sources/CLightlyKernels/kernels.c -o "$work/test-native" -lm
LIGHTLY_KERNELS=baseline "$work/test-native"
echo "arm64 kernel check passed in $(( $(date +%s) - start )) s"
