#!/usr/bin/env bash
# One-command sampling benchmark (benchmarks/README.md, docs/selection.md §14).
#   benchmarks/sampling/run.sh            # 10k×32, 100k×128, 1M×128 (k = 1000) + preselected init
#   benchmarks/sampling/run.sh --big      # + 1M×128, k = 10 000, |P| = 1 000
# Extra arguments go to sampling-bench (see `--help`). LIGHTLY_TARGET_CPU defaults to
# `native` here (AVX-512/AVX2 + FMA + F16C); set LIGHTLY_TARGET_CPU= (empty) for the portable build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LIGHTLY_TARGET_CPU="${LIGHTLY_TARGET_CPU-native}"
[ -z "$LIGHTLY_TARGET_CPU" ] && unset LIGHTLY_TARGET_CPU
swift build -c release --product sampling-bench
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v .build/release/sampling-bench "$@" 2> >(grep -E 'Maximum resident|Elapsed|Percent of CPU' >&2)
else
  .build/release/sampling-bench "$@"
fi
