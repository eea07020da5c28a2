#!/usr/bin/env bash
# One-command sampling benchmark (benchmarks/README.md, docs/selection.md §14).
#   benchmarks/sampling/run.sh            # 10k×32, 100k×128, 1M×128 (k = 1000) + preselected init
#   benchmarks/sampling/run.sh --big      # + 1M×128, k = 10 000, |P| = 1 000
#   benchmarks/sampling/run.sh --vs-native [args]   # the same run twice: the portable default,
#                                          # then a LIGHTLY_TARGET_CPU=native build (in .build-native)
# Extra arguments go to sampling-bench (see `--help`). By default this measures what ships: the
# portable build (LIGHTLY_TARGET_CPU unset). LIGHTLY_TARGET_CPU=native benchmarks/sampling/run.sh
# measures the opt-in build for this CPU instead. The bench prints which one ran.
set -euo pipefail
cd "$(dirname "$0")/../.."

run_bench() {   # run_bench SCRATCH ARGS…
    local scratch=$1; shift
    swift build -c release --product sampling-bench --scratch-path "$scratch"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$scratch/release/sampling-bench" "$@" 2> >(grep -E 'Maximum resident|Elapsed|Percent of CPU' >&2)
    else
        "$scratch/release/sampling-bench" "$@"
    fi
}

if [ "${1:-}" = --vs-native ]; then
    shift
    echo "#### portable (the default build)"
    (unset LIGHTLY_TARGET_CPU; run_bench .build "$@")
    echo "#### LIGHTLY_TARGET_CPU=native"
    LIGHTLY_TARGET_CPU=native run_bench .build-native "$@"
else
    run_bench .build "$@"
fi
